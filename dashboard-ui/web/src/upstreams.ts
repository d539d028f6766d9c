import type { GatewayUpstreamName, UpstreamGroupName } from '@titanium/service-kit/stats-contract';
import type { StatsResponse } from './stats-types.js';

/** `failing`: the gateway says its last calls to it failed; `unknown`: not reported. */
export type TargetState = 'up' | 'out' | 'draining' | 'failing' | 'unknown';

export interface TargetView {
  /** The target's URL (load balancer) or the upstream's name (gateway). */
  name: string;
  state: TargetState;
  /** Undefined where the reporter does not count it (the gateway). */
  inFlight: number | undefined;
  requests: number;
  errors: number;
  p95Ms: number;
  lastError: string | null;
  /** When its state last changed, as the load balancer says (ISO 8601). */
  lastChange: string | undefined;
}

export interface UpstreamGroupView {
  key: string;
  title: string;
  /** What the figures cover. */
  span: string;
  targets: TargetView[];
}

/** The load balancer's groups, in the order a request meets them. */
const LB_GROUPS: readonly { group: UpstreamGroupName; title: string }[] = [
  { group: 'api', title: 'Load balancer → api' },
  { group: 'blog', title: 'Load balancer → blog' },
  { group: 'dashboard', title: 'Load balancer → dashboard' },
  { group: 'auth', title: 'Load balancer → auth (stats)' },
  { group: 'user', title: 'Load balancer → user (stats)' },
];

const GATEWAY_UPSTREAMS: readonly { upstream: GatewayUpstreamName; name: string }[] = [
  { upstream: 'auth', name: 'auth-service' },
  { upstream: 'user', name: 'user-service' },
  { upstream: 'blog', name: 'blog-service' },
];

/** Targets beyond this in one group are left out: the page stays small whatever a server sends. */
export const MAX_TARGETS_PER_GROUP = 50;

const TARGET_STATES = new Set<TargetState>(['up', 'out', 'draining']);

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * The upstream targets `/stats` describes: each load-balancer group with traffic figures over the
 * window, then the gateway's upstreams with its figures since start. Groups a server does not
 * report are left out.
 */
export function upstreamGroups(stats: StatsResponse | undefined): UpstreamGroupView[] {
  const groups: UpstreamGroupView[] = [];
  const lb = stats?.['load-balancer']?.upstreams;
  if (typeof lb === 'object' && lb !== null) {
    for (const { group, title } of LB_GROUPS) {
      const targets = lb[group];
      if (!Array.isArray(targets)) continue;
      groups.push({
        key: `lb:${group}`,
        title,
        span: 'last 10 s',
        targets: targets.slice(0, MAX_TARGETS_PER_GROUP).map((target) => ({
          name: text(target?.url) ?? '(no url)',
          state: TARGET_STATES.has(target?.state as TargetState) ? (target?.state as TargetState) : 'unknown',
          inFlight: num(target?.in_flight),
          requests: num(target?.requests),
          errors: num(target?.errors),
          p95Ms: num(target?.p95_response_time_ms),
          lastError: text(target?.last_error),
          lastChange: text(target?.last_change) ?? undefined,
        })),
      });
    }
  }
  const gateway = stats?.['api-gateway'];
  const upstreams = gateway?.upstreams;
  if (gateway?.service_status !== 'offline' && typeof upstreams === 'object' && upstreams !== null) {
    const targets: TargetView[] = [];
    for (const { upstream, name } of GATEWAY_UPSTREAMS) {
      const figures = upstreams[upstream];
      if (typeof figures !== 'object' || figures === null) continue;
      const failing = text(figures.failing);
      targets.push({
        name,
        state: failing ? 'failing' : 'up',
        inFlight: undefined,
        requests: num(figures.requests),
        errors: num(figures.errors),
        p95Ms: num(figures.p95_response_time_ms),
        lastError: failing,
        lastChange: undefined,
      });
    }
    if (targets.length > 0) groups.push({ key: 'gateway', title: 'API gateway →', span: 'since start', targets });
  }
  return groups;
}
