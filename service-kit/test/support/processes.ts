import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

// Ports for test servers come from a band below Linux's ephemeral range (32768 and up), one band
// per vitest worker: two test files running at once never pick the same port, and no outgoing
// connection's local port can take one between the pick and the child process's listen().
// Two checkouts testing at once on one machine get different bands too: the band also depends on
// TITANIUM_TEST_PORT_SLOT (0-9) when set, else on the checkout's path.
const BAND = 400;
const FIRST_PORT = 20_000;
const BANDS = 30;
function checkoutSlot(): number {
  const fromEnv = Number(process.env.TITANIUM_TEST_PORT_SLOT);
  if (Number.isInteger(fromEnv) && fromEnv >= 0) return fromEnv % 10;
  let hash = 0;
  for (const char of process.cwd()) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return hash % 10;
}
const band = FIRST_PORT + ((checkoutSlot() * 3 + Number(process.env.VITEST_POOL_ID ?? 0)) % BANDS) * BAND;
// A random start, so a file that follows another in the same worker does not retry its ports.
let nextInBand = Math.floor(Math.random() * BAND);

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port nothing listens on right now, from this worker's own band. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < BAND; tries++) {
    const port = band + (nextInBand++ % BAND);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${band}-${band + BAND - 1}`);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A real child process whose output lines are kept, so tests can wait for and read them. */
export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<Exit>;
  #waiters = new Set<() => void>();
  #exit: Exit | undefined;

  constructor(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string) {
    this.name = name;
    this.child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        if (process.env.TEST_VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
        for (const wake of this.#waiters) wake();
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        for (const wake of this.#waiters) wake();
        resolve(this.#exit);
      });
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  output(): string {
    return this.lines.join('\n');
  }

  /**
   * Waits for the line that says the process is up, as `waitForLine`; when it does not come, stops
   * the process before failing, so a start that went wrong leaves nothing running on its port.
   */
  async waitForStart(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    try {
      return await this.waitForLine(pattern, timeoutMs);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Waits for an output line matching `pattern` (also one printed before the call) and returns its match. */
  async waitForLine(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.lines.length; seen++) {
        const match = this.lines[seen]?.match(pattern);
        if (match) return match;
      }
      if (this.#exit)
        throw new Error(
          `${this.name} exited (${JSON.stringify(this.#exit)}) before printing ${pattern}:\n${this.output()}`,
        );
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.output()}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not gone after `graceMs`. */
  async stop(graceMs = 5_000): Promise<Exit> {
    if (!this.running) return this.exited;
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

const started = new Set<ManagedProcess>();

export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): ManagedProcess {
  const proc = new ManagedProcess(name, command, args, { ...process.env, ...env }, cwd);
  started.add(proc);
  void proc.exited.then(() => started.delete(proc));
  return proc;
}

/** Stops every process the helpers started that is still running; for afterEach/afterAll. */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...started].map((proc) => proc.stop()));
}

/** Polls `url` until `accept(response)` is true or the time is up; returns the last response status. */
export async function waitForHttp(
  url: string,
  { timeoutMs = 15_000, accept = (res: Response) => res.ok } = {},
): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (accept(res)) return res;
      last = `status ${res.status}`;
      await res.body?.cancel();
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} not as expected within ${timeoutMs} ms (${last})`);
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export async function isListening(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** True while a process with this pid exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
