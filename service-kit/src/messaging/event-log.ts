import type { EventKind, TitaniumEvent } from '../events-contract.js';
import type { EventSource, SourceEntry } from './sink.js';

/** Which events a page holds. */
export interface EventFilter {
  kind?: EventKind;
  /** API calls whose status is in [min, max]. */
  status?: { min: number; max: number };
  /** API calls of this route key (`GET /api/posts/:id`). */
  route?: string;
}

export interface EventPage {
  events: TitaniumEvent[];
  /** Cursor for the next older page, or null when every source is read to its end. */
  next: string | null;
  /** Sources that could not be read; the page holds the others. */
  unavailable: string[];
}

export interface PageQuery {
  limit: number;
  /** A `next` from an earlier page. */
  before?: string;
  filter: EventFilter;
}

/** Entries read from all sources for one page at most, so a rare filter costs bounded work. */
const SCAN_BUDGET = 5000;

export function matches(event: TitaniumEvent, filter: EventFilter): boolean {
  if (filter.kind && event.kind !== filter.kind) return false;
  if (filter.status || filter.route) {
    if (event.kind !== 'api') return false;
    if (filter.status && (event.status < filter.status.min || event.status > filter.status.max)) return false;
    if (filter.route && event.route !== filter.route) return false;
  }
  return true;
}

/** `name:position` pairs joined by commas, as `next` and `before` carry them. */
export function parseCursor(cursor: string | undefined): Map<string, string> | undefined {
  const positions = new Map<string, string>();
  if (cursor === undefined || cursor === '') return positions;
  for (const part of cursor.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 1 || colon === part.length - 1) return undefined;
    positions.set(part.slice(0, colon), part.slice(colon + 1));
  }
  return positions;
}

function formatCursor(positions: Map<string, string>): string {
  return [...positions].map(([name, position]) => `${name}:${position}`).join(',');
}

/** One source read newest first in chunks, as the merge asks for more. */
class Reader {
  readonly source: EventSource;
  #buffer: SourceEntry[] = [];
  #before: string | undefined;
  #ended = false;
  failed = false;

  constructor(source: EventSource, before: string | undefined) {
    this.source = source;
    this.#before = before;
  }

  get ended(): boolean {
    return this.#ended && this.#buffer.length === 0;
  }

  async peek(chunk: number): Promise<SourceEntry | undefined> {
    if (this.#buffer.length === 0 && !this.#ended) {
      try {
        this.#buffer = await this.source.older(this.#before, chunk);
      } catch {
        this.failed = true;
        this.#buffer = [];
      }
      if (this.#buffer.length < chunk) this.#ended = true;
      const last = this.#buffer[this.#buffer.length - 1];
      if (last) this.#before = last.position;
    }
    return this.#buffer[0];
  }

  shift(): SourceEntry | undefined {
    return this.#buffer.shift();
  }
}

/**
 * The event log read back across sources (the Redis streams, or every process's ring), newest
 * first by timestamp. The cursor keeps each source's own position, so paging never skips or
 * repeats an entry however the sources interleave; a second copy of an id on one page is dropped.
 */
export class EventLog {
  readonly #sources: readonly EventSource[];

  constructor(sources: readonly EventSource[]) {
    this.#sources = sources;
  }

  get sources(): readonly EventSource[] {
    return this.#sources;
  }

  async page({ limit, before, filter }: PageQuery): Promise<EventPage> {
    const positions = parseCursor(before) ?? new Map<string, string>();
    const readers = this.#sources
      .filter((source) => !filter.kind || source.kinds.includes(filter.kind))
      .map((source) => new Reader(source, positions.get(source.name)));
    const chunk = Math.min(500, Math.max(50, limit * 2));
    const events: TitaniumEvent[] = [];
    const seen = new Set<string>();
    let scanned = 0;
    while (events.length < limit && scanned < SCAN_BUDGET) {
      const heads = await Promise.all(readers.map((reader) => reader.peek(chunk)));
      let newest = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        const best = heads[newest];
        if (head && (!best || head.event.timestamp > best.event.timestamp)) newest = i;
      }
      if (newest === -1) break;
      const reader = readers[newest] as Reader;
      const entry = reader.shift() as SourceEntry;
      scanned++;
      positions.set(reader.source.name, entry.position);
      if (!seen.has(entry.event.id) && matches(entry.event, filter)) {
        seen.add(entry.event.id);
        events.push(entry.event);
      }
    }
    // A reader that used up a full chunk does not know yet whether anything is older: look (one
    // entry), so the page that reaches the end says so instead of offering an empty one after it.
    await Promise.all(readers.map((reader) => reader.peek(1)));
    const more = readers.some((reader) => !reader.ended && !reader.failed);
    return {
      events,
      next: more ? formatCursor(positions) : null,
      unavailable: readers.filter((reader) => reader.failed).map((reader) => reader.source.name),
    };
  }
}

/** Ids remembered by a tail to drop second copies; bounded. */
const RECENT_IDS = 10_000;

/**
 * New events as they arrive in any source, oldest first: `poll` reads what came after the last
 * position of each source. Starts at the sources' heads (only what arrives from then on).
 */
export class EventTail {
  readonly #sources: readonly EventSource[];
  readonly #after = new Map<string, string | undefined>();
  readonly #recent = new Set<string>();
  #started = false;

  constructor(sources: readonly EventSource[]) {
    this.#sources = sources;
  }

  async poll(count = 500): Promise<TitaniumEvent[]> {
    if (!this.#started) {
      await Promise.all(
        this.#sources.map(async (source) => {
          try {
            this.#after.set(source.name, (await source.head()) ?? '0');
          } catch {
            // Unreadable now: started on the first poll that reaches it.
          }
        }),
      );
      this.#started = true;
      return [];
    }
    const fresh: SourceEntry[] = [];
    await Promise.all(
      this.#sources.map(async (source) => {
        try {
          if (!this.#after.has(source.name)) {
            this.#after.set(source.name, (await source.head()) ?? '0');
            return;
          }
          const entries = await source.newer(this.#after.get(source.name), count);
          const last = entries[entries.length - 1];
          if (last) this.#after.set(source.name, last.position);
          fresh.push(...entries);
        } catch {
          // Read again on the next poll, from the same position.
        }
      }),
    );
    fresh.sort((a, b) => (a.event.timestamp < b.event.timestamp ? -1 : a.event.timestamp > b.event.timestamp ? 1 : 0));
    const out: TitaniumEvent[] = [];
    for (const { event } of fresh) {
      if (this.#recent.has(event.id)) continue;
      this.#recent.add(event.id);
      if (this.#recent.size > RECENT_IDS) this.#recent.delete(this.#recent.values().next().value as string);
      out.push(event);
    }
    return out;
  }
}
