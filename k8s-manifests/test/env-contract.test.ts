import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EnvReader, loadConfig, EnvReader as Reader } from '@titanium/service-kit';
import {
  freePort,
  ManagedProcess,
  type RedisServer,
  startRedis,
  stopAllProcesses,
  waitForHttp,
} from '@titanium/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import {
  COMPONENTS,
  type Component,
  composeEnv,
  imageLayout,
  kustomize,
  MANIFESTS,
  named,
  podEnv,
  serviceImage,
} from './support.js';

/** Variables whose defaults are wrong in a container (localhost upstreams, a development secret). */
const MUST_BE_SET = /(_URL|_PATH|^JWT_SECRET)$/;

type ReadConfig = (env: EnvReader) => unknown;
const readers = new Map<string, ReadConfig>();
for (const c of COMPONENTS) {
  const module = (await import(`${c.workspace}/config`)) as { readConfig: ReadConfig };
  readers.set(c.name, module.readConfig);
}
const readerOf = (c: Component) => readers.get(c.name) as ReadConfig;

/** Every variable name the service's readConfig looks at, given `env` (read through a recording proxy). */
function variablesRead(c: Component, ...envs: Record<string, string>[]): Set<string> {
  const names = new Set<string>();
  for (const env of [{}, ...envs]) {
    const recording = new Proxy(env, {
      get(target, key) {
        if (typeof key === 'string') names.add(key);
        return Reflect.get(target, key);
      },
    });
    readerOf(c)(new Reader(recording));
  }
  return names;
}

/** ENV lines of the service's image: what every container starts with. */
function imageEnv(c: Component): Record<string, string> {
  return Object.fromEntries(
    serviceImage(c.name)
      .instructions.filter((i) => i.op === 'ENV')
      .map((i) => i.args.split('=') as [string, string]),
  );
}

const local = kustomize(`${MANIFESTS}overlays/local`);
const prod = kustomize(`${MANIFESTS}overlays/prod`);
const PROD_SECRET = { JWT_SECRET: 'a-production-secret-made-of-at-least-32-characters' };
const environments = (c: Component) => ({
  'compose without .env': composeEnv(c.name),
  'compose with a production .env': composeEnv(c.name, { NODE_ENV: 'production', ...PROD_SECRET }),
  'overlays/local': podEnv(local, named(local, 'Deployment', `local-${c.name}`)),
  'overlays/prod': podEnv(prod, named(prod, 'Deployment', c.name), PROD_SECRET),
});

describe.each(COMPONENTS)('environment of $name', (c) => {
  const envs = environments(c);
  const read = variablesRead(c, ...Object.values(envs).map((env) => ({ ...imageEnv(c), ...env })));

  it.each(Object.keys(envs))('sets only variables the service reads (%s)', (where) => {
    const names = Object.keys(envs[where as keyof typeof envs]);
    expect(names.filter((name) => !read.has(name))).toEqual([]);
    expect(names).toContain(c.port.variable);
  });

  it.each(Object.keys(envs))('starts the service configuration without a problem (%s)', (where) => {
    const env = { ...imageEnv(c), ...envs[where as keyof typeof envs] };
    expect(() => loadConfig(readerOf(c), env)).not.toThrow();
  });

  it('sets every upstream, database path and secret the service reads', () => {
    for (const name of [...read].filter((n) => MUST_BE_SET.test(n))) {
      for (const [where, env] of Object.entries(envs)) expect(Object.keys(env), `${where}: ${name}`).toContain(name);
    }
  });
});

it('lists each service after the services whose URL it reads, so npm start stops the front door first', () => {
  COMPONENTS.forEach((c, index) => {
    const read = variablesRead(c);
    for (const callee of COMPONENTS.filter((other) => other.url && read.has(other.url.variable))) {
      expect(COMPONENTS.indexOf(callee), `${c.name} calls ${callee.name}`).toBeLessThan(index);
    }
  });
  expect(COMPONENTS.at(-1)?.url, 'the last one is called by none').toBeUndefined();
});

describe('the compiled entry points, run from the files each image holds, as its Dockerfile runs them', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'compose-data-'));
  const started: ManagedProcess[] = [];
  let redis: RedisServer | undefined;
  afterAll(async () => {
    await Promise.all(started.map((proc) => proc.stop()));
    await stopAllProcesses();
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 200 on /ready for every service with the compose environment, and serves its pages', async () => {
    redis = await startRedis();
    const ports = new Map<string, number>();
    for (const c of COMPONENTS) ports.set(c.name, await freePort());
    const hostPort = (host: string, port: string): string => {
      if (host === 'redis') return (redis as RedisServer).url.replace('redis://', '');
      const mapped = ports.get(host);
      if (!mapped) throw new Error(`compose URL names ${host}:${port}, which is no service`);
      return `127.0.0.1:${mapped}`;
    };

    for (const c of COMPONENTS) {
      const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...imageEnv(c) };
      for (const [key, value] of Object.entries(composeEnv(c.name))) {
        env[key] = value
          .replace(
            /^(https?|redis):\/\/([a-z-]+):(\d+)$/,
            (_, scheme, host, port) => `${scheme}://${hostPort(host, port)}`,
          )
          .replace(/^\/data\//, `${dataDir}/`);
      }
      env[c.port.variable] = String(ports.get(c.name));
      env.HOST = '127.0.0.1';
      const cmd = JSON.parse(serviceImage(c.name).instructions.find((i) => i.op === 'CMD')?.args ?? '[]');
      expect(cmd[0]).toBe('node');
      // Run from the image's WORKDIR within the files its COPY lines put there.
      const workdir = imageLayout(c.name, mkdtempSync(join(dataDir, `${c.name}-image-`)));
      started.push(new ManagedProcess(c.name, process.execPath, cmd.slice(1), env, workdir));
    }
    for (const c of COMPONENTS) {
      const res = await waitForHttp(`http://127.0.0.1:${ports.get(c.name)}${c.readyPath}`, { timeoutMs: 20_000 });
      expect(res.status, c.name).toBe(200);
    }
    // Files read at run time, not imported: the pages the dashboard and the blog serve.
    for (const [name, path] of [
      ['dashboard-ui', '/'],
      ['blog-service', '/blog/'],
      ['load-balancer', '/'],
      ['load-balancer', '/blog/'],
    ] as const) {
      const res = await fetch(`http://127.0.0.1:${ports.get(name)}${path}`);
      expect(res.status, `${name} ${path}`).toBe(200);
      expect(res.headers.get('content-type'), `${name} ${path}`).toMatch(/^text\/html/);
      expect(await res.text()).toMatch(/<!doctype html>/i);
    }
  }, 60_000);
});
