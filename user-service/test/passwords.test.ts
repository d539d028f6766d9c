import { randomBytes, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  hashingLoad,
  hashPassword,
  MAX_CONCURRENT_HASHES,
  needsRehash,
  rejectAfterEqualWork,
  verifyPassword,
} from '../src/passwords.js';

function legacyHash(password: string, N = 2 ** 14): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 32, { N, r: 8, p: 1 });
  return ['scrypt', N, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
}

describe('password hashes', () => {
  it('verifies argon2id hashes it made and scrypt hashes of the earlier build, and says which to replace', async () => {
    const current = await hashPassword('correct horse');
    const legacy = legacyHash('correct horse');
    expect(await verifyPassword('correct horse', current)).toBe(true);
    expect(await verifyPassword('wrong horse', current)).toBe(false);
    expect(await verifyPassword('correct horse', legacy)).toBe(true);
    expect(await verifyPassword('wrong horse', legacy)).toBe(false);
    expect(needsRehash(current)).toBe(false);
    expect(needsRehash(legacy)).toBe(true);
    // Weaker argon2id parameters are replaced too.
    expect(needsRehash(current.replace('m=19456', 'm=4096'))).toBe(true);
  });

  it('refuses stored values it cannot read, without throwing', async () => {
    for (const stored of [
      '',
      'plain',
      'scrypt$3$8$1$c2FsdA$a2V5',
      'scrypt$16384$8$1$$',
      '$argon2id$v=19$garbage',
      'bcrypt$x',
    ]) {
      expect(await verifyPassword('anything', stored)).toBe(false);
    }
    expect(await rejectAfterEqualWork('anything')).toBe(false);
  });

  it(`computes at most ${MAX_CONCURRENT_HASHES} hashes at once however many logins come together, the rest wait their turn`, async () => {
    const stored = await hashPassword('correct horse');
    let mostRunning = 0;
    let mostWaiting = 0;
    const sampler = setInterval(() => {
      const { running, waiting } = hashingLoad();
      mostRunning = Math.max(mostRunning, running);
      mostWaiting = Math.max(mostWaiting, waiting);
    }, 1);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => verifyPassword(i % 2 ? 'correct horse' : 'wrong', stored)),
    );
    clearInterval(sampler);
    expect(results).toEqual(Array.from({ length: 30 }, (_, i) => i % 2 === 1));
    expect(mostRunning).toBe(MAX_CONCURRENT_HASHES);
    expect(mostWaiting).toBeGreaterThanOrEqual(30 - MAX_CONCURRENT_HASHES - 1);
    expect(hashingLoad()).toEqual({ running: 0, waiting: 0 });
  });
});
