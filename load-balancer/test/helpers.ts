import type { AddressInfo } from 'node:net';
import { type StatsAnswer as ContractAnswer, loadConfig } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { type BuildOptions, build } from '../src/app.js';
import { readConfig } from '../src/config.js';

export interface RunningLb {
  app: FastifyInstance;
  url: string;
  port: number;
}

/** The load balancer built in this process, listening on a free loopback port. */
export async function startLb(env: Record<string, string>, options: BuildOptions = {}): Promise<RunningLb> {
  const config = loadConfig(readConfig, { HOST: '127.0.0.1', LB_PORT: '0', LOG_LEVEL: 'silent', ...env });
  const app = build(config, options);
  await app.listen({ host: '127.0.0.1', port: 0 });
  app.kit.lifecycle.markReady();
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, port };
}

/** A clock the test moves by hand, starting on a second boundary. */
export function manualClock(start = 1_800_000_000_000) {
  let now = start;
  return {
    now: () => now,
    set: (ms: number) => {
      now = ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** The load balancer's `/stats` as the contract defines it, where a fake upstream's block may carry fields of its own. */
export type StatsAnswer = { [K in keyof ContractAnswer]: ContractAnswer[K] & Record<string, unknown> } & Record<
  string,
  Record<string, unknown>
>;

export async function getStats(base: string): Promise<StatsAnswer> {
  const res = await fetch(`${base}/stats`);
  if (res.status !== 200) throw new Error(`/stats answered ${res.status}`);
  return (await res.json()) as StatsAnswer;
}
