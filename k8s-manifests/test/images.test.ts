import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  COMPONENTS,
  composeServices,
  dockerImage,
  type K8sObject,
  kustomize,
  MANIFESTS,
  podSpec,
  ROOT,
  readYaml,
  serviceImage,
  workdirOf,
} from './support.js';

const WORKSPACES = COMPONENTS.map((c) => c.name);
const skaffold = readYaml('skaffold.yaml');
const local = kustomize(`${MANIFESTS}overlays/local`);

describe.each(COMPONENTS)('Dockerfile with SERVICE=$name', (c) => {
  const image = serviceImage(c.name);
  const { stages } = image;
  const ops = (op: string) => image.instructions.filter((i) => i.op === op).map((i) => i.args);
  const all = (op: string) => image.built.flatMap((s) => s.instructions.filter((i) => i.op === op).map((i) => i.args));

  it('builds in one stage and runs from a slim Node LTS image in another', () => {
    expect(image.built.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]?.from).toMatch(/^node:(22|24)-[a-z]+-slim$/);
    expect(image.base).toBe(stages[0]?.from);
    const build = stages.find((s) => s.name === 'build');
    expect(image.layers).not.toContain(build);
    const runs = build?.instructions.filter((i) => i.op === 'RUN').map((i) => i.args) ?? [];
    expect(runs.some((r) => /python3/.test(r) && /make/.test(r) && /g\+\+/.test(r))).toBe(true);
    // The workspace's own build script, so dashboard-ui's bundler step comes along.
    expect(runs).toContain(`npm run build --workspace ${c.workspace}`);
  });

  it('installs only production dependencies for this service and the kit', () => {
    const installs = all('RUN').filter((r) => /npm ci --omit=dev/.test(r));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toContain(`--workspace ${c.workspace}`);
    expect(installs[0]).toContain('--workspace @titanium/service-kit');
    expect(installs[0]).not.toContain('--include-workspace-root');
  });

  it('copies compiled output into the runtime stage, never sources or other services', () => {
    const copies = ops('COPY');
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      expect(copy, 'only from earlier stages').toMatch(/^--from=(build|deps) /);
      const [, source = ''] = copy.split(' ');
      // Besides its build, only the static files a service serves (the blog page's HTML and CSS).
      const assets = c.name === 'blog-service' ? '|spa/public/' : '';
      expect(source).toMatch(
        new RegExp(
          `^/app/((service-kit|${c.name})/(dist/|package\\.json|node_modules/${assets})|package\\.json|node_modules/)$`,
        ),
      );
    }
    for (const other of WORKSPACES.filter((w) => w !== c.name)) {
      expect(copies.join('\n')).not.toContain(`/app/${other}/`);
    }
  });

  it('runs as the node user under tini, exposing its port, with the same command as npm start in its folder', () => {
    expect(ops('USER')).toEqual(['node']);
    expect(ops('RUN').some((r) => /apt-get install .*\btini\b/.test(r))).toBe(true);
    expect(ops('ENTRYPOINT')).toEqual(['["/usr/bin/tini", "--"]']);
    expect(ops('EXPOSE')).toEqual([String(c.port.default)]);
    expect(ops('ENV')).toContain('NODE_ENV=production');
    expect(workdirOf(image)).toBe(`/app/${c.name}`);
    const [cmd = ''] = ops('CMD');
    expect(JSON.parse(cmd)).toEqual(['node', 'dist/server.js']);
    const pkg = JSON.parse(readFileSync(`${ROOT}${c.name}/package.json`, 'utf8'));
    expect(pkg.name).toBe(c.workspace);
    // `exec`, so npm's forwarded SIGTERM reaches the service instead of leaving it running alone.
    expect(pkg.scripts.start).toBe(`exec ${JSON.parse(cmd).join(' ')}`);
    expect(existsSync(`${ROOT}${c.name}/dist/server.js`)).toBe(true);
  });

  it('prepares writable mount points for a database volume where there is one', () => {
    const runs = ops('RUN').join('\n');
    if (c.database) expect(runs).toContain('chown node:node /data /backup');
    else expect(runs).not.toContain('/data');
  });
});

describe('Dockerfile', () => {
  it('has one final stage per service of the table, and fails a build whose SERVICE names none', () => {
    const finals = dockerImage({}).stages.flatMap((s) => (s.name?.endsWith('-image') ? [s.name] : []));
    expect(finals.sort()).toEqual(WORKSPACES.map((w) => `${w}-image`).sort());
    // No default: a build that forgets SERVICE, or names something else, starts from no stage of
    // this file but from an image `<SERVICE>-image` that no registry has, so it fails.
    expect(dockerImage({}).args).toEqual({ NODE_IMAGE: expect.any(String), SERVICE: undefined });
    for (const service of ['', 'service-kit', 'redis']) {
      const image = dockerImage({ SERVICE: service });
      expect(image.layers, service).toHaveLength(1);
      expect(image.base, service).toBe(`${service}-image`);
    }
  });
});

describe('the Node the images run', () => {
  const major = (range: string) => /(\d+)/.exec(range)?.[1];
  const imageMajor = /^node:(\d+)-/.exec(dockerImage({}).args.NODE_IMAGE ?? '')?.[1];

  it('is the Node major these tests run on, the one `npm install` brings and every engines field names', () => {
    expect(imageMajor).toBeDefined();
    expect(process.versions.node.split('.')[0]).toBe(imageMajor);
    const root = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));
    // The npm registry's `node` package: its binary is first on every npm script's PATH.
    expect(major(root.devDependencies.node)).toBe(imageMajor);
    expect(major(root.devDependencies['@types/node'])).toBe(imageMajor);
    for (const dir of ['.', ...root.workspaces]) {
      const pkg = JSON.parse(readFileSync(`${ROOT}${dir}/package.json`, 'utf8'));
      expect(pkg.engines?.node, dir).toBe(`>=${imageMajor}`);
    }
  });
});

describe('.dockerignore', () => {
  it('keeps installed modules, builds, databases, secrets and git history out of the build context', () => {
    const lines = readFileSync(`${ROOT}.dockerignore`, 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '**/*.db', '.env', '.git']) expect(lines).toContain(entry);
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.base.json', 'service-kit']) {
      expect(lines).not.toContain(needed);
    }
  });
});

describe('skaffold.yaml', () => {
  const artifacts = skaffold.build.artifacts as K8sObject[];

  it('uses a current v4beta schema and builds one artifact per service from the root Dockerfile, SERVICE naming it', () => {
    expect(skaffold.apiVersion).toMatch(/^skaffold\/v4beta(1[1-9]|[2-9]\d)$/);
    expect(artifacts.map((a) => a.image)).toEqual(WORKSPACES.map((w) => `titanium/${w}`));
    for (const artifact of artifacts) {
      expect(artifact.context).toBe('.');
      expect(artifact.docker.dockerfile).toBe('Dockerfile');
      expect(artifact.docker.buildArgs).toEqual({ SERVICE: artifact.image.replace('titanium/', '') });
    }
  });

  it('deploys overlays/local, whose images are exactly the artifacts (plus Redis)', () => {
    expect(skaffold.manifests.kustomize.paths).toEqual(['k8s-manifests/overlays/local']);
    const images = new Set(
      [...local.filter((o) => o.kind === 'Deployment' || o.kind === 'CronJob')].map(
        (w) => podSpec(w).containers[0].image as string,
      ),
    );
    expect([...images].sort()).toEqual([...artifacts.map((a) => a.image), 'redis:7-alpine'].sort());
  });

  it('forwards the local load balancer Service to port 7100 and has kind and minikube profiles', () => {
    expect(skaffold.deploy.kubectl.defaultNamespace).toBe('titanium-local');
    expect(skaffold.portForward).toEqual([
      {
        resourceType: 'service',
        resourceName: 'local-load-balancer-service',
        namespace: 'titanium-local',
        port: 7100,
        localPort: 7100,
      },
    ]);
    const service = local.find((o) => o.kind === 'Service' && o.metadata.name === 'local-load-balancer-service');
    expect(service?.metadata.namespace).toBe('titanium-local');
    expect(service?.spec.ports.map((p: K8sObject) => p.port)).toContain(7100);
    expect((skaffold.profiles as K8sObject[]).map((p) => p.name).sort()).toEqual(['kind', 'minikube']);
  });
});

describe('docker-compose.yml', () => {
  const services = composeServices();

  it('builds the six images from this repository with the same Dockerfile, build argument and names as skaffold', () => {
    const built = Object.entries(services).filter(([, s]) => s.build);
    expect(built.map(([name]) => name).sort()).toEqual([...WORKSPACES].sort());
    const artifacts = skaffold.build.artifacts as K8sObject[];
    for (const [name, service] of built) {
      const artifact = artifacts.find((a) => a.image === `titanium/${name}`);
      expect(service.build).toEqual({ context: '.', dockerfile: 'Dockerfile', args: artifact?.docker.buildArgs });
      expect(service.image).toBe(`titanium/${name}:local`);
    }
    expect(services.redis?.image).toBe('redis:7-alpine');
  });

  it('health-checks every service, restarts it, and starts dependants only once they are healthy', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test, name).toBeDefined();
      expect(service.restart, name).toBe('unless-stopped');
      expect(service.read_only, name).toBe(true);
      for (const [dependency, condition] of Object.entries(service.depends_on ?? {})) {
        expect(services[dependency], dependency).toBeDefined();
        expect(condition, `${name} → ${dependency}`).toEqual({ condition: 'service_healthy' });
      }
    }
    for (const c of COMPONENTS) {
      const test = services[c.name]?.healthcheck?.test.join(' ') ?? '';
      expect(test).toContain(`http://127.0.0.1:${c.port.default}${c.readyPath}`);
    }
  });

  it('publishes the load balancer on 7100 and keeps the databases in named volumes', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's own interpolation syntax
    expect(services['load-balancer']?.ports).toEqual(['${LB_BIND_ADDRESS:-127.0.0.1}:7100:7100']);
    const published = Object.entries(services).filter(([, s]) => s.ports);
    expect(published.map(([name]) => name)).toEqual(['load-balancer']);
    const volumes = readYaml('docker-compose.yml').volumes as Record<string, unknown>;
    for (const c of COMPONENTS.filter((item) => item.database)) {
      const [mount] = services[c.name]?.volumes ?? [];
      const [volume, path] = (mount ?? '').split(':');
      expect(Object.keys(volumes)).toContain(volume);
      expect(path).toBe('/data');
      expect(services[c.name]?.environment?.[c.database?.variable as string]).toBe(`/data/${c.database?.file}`);
    }
  });

  it('takes secrets from a git-ignored .env, with a committed example that holds none', () => {
    expect(readFileSync(`${ROOT}.gitignore`, 'utf8').split('\n')).toContain('.env');
    const example = readFileSync(`${ROOT}.env.example`, 'utf8');
    expect(example).toMatch(/^JWT_SECRET=$/m);
    const compose = readFileSync(`${ROOT}docker-compose.yml`, 'utf8');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's own interpolation syntax
    expect(compose).toContain('JWT_SECRET: ${JWT_SECRET:-}');
    expect(compose).not.toMatch(/JWT_SECRET: (?!\$\{)/);
  });
});
