import { fileURLToPath } from 'node:url';
import { freePort, type ManagedProcess, startProcess, waitForHttp } from './processes.js';

export interface RunningService {
  proc: ManagedProcess;
  port: number;
  url: string;
}

/**
 * Starts a workspace's built server (`<workspace>/dist/server.js`) as a real process on a free
 * loopback port passed in `portVariable`, and waits until its /ready answers 200.
 */
export async function startService(
  workspace: string,
  portVariable: string,
  env: Record<string, string> = {},
): Promise<RunningService> {
  const port = await freePort();
  const script = fileURLToPath(new URL(`../../../${workspace}/dist/server.js`, import.meta.url));
  const proc = startProcess(workspace, process.execPath, [script], {
    HOST: '127.0.0.1',
    [portVariable]: String(port),
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  const ready = waitForHttp(`${url}/ready`, { timeoutMs: 20_000 });
  const exited = proc.exited.then((exit) => {
    throw new Error(`${workspace} exited (${JSON.stringify(exit)}) before it was ready:\n${proc.output()}`);
  });
  await Promise.race([ready, exited]);
  return { proc, port, url };
}
