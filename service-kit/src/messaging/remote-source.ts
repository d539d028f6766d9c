import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { errorBody } from '../errors.js';
import type { EventKind } from '../events-contract.js';
import type { MemorySink } from './memory-sink.js';
import { opsAuthorized } from './ops-token.js';
import type { EventSource, SourceEntry } from './sink.js';

/** Where a process with `MESSAGING_TYPE=memory` serves its ring to the load balancer. */
export const EVENTS_PATH = '/events';
const MAX_COUNT = 1000;

/**
 * `GET /events?before=|after=&count=` and `GET /events/head` on a service whose events live in
 * its own memory: the ring as a source, for the load balancer's `/logs/messaging`. Not part of
 * the public API (the load balancer never routes it); `OPS_TOKEN` guards it like the log itself.
 */
export function serveRing(app: FastifyInstance, ring: MemorySink, opsToken: string | undefined): void {
  const guard = { config: { infra: true } } as const;
  const authorize = (header: string | undefined) => opsAuthorized(header, opsToken);
  app.get<{ Querystring: { before?: string; after?: string; count?: string } }>(
    EVENTS_PATH,
    guard,
    async (req, reply) => {
      if (!authorize(req.headers.authorization))
        return reply.code(401).send(errorBody(401, 'Authorization: Bearer <OPS_TOKEN> is required'));
      const count = Number(req.query.count ?? 100);
      if (!Number.isSafeInteger(count) || count < 1 || count > MAX_COUNT) {
        return reply.code(400).send(errorBody(400, `count must be an integer from 1 to ${MAX_COUNT}`));
      }
      const { before, after } = req.query;
      const entries = after !== undefined ? await ring.newer(after, count) : await ring.older(before, count);
      return { entries };
    },
  );
  app.get(`${EVENTS_PATH}/head`, guard, async (req, reply) => {
    if (!authorize(req.headers.authorization))
      return reply.code(401).send(errorBody(401, 'Authorization: Bearer <OPS_TOKEN> is required'));
    return { head: (await ring.head()) ?? null };
  });
}

/** Another process's ring, read over HTTP (see `serveRing`). */
export class RemoteRingSource implements EventSource {
  readonly name: string;
  readonly kinds: readonly EventKind[] = ['api', 'domain'];
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(name: string, url: string, opsToken: string | undefined, timeoutMs = 2000) {
    this.name = name;
    this.#url = url;
    this.#headers = opsToken === undefined ? {} : { authorization: `Bearer ${opsToken}` };
    this.#timeoutMs = timeoutMs;
  }

  async older(before: string | undefined, count: number): Promise<SourceEntry[]> {
    const query = new URLSearchParams({ count: String(Math.min(count, MAX_COUNT)) });
    if (before !== undefined) query.set('before', before);
    return ((await this.#get(`${EVENTS_PATH}?${query}`)) as { entries: SourceEntry[] }).entries;
  }

  async newer(after: string | undefined, count: number): Promise<SourceEntry[]> {
    const query = new URLSearchParams({ count: String(Math.min(count, MAX_COUNT)), after: after ?? '0' });
    return ((await this.#get(`${EVENTS_PATH}?${query}`)) as { entries: SourceEntry[] }).entries;
  }

  async head(): Promise<string | undefined> {
    return ((await this.#get(`${EVENTS_PATH}/head`)) as { head: string | null }).head ?? undefined;
  }

  async #get(path: string): Promise<unknown> {
    const res = await request(`${this.#url}${path}`, {
      headers: this.#headers,
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`${this.#url}${EVENTS_PATH} answered ${res.statusCode}`);
    }
    return res.body.json();
  }
}
