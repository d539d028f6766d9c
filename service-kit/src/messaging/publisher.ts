import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { MessagingFields, MessagingType, TitaniumEvent } from '../events-contract.js';
import { Ring } from './ring.js';
import type { MessagingSink } from './sink.js';

export interface PublisherOptions {
  /**
   * Events held at most while they wait, besides the batch on its way (or waiting to be sent
   * again); past it the oldest waiting are dropped and counted.
   */
  capacity: number;
  /** Largest batch sent at once. */
  batchSize?: number;
  /** How long an event may wait for others to share its batch. */
  flushIntervalMs?: number;
  /** Longest pause between attempts while the sink fails. */
  maxRetryMs?: number;
}

/**
 * Best-effort publishing off the request path: `offer` only puts the event in a bounded ring
 * (O(1), never waits); batches leave from there one at a time. A batch that fails is sent again
 * as it was, under the same id, with back-off, so the sink takes it once even when the failed
 * attempt lands late; meanwhile new events wait in the ring, and when it is full the oldest go,
 * counted as `dropped`. Nothing is sent again after it was accepted.
 */
export class EventPublisher {
  readonly #sink: MessagingSink | undefined;
  readonly #type: MessagingType;
  readonly #ring: Ring<TitaniumEvent>;
  readonly #log: FastifyBaseLogger;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #maxRetryMs: number;
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #retryMs = 0;
  #failing = false;
  #closed = false;
  #published = 0;
  #dropped = 0;
  #inFlight = 0;
  /** The batch that failed, sent again as it was (same events, same id) before any other. */
  #retry: { events: TitaniumEvent[]; id: string } | undefined;
  #batches = 0;
  readonly #instance = randomUUID();
  #lastError: string | null = null;

  constructor(sink: MessagingSink | undefined, type: MessagingType, options: PublisherOptions, log: FastifyBaseLogger) {
    this.#sink = sink;
    this.#type = type;
    this.#ring = new Ring(options.capacity);
    this.#batchSize = options.batchSize ?? 500;
    this.#flushIntervalMs = options.flushIntervalMs ?? 100;
    this.#maxRetryMs = options.maxRetryMs ?? 2000;
    this.#log = log;
  }

  get enabled(): boolean {
    return this.#sink !== undefined;
  }

  /** Queues `event` for publishing; returns at once. */
  offer(event: TitaniumEvent): void {
    if (!this.#sink || this.#closed) return;
    this.#dropped += this.#ring.push(event);
    if (this.#ring.size >= this.#batchSize && !this.#sending && this.#retryMs === 0) this.#schedule(0);
    else this.#schedule(this.#retryMs || this.#flushIntervalMs);
  }

  stats(): MessagingFields['messaging'] {
    return {
      type: this.#type,
      status: !this.#sink ? 'off' : this.#failing ? 'failing' : 'healthy',
      published: this.#published,
      dropped: this.#dropped,
      buffered: this.#ring.size + (this.#retry?.events.length ?? this.#inFlight),
      last_error: this.#lastError,
    };
  }

  /** Sends what is buffered (one more attempt, at most `waitMs`), then stops taking events. */
  async close(waitMs = 1000): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, waitMs).unref());
    await Promise.race([this.#drain(), deadline]);
  }

  async #drain(): Promise<void> {
    await this.#sending;
    // One more attempt even after a failure: the back-off timer it was waiting for is cancelled.
    if (this.#pending()) await this.#send();
    while (this.#pending() && !this.#failing) await this.#send();
  }

  #schedule(delayMs: number): void {
    if (this.#timer || this.#sending || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#send();
    }, delayMs);
    this.#timer.unref();
  }

  #pending(): boolean {
    return this.#retry !== undefined || this.#ring.size > 0;
  }

  #send(): Promise<void> {
    const sink = this.#sink;
    if (!sink || this.#sending || !this.#pending()) return this.#sending ?? Promise.resolve();
    const batch = this.#retry ?? {
      events: this.#ring.take(this.#batchSize),
      id: `${this.#instance}-${++this.#batches}`,
    };
    this.#retry = undefined;
    this.#inFlight = batch.events.length;
    this.#sending = sink
      .publish(batch.events, batch.id)
      .then(
        () => {
          this.#published += batch.events.length;
          this.#retryMs = 0;
          if (this.#failing) this.#log.info({ sink: this.#type }, 'publishing events again');
          this.#failing = false;
          this.#lastError = null;
        },
        (err: Error) => {
          // Kept whole for the retry: the attempt may still land, and the sink takes an id once.
          this.#retry = batch;
          this.#retryMs = Math.min(this.#maxRetryMs, Math.max(100, this.#retryMs * 2));
          this.#lastError = err.message;
          if (!this.#failing)
            this.#log.warn({ sink: this.#type, err: err.message }, 'cannot publish events; buffering');
          this.#failing = true;
        },
      )
      .finally(() => {
        this.#inFlight = 0;
        this.#sending = undefined;
        if (this.#pending())
          this.#schedule(this.#retryMs || (this.#ring.size >= this.#batchSize ? 0 : this.#flushIntervalMs));
      });
    return this.#sending;
  }
}
