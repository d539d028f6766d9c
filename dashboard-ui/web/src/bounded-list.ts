/** Newest-first list that never holds more than `capacity` items. */
export class BoundedList<T> {
  readonly capacity: number;
  #items: T[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  add(item: T): void {
    this.#items.unshift(item);
    if (this.#items.length > this.capacity) this.#items.length = this.capacity;
  }

  get items(): readonly T[] {
    return this.#items;
  }
}
