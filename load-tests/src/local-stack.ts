import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { databaseEnv, portEnv, SERVICES, serviceNamed } from '@titanium/service-kit';

const START = fileURLToPath(new URL('../../scripts/start.mjs', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

export interface LocalStack {
  /** http://127.0.0.1:<port> of a service from the service table. */
  url(service: string): string;
  pids: number[];
  stop(): Promise<void>;
}

/** The stack as `npm start` runs it, on free ports, for benchmarks (build first). */
export async function startLocalStack(env: Record<string, string> = {}): Promise<LocalStack> {
  const ports: Record<string, number> = {};
  for (const { name } of SERVICES) ports[name] = await freePort();
  // Fresh databases for every run, never the developer's .data/.
  const dataDir = mkdtempSync(join(tmpdir(), 'titanium-bench-'));
  const child: ChildProcess = spawn(process.execPath, [START], {
    env: {
      ...process.env,
      TITANIUM_SKIP_BUILD: '1',
      NO_COLOR: '1',
      ...databaseEnv(dataDir),
      ...portEnv(ports),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pids: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => reject(new Error('the stack did not come up within 60 s')), 60_000);
    lines.on('line', (line) => {
      const pid = line.match(/\(pid (\d+)\)/);
      if (pid) pids.push(Number(pid[1]));
      if (line.includes('Press Ctrl-C to stop')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the stack exited (${code}) while starting`)));
  });
  return {
    url: (service) => `http://127.0.0.1:${ports[serviceNamed(service).name]}`,
    pids,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
