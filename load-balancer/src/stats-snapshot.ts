/**
 * One computation of the `/stats` answer shared by every caller: the answer of the current second
 * (by the load balancer's clock, the one its window counts by), or the one being computed, is
 * handed out again, so however many polls and streams there are, the services are asked for their
 * `/stats` at most once per second (and once more while a round is late). An answer is never
 * older than a second either, whatever the window's clock does.
 */
export class SharedSnapshot<T> {
  readonly #compute: () => Promise<T>;
  readonly #now: () => number;
  #last: { second: number; at: number; value: T } | undefined;
  #pending: Promise<T> | undefined;

  constructor(compute: () => Promise<T>, now: () => number) {
    this.#compute = compute;
    this.#now = now;
  }

  get(): Promise<T> {
    const second = Math.floor(this.#now() / 1000);
    const last = this.#last;
    if (last && last.second === second && performance.now() - last.at < 1000) return Promise.resolve(last.value);
    if (!this.#pending) {
      const at = performance.now();
      this.#pending = this.#compute()
        .then((value) => {
          this.#last = { second, at, value };
          return value;
        })
        .finally(() => {
          this.#pending = undefined;
        });
    }
    return this.#pending;
  }
}
