/** Reading the deployment files the way their tools do: kustomize output, compose, skaffold, Dockerfiles. */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MANIFESTS = `${ROOT}k8s-manifests/`;

export interface Component {
  name: string;
  port: number;
  portVariable: string;
  /** Service port, when it differs from the container port. */
  servicePort?: number;
  baseReplicas: number;
  autoscaled: boolean;
  /** The SQLite file it owns, as the variable naming it. */
  database?: { variable: string; file: string; backupJob: string };
}

/** What the architecture says; every file here must agree with it. */
export const COMPONENTS: readonly Component[] = [
  { name: 'load-balancer', port: 7100, portVariable: 'LB_PORT', baseReplicas: 2, autoscaled: true },
  { name: 'api-gateway', port: 8000, portVariable: 'API_GATEWAY_PORT', baseReplicas: 2, autoscaled: true },
  { name: 'auth-service', port: 8002, portVariable: 'AUTH_SERVICE_PORT', baseReplicas: 2, autoscaled: true },
  {
    name: 'user-service',
    port: 8001,
    portVariable: 'USER_SERVICE_PORT',
    baseReplicas: 1,
    autoscaled: false,
    database: { variable: 'DATABASE_PATH', file: 'users.db', backupJob: 'user-service-db-backup' },
  },
  {
    name: 'blog-service',
    port: 8005,
    portVariable: 'BLOG_SERVICE_PORT',
    baseReplicas: 1,
    autoscaled: false,
    database: { variable: 'BLOG_DATABASE_PATH', file: 'blog.db', backupJob: 'blog-service-db-backup' },
  },
  {
    name: 'dashboard-ui',
    port: 8080,
    portVariable: 'DASHBOARD_UI_PORT',
    servicePort: 80,
    baseReplicas: 2,
    autoscaled: false,
  },
];

export function component(name: string): Component {
  const found = COMPONENTS.find((c) => c.name === name);
  if (!found) throw new Error(`unknown component ${name}`);
  return found;
}

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are checked field by field
export type K8sObject = Record<string, any>;

const NEED_KUBECTL =
  'these tests render the manifests with `kubectl kustomize` and need kubectl 1.27 or newer (kustomize v5 built in)';
let kubectlChecked = false;

function checkKubectl(): void {
  if (kubectlChecked) return;
  const version = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (version.error) throw new Error(`kubectl is not installed: ${NEED_KUBECTL}. Install it and run them again.`);
  const kustomizeVersion = String(JSON.parse(version.stdout || '{}').kustomizeVersion ?? 'none');
  if (!/^v([5-9]|\d{2,})\./.test(kustomizeVersion)) {
    throw new Error(`kubectl's built-in kustomize is ${kustomizeVersion}: ${NEED_KUBECTL}.`);
  }
  kubectlChecked = true;
}

/** `kubectl kustomize <dir>` parsed into objects; a missing or old kubectl is a failure that says what to install. */
export function kustomize(dir: string): K8sObject[] {
  checkKubectl();
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as K8sObject)
    .filter(Boolean);
}

export function readYaml<T = K8sObject>(path: string): T {
  return parse(readFileSync(`${ROOT}${path}`, 'utf8'), { merge: true }) as T;
}

export function byKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function named(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found)
    throw new Error(`no ${kind} ${name} in ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);
  return found;
}

/** The pod template of a Deployment or CronJob. */
export function podSpec(workload: K8sObject): K8sObject {
  return workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec.template.spec : workload.spec.template.spec;
}

/** Compose `${NAME:-default}` / `${NAME}` interpolation, with `vars` standing for the shell and .env. */
export function interpolate(value: string, vars: Record<string, string> = {}): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
    const set = vars[name];
    return set !== undefined && set !== '' ? set : (fallback ?? '');
  });
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  read_only?: boolean;
}

export function composeServices(): Record<string, ComposeService> {
  return readYaml<{ services: Record<string, ComposeService> }>('docker-compose.yml').services;
}

/** The environment compose gives a service, after interpolation with `vars`. */
export function composeEnv(name: string, vars: Record<string, string> = {}): Record<string, string> {
  const service = composeServices()[name];
  if (!service) throw new Error(`no compose service ${name}`);
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(String(value), vars)]),
  );
}

export interface DockerStage {
  from: string;
  name?: string;
  instructions: { op: string; args: string }[];
}

/** Dockerfile stages with their instructions (continuation lines joined, comments dropped). */
export function dockerStages(workspace: string): { args: Record<string, string>; stages: DockerStage[] } {
  const text = readFileSync(`${ROOT}${workspace}/Dockerfile`, 'utf8');
  const lines = text
    .replace(/\\\n(\s*#[^\n]*\n)*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const value = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(value);
      const from = (match?.[1] ?? '').replace(/\$\{(\w+)\}/g, (_, arg: string) => args[arg] ?? '');
      stages.push({ from, ...(match?.[2] ? { name: match[2] } : {}), instructions: [] });
    } else if (stages.length === 0 && op.toUpperCase() === 'ARG') {
      const [key = '', fallback = ''] = value.split('=');
      args[key] = fallback;
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args: value });
    }
  }
  return { args, stages };
}

/**
 * The files of a component's image, laid out under `dir` by the runtime stage's COPY lines, taken
 * from this checkout's build: what `CMD` will find at /app. Installed modules are linked, not
 * copied; the workspace links in them keep their relative targets, so `@titanium/service-kit`
 * resolves to the kit copied into `dir`, as in the image.
 */
export function imageLayout(workspace: string, dir: string): string {
  const runtime = dockerStages(workspace).stages.at(-1);
  for (const copy of runtime?.instructions.filter((i) => i.op === 'COPY') ?? []) {
    const [, from = '', to = ''] = copy.args.split(/\s+/);
    if (!from.startsWith('/app/')) throw new Error(`COPY from outside /app: ${copy.args}`);
    const source = `${ROOT}${from.slice('/app/'.length)}`;
    // A file copied to a directory (`COPY a/package.json b/`) keeps its name, as in Docker.
    const target =
      !from.endsWith('/') && (to.endsWith('/') || to === '.') ? join(dir, to, basename(from)) : join(dir, to);
    if (from.endsWith('node_modules/')) linkModules(source, target);
    else cpSync(source, target, { recursive: true });
  }
  return dir;
}

function linkModules(source: string, target: string): void {
  mkdirSync(target, { recursive: true });
  if (!existsSync(source)) return;
  for (const entry of readdirSync(source, { withFileTypes: true })) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else if (entry.isDirectory() && entry.name.startsWith('@')) linkModules(from, to);
    else symlinkSync(from, to);
  }
}
