import { describe, expect, it } from 'vitest';
import { messagingView, outboxText } from '../web/src/messaging.js';
import { stats } from './stats-fixture.js';

describe('messaging figures as the page reads them', () => {
  const messaging = {
    type: 'redis',
    status: 'failing',
    published: 10,
    dropped: 3,
    buffered: 7,
    last_error: 'ECONNREFUSED',
  } as const;

  it("takes the gateway's messaging and the outboxes that hold events", () => {
    const view = messagingView(
      stats(
        {},
        {
          'api-gateway': { service_status: 'online', messaging },
          user_service: { service_status: 'online', outbox: { pending: 4, oldest_pending_age_s: 12.4 } },
          blog_service: { service_status: 'online', outbox: { pending: 0, oldest_pending_age_s: null } },
        },
      ),
    );
    expect(view).toEqual({
      type: 'redis',
      status: 'failing',
      published: 10,
      buffered: 7,
      dropped: 3,
      lastError: 'ECONNREFUSED',
      outboxes: [{ service: 'user-service', pending: 4, oldestAgeS: 12.4 }],
    });
    expect(outboxText(view.outboxes)).toBe('user-service 4 pending (oldest 12 s)');
    expect(outboxText([])).toBe('none pending');
  });

  it('says unknown when the gateway reports no messaging, or is offline', () => {
    expect(messagingView(stats()).status).toBe('unknown');
    expect(
      messagingView(stats({}, { 'api-gateway': { service_status: 'offline', error: 'x', messaging } } as never)).status,
    ).toBe('unknown');
    expect(messagingView(undefined)).toMatchObject({ status: 'unknown', dropped: 0, outboxes: [] });
  });
});
