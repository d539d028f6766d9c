import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  byKind,
  COMPONENTS,
  component,
  type K8sObject,
  kustomize,
  MANIFESTS,
  named,
  podEnv,
  podSpec,
  ROOT,
  serviceImage,
} from './support.js';

const scratch = mkdtempSync(join(tmpdir(), 'kustomize-combination-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** An overlay made on the fly from `resources` and `components`, as a user would combine them. */
function combination(name: string, resources: string[], components: string[]): K8sObject[] {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  const list = (items: string[]) => items.map((item) => `  - ${relative(dir, `${MANIFESTS}${item}`)}`);
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      ...list(resources),
      'components:',
      ...list(components),
      '',
    ].join('\n'),
  );
  return kustomize(dir);
}

const render = {
  base: kustomize(`${MANIFESTS}base`),
  local: kustomize(`${MANIFESTS}overlays/local`),
  prod: kustomize(`${MANIFESTS}overlays/prod`),
  'base + network-policies': combination('base-netpol', ['base'], ['components/network-policies']),
  'local + network-policies': combination('local-netpol', ['overlays/local'], ['components/network-policies']),
};
type RenderName = keyof typeof render;
const ALL = Object.keys(render) as RenderName[];
const PREFIX: Record<RenderName, string> = {
  base: '',
  local: 'local-',
  prod: '',
  'base + network-policies': '',
  'local + network-policies': 'local-',
};

const unwrapBase64 = (data: Record<string, string> = {}) =>
  Object.fromEntries(Object.entries(data).map(([key, value]) => [key, value.replace(/\n/g, '')]));

const workloads = (objects: K8sObject[]) => [...byKind(objects, 'Deployment'), ...byKind(objects, 'CronJob')];
const ours = (objects: K8sObject[]) =>
  workloads(objects).filter((w) => !podSpec(w).containers[0].image.startsWith('redis:'));

describe.each(ALL)('kustomize %s', (name) => {
  const objects = render[name];
  const prefix = PREFIX[name];

  it('renders objects that all validate against the Kubernetes OpenAPI schemas', async () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const object of objects) {
      const group = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<
        string,
        new (
          data: K8sObject,
        ) => { validate(): void }
      >;
      const Model = group[object.kind];
      expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
      // kustomize wraps long base64 values over lines; the API server's decoder skips the newlines.
      const data = object.kind === 'Secret' ? { data: unwrapBase64(object.data) } : {};
      const validate = () => new (Model as NonNullable<typeof Model>)({ ...object, ...data }).validate();
      expect(validate, object.metadata.name).not.toThrow();
    }
  });

  it('gives every container probes, requests and limits and a locked-down security context', () => {
    for (const workload of workloads(objects)) {
      const spec = podSpec(workload);
      const where = `${workload.kind} ${workload.metadata.name}`;
      expect(spec.securityContext.runAsNonRoot, where).toBe(true);
      expect(spec.securityContext.runAsUser, where).toBeTypeOf('number');
      expect(spec.securityContext.runAsGroup, where).toBe(spec.securityContext.runAsUser);
      expect(spec.securityContext.fsGroup, where).toBe(spec.securityContext.runAsGroup);
      expect(spec.securityContext.seccompProfile, where).toEqual({ type: 'RuntimeDefault' });
      expect(spec.automountServiceAccountToken, where).toBe(false);
      for (const container of spec.containers as K8sObject[]) {
        expect(container.securityContext, where).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        for (const kind of ['requests', 'limits']) {
          expect(container.resources?.[kind]?.cpu, `${where} ${kind}`).toBeDefined();
          expect(container.resources?.[kind]?.memory, `${where} ${kind}`).toBeDefined();
        }
        const tmp = (container.volumeMounts as K8sObject[]).find((m) => m.mountPath === '/tmp');
        expect(tmp, `${where} /tmp`).toBeDefined();
        expect((spec.volumes as K8sObject[]).find((v) => v.name === tmp?.name)?.emptyDir, where).toBeDefined();
        if (workload.kind === 'Deployment') {
          expect(container.livenessProbe, where).toBeDefined();
          expect(container.readinessProbe, where).toBeDefined();
        }
      }
    }
  });

  it('runs each Titanium service as uid 1000 with /health liveness, /ready readiness and its port', () => {
    for (const c of COMPONENTS) {
      const deployment = named(objects, 'Deployment', `${prefix}${c.name}`);
      const spec = podSpec(deployment);
      const [container] = spec.containers as K8sObject[];
      expect(spec.securityContext.runAsUser).toBe(1000);
      expect(container?.image).toMatch(new RegExp(`titanium/${c.name}(:|$)`));
      expect(container?.ports).toEqual([{ name: 'http', containerPort: c.port.default }]);
      // Set, not left to the default, so the port stays the containerPort whatever the default becomes.
      expect(podEnv(objects, deployment)[c.port.variable]).toBe(String(c.port.default));
      expect(container?.livenessProbe.httpGet).toEqual({ path: c.healthPath, port: 'http' });
      expect(container?.readinessProbe.httpGet).toEqual({ path: c.readyPath, port: 'http' });
      expect(container?.startupProbe.httpGet).toEqual({ path: c.healthPath, port: 'http' });
      expect(container?.livenessProbe.timeoutSeconds).toBeGreaterThanOrEqual(2);
      // The image's EXPOSE says the same port.
      expect(serviceImage(c.name).instructions).toContainEqual({ op: 'EXPOSE', args: String(c.port.default) });
    }
  });

  it('gives pods more time to stop than the drain delay and shutdown timeout add up to', () => {
    for (const deployment of byKind(objects, 'Deployment').filter((d) => !d.metadata.name.endsWith('redis'))) {
      const env = podEnv(objects, deployment);
      const drainSeconds = (Number(env.DRAIN_DELAY_MS) + Number(env.SHUTDOWN_TIMEOUT_MS)) / 1000;
      // The values the README gives: 5 s of draining, 10 s for in-flight requests, 30 s in all.
      expect(env.DRAIN_DELAY_MS, deployment.metadata.name).toBe('5000');
      expect(env.SHUTDOWN_TIMEOUT_MS, deployment.metadata.name).toBe('10000');
      expect(podSpec(deployment).terminationGracePeriodSeconds, deployment.metadata.name).toBe(30);
      expect(podSpec(deployment).terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds);
    }
  });

  it('keeps one writer per SQLite database: Recreate and one replica; rolling updates elsewhere', () => {
    for (const c of COMPONENTS) {
      const deployment = named(objects, 'Deployment', `${prefix}${c.name}`);
      if (c.database) {
        expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
        expect(deployment.spec.replicas).toBe(1);
        const mount = (podSpec(deployment).containers[0].volumeMounts as K8sObject[]).find(
          (m) => m.mountPath === '/data',
        );
        const volume = (podSpec(deployment).volumes as K8sObject[]).find((v) => v.name === mount?.name);
        expect(volume?.persistentVolumeClaim.claimName).toBe(`${prefix}${c.name}-data`);
        const claim = named(objects, 'PersistentVolumeClaim', `${prefix}${c.name}-data`);
        expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
      } else {
        expect(deployment.spec.strategy).toEqual({
          type: 'RollingUpdate',
          rollingUpdate: { maxUnavailable: 1, maxSurge: 1 },
        });
      }
    }
  });

  it('selects pods with every Service and points its ports at container ports', () => {
    const services = byKind(objects, 'Service');
    expect(services).toHaveLength(COMPONENTS.length + 1);
    for (const service of services) {
      const selector = service.spec.selector as Record<string, string>;
      const matches = byKind(objects, 'Deployment').filter((d) =>
        Object.entries(selector).every(([key, value]) => d.spec.template.metadata.labels[key] === value),
      );
      expect(matches, service.metadata.name).toHaveLength(1);
      const containers = podSpec(matches[0] as K8sObject).containers as K8sObject[];
      const ports = containers.flatMap((c) => c.ports as K8sObject[]);
      for (const port of service.spec.ports as K8sObject[]) {
        expect(
          ports.some((p) => p.name === port.targetPort || p.containerPort === port.targetPort),
          `${service.metadata.name} ${port.targetPort}`,
        ).toBe(true);
      }
    }
    for (const c of COMPONENTS) {
      const service = named(objects, 'Service', `${prefix}${c.name}-service`);
      expect(service.spec.ports[0].port).toBe(c.servicePort ?? c.port.default);
    }
  });

  it('resolves every ConfigMap, Secret and volume claim a pod refers to', () => {
    const configMaps = byKind(objects, 'ConfigMap');
    const secrets = byKind(objects, 'Secret');
    const external = name === 'prod';
    for (const workload of workloads(objects)) {
      const spec = podSpec(workload);
      for (const container of spec.containers as K8sObject[]) {
        for (const source of (container.envFrom ?? []) as K8sObject[]) {
          const map = configMaps.find((m) => m.metadata.name === source.configMapRef?.name);
          expect(map, `${workload.metadata.name} envFrom ${JSON.stringify(source)}`).toBeDefined();
        }
        for (const variable of (container.env ?? []) as K8sObject[]) {
          const where = `${workload.metadata.name} ${variable.name}`;
          const configRef = variable.valueFrom?.configMapKeyRef;
          const secretRef = variable.valueFrom?.secretKeyRef;
          if (configRef) {
            const map = configMaps.find((m) => m.metadata.name === configRef.name);
            expect(map?.data?.[configRef.key], where).toBeDefined();
          } else if (secretRef) {
            if (external) {
              expect(secretRef.name, where).toBe('titanium-secrets');
            } else {
              const secret = secrets.find((s) => s.metadata.name === secretRef.name);
              expect(secret?.data?.[secretRef.key], where).toBeDefined();
            }
          } else {
            expect(variable.value, where).toBeDefined();
          }
        }
      }
      for (const volume of (spec.volumes ?? []) as K8sObject[]) {
        if (!volume.persistentVolumeClaim) continue;
        named(objects, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName);
      }
    }
    if (external) expect(secrets).toEqual([]);
  });

  it('points every upstream URL the pods get at a Service and one of its ports', () => {
    const urls: Record<string, Set<string>> = {};
    for (const [key, value] of ours(objects).flatMap((workload) => Object.entries(podEnv(objects, workload)))) {
      if (key.endsWith('_URL')) urls[key] = new Set([...(urls[key] ?? []), value]);
    }
    // Each called service's URL, and Redis's.
    const expected = [...COMPONENTS.flatMap((c) => (c.url ? [c.url.variable] : [])), 'REDIS_URL'];
    expect(Object.keys(urls).sort()).toEqual(expected.sort());
    for (const [key, values] of Object.entries(urls)) {
      expect([...values], `${key} is the same in every pod`).toHaveLength(1);
      const url = new URL([...values][0] as string);
      const service = named(objects, 'Service', url.hostname);
      const ports = (service.spec.ports as K8sObject[]).map((p) => p.port);
      expect(ports, key).toContain(Number(url.port || (url.protocol === 'http:' ? 80 : Number.NaN)));
    }
  });

  it('backs up each SQLite database daily at midnight UTC beside its pod', () => {
    for (const c of COMPONENTS.filter((item) => item.database)) {
      const db = c.database as NonNullable<typeof c.database>;
      const job = named(objects, 'CronJob', `${prefix}${c.name}-db-backup`);
      expect(job.spec).toMatchObject({ schedule: '0 0 * * *', timeZone: 'Etc/UTC', concurrencyPolicy: 'Forbid' });
      // As the README gives them: 3 jobs of history, 2 retries, a 30 min limit.
      expect(job.spec).toMatchObject({ successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 3 });
      expect(job.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 1800 });
      const spec = podSpec(job);
      expect(spec.restartPolicy).toBe('Never');
      expect(spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
        { labelSelector: { matchLabels: { app: c.name } }, topologyKey: 'kubernetes.io/hostname' },
      ]);
      const owner = named(objects, 'Deployment', `${prefix}${c.name}`);
      expect(owner.spec.template.metadata.labels.app).toBe(c.name);
      const container = spec.containers[0] as K8sObject;
      expect(container.image).toBe(podSpec(owner).containers[0].image);
      // The tool is in the image: the kit's compiled CLI, copied by the service's Dockerfile.
      expect(container.command).toEqual(['node', '/app/service-kit/dist/bin/sqlite-backup.js']);
      expect(existsSync(`${ROOT}service-kit/dist/bin/sqlite-backup.js`)).toBe(true);
      expect(serviceImage(c.name).instructions.map((i) => i.args)).toContain(
        '--from=build /app/service-kit/dist/ service-kit/dist/',
      );
      expect(container.args).toEqual([
        'backup',
        '--db',
        `$(${db.variable})`,
        '--out',
        '/backup',
        '--keep',
        '7',
        '--name',
        db.file,
      ]);
      // The job backs up the file the service writes.
      expect(podEnv(objects, job)[db.variable]).toBe(`/data/${db.file}`);
      expect(podEnv(objects, owner)[db.variable]).toBe(`/data/${db.file}`);
      const mounts = Object.fromEntries((container.volumeMounts as K8sObject[]).map((m) => [m.mountPath, m]));
      const claimOf = (mount: string) =>
        (spec.volumes as K8sObject[]).find((v) => v.name === mounts[mount]?.name)?.persistentVolumeClaim?.claimName;
      // WAL readers take locks in the -shm file, so the data volume cannot be mounted read-only.
      expect(mounts['/data']?.readOnly).toBeUndefined();
      expect(claimOf('/data')).toBe(`${prefix}${c.name}-data`);
      expect(claimOf('/backup')).toBe(`${prefix}${c.name}-backups`);
    }
  });
});

describe('overlays/local', () => {
  const objects = render.local;

  it('puts everything in namespace titanium-local, prefixed local-, the Namespace included', () => {
    named(objects, 'Namespace', 'titanium-local');
    for (const object of objects.filter((o) => o.kind !== 'Namespace')) {
      expect(object.metadata.namespace, object.metadata.name).toBe('titanium-local');
      expect(object.metadata.name).toMatch(/^local-/);
    }
  });

  it('runs one replica of everything, with no autoscaler or disruption budget left to contradict it', () => {
    for (const deployment of byKind(objects, 'Deployment')) expect(deployment.spec.replicas).toBe(1);
    expect(byKind(objects, 'HorizontalPodAutoscaler')).toEqual([]);
    expect(byKind(objects, 'PodDisruptionBudget')).toEqual([]);
  });

  it('exposes local-load-balancer-service on NodePort 30700, port 7100', () => {
    const service = named(objects, 'Service', 'local-load-balancer-service');
    expect(service.spec.type).toBe('NodePort');
    expect(service.spec.ports).toEqual([{ name: 'http', port: 7100, targetPort: 'http', nodePort: 30700 }]);
  });

  it('uses locally built images and small volumes', () => {
    for (const workload of ours(objects)) {
      expect(podSpec(workload).containers[0].imagePullPolicy, workload.metadata.name).toBe('IfNotPresent');
    }
    for (const claim of byKind(objects, 'PersistentVolumeClaim')) {
      expect(claim.spec.resources.requests.storage).toBe('256Mi');
    }
  });

  it('ships a JWT secret that is plainly a development value yet long enough for NODE_ENV=production', () => {
    const secret = Buffer.from(named(objects, 'Secret', 'local-titanium-secrets').data.JWT_SECRET, 'base64').toString();
    expect(secret).toMatch(/dev/);
    expect(secret.length).toBeGreaterThanOrEqual(32);
  });
});

describe('overlays/prod', () => {
  const objects = render.prod;

  it('keeps the seed replica counts, autoscales the busy services on CPU and protects them with budgets', () => {
    expect(Object.fromEntries(byKind(objects, 'Deployment').map((d) => [d.metadata.name, d.spec.replicas]))).toEqual({
      'load-balancer': 2,
      'api-gateway': 2,
      'auth-service': 2,
      'dashboard-ui': 2,
      redis: 1,
      'blog-service': 1,
      'user-service': 1,
    });
    const autoscalers = byKind(objects, 'HorizontalPodAutoscaler');
    expect(autoscalers.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(
      COMPONENTS.filter((c) => c.autoscaled)
        .map((c) => c.name)
        .sort(),
    );
    for (const hpa of autoscalers) {
      const c = component(hpa.spec.scaleTargetRef.name);
      expect(hpa.spec.minReplicas).toBe(c.baseReplicas);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(c.baseReplicas);
      expect(hpa.spec.metrics).toEqual([
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
      ]);
    }
    const budgets = byKind(objects, 'PodDisruptionBudget');
    expect(budgets.map((b) => b.spec.selector.matchLabels.app).sort()).toEqual(
      COMPONENTS.filter((c) => c.baseReplicas > 1)
        .map((c) => c.name)
        .sort(),
    );
    for (const budget of budgets) expect(budget.spec.minAvailable).toBe(1);
  });

  it('expects the JWT secret from outside and includes the network policies', () => {
    expect(byKind(objects, 'Secret')).toEqual([]);
    expect(byKind(objects, 'NetworkPolicy').length).toBeGreaterThan(0);
  });
});

describe('components/network-policies', () => {
  const objects = render.prod;
  const policies = byKind(objects, 'NetworkPolicy');
  const callers = (app: string): string[] | 'anyone' => {
    const policy = policies.find((p) => p.spec.podSelector.matchLabels?.app === app);
    if (!policy) throw new Error(`no policy for ${app}`);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const rules = policy.spec.ingress as K8sObject[];
    expect(rules).toHaveLength(1);
    if (!rules[0]?.from) return 'anyone';
    return (rules[0].from as K8sObject[]).map((peer) => peer.podSelector.matchLabels.app).sort();
  };

  it('denies all ingress by default', () => {
    const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0);
    expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
  });

  it('lets traffic from outside reach the load balancer only, and each service only from its callers', () => {
    expect(callers('load-balancer')).toBe('anyone');
    expect(callers('dashboard-ui')).toEqual(['load-balancer']);
    expect(callers('api-gateway')).toEqual(['load-balancer']);
    expect(callers('blog-service')).toEqual(['api-gateway', 'load-balancer']);
    expect(callers('auth-service')).toEqual(['api-gateway', 'load-balancer']);
    expect(callers('user-service')).toEqual(['api-gateway', 'auth-service', 'load-balancer']);
    expect(callers('redis')).toEqual(['api-gateway', 'load-balancer', 'user-service']);
  });

  it('opens exactly the port each workload listens on', () => {
    for (const policy of policies.filter((p) => p.spec.podSelector.matchLabels)) {
      const app = policy.spec.podSelector.matchLabels.app;
      const deployment = byKind(objects, 'Deployment').find((d) => d.spec.template.metadata.labels.app === app);
      const ports = (podSpec(deployment as K8sObject).containers[0].ports as K8sObject[]).map((p) => p.containerPort);
      expect(policy.spec.ingress[0].ports.map((p: K8sObject) => p.port)).toEqual(ports);
    }
  });
});
