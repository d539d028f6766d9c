import { isTimeout, UpstreamPool, type UpstreamTarget } from '@titanium/service-kit';
import type { FastifyBaseLogger } from 'fastify';
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

/** While user-service is failing it is probed this often, so a recovery shows within a second. */
const PROBE_INTERVAL_MS = 1000;

/**
 * Calls user-service over its target pool (kept-alive connections, the kit's health model) with
 * a hard time limit per call. Its /health is also asked every check interval, so `reachable` is
 * right even without logins.
 */
export class UserServiceClient {
  readonly #pool: UpstreamPool;
  readonly #basePath: string;
  readonly #timeoutMs: number;

  constructor({ url, timeoutMs, checkIntervalMs }: UserServiceConfig, log: FastifyBaseLogger) {
    this.#basePath = new URL(url).pathname.replace(/\/+$/, '');
    this.#timeoutMs = timeoutMs;
    this.#pool = new UpstreamPool(
      'user-service',
      [url],
      {
        connections: 32,
        connectTimeoutMs: timeoutMs,
        headersTimeoutMs: timeoutMs,
        bodyTimeoutMs: timeoutMs,
        probeIntervalMs: Math.min(checkIntervalMs, PROBE_INTERVAL_MS),
        readinessPath: '/health',
        readinessIntervalMs: checkIntervalMs,
      },
      log,
    );
  }

  /** False once a call or check failed, until one succeeds again. True before the first call. */
  get reachable(): boolean {
    return this.#pool.targets.every((target) => target.healthy);
  }

  async verifyCredentials(
    username: string,
    password: string,
    headers: Record<string, string>,
  ): Promise<CredentialCheck> {
    const target = this.#pool.pick();
    if (!target) throw new authErrors.UserServiceUnavailable('cannot be reached');
    let statusCode: number;
    let body: unknown;
    this.#pool.begin(target);
    try {
      const res = await target.dispatcher.request({
        method: 'POST',
        path: `${this.#basePath}/users/verify-credentials`,
        headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ username, password }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      statusCode = res.statusCode;
      body = statusCode === 200 || statusCode === 400 ? await res.body.json() : await res.body.dump();
    } catch (err) {
      const why = isTimeout(err as Error) ? `did not answer within ${this.#timeoutMs} ms` : 'cannot be reached';
      throw this.#failed(target, err as Error, why);
    } finally {
      this.#pool.release(target);
    }
    if (statusCode === 401) return this.#answered(target, { outcome: 'invalid' });
    const user = body as Partial<VerifiedUser & { message: string }> | undefined;
    if (statusCode === 400) {
      return this.#answered(target, { outcome: 'rejected', message: String(user?.message ?? 'invalid credentials') });
    }
    if (statusCode === 200 && Number.isSafeInteger(user?.id) && typeof user?.username === 'string') {
      return this.#answered(target, { outcome: 'valid', user: { id: Number(user.id), username: user.username } });
    }
    throw this.#failed(target, new Error(`unexpected status ${statusCode}`), `answered with status ${statusCode}`);
  }

  /** Asks user-service's /health now; `reachable` follows the answer. */
  check(): void {
    this.#pool.checkReadiness();
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  #answered<T>(target: UpstreamTarget, result: T): T {
    this.#pool.succeeded(target);
    return result;
  }

  #failed(target: UpstreamTarget, err: Error, why: string): Error {
    this.#pool.failed(target, err);
    return new authErrors.UserServiceUnavailable(why);
  }
}
