import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serviceNamed } from '@titanium/service-kit';
import { freePort, type ManagedProcess, startProcess } from './processes.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A name from the service table (`SERVICES` in the kit); any other is refused when started. */
export type ServiceName = string;

export interface RunningService {
  name: ServiceName;
  port: number;
  url: string;
  process: ManagedProcess;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** Starts it again with the same port and environment. */
  restart(): Promise<RunningService>;
}

/**
 * Runs a service from its build (`<name>/dist/server.js`) on 127.0.0.1 and a free (or given)
 * port, and resolves once it has logged that it is ready.
 */
export async function startService(
  name: ServiceName,
  env: Record<string, string> = {},
  port?: number,
): Promise<RunningService> {
  const { port: setting } = serviceNamed(name);
  const chosen = port ?? (await freePort());
  const proc = startProcess(name, process.execPath, [`${ROOT}${name}/dist/server.js`], {
    HOST: '127.0.0.1',
    ...env,
    [setting.variable]: String(chosen),
  });
  await proc.waitForStart(new RegExp(`"msg":"${name} ready"`));
  return {
    name,
    port: chosen,
    url: `http://127.0.0.1:${chosen}`,
    process: proc,
    async stop() {
      await proc.stop();
    },
    async restart() {
      await proc.stop();
      return startService(name, env, chosen);
    },
  };
}

export interface Backends {
  gateway: RunningService;
  users: RunningService;
  auth: RunningService;
  blog: RunningService;
}

/**
 * The API gateway with auth, user and blog services behind it, sharing `secret`, their databases
 * in `dir`. Ports are chosen first so all four start at once. Timeouts to user-service are long,
 * so a password check on a busy machine is not a 504; `gatewayEnv` adds to the gateway's settings,
 * `env` to every service's.
 */
export async function startBackends(
  dir: string,
  secret: string,
  gatewayEnv: Record<string, string> = {},
  env: Record<string, string> = {},
): Promise<Backends> {
  const common = { JWT_SECRET: secret, ...env };
  const [usersPort, authPort, blogPort] = [await freePort(), await freePort(), await freePort()];
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const [gateway, users, auth, blog] = await Promise.all([
    startService('api-gateway', {
      ...common,
      AUTH_SERVICE_URL: url(authPort),
      USER_SERVICE_URL: url(usersPort),
      BLOG_SERVICE_URL: url(blogPort),
      UPSTREAM_HEADERS_TIMEOUT_MS: '10000',
      ...gatewayEnv,
    }),
    startService('user-service', { ...common, DATABASE_PATH: join(dir, 'users.db') }, usersPort),
    startService(
      'auth-service',
      { ...common, USER_SERVICE_URL: url(usersPort), USER_SERVICE_TIMEOUT_MS: '10000' },
      authPort,
    ),
    startService('blog-service', { ...common, BLOG_DATABASE_PATH: join(dir, 'blog.db') }, blogPort),
  ]);
  return { gateway, users, auth, blog };
}
