import { createService } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';

export const STATS_KEY = 'load-balancer';

export function build(config: Config): FastifyInstance {
  return createService({ config: config.kit, statsKey: STATS_KEY });
}
