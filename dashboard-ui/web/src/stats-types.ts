import type {
  CacheStatus,
  LoadBalancerBlock,
  OfflineBlock,
  ServiceBlock as ReportedServiceBlock,
  ReportingKey,
  StatsAnswer,
} from '@titanium/service-kit/stats-contract';

/** Any service's block as the page reads it: its status, and why it is offline. */
export type ServiceBlock = Partial<
  Pick<ReportedServiceBlock | OfflineBlock, 'service_status'> & Pick<OfflineBlock, 'error'>
>;

/** user-service's database or cache as the load balancer passes it on. */
export type StoreBlock = Partial<
  Pick<StatsAnswer['database'] | StatsAnswer['cache'], 'status'> & Pick<CacheStatus, 'hit_ratio'>
>;

/**
 * The load balancer's `GET /stats` as the page reads it: the kit's contract, with every field
 * optional because a server may omit any of them (the original stack's does).
 */
export type StatsResponse = {
  'load-balancer'?: Partial<LoadBalancerBlock>;
  database?: StoreBlock;
  cache?: StoreBlock;
} & { [key in Exclude<ReportingKey, 'load-balancer'>]?: ServiceBlock };
