// Events and small helpers shared by the messaging tests.
import type { ApiCallEvent, DomainEvent, MessagingSink, TitaniumEvent } from '../../src/index.js';
import { MemorySink } from '../../src/messaging/memory-sink.js';

const BASE = Date.parse('2025-06-01T12:00:00.000Z');

/** An ISO timestamp `ms` after a fixed start. */
export function at(ms: number): string {
  return new Date(BASE + ms).toISOString();
}

export function apiEvent(id: string, ms: number, fields: Partial<ApiCallEvent> = {}): ApiCallEvent {
  const status = fields.status ?? 200;
  return {
    kind: 'api',
    id,
    timestamp: at(ms),
    request_id: `req-${id}`,
    method: 'GET',
    endpoint: '/api/posts/7',
    route: 'GET /api/posts/:id',
    status,
    outcome: status < 400 ? 'success' : 'failure',
    latency_ms: 3,
    user_id: null,
    username: null,
    message: `GET /api/posts/7 ${status}`,
    ...fields,
  };
}

export function domainEvent(id: string, ms: number): DomainEvent {
  return {
    kind: 'domain',
    type: 'post.created',
    id,
    timestamp: at(ms),
    source: 'blog-service',
    data: { post_id: 7, author_id: 1, title: `post ${id}` },
  };
}

export function ids(events: readonly TitaniumEvent[]): string[] {
  return events.map((event) => event.id);
}

/**
 * A real in-memory sink that refuses every batch while `down` is set, as a messaging system that
 * is unreachable would; `batches` records the size of each batch it accepted.
 */
export class GatedSink implements MessagingSink {
  readonly type = 'memory';
  readonly inner = new MemorySink(100_000, 'gated');
  readonly batches: number[] = [];
  down = false;
  attempts = 0;

  get healthy(): boolean {
    return !this.down;
  }

  async publish(events: readonly TitaniumEvent[], batchId: string): Promise<void> {
    this.attempts++;
    if (this.down) throw new Error('the messaging system is unreachable');
    this.batches.push(events.length);
    await this.inner.publish(events, batchId);
  }

  async received(): Promise<string[]> {
    return ids((await this.inner.newer(undefined, 100_000)).map((entry) => entry.event));
  }

  async close(): Promise<void> {}
}

let batches = 0;
/** A fresh batch id for each publish in a test. */
export function batch(): string {
  return `test-batch-${process.pid}-${Date.now()}-${++batches}`;
}
