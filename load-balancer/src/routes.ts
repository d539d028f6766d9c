import { EVENT_LOG_PATHS, EVENT_STREAM_PATHS } from './event-log-route.js';
import { HEARTBEAT_PATH } from './heartbeat.js';
import { HISTORY_PATH } from './history-route.js';
import { STREAM_PATH } from './stats-stream.js';

/**
 * Where a request goes: `api`, `blog` and `dashboard` are proxied to their upstream, `heartbeat`
 * is the load balancer's own WebSocket, `blog-redirect` is the 308 from /blog to /blog/, and `own`
 * is answered by the load balancer's routes (its probes and /stats, and any request-target that
 * is not a path, such as `*`).
 */
export type Destination = 'api' | 'heartbeat' | 'blog' | 'blog-redirect' | 'dashboard' | 'own';

/** Paths the load balancer answers itself. */
const OWN_PATHS = new Set([
  '/lb-health',
  '/stats',
  STREAM_PATH,
  HISTORY_PATH,
  ...EVENT_LOG_PATHS,
  ...EVENT_STREAM_PATHS,
  '/health',
  '/ready',
  '/metrics',
]);

/** The path of a request-target: what comes before its query. */
export function pathOf(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

/** The one routing table of the load balancer, for plain HTTP requests and upgrades alike. */
export function routeOf(path: string): Destination {
  if (path.charCodeAt(0) !== 47 /* / */) return 'own';
  if (path.startsWith('/api/') || path === '/api') return path === HEARTBEAT_PATH ? 'heartbeat' : 'api';
  if (path.startsWith('/blog/')) return 'blog';
  if (path === '/blog') return 'blog-redirect';
  return OWN_PATHS.has(path) ? 'own' : 'dashboard';
}
