import { join } from 'node:path';
// Plain data, so `npm start` reads the same file before anything is built.
import table from './service-table.json' with { type: 'json' };

/** One Titanium service, as the service table describes it. */
export interface ServiceSpec {
  /** Its folder in the repository, its image (`titanium/<name>`) and its name in logs and metrics. */
  readonly name: string;
  /** Its npm workspace: `npm start -w <workspace>`, and `--workspace` in the image build. */
  readonly workspace: string;
  /** The variable that sets the port it listens on, and the port when that is blank. */
  readonly port: { readonly variable: string; readonly default: number };
  /** The variable its callers read for its address, and the address when that is blank; none for the load balancer, which nothing calls. */
  readonly url?: { readonly variable: string; readonly default: string };
  /** Liveness: the process works. */
  readonly healthPath: string;
  /** Readiness: it can serve (503 while starting or draining). */
  readonly readyPath: string;
  /** The SQLite file it owns: the variable that holds its path, and the file's name. */
  readonly database?: { readonly variable: string; readonly file: string };
}

/**
 * Every service, in start order: each after the services it calls, so the load balancer, which
 * nothing calls, comes last (and is stopped first).
 */
export const SERVICES: readonly ServiceSpec[] = table.services.map(({ urlVariable, ...service }) => ({
  ...service,
  ...(urlVariable ? { url: { variable: urlVariable, default: `http://localhost:${service.port.default}` } } : {}),
  healthPath: table.probes.health,
  readyPath: table.probes.ready,
}));

export function serviceNamed(name: string): ServiceSpec {
  const found = SERVICES.find((service) => service.name === name);
  if (!found) throw new Error(`${name} is not in the service table`);
  return found;
}

/** The variable that sets a service's port and its default, as `readKitConfig` takes them. */
export function portSetting(name: string): [variable: string, fallback: number] {
  const { port } = serviceNamed(name);
  return [port.variable, port.default];
}

/** The variable through which callers reach a service and its default URL, as `EnvReader.url` takes them. */
export function urlSetting(name: string): [variable: string, fallback: string] {
  const { url } = serviceNamed(name);
  if (!url) throw new Error(`${name} has no URL variable: no service calls it`);
  return [url.variable, url.default];
}

/** Each service's port variable set to its port in `ports` (keyed by service name). */
export function portEnv(ports: Readonly<Record<string, number>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(ports).map(([name, port]) => [serviceNamed(name).port.variable, String(port)]),
  );
}

/** Each database variable set to its file in `dir`: a stack whose data lives there. */
export function databaseEnv(dir: string): Record<string, string> {
  return Object.fromEntries(
    SERVICES.flatMap(({ database }) => (database ? [[database.variable, join(dir, database.file)]] : [])),
  );
}
