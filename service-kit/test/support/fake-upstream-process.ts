import { FAKE_UPSTREAM_SCRIPT } from './fake-upstream.mjs';
import { freePort, type ManagedProcess, startProcess } from './processes.js';

export interface FakeUpstreamProcess {
  port: number;
  url: string;
  process: ManagedProcess;
}

/**
 * The fake upstream (fake-upstream.mjs) as a separate process on a free (or given) port, for tests
 * that kill, freeze or restart a target; `statsKey` wraps its `/stats` answer (default: `name`).
 */
export async function fakeUpstreamProcess(
  name: string,
  { port, statsKey }: { port?: number; statsKey?: string } = {},
): Promise<FakeUpstreamProcess> {
  const chosen = port ?? (await freePort());
  const proc = startProcess(name, process.execPath, [FAKE_UPSTREAM_SCRIPT], {
    NAME: name,
    PORT: String(chosen),
    ...(statsKey ? { STATS_KEY: statsKey } : {}),
  });
  await proc.waitForStart(/listening on/);
  return { port: chosen, url: `http://127.0.0.1:${chosen}`, process: proc };
}
