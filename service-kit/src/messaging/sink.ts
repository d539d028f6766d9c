import type { EventKind, MessagingType, TitaniumEvent } from '../events-contract.js';

/**
 * A messaging system events are published to. Each kind of system is one file implementing this
 * (redis-sink.ts, memory-sink.ts); `createSink` in messaging.ts chooses one by `MESSAGING_TYPE`.
 */
export interface MessagingSink {
  readonly type: MessagingType;
  /** Whether the last exchange with the system worked. */
  readonly healthy: boolean;
  /**
   * Publishes `events` in their order (each to its kind's stream or topic). Resolves once the
   * system has taken every one; rejects otherwise. `batchId` names the batch: a caller that
   * retries after a failure sends the same events under the same id, and the sink takes a batch
   * at most once per id, since an attempt that timed out may still land (a frozen Redis runs it
   * when it wakes). Duplicates remain possible only across a crash of the caller; readers drop
   * them by event id.
   */
  publish(events: readonly TitaniumEvent[], batchId: string): Promise<void>;
  close(): Promise<void>;
}

/** One entry read back from a source, with its position there. */
export interface SourceEntry {
  position: string;
  event: TitaniumEvent;
}

/**
 * Somewhere events can be read back from, in the order it holds them: one Redis stream, or one
 * process's ring. Positions are strings only the source itself compares.
 */
export interface EventSource {
  /** Short and stable (no `:` or `,`): it names the source in `/logs/messaging`'s cursors. */
  readonly name: string;
  /** The kinds of event this source can hold. */
  readonly kinds: readonly EventKind[];
  /** Up to `count` entries strictly before `before` (from the newest when undefined), newest first. */
  older(before: string | undefined, count: number): Promise<SourceEntry[]>;
  /** Up to `count` entries strictly after `after` (from the oldest when undefined), oldest first. */
  newer(after: string | undefined, count: number): Promise<SourceEntry[]>;
  /** The position of the newest entry now, or undefined when the source holds none. */
  head(): Promise<string | undefined>;
}
