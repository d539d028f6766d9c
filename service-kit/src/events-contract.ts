/**
 * The event log's contract: the events the services publish, how `/logs/messaging` names and
 * filters them, and the messaging systems a deployment can choose. Types and constants only, so
 * the dashboard can import it without any of the kit's server code.
 */

/** What `MESSAGING_TYPE` may name; `kafka` and `eventhub` are known but not built yet. */
export const MESSAGING_TYPES = ['redis', 'memory', 'none', 'kafka', 'eventhub'] as const;
export type MessagingType = (typeof MESSAGING_TYPES)[number];

/** The two kinds of event, each its own stream (Redis) or topic (Kafka). */
export const EVENT_KINDS = ['api', 'domain'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** Domain event types, named as Site11's topics. */
export const DOMAIN_EVENT_TYPES = [
  'user.created',
  'user.login',
  'post.created',
  'post.updated',
  'post.deleted',
] as const;
export type DomainEventType = (typeof DOMAIN_EVENT_TYPES)[number];

/** One API call the gateway answered under /api/. No body, query string, token or e-mail. */
export interface ApiCallEvent {
  kind: 'api';
  /** Unique for every event. */
  id: string;
  /** ISO 8601 UTC with milliseconds: when the answer was sent. */
  timestamp: string;
  request_id: string;
  method: string;
  /** The path, without its query string. */
  endpoint: string;
  /** `METHOD template` as in the load balancer's per-route figures, or `other`. */
  route: string;
  status: number;
  /** The load balancer's rule: below 400 is a success. */
  outcome: 'success' | 'failure';
  latency_ms: number;
  /** From a verified token; null without one. */
  user_id: number | null;
  username: string | null;
  /** `GET /api/posts/7 200`, or the error's message for a failure. */
  message: string;
}

/** `data` of each domain event type: ids and names, never an e-mail, a password or a token. */
export interface DomainEventData {
  'user.created': { user_id: number; username: string };
  /** `user_id`/`username` are null when no such user exists (what was typed is not kept). */
  'user.login': { user_id: number | null; username: string | null; success: boolean };
  'post.created': { post_id: number; author_id: number; title: string };
  'post.updated': { post_id: number; author_id: number; title: string; fields: string[] };
  'post.deleted': { post_id: number; author_id: number };
}

export type DomainEvent = {
  [T in DomainEventType]: {
    kind: 'domain';
    type: T;
    /** Unique for every event; a reader drops a second copy of the same id. */
    id: string;
    timestamp: string;
    /** The service that wrote it. */
    source: string;
    data: DomainEventData[T];
  };
}[DomainEventType];

export type TitaniumEvent = ApiCallEvent | DomainEvent;

/** An event as read back, with where it sits in its source (for the next page or the live tail). */
export interface LoggedEvent {
  /** The source it was read from and its position there, e.g. `domain:1764683000000-0`. */
  position: string;
  event: TitaniumEvent;
}

/** `GET /logs/messaging`'s answer, newest first. */
export interface EventLogAnswer {
  type: MessagingType;
  events: TitaniumEvent[];
  /** Pass as `before` for the next (older) page; null when there is nothing older. */
  next: string | null;
}

/** Event name of each event on `/logs/messaging/stream`; its data is one event's JSON. */
export const EVENT_STREAM_EVENT = 'event';

/** Status filters `/logs/messaging` accepts: a class or one code. */
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;

/** The answer's limit: default and largest. */
export const EVENT_LOG_LIMIT = { default: 100, max: 1000 } as const;

/** What the gateway's (and every publisher's) `/stats` block says of its messaging. */
export interface MessagingFields {
  messaging: {
    type: MessagingType;
    /** `healthy` while the last publish worked, `failing` while it does not, `off` for `none`. */
    status: 'healthy' | 'failing' | 'off';
    published: number;
    /** Events given up because the buffer was full. */
    dropped: number;
    /** Events waiting to be published. */
    buffered: number;
    last_error: string | null;
  };
}

/** What a service with an outbox adds: domain events written but not yet published. */
export interface OutboxFields {
  outbox: { pending: number; oldest_pending_age_s: number | null };
}
