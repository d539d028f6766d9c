/**
 * A bounded first-in first-out queue: pushing past its capacity drops the oldest entries and says
 * how many. O(1) per entry.
 */
export class Ring<T> {
  readonly capacity: number;
  readonly #slots: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new Error(`a ring needs a capacity of 1 or more; got ${capacity}`);
    this.capacity = capacity;
    this.#slots = new Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Adds at the back; returns 1 when the oldest entry had to go to make room, else 0. */
  push(item: T): number {
    const tail = (this.#head + this.#size) % this.capacity;
    this.#slots[tail] = item;
    if (this.#size < this.capacity) {
      this.#size++;
      return 0;
    }
    this.#head = (this.#head + 1) % this.capacity;
    return 1;
  }

  /** Removes and returns up to `count` entries from the front, oldest first. */
  take(count: number): T[] {
    const n = Math.min(count, this.#size);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      out[i] = this.#slots[this.#head] as T;
      this.#slots[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
    }
    this.#size -= n;
    return out;
  }

  /**
   * Puts `items` (taken earlier, oldest first) back at the front, ahead of what came since. What
   * no longer fits is dropped, oldest first; returns how many were dropped.
   */
  putBack(items: readonly T[]): number {
    const room = this.capacity - this.#size;
    const kept = items.length <= room ? items : items.slice(items.length - room);
    for (let i = kept.length - 1; i >= 0; i--) {
      this.#head = (this.#head - 1 + this.capacity) % this.capacity;
      this.#slots[this.#head] = kept[i];
    }
    this.#size += kept.length;
    return items.length - kept.length;
  }

  /** Entry `index` from the front (0 is the oldest). */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#size) return undefined;
    return this.#slots[(this.#head + index) % this.capacity];
  }
}
