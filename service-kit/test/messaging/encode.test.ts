import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoTimestamp } from '../../src/iso-time.js';
import { encodeEvent } from '../../src/messaging/encode.js';
import { fuzzParameters } from '../support/bad-input.js';
import { apiEvent, domainEvent } from './events.js';

describe('encodeEvent', () => {
  it('gives exactly what JSON.stringify gives for API-call events with any text in them', () => {
    // Quotes, backslashes, control characters, lone surrogates, markup: whatever a path can hold.
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme' }),
      fc.constant('"\\</script>\u2028'),
    );
    fc.assert(
      fc.property(
        text,
        text,
        fc.option(text),
        fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
        fc.integer({ min: 100, max: 599 }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        (endpoint, message, username, userId, status, latency) => {
          const event = apiEvent('e1', 5, {
            endpoint,
            message,
            username,
            user_id: userId,
            status,
            latency_ms: Math.round(latency * 100) / 100,
          });
          expect(encodeEvent(event)).toBe(JSON.stringify(event));
        },
      ),
      fuzzParameters(300),
    );
  });

  it('keeps every field of an API-call event and nothing a caller slipped in', () => {
    const event = { ...apiEvent('e2', 7), password: 'hunter2' };
    const decoded = JSON.parse(encodeEvent(event));
    expect(decoded).toEqual(apiEvent('e2', 7));
  });

  it('writes domain events as JSON.stringify does, data and all', () => {
    const event = domainEvent('d1', 9);
    expect(encodeEvent(event)).toBe(JSON.stringify(event));
  });
});

describe('isoTimestamp', () => {
  it('equals Date#toISOString for any millisecond, including each second and year boundary', () => {
    const edges = [0, 999, 1000, 1001, Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(2000, 0, 1), -1, -1001];
    for (const ms of edges) expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
    fc.assert(
      fc.property(fc.integer({ min: -62_000_000_000_000, max: 8_640_000_000_000_000 }), (ms) => {
        expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
      }),
      fuzzParameters(2000),
    );
  });

  it('follows the clock from one call to the next', () => {
    const before = Date.now();
    const stamp = Date.parse(isoTimestamp());
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(Date.now());
  });
});
