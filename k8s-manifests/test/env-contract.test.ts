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
  dockerStages,
  imageLayout,
  type K8sObject,
  kustomize,
  MANIFESTS,
  podSpec,
  ROOT,
} from './support.js';

/** Variables whose defaults are wrong in a container (localhost upstreams, a development secret). */
const MUST_BE_SET = /(_URL|_PATH|^JWT_SECRET)$/;

type ReadConfig = (env: EnvReader) => unknown;
const readers = new Map<string, ReadConfig>();
for (const c of COMPONENTS) {
  const module = (await import(`${ROOT}${c.name}/src/config.ts`)) as { readConfig: ReadConfig };
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

/** ENV lines of the runtime stage: what every container starts with. */
function imageEnv(c: Component): Record<string, string> {
  const runtime = dockerStages(c.name).stages.at(-1);
  return Object.fromEntries(
    (runtime?.instructions ?? []).filter((i) => i.op === 'ENV').map((i) => i.args.split('=') as [string, string]),
  );
}

/** The environment a rendered container gets, ConfigMap and Secret references resolved. */
function podEnv(objects: K8sObject[], workload: string, secrets: Record<string, string> = {}): Record<string, string> {
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === workload);
  const data = objects.find((o) => o.kind === 'ConfigMap')?.data as Record<string, string>;
  const secret = objects.find((o) => o.kind === 'Secret')?.data as Record<string, string> | undefined;
  const env: Record<string, string> = {};
  for (const variable of podSpec(deployment as K8sObject).containers[0].env as K8sObject[]) {
    const configKey = variable.valueFrom?.configMapKeyRef?.key;
    const secretKey = variable.valueFrom?.secretKeyRef?.key;
    if (configKey) env[variable.name] = data[configKey] as string;
    else if (secretKey) {
      const encoded = secret?.[secretKey];
      env[variable.name] = encoded ? Buffer.from(encoded, 'base64').toString() : (secrets[secretKey] ?? '');
    } else env[variable.name] = variable.value;
  }
  return env;
}

const local = kustomize(`${MANIFESTS}overlays/local`);
const prod = kustomize(`${MANIFESTS}overlays/prod`);
const PROD_SECRET = { JWT_SECRET: 'a-production-secret-made-of-at-least-32-characters' };
const environments = (c: Component) => ({
  'compose without .env': composeEnv(c.name),
  'compose with a production .env': composeEnv(c.name, { NODE_ENV: 'production', ...PROD_SECRET }),
  'overlays/local': podEnv(local, `local-${c.name}`),
  'overlays/prod': podEnv(prod, c.name, PROD_SECRET),
});

describe.each(COMPONENTS)('environment of $name', (c) => {
  const envs = environments(c);
  const read = variablesRead(c, ...Object.values(envs).map((env) => ({ ...imageEnv(c), ...env })));

  it.each(Object.keys(envs))('sets only variables the service reads (%s)', (where) => {
    const names = Object.keys(envs[where as keyof typeof envs]);
    expect(names.filter((name) => !read.has(name))).toEqual([]);
    expect(names).toContain(c.portVariable);
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

it('uses every ConfigMap key in some container', () => {
  for (const objects of [local, prod]) {
    const keys = Object.keys(objects.find((o) => o.kind === 'ConfigMap')?.data ?? {});
    const used = new Set(
      objects
        .filter((o) => o.kind === 'Deployment' || o.kind === 'CronJob')
        .flatMap((w) => podSpec(w).containers.flatMap((c: K8sObject) => c.env ?? []))
        .map((v: K8sObject) => v.valueFrom?.configMapKeyRef?.key)
        .filter(Boolean),
    );
    expect(keys.filter((key) => !used.has(key))).toEqual([]);
  }
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
      env[c.portVariable] = String(ports.get(c.name));
      env.HOST = '127.0.0.1';
      const cmd = JSON.parse(
        dockerStages(c.name)
          .stages.at(-1)
          ?.instructions.find((i) => i.op === 'CMD')?.args ?? '[]',
      );
      expect(cmd[0]).toBe('node');
      const app = imageLayout(c.name, mkdtempSync(join(dataDir, `${c.name}-image-`)));
      started.push(new ManagedProcess(c.name, process.execPath, cmd.slice(1), env, app));
    }
    for (const c of COMPONENTS) {
      const res = await waitForHttp(`http://127.0.0.1:${ports.get(c.name)}/ready`, { timeoutMs: 20_000 });
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
