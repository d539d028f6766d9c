import type { AuthFields } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { UserServiceConfig } from './config.js';
import { UserServiceClient } from './user-service-client.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The client logins verify credentials with. */
    userService: UserServiceClient;
  }
}

/**
 * The user-service client as a part of the service: checked once the service is ready and closed
 * with it, its reachability in `/stats` as `user_service`, and `service_status` degraded while
 * user-service cannot be reached. Decorates `app.userService`.
 */
export const userService = fp<UserServiceConfig>(
  async (app: FastifyInstance, config) => {
    if (typeof config.url !== 'string' || !URL.canParse(config.url)) {
      throw new Error(`userService: url must be user-service's base URL; got ${JSON.stringify(config.url)}`);
    }
    for (const name of ['timeoutMs', 'checkIntervalMs'] as const) {
      if (!Number.isFinite(config[name]) || config[name] <= 0) {
        throw new Error(`userService: ${name} must be a positive duration in ms; got ${JSON.stringify(config[name])}`);
      }
    }
    const users = new UserServiceClient(config, app.log.child({ component: 'user-service-client' }));
    app.decorate('userService', users);
    app.kit.stats.add(
      (): Pick<AuthFields, 'user_service'> => ({
        user_service: { status: users.reachable ? 'reachable' : 'unreachable' },
      }),
    );
    app.kit.status.dependsOn('user_service', () => users.reachable);
    app.addHook('onReady', async () => void users.check());
    app.addHook('onClose', () => users.close());
  },
  { name: 'user-service-client' },
);
