/** The load balancer's `GET /stats` answer (ARCHITECTURE.md, "/stats shape"). */
export interface LoadBalancerBlock {
  status?: string;
  has_real_traffic?: boolean;
  window_seconds?: number;
  requests_per_second?: number;
  avg_response_time_ms?: number;
  avg_response_time_ms_lifetime?: number;
  p95_response_time_ms?: number;
  p99_response_time_ms?: number;
  success_rate?: number;
  server_error_rate?: number;
  total_requests?: number;
  ws_active_connections?: number;
  scope?: string;
  instances?: number;
}

export interface ServiceBlock {
  service_status?: string;
  error?: string;
  [field: string]: unknown;
}

export interface StoreBlock {
  status?: string;
  hit_ratio?: number;
}

export interface StatsResponse {
  'load-balancer'?: LoadBalancerBlock;
  'api-gateway'?: ServiceBlock;
  auth?: ServiceBlock;
  user_service?: ServiceBlock;
  blog_service?: ServiceBlock;
  database?: StoreBlock;
  cache?: StoreBlock;
}
