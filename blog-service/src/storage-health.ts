import type { FastifyBaseLogger } from 'fastify';

/** How long after a storage fault the service reports itself degraded, unless a later call succeeds. */
const DEGRADED_FOR_MS = 30_000;

/** Remembers the last storage fault, so /stats can say the service is degraded while writes fail. */
export class StorageHealth {
  #failedAt = 0;
  #lastError: string | undefined;
  readonly #log: FastifyBaseLogger;

  constructor(log: FastifyBaseLogger) {
    this.#log = log;
  }

  failed(action: string, err: Error): void {
    if (!this.degraded) this.#log.error({ err, action }, 'database fault; writes answer 503 while it lasts');
    this.#failedAt = Date.now();
    this.#lastError = (err as { code?: string }).code ?? err.message;
  }

  succeeded(): void {
    this.#failedAt = 0;
  }

  get degraded(): boolean {
    return this.#failedAt !== 0 && Date.now() - this.#failedAt < DEGRADED_FOR_MS;
  }

  get lastError(): string | undefined {
    return this.degraded ? this.#lastError : undefined;
  }
}
