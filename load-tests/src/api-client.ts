import { Agent, errors, request } from 'undici';

export interface Post {
  id: number;
  title: string;
  author?: string;
}

export interface Outcome<T = unknown> {
  status: number | string;
  body?: T;
  retryAfterS?: number;
}

/** The Titanium public API as the load scripts use it, over one keep-alive connection pool. */
export class ApiClient {
  readonly base: string;
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  token = '';

  constructor(base: string, { connections = 256, timeoutMs = 10_000 } = {}) {
    this.base = base.replace(/\/+$/, '');
    this.#timeoutMs = timeoutMs;
    this.#agent = new Agent({ connections, keepAliveTimeout: 30_000, pipelining: 1 });
  }

  /** One request; never throws: network errors come back as their code, a timeout as TIMEOUT. */
  async call<T = unknown>(method: string, path: string, body?: unknown, auth = false): Promise<Outcome<T>> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (auth) headers.authorization = `Bearer ${this.token}`;
    try {
      const res = await request(`${this.base}${path}`, {
        method: method as 'GET',
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: this.#agent,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      const text = await res.body.text();
      let parsed: T | undefined;
      if (text && String(res.headers['content-type'] ?? '').includes('json')) {
        try {
          parsed = JSON.parse(text) as T;
        } catch {
          parsed = undefined;
        }
      }
      const retryAfter = Number(res.headers['retry-after']);
      return { status: res.statusCode, body: parsed, ...(retryAfter > 0 ? { retryAfterS: retryAfter } : {}) };
    } catch (err) {
      if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError)
        return { status: 'TIMEOUT' };
      const code = (err as { code?: string }).code;
      return { status: code ?? (err as Error).name ?? 'ERROR' };
    }
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
