/**
 * Headers for the HTML pages the stack serves (the dashboard and the blog SPA): a same-origin
 * Content-Security-Policy without inline script or style, so injected markup cannot run, and the
 * usual companions against framing, MIME sniffing and referrer leaks. Assets need none of them.
 */
export interface PagePolicyOptions {
  /** Extra `connect-src` sources beyond 'self', such as `ws:` for a WebSocket to the same host. */
  connect?: readonly string[];
}

export function contentSecurityPolicy({ connect = [] }: PagePolicyOptions = {}): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${["'self'", ...connect].join(' ')}`,
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function pageSecurityHeaders(options: PagePolicyOptions = {}): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(options),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'x-permitted-cross-domain-policies': 'none',
  };
}
