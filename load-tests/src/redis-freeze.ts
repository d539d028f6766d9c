import type { DomainEvent, EventLogAnswer } from '@titanium/service-kit';
import { type LoadResult, runMixedLoad } from './mixed-load.js';
import { parseOptions } from './options.js';

export interface FreezeOptions {
  /** The load balancer. */
  url: string;
  seconds: number;
  /** When Redis is frozen, and for how long; no freeze when undefined. */
  freeze?: { atS: number; forS: number; stop(): void; resume(): void };
  /** Headers for /logs/messaging (the OPS token, when set). */
  headers?: Record<string, string>;
  log?: (line: string) => void;
}

export interface FreezeResult {
  load: LoadResult;
  /** The highest figures /stats showed during the run. */
  peaks: { buffered: number; dropped: number; outboxPending: number; failing: boolean };
  /** The run's posts: how many were created, and how often each one's post.created is in the log. */
  posts: { created: number; logged: number; duplicates: number; missing: number };
}

interface Figures {
  'api-gateway'?: { messaging?: { buffered: number; dropped: number; status: string } };
  blog_service?: { outbox?: { pending: number } };
}

/** Every domain event in the log, paging back from the newest. */
async function domainEvents(url: string, headers: Record<string, string>): Promise<DomainEvent[]> {
  const events: DomainEvent[] = [];
  let before: string | null = null;
  do {
    const query: string = `kind=domain&limit=1000${before ? `&before=${encodeURIComponent(before)}` : ''}`;
    const res = await fetch(`${url}/logs/messaging?${query}`, { headers });
    if (!res.ok) throw new Error(`/logs/messaging answered ${res.status}`);
    const page = (await res.json()) as EventLogAnswer;
    events.push(...(page.events as DomainEvent[]));
    before = page.next;
  } while (before);
  return events;
}

/**
 * The seed's mixed load at 100 requests/s (84 list, 12 detail, 4 create) through the load
 * balancer, with Redis frozen (SIGSTOP) for a while when asked: what the run's clients saw, the
 * peaks of the messaging figures in /stats meanwhile, and whether every post the run created has
 * exactly one post.created in the event log afterwards.
 */
export async function runWithRedisFreeze(options: FreezeOptions): Promise<FreezeResult> {
  const { url, seconds, freeze, headers = {}, log = () => {} } = options;
  const peaks = { buffered: 0, dropped: 0, outboxPending: 0, failing: false };
  const watch = setInterval(async () => {
    try {
      const stats = (await (await fetch(`${url}/stats`, { signal: AbortSignal.timeout(2_000) })).json()) as Figures;
      const messaging = stats['api-gateway']?.messaging;
      peaks.buffered = Math.max(peaks.buffered, messaging?.buffered ?? 0);
      peaks.dropped = Math.max(peaks.dropped, messaging?.dropped ?? 0);
      peaks.failing ||= messaging?.status === 'failing';
      peaks.outboxPending = Math.max(peaks.outboxPending, stats.blog_service?.outbox?.pending ?? 0);
    } catch {
      // A /stats that did not answer in time is no figure.
    }
  }, 250);
  const timers: NodeJS.Timeout[] = [];
  let frozen = false;
  if (freeze) {
    timers.push(
      setTimeout(() => {
        freeze.stop();
        frozen = true;
        log(`redis frozen at ${freeze.atS} s`);
      }, freeze.atS * 1000),
      setTimeout(
        () => {
          freeze.resume();
          frozen = false;
          log(`redis resumed at ${freeze.atS + freeze.forS} s`);
        },
        (freeze.atS + freeze.forS) * 1000,
      ),
    );
  }
  let load: LoadResult;
  try {
    const args = ['--url', url, '--duration', `${seconds}s`, '--rate-list', '84', '--rate-detail', '12'];
    load = await runMixedLoad(parseOptions([...args, '--rate-create', '4', '--quiet', '--max-fail', '0'], false), log);
  } finally {
    clearInterval(watch);
    for (const timer of timers) clearTimeout(timer);
    if (frozen) freeze?.resume();
  }
  const created = (load.scenarios.find((s) => s.scenario === 'create')?.ok ?? 0) + 5;
  const prefixes = [`load-${load.run_id}-`, `seed-${load.run_id}-`];
  type Created = Extract<DomainEvent, { type: 'post.created' }>;
  const ofRun = (event: DomainEvent): event is Created =>
    event.type === 'post.created' && prefixes.some((prefix) => event.data.title.startsWith(prefix));
  // The outbox relays what waited once Redis is back; wait until the log holds every post.
  let events: Created[] = [];
  for (let attempt = 0; attempt < 60; attempt++) {
    events = (await domainEvents(url, headers)).filter(ofRun);
    if (new Set(events.map((e) => e.data.title)).size >= created) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const titles = events.map((e) => e.data.title);
  const distinct = new Set(titles).size;
  return {
    load,
    peaks,
    posts: { created, logged: titles.length, duplicates: titles.length - distinct, missing: created - distinct },
  };
}
