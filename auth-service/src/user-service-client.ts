import type { FastifyBaseLogger } from 'fastify';
import { Pool } from 'undici';
import type { UserServiceConfig } from './config.js';
import { authErrors } from './errors.js';

export interface VerifiedUser {
  id: number;
  username: string;
}

export type CredentialCheck =
  | { outcome: 'valid'; user: VerifiedUser }
  | { outcome: 'invalid' }
  | { outcome: 'rejected'; message: string };

/** Keeps the why of a failure short and free of request data. */
function describeFailure(err: unknown, timeoutMs: number): string {
  const name = (err as Error)?.name;
  const code = (err as { code?: string })?.code;
  if (name === 'TimeoutError' || name === 'AbortError' || code?.includes('TIMEOUT')) {
    return `did not answer within ${timeoutMs} ms`;
  }
  return 'cannot be reached';
}

/**
 * Calls user-service over a pool of kept-alive connections with a hard time limit per call, and
 * remembers whether it was reachable the last time anyone (a login or the periodic check) asked.
 */
export class UserServiceClient {
  readonly #pool: Pool;
  readonly #basePath: string;
  readonly #timeoutMs: number;
  readonly #log: FastifyBaseLogger;
  readonly #checkIntervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #reachable: boolean | undefined;

  constructor({ url, timeoutMs, checkIntervalMs }: UserServiceConfig, log: FastifyBaseLogger) {
    const parsed = new URL(url);
    this.#basePath = parsed.pathname.replace(/\/+$/, '');
    this.#timeoutMs = timeoutMs;
    this.#log = log;
    this.#pool = new Pool(parsed.origin, {
      connections: 32,
      keepAliveTimeout: 30_000,
      connectTimeout: timeoutMs,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    this.#checkIntervalMs = checkIntervalMs;
    this.#schedule();
  }

  // While user-service is unreachable it is checked every second, so a recovery (or a start-up
  // race with it) shows within a second rather than a whole interval.
  #schedule(): void {
    if (this.#closed) return;
    const delay = this.#reachable === true ? this.#checkIntervalMs : Math.min(this.#checkIntervalMs, 1000);
    this.#timer = setTimeout(() => {
      void this.check().finally(() => this.#schedule());
    }, delay);
    this.#timer.unref();
  }

  /** False once a call failed, until one succeeds again. True before the first call. */
  get reachable(): boolean {
    return this.#reachable !== false;
  }

  async verifyCredentials(
    username: string,
    password: string,
    headers: Record<string, string>,
  ): Promise<CredentialCheck> {
    let statusCode: number;
    let body: unknown;
    try {
      const res = await this.#pool.request({
        method: 'POST',
        path: `${this.#basePath}/users/verify-credentials`,
        headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ username, password }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      statusCode = res.statusCode;
      body = statusCode === 200 || statusCode === 400 ? await res.body.json() : await res.body.dump();
    } catch (err) {
      throw this.#failed(err, describeFailure(err, this.#timeoutMs));
    }
    if (statusCode === 401) return this.#answered({ outcome: 'invalid' });
    const user = body as Partial<VerifiedUser & { message: string }> | undefined;
    if (statusCode === 400) {
      return this.#answered({ outcome: 'rejected', message: String(user?.message ?? 'invalid credentials') });
    }
    if (statusCode === 200 && Number.isSafeInteger(user?.id) && typeof user?.username === 'string') {
      return this.#answered({ outcome: 'valid', user: { id: Number(user.id), username: user.username } });
    }
    throw this.#failed(new Error(`unexpected status ${statusCode}`), `answered with status ${statusCode}`);
  }

  /** Asks user-service's /health; updates and returns reachability. */
  async check(): Promise<boolean> {
    try {
      const res = await this.#pool.request({
        method: 'GET',
        path: `${this.#basePath}/health`,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      await res.body.dump();
      this.#mark(res.statusCode === 200);
    } catch (err) {
      this.#mark(false, err);
    }
    return this.reachable;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#pool.close();
  }

  #answered<T>(result: T): T {
    this.#mark(true);
    return result;
  }

  #failed(err: unknown, why: string): Error {
    this.#mark(false, err);
    return new authErrors.UserServiceUnavailable(why);
  }

  #mark(reachable: boolean, err?: unknown): void {
    if (reachable === this.#reachable) return;
    this.#reachable = reachable;
    if (reachable) this.#log.info('user-service reachable');
    else this.#log.warn({ err: (err as Error)?.message }, 'user-service unreachable; logins answer 503');
  }
}
