import type { FastifyBaseLogger } from 'fastify';
import type { EventKind, TitaniumEvent } from '../events-contract.js';
import { OptionalRedis } from '../redis.js';
import { encodeEvent } from './encode.js';
import type { EventSource, MessagingSink, SourceEntry } from './sink.js';

export interface RedisStreamsOptions {
  url: string;
  /** Key prefix; each kind is the stream `<prefix>:<kind>`. */
  prefix: string;
  /** Approximate length each stream is trimmed to (`XTRIM … MAXLEN ~` after each batch). */
  maxEvents: number;
}

/** Each entry holds the event's JSON in this one field. */
const FIELD = 'event';

/** How long Redis remembers a batch it took, so a retry of it is not added again. */
const BATCH_MEMORY_S = 600;

/**
 * One batch, atomically and at most once: KEYS[1] marks the batch as taken (expiring), KEYS[2]
 * and KEYS[3] are the api and domain streams; ARGV is the marker's lifetime, the streams' length,
 * how many api events come first, then each event's JSON, api before domain. Each stream is
 * trimmed once per batch; an argument per event is cheaper for Redis than one to split.
 */
const PUBLISH_ONCE = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local apis = tonumber(ARGV[3])
for i = 4, #ARGV do
  redis.call('XADD', KEYS[i < 4 + apis and 2 or 3], '*', '${FIELD}', ARGV[i])
end
if apis > 0 then redis.call('XTRIM', KEYS[2], 'MAXLEN', '~', ARGV[2]) end
if #ARGV - 3 > apis then redis.call('XTRIM', KEYS[3], 'MAXLEN', '~', ARGV[2]) end
return 1
`;

/**
 * `MESSAGING_TYPE=redis`: Redis Streams, one per kind of event (`titanium:events:api`,
 * `titanium:events:domain`), each trimmed to about `maxEvents`. A batch goes in one pipeline of
 * `XADD`s on a connection of its own, which fails fast while Redis is down or frozen.
 */
export class RedisStreamsSink implements MessagingSink {
  readonly type = 'redis';
  readonly #redis: OptionalRedis;
  readonly #options: RedisStreamsOptions;

  constructor(options: RedisStreamsOptions, log: FastifyBaseLogger) {
    this.#options = options;
    this.#redis = new OptionalRedis(options.url, log, { commandTimeoutMs: 1000 });
  }

  get healthy(): boolean {
    return this.#redis.healthy;
  }

  async publish(events: readonly TitaniumEvent[], batchId: string): Promise<void> {
    if (events.length === 0) return;
    const { prefix, maxEvents } = this.#options;
    const api: string[] = [];
    const domain: string[] = [];
    for (const event of events) (event.kind === 'api' ? api : domain).push(encodeEvent(event));
    const keys = [`${prefix}:batch:${batchId}`, `${prefix}:api`, `${prefix}:domain`];
    const result = await this.#redis.attempt((client) =>
      client.eval(PUBLISH_ONCE, keys.length, ...keys, BATCH_MEMORY_S, maxEvents, api.length, ...api, ...domain),
    );
    if (result === undefined) throw new Error('Redis is unavailable');
  }

  /** The streams as sources to read from, sharing this sink's connection. */
  sources(): EventSource[] {
    return (['api', 'domain'] as const).map((kind) => new RedisStreamSource(this.#redis, this.#options.prefix, kind));
  }

  close(): Promise<void> {
    return this.#redis.close();
  }
}

type RawEntry = [id: string, fields: string[]];

/** One stream read back; positions are Redis entry ids (`<ms>-<seq>`). */
export class RedisStreamSource implements EventSource {
  readonly name: EventKind;
  readonly kinds: readonly EventKind[];
  readonly #redis: OptionalRedis;
  readonly #key: string;

  constructor(redis: OptionalRedis, prefix: string, kind: EventKind) {
    this.#redis = redis;
    this.#key = `${prefix}:${kind}`;
    this.name = kind;
    this.kinds = [kind];
  }

  async older(before: string | undefined, count: number): Promise<SourceEntry[]> {
    // Nothing is before the very start (and Redis refuses `(0-0` as the end of a range).
    if (before !== undefined && entryId(before) === '0-0') return [];
    const end = before === undefined ? '+' : `(${entryId(before)}`;
    return entries(await this.#run((client) => client.xrevrange(this.#key, end, '-', 'COUNT', count)));
  }

  async newer(after: string | undefined, count: number): Promise<SourceEntry[]> {
    const start = after === undefined ? '-' : `(${entryId(after)}`;
    return entries(await this.#run((client) => client.xrange(this.#key, start, '+', 'COUNT', count)));
  }

  async head(): Promise<string | undefined> {
    const [last] = await this.#run((client) => client.xrevrange(this.#key, '+', '-', 'COUNT', 1));
    return last?.[0];
  }

  async #run(command: (client: OptionalRedis['client']) => Promise<RawEntry[]>): Promise<RawEntry[]> {
    const result = await this.#redis.attempt(command);
    if (!result) throw new Error('Redis is unavailable');
    return result;
  }
}

/** A position as a Redis entry id; anything else reads as the very start. */
function entryId(position: string): string {
  return /^\d{1,16}-\d{1,16}$/.test(position) ? position : '0-0';
}

function entries(raw: RawEntry[]): SourceEntry[] {
  const out: SourceEntry[] = [];
  for (const [id, fields] of raw) {
    const index = fields.indexOf(FIELD);
    if (index === -1 || index % 2 !== 0) continue;
    try {
      out.push({ position: id, event: JSON.parse(fields[index + 1] as string) });
    } catch {
      // An entry this build did not write; skipped.
    }
  }
  return out;
}
