/** Reading the deployment files the way their tools do: kustomize output, compose, skaffold, Dockerfiles. */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICES, type ServiceSpec } from '@titanium/service-kit';
import { parse, parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MANIFESTS = `${ROOT}k8s-manifests/`;

/** A service of the table, with what its manifests say beyond it. */
export interface Component extends ServiceSpec {
  /** Service port, when it differs from the container port. */
  servicePort?: number;
  baseReplicas: number;
  autoscaled: boolean;
}

/** Deployment-only facts: the replica counts and autoscaling of overlays/prod, the dashboard's Service port. */
const DEPLOYMENT: Record<string, Pick<Component, 'servicePort' | 'baseReplicas' | 'autoscaled'>> = {
  'load-balancer': { baseReplicas: 2, autoscaled: true },
  'api-gateway': { baseReplicas: 2, autoscaled: true },
  'auth-service': { baseReplicas: 2, autoscaled: true },
  'user-service': { baseReplicas: 1, autoscaled: false },
  'blog-service': { baseReplicas: 1, autoscaled: false },
  'dashboard-ui': { servicePort: 80, baseReplicas: 2, autoscaled: false },
};

/** Every service of the table; each file here must agree with it. */
export const COMPONENTS: readonly Component[] = SERVICES.map((service) => {
  const deployment = DEPLOYMENT[service.name];
  if (!deployment) throw new Error(`${service.name} has no replica count here`);
  return { ...service, ...deployment };
});

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

/**
 * The environment a rendered workload's container gets: `envFrom` ConfigMaps and Secrets first,
 * then `env` (values, ConfigMap and Secret keys), as the kubelet resolves them. A Secret that is
 * not rendered (overlays/prod expects it from outside) is taken from `secrets`.
 */
export function podEnv(
  objects: K8sObject[],
  workload: K8sObject,
  secrets: Record<string, string> = {},
): Record<string, string> {
  const dataOf = (kind: string, name: string): Record<string, string> | undefined => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (kind === 'ConfigMap') return found?.data;
    if (!found) return secrets;
    const decoded = Object.entries(found.data ?? {}).map(([key, value]) => [
      key,
      Buffer.from(String(value), 'base64').toString(),
    ]);
    return Object.fromEntries(decoded);
  };
  const [container] = podSpec(workload).containers as K8sObject[];
  const env: Record<string, string> = {};
  for (const source of (container?.envFrom ?? []) as K8sObject[]) {
    const data = source.configMapRef
      ? dataOf('ConfigMap', source.configMapRef.name)
      : dataOf('Secret', source.secretRef?.name);
    if (!data) throw new Error(`${workload.metadata.name}: envFrom names nothing rendered: ${JSON.stringify(source)}`);
    Object.assign(env, data);
  }
  for (const variable of (container?.env ?? []) as K8sObject[]) {
    const configRef = variable.valueFrom?.configMapKeyRef;
    const secretRef = variable.valueFrom?.secretKeyRef;
    if (configRef) env[variable.name] = dataOf('ConfigMap', configRef.name)?.[configRef.key] as string;
    else if (secretRef) env[variable.name] = dataOf('Secret', secretRef.name)?.[secretRef.key] ?? '';
    else env[variable.name] = variable.value;
  }
  return env;
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
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
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

export interface DockerInstruction {
  op: string;
  args: string;
}

export interface DockerStage {
  from: string;
  name?: string;
  instructions: DockerInstruction[];
}

/** What one build of the root Dockerfile makes, read as BuildKit reads it. */
export interface DockerImage {
  /** Global ARGs (before the first FROM) with this build's values. */
  args: Record<string, string | undefined>;
  /** Every stage, each variable replaced by this build's value where Docker replaces it. */
  stages: DockerStage[];
  /** The stages the image is stacked from, base first: the last stage, the stage it is FROM, and so on. */
  layers: DockerStage[];
  /** The outside image the first layer starts from. */
  base: string;
  /** The layers' instructions in order: what the image holds and how it runs. */
  instructions: DockerInstruction[];
  /** The stages BuildKit builds for it: the layers and every stage a COPY --from of a built stage names, with theirs. */
  built: DockerStage[];
}

const DOCKERFILE = `${ROOT}Dockerfile`;

/** `${NAME}` and `$NAME` replaced from `scope`; names not in it are left as they are. */
function substitute(text: string, scope: Record<string, string | undefined>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const name = (braced ?? bare) as string;
    return name in scope ? (scope[name] ?? '') : whole;
  });
}

/**
 * The root Dockerfile built with `buildArgs` (continuation lines joined, comments dropped). ARGs
 * follow Docker's scoping: a global ARG reaches FROM lines, and a stage sees it only after its own
 * `ARG NAME`. They are replaced in every instruction but CMD and ENTRYPOINT (RUN gets them as
 * environment variables, which its shell expands).
 */
export function dockerImage(buildArgs: Record<string, string>): DockerImage {
  const lines = readFileSync(DOCKERFILE, 'utf8')
    .replace(/\\\n(\s*#[^\n]*\n)*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const args: Record<string, string | undefined> = {};
  const stages: DockerStage[] = [];
  let scope: Record<string, string | undefined> = {};
  for (const line of lines) {
    const [word = '', ...rest] = line.split(/\s+/);
    const op = word.toUpperCase();
    const value = rest.join(' ');
    if (op === 'ARG') {
      const [key = '', fallback] = value.split('=');
      const chosen = buildArgs[key] ?? (stages.length === 0 ? fallback : (fallback ?? args[key]));
      if (stages.length === 0) args[key] = chosen;
      else {
        scope[key] = chosen;
        stages.at(-1)?.instructions.push({ op, args: value });
      }
    } else if (op === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(value);
      stages.push({
        from: substitute(match?.[1] ?? '', args),
        ...(match?.[2] ? { name: match[2] } : {}),
        instructions: [],
      });
      scope = {};
    } else {
      const replaced = op === 'CMD' || op === 'ENTRYPOINT' ? value : substitute(value, scope);
      stages.at(-1)?.instructions.push({ op, args: replaced });
    }
  }
  const stageNamed = (name: string) => stages.find((s) => s.name?.toLowerCase() === name.toLowerCase());
  const layersOf = (stage: DockerStage): DockerStage[] => {
    const parent = stageNamed(stage.from);
    return parent ? [...layersOf(parent), stage] : [stage];
  };
  const last = stages.at(-1);
  if (!last) throw new Error('the Dockerfile has no stage');
  const layers = layersOf(last);
  const built = new Set(layers);
  for (const stage of built) {
    for (const copy of stage.instructions.filter((i) => i.op === 'COPY')) {
      const from = /--from=(\S+)/.exec(copy.args)?.[1];
      const source = from && stageNamed(from);
      if (source) for (const layer of layersOf(source)) built.add(layer);
    }
  }
  return {
    args,
    stages,
    layers,
    base: layers[0]?.from ?? '',
    instructions: layers.flatMap((stage) => stage.instructions),
    built: stages.filter((stage) => built.has(stage)),
  };
}

/** The image of one service, built as skaffold and compose build it: `SERVICE` set to its name. */
export function serviceImage(service: string): DockerImage {
  return dockerImage({ SERVICE: service });
}

/** Where the image's CMD runs: its last WORKDIR. */
export function workdirOf(image: DockerImage): string {
  return image.instructions.filter((i) => i.op === 'WORKDIR').reduce((dir, i) => posix.resolve(dir, i.args), '/');
}

/**
 * The files of a service's image, laid out under `dir` by its COPY lines, taken from this
 * checkout's build: what `CMD` will find at /app. Installed modules are linked, not copied; the
 * workspace links in them keep their relative targets, so `@titanium/service-kit` resolves to the
 * kit copied into `dir`, as in the image. Returns the directory that stands for the image's WORKDIR.
 */
export function imageLayout(service: string, dir: string): string {
  const image = serviceImage(service);
  const inside = (path: string) => {
    if (path !== '/app' && !path.startsWith('/app/')) throw new Error(`${path} is outside /app`);
    return join(dir, posix.relative('/app', path));
  };
  let workdir = '/';
  for (const { op, args } of image.instructions) {
    if (op === 'WORKDIR') workdir = posix.resolve(workdir, args);
    if (op !== 'COPY') continue;
    const [flag = '', from = '', to = ''] = args.split(/\s+/);
    if (!flag.startsWith('--from=')) throw new Error(`COPY from the build context into the image: ${args}`);
    const source = `${ROOT}${posix.relative('/app', from)}`;
    inside(from);
    // A file copied to a directory (`COPY a/package.json b/`) keeps its name, as in Docker.
    const destination = posix.resolve(workdir, to);
    const target =
      !from.endsWith('/') && (to.endsWith('/') || to === '.')
        ? join(inside(destination), basename(from))
        : inside(destination);
    if (from.endsWith('node_modules/')) linkModules(source, target);
    else cpSync(source, target, { recursive: true });
  }
  return inside(workdir);
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
