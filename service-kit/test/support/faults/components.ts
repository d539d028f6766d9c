import type { Exit, ManagedProcess } from '../processes.js';
import { startRedis } from '../redis.js';
import { type ServiceName, startService } from '../services.js';

/**
 * One running part of the system (a service, a redis-server, a fixture) that a test can break and
 * bring back: kill (SIGKILL), stop (SIGTERM), freeze (SIGSTOP), resume (SIGCONT), and start again
 * on the same port with the same environment.
 */
export interface Component {
  readonly name: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>`, or `redis://127.0.0.1:<port>` for Redis. */
  readonly url: string;
  /** The process currently behind it (a new one after each start). */
  readonly process: ManagedProcess;
  readonly pid: number;
  readonly running: boolean;
  readonly frozen: boolean;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<Exit>;
  /** SIGTERM (SIGKILL after `graceMs`), and wait until it is gone. */
  stop(graceMs?: number): Promise<Exit>;
  /** SIGTERM without waiting: for watching a graceful shutdown while it happens. */
  terminate(): void;
  freeze(): void;
  resume(): void;
  /** Starts it again on the same port; resolves once it is ready. Refused while it still runs. */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
}

export interface ComponentSpec {
  name: string;
  port: number;
  url: string;
  /** Starts a process on `port` and resolves once it is ready to serve. */
  launch(port: number): Promise<ManagedProcess>;
  /** Cleans up after an exit (temporary folders and the like). */
  afterExit?(): Promise<void>;
}

class RunningComponent implements Component {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  #spec: ComponentSpec;
  #process: ManagedProcess;
  #frozen = false;

  constructor(spec: ComponentSpec, first: ManagedProcess) {
    this.name = spec.name;
    this.port = spec.port;
    this.url = spec.url;
    this.#spec = spec;
    this.#process = first;
  }

  get process(): ManagedProcess {
    return this.#process;
  }
  get pid(): number {
    return this.#process.pid;
  }
  get running(): boolean {
    return this.#process.running;
  }
  get frozen(): boolean {
    return this.#frozen && this.running;
  }

  async kill(): Promise<Exit> {
    this.#process.signal('SIGKILL');
    const exit = await this.#process.exited;
    this.#frozen = false;
    await this.#spec.afterExit?.();
    return exit;
  }

  async stop(graceMs?: number): Promise<Exit> {
    const exit = await this.#process.stop(graceMs);
    this.#frozen = false;
    await this.#spec.afterExit?.();
    return exit;
  }

  terminate(): void {
    this.#process.signal('SIGTERM');
  }

  freeze(): void {
    this.#process.signal('SIGSTOP');
    this.#frozen = true;
  }

  resume(): void {
    this.#process.signal('SIGCONT');
    this.#frozen = false;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is still running (pid ${this.pid})`);
    await this.#spec.afterExit?.();
    this.#process = await this.#spec.launch(this.port);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** A component from any process a test knows how to start on a given port; `first` when it runs already. */
export async function component(spec: ComponentSpec, first?: ManagedProcess): Promise<Component> {
  return new RunningComponent(spec, first ?? (await spec.launch(spec.port)));
}

/**
 * A service of this repository from its build, on a free (or given) port; `env` is kept for
 * every start. Readiness is its "<name> ready" log line, so LOG_LEVEL must be info or lower.
 */
export async function serviceComponent(
  name: ServiceName,
  env: Record<string, string> = {},
  port?: number,
): Promise<Component> {
  const first = await startService(name, env, port);
  return component(
    {
      name,
      port: first.port,
      url: first.url,
      launch: async (chosen) => (await startService(name, env, chosen)).process,
    },
    first.process,
  );
}

/** A real redis-server without persistence on a free (or given) port. */
export async function redisComponent(port?: number): Promise<Component> {
  let current = await startRedis(port);
  return component(
    {
      name: 'redis',
      port: current.port,
      url: current.url,
      launch: async (chosen) => {
        current = await startRedis(chosen);
        return current.process;
      },
      // Removes the server's temporary folder once it has gone, however it went.
      afterExit: async () => {
        if (!current.process.running) await current.stop();
      },
    },
    current.process,
  );
}
