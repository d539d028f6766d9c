import type { FastifyBaseLogger } from 'fastify';
import type { EnvReader } from '../config.js';
import { MESSAGING_TYPES, type MessagingType } from '../events-contract.js';
import { MemorySink } from './memory-sink.js';
import { RedisStreamsSink } from './redis-sink.js';
import type { MessagingSink } from './sink.js';

/** Where events go, read from the same variables by every service and the load balancer. */
export interface MessagingConfig {
  type: MessagingType;
  /** Redis: the approximate length of each stream. Memory: the ring's size. */
  maxEvents: number;
  /** API-call events waiting to be published at most; past it the oldest are dropped and counted. */
  bufferEvents: number;
  /** How long an API-call event may wait for others to share its batch. */
  flushIntervalMs: number;
  redis?: { url: string; prefix: string };
  /** `OPS_TOKEN`: when set, reading the log needs `Authorization: Bearer <OPS_TOKEN>`. */
  opsToken: string | undefined;
}

/** The sinks this build has, by type; adding one (Kafka, Event Hubs) is a file and a line here. */
const SINKS: Partial<Record<MessagingType, (config: MessagingConfig, log: FastifyBaseLogger) => MessagingSink>> = {
  redis: (config, log) =>
    new RedisStreamsSink({ ...(config.redis as { url: string; prefix: string }), maxEvents: config.maxEvents }, log),
  memory: (config) => new MemorySink(config.maxEvents),
};

const NAMES: Record<MessagingType, string> = {
  redis: 'Redis Streams',
  memory: 'in-memory',
  none: 'no',
  kafka: 'Kafka',
  eventhub: 'Azure Event Hubs',
};

/**
 * `MESSAGING_TYPE` and its settings. The default is `redis` when Redis is configured, else
 * `memory`. A type this build has no sink for is one problem (exit 78 at start-up), never a
 * silent fallback.
 */
export function readMessagingConfig(env: EnvReader, redisUrl: string | undefined): MessagingConfig {
  const type = env.oneOf('MESSAGING_TYPE', MESSAGING_TYPES, redisUrl ? 'redis' : 'memory');
  const config: MessagingConfig = {
    type,
    maxEvents: env.integer('MESSAGING_MAX_EVENTS', type === 'memory' ? 10_000 : 100_000, { min: 100, max: 10_000_000 }),
    bufferEvents: env.integer('MESSAGING_BUFFER_EVENTS', 10_000, { min: 10, max: 1_000_000 }),
    flushIntervalMs: env.duration('MESSAGING_FLUSH_INTERVAL_MS', 100, { min: 1, max: 10_000 }),
    opsToken: env.optionalString('OPS_TOKEN'),
  };
  if (type === 'redis') {
    if (!redisUrl)
      env.reject('MESSAGING_TYPE', 'memory or none when no Redis is configured (REDIS_URL or REDIS_HOST)', '"redis"');
    config.redis = { url: redisUrl ?? '', prefix: env.string('MESSAGING_REDIS_PREFIX', 'titanium:events') };
  }
  if (type !== 'none' && !SINKS[type]) {
    env.reject('MESSAGING_TYPE', `redis, memory or none: this build does not support ${NAMES[type]} yet`, `"${type}"`);
  }
  return config;
}

/** The sink `config` names, or undefined for `none`. */
export function createSink(config: MessagingConfig, log: FastifyBaseLogger): MessagingSink | undefined {
  if (config.type === 'none') return undefined;
  const make = SINKS[config.type];
  if (!make) throw new Error(`this build has no ${NAMES[config.type]} sink (MESSAGING_TYPE=${config.type})`);
  return make(config, log);
}
