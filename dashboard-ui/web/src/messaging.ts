import type { StatsResponse } from './stats-types.js';

/** `unknown`: the gateway reports no messaging (offline, or older than the event log). */
export type MessagingStatus = 'healthy' | 'failing' | 'off' | 'unknown';

export interface OutboxView {
  service: string;
  pending: number;
  /** How long the oldest pending event has waited, in seconds. */
  oldestAgeS: number | null;
}

/** The gateway's messaging figures and the outboxes still holding events, as the page shows them. */
export interface MessagingView {
  type: string | undefined;
  status: MessagingStatus;
  published: number;
  buffered: number;
  dropped: number;
  lastError: string | null;
  /** Only those with events pending. */
  outboxes: OutboxView[];
}

const OUTBOXES = [
  { key: 'user_service', service: 'user-service' },
  { key: 'blog_service', service: 'blog-service' },
] as const;

const STATUSES = new Set<MessagingStatus>(['healthy', 'failing', 'off']);

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

export function messagingView(stats: StatsResponse | undefined): MessagingView {
  const gateway = stats?.['api-gateway'];
  const raw = gateway?.service_status === 'offline' ? undefined : gateway?.messaging;
  const messaging = typeof raw === 'object' && raw !== null ? raw : undefined;
  const outboxes: OutboxView[] = [];
  for (const { key, service } of OUTBOXES) {
    const outbox = stats?.[key]?.outbox;
    if (typeof outbox !== 'object' || outbox === null || count(outbox.pending) === 0) continue;
    const age = outbox.oldest_pending_age_s;
    outboxes.push({
      service,
      pending: count(outbox.pending),
      oldestAgeS: typeof age === 'number' && Number.isFinite(age) ? age : null,
    });
  }
  return {
    type: typeof messaging?.type === 'string' ? messaging.type.slice(0, 40) : undefined,
    status: STATUSES.has(messaging?.status as MessagingStatus) ? (messaging?.status as MessagingStatus) : 'unknown',
    published: count(messaging?.published),
    buffered: count(messaging?.buffered),
    dropped: count(messaging?.dropped),
    lastError: typeof messaging?.last_error === 'string' && messaging.last_error !== '' ? messaging.last_error : null,
    outboxes,
  };
}

/** `user-service 3 pending (oldest 12 s) · blog-service 1 pending`, or that none are. */
export function outboxText(outboxes: readonly OutboxView[]): string {
  if (outboxes.length === 0) return 'none pending';
  return outboxes
    .map(
      ({ service, pending, oldestAgeS }) =>
        `${service} ${pending} pending${oldestAgeS === null ? '' : ` (oldest ${Math.round(oldestAgeS)} s)`}`,
    )
    .join(' · ');
}
