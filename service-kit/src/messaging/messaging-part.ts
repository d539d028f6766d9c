import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { MessagingFields, OutboxFields } from '../events-contract.js';
import { MemorySink } from './memory-sink.js';
import { createSink, type MessagingConfig } from './messaging.js';
import { Outbox, type OutboxOptions } from './outbox.js';
import { EventPublisher } from './publisher.js';
import { serveRing } from './remote-source.js';
import type { MessagingSink } from './sink.js';

export interface Messaging {
  config: MessagingConfig;
  /** Undefined with `MESSAGING_TYPE=none`. */
  sink: MessagingSink | undefined;
  /** The best-effort publisher (API-call events); made on first use, then in `/stats` as `messaging`. */
  publisher(): EventPublisher;
  /**
   * A store's outbox (domain events); in `/stats` as `outbox`, relaying from ready to close. The
   * part closes it in its own onClose hook, and Fastify runs those last-registered first: a store
   * registered after this part closes its outbox itself before its database.
   */
  outbox(options: Pick<OutboxOptions, 'db'>): Outbox;
}

declare module 'fastify' {
  interface FastifyInstance {
    messaging: Messaging;
  }
}

/**
 * The messaging seam as a part of a service: the sink `MESSAGING_TYPE` names, one publisher and
 * the outboxes built on it, their `/stats` fields, and, for `memory`, the ring served on
 * `/events` for the load balancer. Closed with the service, after a last flush.
 */
export const messaging = fp<MessagingConfig>(
  async (app: FastifyInstance, config) => {
    const sink = createSink(config, app.log);
    let publisher: EventPublisher | undefined;
    const outboxes: Outbox[] = [];
    if (sink instanceof MemorySink) serveRing(app, sink, config.opsToken);
    app.decorate('messaging', {
      config,
      sink,
      publisher() {
        if (!publisher) {
          const made = new EventPublisher(
            sink,
            config.type,
            { capacity: config.bufferEvents, flushIntervalMs: config.flushIntervalMs },
            app.log,
          );
          app.kit.stats.add((): MessagingFields => ({ messaging: made.stats() }));
          publisher = made;
        }
        return publisher;
      },
      outbox({ db }) {
        const outbox = new Outbox({ source: app.kit.config.name, sink, db, log: app.log });
        app.kit.stats.add((): OutboxFields => ({ outbox: outbox.stats() }));
        outboxes.push(outbox);
        return outbox;
      },
    } satisfies Messaging);
    app.addHook('onReady', async () => {
      for (const outbox of outboxes) outbox.start();
    });
    app.addHook('onClose', async () => {
      await Promise.all([publisher?.close(), ...outboxes.map((outbox) => outbox.close())]);
      await sink?.close();
    });
  },
  { name: 'messaging' },
);
