import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

/**
 * New hashes are argon2id with OWASP's parameters (19 MiB, two passes, one lane), as PHC strings
 * (`$argon2id$v=19$m=19456,p=1,t=2$<salt>$<key>`). Hashes made earlier are
 * `scrypt$<N>$<r>$<p>$<salt>$<key>` (N=2^14): they still verify, and `needsRehash` says to
 * replace them after the next successful login.
 */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * Hashes computed at once, at most: each holds its memory (19 MiB for argon2id) on a libuv thread,
 * so a burst of logins queues here instead of exhausting memory or the thread pool the rest of
 * the service shares. More than the cores would only make each wait longer.
 */
export const MAX_CONCURRENT_HASHES = Math.max(1, Math.min(4, availableParallelism()));

const waiting: (() => void)[] = [];
let running = 0;

/** Hashes being computed and waiting their turn right now. */
export function hashingLoad(): { running: number; waiting: number } {
  return { running, waiting: waiting.length };
}

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export function hashPassword(password: string): Promise<string> {
  return limited(() => argon2.hash(password, ARGON2_OPTIONS));
}

export function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (stored.startsWith('$argon2id$')) {
    // A stored value argon2 cannot read is a failed check, never an error.
    return limited(() => argon2.verify(stored, password).catch(() => false));
  }
  const legacy = parseScrypt(stored);
  if (!legacy) return Promise.resolve(false);
  return limited(async () => timingSafeEqual(await scryptKey(password, legacy), legacy.key));
}

/** True for a hash made with weaker parameters than new ones get: replace it after a successful login. */
export function needsRehash(stored: string): boolean {
  if (!stored.startsWith('$argon2id$')) return true;
  try {
    return argon2.needsRehash(stored, ARGON2_OPTIONS);
  } catch {
    return true;
  }
}

interface ScryptHash {
  options: Required<Pick<ScryptOptions, 'N' | 'r' | 'p'>>;
  salt: Buffer;
  key: Buffer;
}

function parseScrypt(stored: string): ScryptHash | undefined {
  const [scheme, n, r, p, salt, key, ...rest] = stored.split('$');
  if (scheme !== 'scrypt' || rest.length > 0 || !salt || !key) return undefined;
  const options = { N: Number(n), r: Number(r), p: Number(p) };
  const sane =
    Number.isInteger(Math.log2(options.N)) &&
    options.N >= 2 ** 10 &&
    options.N <= 2 ** 20 &&
    Number.isInteger(options.r) &&
    options.r >= 1 &&
    options.r <= 32 &&
    Number.isInteger(options.p) &&
    options.p >= 1 &&
    options.p <= 16;
  const parsed = { options, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') };
  return sane && parsed.key.length > 0 ? parsed : undefined;
}

function scryptKey(password: string, { options, salt, key }: ScryptHash): Promise<Buffer> {
  const { N, r, p } = options;
  const maxmem = 128 * N * r * p + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, key.length, { N, r, p, maxmem }, (err, derived) => (err ? reject(err) : resolve(derived)));
  });
}

let dummyHash: Promise<string> | undefined;

/** Computes the stand-in hash used for unknown usernames ahead of the first login. */
export async function prepareDummyHash(): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(24).toString('base64url'));
  await dummyHash;
}

/**
 * Does the same work as verifying a real password and always fails, so an unknown username
 * costs as much time as a wrong password and response times do not reveal which users exist.
 */
export async function rejectAfterEqualWork(password: string): Promise<false> {
  await prepareDummyHash();
  await verifyPassword(password, (await dummyHash) ?? '');
  return false;
}
