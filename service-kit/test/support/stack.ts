import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { databaseEnv, portEnv, SERVICES, serviceNamed } from '@titanium/service-kit';
import { freePort, type ManagedProcess, startProcess } from './processes.js';
import type { ServiceName } from './services.js';

const START = fileURLToPath(new URL('../../../scripts/start.mjs', import.meta.url));

type StackService = ServiceName;

export interface Stack {
  process: ManagedProcess;
  ports: Record<StackService, number>;
  /** http://127.0.0.1:<port> of a service. */
  url(service: StackService): string;
  /** The current pid of a service (it changes when the stack restarts a process that died). */
  pid(service: StackService): number;
  redisPort: number | undefined;
  stop(): Promise<void>;
}

/**
 * The whole stack as `npm start` runs it (built already), on free ports, with a real redis-server
 * when one is installed. `env` is passed to every process.
 */
export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const ports: Record<StackService, number> = {};
  for (const { name } of SERVICES) ports[name] = await freePort();
  // Fresh databases for every stack, never the developer's .data/.
  const dataDir = mkdtempSync(join(tmpdir(), 'titanium-stack-'));
  const proc = startProcess('stack', process.execPath, [START], {
    TITANIUM_SKIP_BUILD: '1',
    NO_COLOR: '1',
    ...databaseEnv(dataDir),
    ...portEnv(ports),
    ...env,
  });
  await proc.waitForStart(/Press Ctrl-C to stop/, 60_000);
  const redis = proc.output().match(/redis +redis:\/\/127\.0\.0\.1:(\d+)/);
  return {
    process: proc,
    ports,
    url: (service) => `http://127.0.0.1:${ports[serviceNamed(service).name]}`,
    pid(service) {
      const pattern = new RegExp(`${service} +(?:http://\\S+ +\\(pid (\\d+)\\)|restarted \\(pid (\\d+)\\))`);
      let pid: number | undefined;
      for (const line of proc.lines) {
        const match = line.match(pattern);
        if (match) pid = Number(match[1] ?? match[2]);
      }
      if (pid === undefined) throw new Error(`no pid known for ${service}`);
      return pid;
    },
    redisPort: redis ? Number(redis[1]) : undefined,
    async stop() {
      await proc.stop(20_000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
