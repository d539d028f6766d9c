export type LifecycleState = 'starting' | 'ready' | 'draining';

/** Readiness of one process: starting until start-up work is done, draining once shutdown begins. */
export class Lifecycle {
  #state: LifecycleState = 'starting';
  readonly startedAt = Date.now();

  get state(): LifecycleState {
    return this.#state;
  }

  markReady(): void {
    if (this.#state === 'starting') this.#state = 'ready';
  }

  drain(): void {
    this.#state = 'draining';
  }
}
