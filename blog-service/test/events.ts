import type { BlogServiceBlock, DomainEvent, OutboxFields } from '@titanium/service-kit';
import Database from 'better-sqlite3';

/** The stream the services' domain events go to under the default MESSAGING_REDIS_PREFIX. */
export const DOMAIN_STREAM = 'titanium:events:domain';

/** Every entry of the domain stream, oldest first, as the events they hold (field `event`, JSON). */
export async function domainStream(client: {
  xrange(key: string, start: string, end: string): Promise<[string, string[]][]>;
}): Promise<DomainEvent[]> {
  const entries = await client.xrange(DOMAIN_STREAM, '-', '+');
  return entries.map(([, fields]) => {
    if (fields.length !== 2 || fields[0] !== 'event') throw new Error(`unexpected entry ${JSON.stringify(fields)}`);
    return JSON.parse(fields[1] as string) as DomainEvent;
  });
}

/** The events as a reader sees them: the contract says a second copy of an id is dropped. */
export function firstCopies(events: readonly DomainEvent[]): DomainEvent[] {
  const seen = new Set<string>();
  return events.filter((event) => !seen.has(event.id) && seen.add(event.id));
}

/** What a test compares: the type and data of each event, in order. */
export const typesAndData = (events: readonly DomainEvent[]) => events.map(({ type, data }) => ({ type, data }));

/** Outbox rows in the database file, read by a connection of the test's own. */
export function outboxRows(path: string): DomainEvent[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[], string>('SELECT event FROM outbox ORDER BY seq')
      .pluck()
      .all()
      .map((row) => JSON.parse(row) as DomainEvent);
  } finally {
    db.close();
  }
}

/** The blog service's `/stats` block, with the `outbox` the messaging part adds. */
export async function blogStats(base: string): Promise<BlogServiceBlock & OutboxFields> {
  const res = await fetch(`${base}/stats`);
  return ((await res.json()) as { blog_service: BlogServiceBlock & OutboxFields }).blog_service;
}

/** The events a service with MESSAGING_TYPE=memory serves on GET /events, oldest first. */
export async function servedEvents(base: string): Promise<DomainEvent[]> {
  const res = await fetch(`${base}/events?count=1000`);
  if (res.status !== 200) throw new Error(`GET /events answered ${res.status}`);
  const { entries } = (await res.json()) as { entries: { event: DomainEvent }[] };
  return entries.map((entry) => entry.event).reverse();
}
