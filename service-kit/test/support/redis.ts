import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type ManagedProcess, startProcess } from './processes.js';

export interface RedisServer {
  port: number;
  url: string;
  process: ManagedProcess;
  /** Stops it (SIGTERM); `restart()` brings a new one up on the same port. */
  stop(): Promise<void>;
  restart(): Promise<RedisServer>;
  freeze(): void;
  resume(): void;
}

/** A real `redis-server` on a free (or given) loopback port, without persistence. */
export async function startRedis(port?: number): Promise<RedisServer> {
  const chosen = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'titanium-redis-'));
  const args = ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const proc = startProcess('redis', 'redis-server', args);
  await proc.waitForStart(/Ready to accept connections/);
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    process: proc,
    stop,
    async restart() {
      await stop();
      return startRedis(chosen);
    },
    freeze: () => proc.signal('SIGSTOP'),
    resume: () => proc.signal('SIGCONT'),
  };
}
