import { API_ROUTES, apiRouteKey } from '@titanium/service-kit';
import FindMyWay, { type HTTPMethod } from 'find-my-way';

/** The key of counted requests that match no route of the API, or come beyond the cap. */
export const OTHER_ROUTE = 'other';
/** Route keys one instance keeps at most, `other` aside. */
export const MAX_ROUTE_KEYS = 64;

/**
 * Files each counted request under `METHOD template`, a route of the API table (API_ROUTES), with
 * the same router Fastify (and so the gateway) matches paths with: `GET /api/posts/7` is
 * `GET /api/posts/:id`. The keys are fixed when it is made, at most MAX_ROUTE_KEYS of them plus
 * `other`, so no request, however many paths or ids there are, can make a new one.
 */
export class RouteKeys {
  /** Every key, `other` last; a request's key is its index here. */
  readonly keys: readonly string[];
  readonly #router = FindMyWay({ caseSensitive: true, ignoreTrailingSlash: false, maxParamLength: 100 });
  readonly #other: number;

  constructor(routes: readonly { method: string; url: string }[] = API_ROUTES) {
    const keys: string[] = [];
    for (const route of routes.slice(0, MAX_ROUTE_KEYS)) {
      const index = keys.push(apiRouteKey(route)) - 1;
      this.#router.on(route.method as HTTPMethod, route.url, () => undefined, index);
    }
    this.#other = keys.push(OTHER_ROUTE) - 1;
    this.keys = keys;
  }

  /** The index of the key of a request with this method and path (no query). */
  indexOf(method: string, path: string): number {
    const found = this.#router.find(method as HTTPMethod, path);
    return found ? (found.store as number) : this.#other;
  }
}
