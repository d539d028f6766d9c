import {
  API_ROUTES,
  apiRouteKey,
  EVENT_KINDS,
  EVENT_LOG_LIMIT,
  EVENT_STREAM_EVENT,
  type EventFilter,
  EventLog,
  type EventLogAnswer,
  type EventSource,
  EventTail,
  errorBody,
  type MessagingConfig,
  OptionalRedis,
  opsAuthorized,
  parseCursor,
  RedisStreamSource,
  RemoteRingSource,
  STATUS_CLASSES,
} from '@titanium/service-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SseClients } from './sse.js';

/** The event log's paths: the messaging guide's, and `/logs/kafka` as its alias. */
export const EVENT_LOG_PATHS = ['/logs/messaging', '/logs/kafka'] as const;
export const EVENT_STREAM_PATHS = EVENT_LOG_PATHS.map((path) => `${path}/stream`);

const ROUTE_KEYS: readonly string[] = [...API_ROUTES.map(apiRouteKey), 'other'];
const PARAMETERS = ['limit', 'before', 'kind', 'status', 'route'] as const;
/** The stream takes no parameters: the page filters what it shows. */
const STREAM_PARAMETERS: readonly string[] = [];

export interface EventLogOptions {
  messaging: MessagingConfig;
  /** Processes whose rings are read with `MESSAGING_TYPE=memory`: name → URL. */
  rings: { name: string; url: string }[];
  stream: { pollMs: number; maxClients: number; heartbeatMs: number };
  production: boolean;
}

type Query = Record<string, unknown>;

function one(query: Query, name: string): string | undefined | null {
  const value = query[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : null;
}

/** The filter and page a query asks for, or what is wrong with it. */
export function readEventQuery(query: Query, allowed: readonly string[] = PARAMETERS) {
  for (const name of Object.keys(query)) {
    if (!allowed.includes(name))
      return `Unknown query parameter "${name.slice(0, 40)}": this takes only ${allowed.join(', ')}`;
  }
  const filter: EventFilter = {};
  const kind = one(query, 'kind');
  if (kind !== undefined) {
    if (kind === null || !(EVENT_KINDS as readonly string[]).includes(kind)) {
      return `kind must be given once, as one of: ${EVENT_KINDS.join(', ')}`;
    }
    filter.kind = kind as EventFilter['kind'];
  }
  const status = one(query, 'status');
  if (status !== undefined) {
    const cls = status === null ? -1 : (STATUS_CLASSES as readonly string[]).indexOf(status);
    if (cls >= 0) filter.status = { min: (cls + 2) * 100, max: (cls + 2) * 100 + 99 };
    else if (status !== null && /^[1-5]\d\d$/.test(status))
      filter.status = { min: Number(status), max: Number(status) };
    else return `status must be given once, as a class (${STATUS_CLASSES.join(', ')}) or a code from 100 to 599`;
  }
  const route = one(query, 'route');
  if (route !== undefined) {
    if (route === null || !ROUTE_KEYS.includes(route))
      return `route must be given once, as one of: ${ROUTE_KEYS.join(', ')}`;
    filter.route = route;
  }
  const limitRaw = one(query, 'limit');
  const limit = limitRaw === undefined ? EVENT_LOG_LIMIT.default : Number(limitRaw);
  if (limitRaw === null || !Number.isSafeInteger(limit) || limit < 1 || limit > EVENT_LOG_LIMIT.max) {
    return `limit must be given once, as an integer from 1 to ${EVENT_LOG_LIMIT.max}`;
  }
  const before = one(query, 'before');
  if (before === null || (before !== undefined && (before.length > 2000 || !parseCursor(before)))) {
    return 'before must be given once, as the "next" of an earlier answer';
  }
  return { filter, limit, before: before ?? undefined };
}

/**
 * `GET /logs/messaging` (and `/logs/kafka`): the event log, newest first, paged with `before`,
 * filtered by kind, status and route; and `/logs/messaging/stream`, the events as they arrive
 * (Server-Sent Events, one tail polled for every client while any listens). Read from the Redis
 * streams, or from each process's ring with `MESSAGING_TYPE=memory`. With OPS_TOKEN set each
 * needs `Authorization: Bearer <OPS_TOKEN>`. Never under /api/, so never counted.
 */
export async function eventLog(app: FastifyInstance, options: EventLogOptions): Promise<void> {
  const { messaging, stream } = options;
  const { type, opsToken } = messaging;
  // Its own connection, so a long read never queues the stats behind it.
  const redis = type === 'redis' && messaging.redis ? new OptionalRedis(messaging.redis.url, app.log) : undefined;
  let sources: EventSource[] = [];
  if (redis && messaging.redis) {
    sources = EVENT_KINDS.map((kind) => new RedisStreamSource(redis, messaging.redis?.prefix ?? '', kind));
  } else if (type === 'memory') {
    sources = options.rings.map(({ name, url }) => new RemoteRingSource(name, url, opsToken));
  }
  const log = new EventLog(sources);
  let tail: EventTail | undefined;
  let polling: NodeJS.Timeout | undefined;
  const clients = new SseClients(
    {
      heartbeatMs: stream.heartbeatMs,
      maxClients: stream.maxClients,
      retryMs: 2000,
      name: 'event stream',
      instead: 'read /logs/messaging instead',
    },
    () => {
      tail = new EventTail(sources);
      let busy = false;
      polling = setInterval(async () => {
        if (busy || !tail) return;
        busy = true;
        try {
          for (const event of await tail.poll()) clients.send(EVENT_STREAM_EVENT, event);
        } finally {
          busy = false;
        }
      }, stream.pollMs);
      polling.unref();
      void tail.poll();
    },
    () => {
      clearInterval(polling);
      polling = undefined;
      tail = undefined;
    },
  );

  if (opsToken === undefined && options.production) {
    app.log.warn('OPS_TOKEN is not set: /logs/messaging is open to anyone who reaches the load balancer');
  }
  const authorized = (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (opsAuthorized(request.headers.authorization, opsToken)) return true;
    reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send(errorBody(401, 'Authorization: Bearer <OPS_TOKEN> is required'));
    return false;
  };

  for (const path of EVENT_LOG_PATHS) {
    app.get(path, { config: { infra: true } }, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      if (!authorized(request, reply)) return reply;
      const query = readEventQuery(request.query as Query);
      if (typeof query === 'string') return reply.code(400).send(errorBody(400, query));
      const page = await log.page(query);
      if (sources.length > 0 && page.unavailable.length === sources.length) {
        return reply.code(503).send(errorBody(503, `The event log cannot be read now (${type} is unavailable)`));
      }
      const answer: EventLogAnswer & { unavailable: string[] } = { type, ...page };
      return answer;
    });
  }
  for (const path of EVENT_STREAM_PATHS) {
    app.get(path, { config: { infra: true } }, (request, reply) => {
      if (!authorized(request, reply)) return reply;
      const query = readEventQuery(request.query as Query, STREAM_PARAMETERS);
      if (typeof query === 'string') return reply.code(400).send(errorBody(400, query));
      clients.accept(request, reply);
      return undefined;
    });
  }
  app.addHook('preClose', async () => {
    clearInterval(polling);
    clients.close();
  });
  app.addHook('onClose', async () => {
    await redis?.close();
  });
}
