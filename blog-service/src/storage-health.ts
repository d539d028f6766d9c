import type { BlogServiceFields } from '@titanium/service-kit';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { PostStore } from './db.js';

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

export interface PostStorageOptions {
  store: PostStore;
  health: StorageHealth;
}

/**
 * The post store as a part of the service: its `post_count` and `database` in `/stats`,
 * `service_status` degraded while it is read-only or a storage fault is recent, `/ready`'s
 * `database` check, and the file closed with the service. Its domain events go to the messaging
 * part's outbox (`outbox` in `/stats`).
 */
export const postStorage = fp<PostStorageOptions>(
  async (app: FastifyInstance, { store, health }) => {
    if (!(store instanceof PostStore)) throw new Error('postStorage: store must be a PostStore');
    if (!(health instanceof StorageHealth)) throw new Error('postStorage: health must be a StorageHealth');
    // The relay reads the store's current connection, so it follows a file opened again after a fault.
    const outbox = app.messaging.outbox({ db: () => (store.isOpen ? store.connection : undefined) });
    store.writeEventsTo(outbox);
    const failing = () => health.degraded || store.readOnly;
    app.kit.stats.add((): BlogServiceFields => {
      let postCount: number | null = null;
      try {
        postCount = store.count();
      } catch (err) {
        app.log.warn({ err }, 'cannot count posts');
      }
      return {
        post_count: postCount,
        database: { status: postCount === null || failing() ? 'unhealthy' : 'healthy', error: health.lastError },
      };
    });
    app.kit.status.dependsOn('database', () => !failing());
    app.kit.readiness.add('database', () => store.ping());
    // onClose hooks run last registered first, so this runs before the messaging part's: the relay
    // stops (after the batch in flight) while the database it deletes from is still open.
    app.addHook('onClose', async () => {
      await outbox.close();
      store.close();
    });
  },
  { name: 'post-storage', dependencies: ['messaging'] },
);
