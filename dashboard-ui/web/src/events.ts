import type {
  ApiCallEvent,
  DomainEventType,
  EVENT_LOG_LIMIT,
  EVENT_STREAM_EVENT,
  EventKind,
  EventLogAnswer,
  MessagingType,
} from '@titanium/service-kit/events-contract';

// The contract's names and bounds, checked against it: the page takes only types from the kit.
export const EVENT_LOG_PATH = '/logs/messaging';
export const EVENT_STREAM_PATH = '/logs/messaging/stream';
export const STREAM_EVENT = 'event' satisfies typeof EVENT_STREAM_EVENT;
/** The most events one answer holds: what the activity line asks for. */
export const EVENT_LOG_MAX = 1000 satisfies (typeof EVENT_LOG_LIMIT)['max'];

const MESSAGING_TYPES: Record<MessagingType, true> = {
  redis: true,
  memory: true,
  none: true,
  kafka: true,
  eventhub: true,
};
const DOMAIN_TYPES: Record<DomainEventType, true> = {
  'user.created': true,
  'user.login': true,
  'post.created': true,
  'post.updated': true,
  'post.deleted': true,
};

/** Longer texts are cut: the page stays small whatever a server sends. */
const MAX_TEXT = 1000;

/** One API call as the page shows it. */
export interface ApiCall {
  id: string;
  /** When it was answered (ms since the epoch). */
  at: number;
  method: string;
  /** The path as called, without its query string. */
  endpoint: string;
  /** `METHOD template` as in the load balancer's per-route figures, or `other`. */
  route: string;
  status: number;
  latencyMs: number;
  username: string | null;
  requestId: string;
}

/** One domain event as the activity line counts it. */
export interface ActivityEvent {
  id: string;
  at: number;
  type: DomainEventType;
  /** `user.login` only: whether the login worked. */
  success: boolean | undefined;
}

export type LogEvent = { kind: 'api'; call: ApiCall } | { kind: 'domain'; event: ActivityEvent };

function text(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, MAX_TEXT) : '';
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** An event of `/logs/messaging` or its stream, checked; undefined for one the page cannot read. */
export function readEvent(value: unknown): LogEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const raw = value as Record<string, unknown>;
  const id = text(raw.id);
  const at = typeof raw.timestamp === 'string' ? Date.parse(raw.timestamp) : Number.NaN;
  if (id === '' || !Number.isFinite(at)) return undefined;
  if (raw.kind === ('api' satisfies EventKind)) {
    const call = raw as Partial<Record<keyof ApiCallEvent, unknown>>;
    const status = num(call.status);
    if (status === undefined) return undefined;
    const username = text(call.username);
    return {
      kind: 'api',
      call: {
        id,
        at,
        method: text(call.method),
        endpoint: text(call.endpoint),
        route: text(call.route) || 'other',
        status,
        latencyMs: Math.max(0, num(call.latency_ms) ?? 0),
        username: username === '' ? null : username,
        requestId: text(call.request_id),
      },
    };
  }
  if (raw.kind === ('domain' satisfies EventKind)) {
    const type = raw.type;
    if (typeof type !== 'string' || !Object.hasOwn(DOMAIN_TYPES, type)) return undefined;
    const data = typeof raw.data === 'object' && raw.data !== null ? (raw.data as Record<string, unknown>) : {};
    return {
      kind: 'domain',
      event: {
        id,
        at,
        type: type as DomainEventType,
        success: type === 'user.login' ? data.success === true : undefined,
      },
    };
  }
  return undefined;
}

/** A page of `/logs/messaging`, checked. `valid` is false for an answer that is no event log at all. */
export interface EventLogPage {
  valid: boolean;
  type: MessagingType | undefined;
  /** Newest first, as the server sent them; events the page cannot read are left out. */
  events: LogEvent[];
  next: string | null;
  /** Sources the load balancer could not read for this answer. */
  unavailable: string[];
}

export function readEventLog(answer: unknown): EventLogPage {
  const body = (typeof answer === 'object' && answer !== null ? answer : {}) as Partial<
    Record<keyof EventLogAnswer | 'unavailable', unknown>
  >;
  const type =
    typeof body.type === 'string' && Object.hasOwn(MESSAGING_TYPES, body.type)
      ? (body.type as MessagingType)
      : undefined;
  const events: LogEvent[] = [];
  for (const raw of Array.isArray(body.events) ? body.events.slice(0, EVENT_LOG_MAX) : []) {
    const event = readEvent(raw);
    if (event) events.push(event);
  }
  return {
    valid: Array.isArray(body.events) || type === 'none',
    type,
    events,
    next: typeof body.next === 'string' ? body.next : null,
    unavailable: Array.isArray(body.unavailable)
      ? body.unavailable
          .filter((source) => typeof source === 'string')
          .slice(0, 10)
          .map(text)
      : [],
  };
}

export interface EventLogQuery {
  kind?: EventKind;
  limit?: number;
  status?: string;
  route?: string;
  before?: string;
}

/** `/logs/messaging` with these parameters, each percent-encoded (a route's space as `%20`). */
export function eventLogUrl(query: EventLogQuery): string {
  const search = Object.entries(query)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`)
    .join('&');
  return search ? `${EVENT_LOG_PATH}?${search}` : EVENT_LOG_PATH;
}
