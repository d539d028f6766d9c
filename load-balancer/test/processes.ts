import { fileURLToPath } from 'node:url';
import { freePort, type ManagedProcess, startProcess, waitForHttp } from '@titanium/test-support';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ECHO = fileURLToPath(new URL('./fixtures/echo-upstream.mjs', import.meta.url));

export interface Running {
  proc: ManagedProcess;
  port: number;
  url: string;
}

/** The built load balancer as a real process on a free port. */
export async function startLbProcess(env: Record<string, string>, name = 'load-balancer'): Promise<Running> {
  const port = await freePort();
  const proc = startProcess(name, process.execPath, [`${ROOT}load-balancer/dist/server.js`], {
    HOST: '127.0.0.1',
    LB_PORT: String(port),
    LOG_LEVEL: 'info',
    ...env,
  });
  await proc.waitForLine(/load-balancer ready/);
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

/** A built service of this repository (`api-gateway`, `auth-service`, …) as a real process. */
export async function startServiceProcess(
  name: string,
  portVariable: string,
  env: Record<string, string> = {},
): Promise<Running> {
  const port = await freePort();
  const proc = startProcess(name, process.execPath, [`${ROOT}${name}/dist/server.js`], {
    HOST: '127.0.0.1',
    [portVariable]: String(port),
    LOG_LEVEL: 'warn',
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/ready`);
  return { proc, port, url };
}

/** The echo fixture on `port` (a free one unless given), answering with its port. */
export async function startEcho(port?: number, statsKey = 'api-gateway'): Promise<Running> {
  const chosen = port ?? (await freePort());
  const proc = startProcess('echo', process.execPath, [ECHO], { PORT: String(chosen), STATS_KEY: statsKey });
  await proc.waitForLine(/listening on/);
  return { proc, port: chosen, url: `http://127.0.0.1:${chosen}` };
}
