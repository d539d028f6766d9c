import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Component, redisComponent, serviceComponent, stopAllProcesses } from '@titanium/test-support';
import type { StatsAnswer } from './helpers.js';

export interface Topology {
  redis: Component | undefined;
  user: Component;
  blog: Component;
  auth: Component;
  gateways: Component[];
  lb: Component;
  stats(): Promise<StatsAnswer>;
  /** Resumes what is frozen and starts what is down, so one test's fault does not leak into the next. */
  heal(): Promise<void>;
  close(): Promise<void>;
}

export interface TopologyOptions {
  redis?: boolean;
  gateways?: number;
  /** For every service. */
  env?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  lbEnv?: Record<string, string>;
}

/**
 * The stack wired by hand as separate processes: user, blog and auth services, one or more
 * gateways and the load balancer in front (with a redis-server when asked), on real SQLite files.
 */
export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const dataDir = mkdtempSync(join(tmpdir(), 'titanium-faults-'));
  try {
    return await start(options, dataDir);
  } catch (err) {
    // Leave nothing running behind a start that failed half-way.
    await stopAllProcesses();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** How long a test file may take to bring its topology up on a busy machine. */
export const TOPOLOGY_START_MS = 60_000;

async function start(options: TopologyOptions, dataDir: string): Promise<Topology> {
  const redis = options.redis ? await redisComponent() : undefined;
  const env = {
    DATABASE_PATH: join(dataDir, 'users.db'),
    BLOG_DATABASE_PATH: join(dataDir, 'blog.db'),
    ...(redis ? { REDIS_URL: redis.url } : {}),
    ...options.env,
  };
  const [user, blog] = await Promise.all([
    serviceComponent('user-service', env),
    serviceComponent('blog-service', env),
  ]);
  const auth = await serviceComponent('auth-service', { ...env, USER_SERVICE_URL: user.url });
  const upstreams = { AUTH_SERVICE_URL: auth.url, USER_SERVICE_URL: user.url, BLOG_SERVICE_URL: blog.url };
  const gateways = await Promise.all(
    Array.from({ length: options.gateways ?? 1 }, () =>
      serviceComponent('api-gateway', { ...env, ...upstreams, ...options.gatewayEnv }),
    ),
  );
  const lb = await serviceComponent('load-balancer', {
    ...env,
    ...upstreams,
    API_GATEWAY_URL: gateways.map((gateway) => gateway.url).join(','),
    DASHBOARD_UI_URL: blog.url,
    ...options.lbEnv,
  });
  return {
    redis,
    user,
    blog,
    auth,
    gateways,
    lb,
    async stats() {
      const res = await fetch(`${lb.url}/stats`);
      if (res.status !== 200) throw new Error(`/stats answered ${res.status}`);
      return (await res.json()) as StatsAnswer;
    },
    async heal() {
      for (const part of [redis, user, blog, auth, ...gateways, lb]) {
        if (!part) continue;
        if (part.frozen) part.resume();
        if (!part.running) await part.start();
      }
    },
    async close() {
      for (const part of [user, blog, auth, ...gateways, redis]) if (part?.frozen) part.resume();
      await stopAllProcesses();
      if (redis) await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
