import type { EventKind, TitaniumEvent } from '../events-contract.js';
import { Ring } from './ring.js';
import type { EventSource, MessagingSink, SourceEntry } from './sink.js';

/**
 * `MESSAGING_TYPE=memory`: the last `capacity` events of this process in a ring, readable as a
 * source (over HTTP by the load balancer, see messaging-part.ts). Nothing survives a restart,
 * and `/stats` says `memory`. Positions are this process's event counter.
 */
export class MemorySink implements MessagingSink, EventSource {
  readonly type = 'memory';
  readonly healthy = true;
  readonly name: string;
  readonly kinds: readonly EventKind[] = ['api', 'domain'];
  readonly #ring: Ring<TitaniumEvent>;
  /** The counter of the oldest entry still held; the newest is `#first + size - 1`. */
  #first = 1;

  constructor(capacity: number, name = 'memory') {
    this.#ring = new Ring(capacity);
    this.name = name;
  }

  async publish(events: readonly TitaniumEvent[], _batchId: string): Promise<void> {
    for (const event of events) this.#first += this.#ring.push(event);
  }

  async older(before: string | undefined, count: number): Promise<SourceEntry[]> {
    const size = this.#ring.size;
    const end = before === undefined ? this.#first + size : Math.min(toCounter(before), this.#first + size);
    const out: SourceEntry[] = [];
    for (let n = end - 1; n >= this.#first && out.length < count; n--) out.push(this.#entry(n));
    return out;
  }

  async newer(after: string | undefined, count: number): Promise<SourceEntry[]> {
    const last = this.#first + this.#ring.size - 1;
    const out: SourceEntry[] = [];
    for (
      let n = Math.max(after === undefined ? 0 : toCounter(after) + 1, this.#first);
      n <= last && out.length < count;
      n++
    ) {
      out.push(this.#entry(n));
    }
    return out;
  }

  async head(): Promise<string | undefined> {
    return this.#ring.size === 0 ? undefined : String(this.#first + this.#ring.size - 1);
  }

  async close(): Promise<void> {}

  #entry(counter: number): SourceEntry {
    return { position: String(counter), event: this.#ring.at(counter - this.#first) as TitaniumEvent };
  }
}

/** A position this sink gave out; anything else reads as "before everything". */
function toCounter(position: string): number {
  const n = Number(position);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
