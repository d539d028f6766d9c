/**
 * One computation shared by every caller: the answer of the current period (by the load balancer's
 * clock, the one its window counts by), or the one being computed, is handed out again, so however
 * many polls and streams there are, `/stats` asks the services at most once per second (and once
 * more while a round is late), and a day of history is merged at most once per period. An answer
 * is never older than a period either, whatever the window's clock does.
 */
export class SharedSnapshot<T> {
  readonly #compute: () => Promise<T>;
  readonly #now: () => number;
  readonly #periodMs: number;
  #last: { period: number; at: number; value: T } | undefined;
  #pending: Promise<T> | undefined;

  constructor(compute: () => Promise<T>, now: () => number, periodMs = 1000) {
    this.#compute = compute;
    this.#now = now;
    this.#periodMs = periodMs;
  }

  get(): Promise<T> {
    const period = Math.floor(this.#now() / this.#periodMs);
    const last = this.#last;
    if (last && last.period === period && performance.now() - last.at < this.#periodMs) {
      return Promise.resolve(last.value);
    }
    if (!this.#pending) {
      const at = performance.now();
      this.#pending = this.#compute()
        .then((value) => {
          this.#last = { period, at, value };
          return value;
        })
        .finally(() => {
          this.#pending = undefined;
        });
    }
    return this.#pending;
  }
}
