/**
 * The public API: every route the gateway serves under /api/, as method and path template. The
 * gateway registers exactly these; the load balancer files counted traffic under
 * `METHOD template` keys made from them, so an id or a user name never becomes a key of its own.
 */
export const API_ROUTES = [
  { method: 'GET', url: '/api/health' },
  { method: 'POST', url: '/api/login' },
  { method: 'POST', url: '/api/register' },
  { method: 'GET', url: '/api/users/:username' },
  { method: 'GET', url: '/api/posts' },
  { method: 'POST', url: '/api/posts' },
  { method: 'GET', url: '/api/posts/:id' },
  { method: 'PATCH', url: '/api/posts/:id' },
  { method: 'DELETE', url: '/api/posts/:id' },
] as const;

export type ApiRoute = (typeof API_ROUTES)[number];

/** `METHOD template`, as `/stats` and `/metrics` name a route. */
type KeyOf<R> = R extends { method: infer M extends string; url: infer U extends string } ? `${M} ${U}` : never;
export type ApiRouteKey = KeyOf<ApiRoute>;

export function apiRouteKey<R extends { method: string; url: string }>(route: R): KeyOf<R> {
  return `${route.method} ${route.url}` as KeyOf<R>;
}
