/** A proxied call given up because the client went away: not the target's fault. */
export class ClientGone extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientGone';
  }
}

/** No response headers in time, with undici's code, so it is classified like undici's own timeout. */
export function headersTimeout(): Error {
  return Object.assign(new Error('no response headers in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
}

/**
 * The one deadline for a target's response headers. It runs from the moment the call is made, so
 * time spent queued for a pooled connection counts too: undici's own headers timeout starts only
 * once the request is written.
 */
export class HeadersDeadline {
  readonly #timer: NodeJS.Timeout;
  #expired = false;

  constructor(ms: number, onExpire: () => void) {
    this.#timer = setTimeout(() => {
      this.#expired = true;
      onExpire();
    }, ms);
  }

  get expired(): boolean {
    return this.#expired;
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}
