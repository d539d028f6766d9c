import type { MessagingFields, OutboxFields } from '@titanium/service-kit/events-contract';
import type {
  CacheStatus,
  GatewayUpstreamFigures,
  GatewayUpstreamName,
  HistoryAnswer,
  HistoryPoint,
  LoadBalancerBlock,
  OfflineBlock,
  ServiceBlock as ReportedServiceBlock,
  ReportingKey,
  RouteFigures,
  StatsAnswer,
  StatusClassCounts,
  UpstreamGroupName,
  UpstreamTargetFigures,
} from '@titanium/service-kit/stats-contract';

// Every type here is the kit's contract with each field optional: a server may omit any of them
// (the original stack's load balancer has no routes, upstreams, history or stream).

/** Any service's block as the page reads it: its status, and why it is offline. */
export type ServiceBlock = Partial<
  Pick<ReportedServiceBlock | OfflineBlock, 'service_status'> & Pick<OfflineBlock, 'error'>
>;

/** user-service's database or cache as the load balancer passes it on. */
export type StoreBlock = Partial<
  Pick<StatsAnswer['database'] | StatsAnswer['cache'], 'status'> & Pick<CacheStatus, 'hit_ratio'>
>;

/** One route of `load-balancer.routes`. */
export type RouteEntry = Partial<Omit<RouteFigures, 'status'>> & { status?: Partial<StatusClassCounts> };

/** One target of a group in `load-balancer.upstreams`. */
export type TargetEntry = Partial<UpstreamTargetFigures>;

/** One of the gateway's own upstreams, as its block reports it (figures since its start). */
export type GatewayUpstreamEntry = Partial<GatewayUpstreamFigures>;

export type LoadBalancerEntry = Partial<Omit<LoadBalancerBlock, 'routes' | 'upstreams'>> & {
  routes?: RouteEntry[];
  upstreams?: Partial<Record<UpstreamGroupName, TargetEntry[]>>;
};

/** What a publisher says of its messaging (the gateway's block). */
export type MessagingEntry = Partial<MessagingFields['messaging']>;

/** What a service with an outbox says of it (user-service's and blog-service's blocks). */
export type OutboxEntry = Partial<OutboxFields['outbox']>;

export type GatewayEntry = ServiceBlock & {
  upstreams?: Partial<Record<GatewayUpstreamName, GatewayUpstreamEntry>>;
  messaging?: MessagingEntry;
};

/** A service block that may carry an outbox. */
export type StoreServiceEntry = ServiceBlock & { outbox?: OutboxEntry };

/** The load balancer's `GET /stats` (and each event of `/stats/stream`) as the page reads it. */
export type StatsResponse = {
  'load-balancer'?: LoadBalancerEntry;
  'api-gateway'?: GatewayEntry;
  user_service?: StoreServiceEntry;
  blog_service?: StoreServiceEntry;
  database?: StoreBlock;
  cache?: StoreBlock;
} & {
  [key in Exclude<ReportingKey, 'load-balancer' | 'api-gateway' | 'user_service' | 'blog_service'>]?: ServiceBlock;
};

/** The load balancer's `GET /stats/history` as the page reads it. */
export type HistoryResponse = Partial<Omit<HistoryAnswer, 'points'>> & { points?: Partial<HistoryPoint>[] };
