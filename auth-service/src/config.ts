import { type EnvReader, type KitConfig, readJwtSecret, readKitConfig } from '@titanium/service-kit';

export interface UserServiceConfig {
  url: string;
  /** Longest a credential check may take, connecting included, before login answers 503. */
  timeoutMs: number;
  /** How often user-service's /health is checked, so /stats is right even without logins. */
  checkIntervalMs: number;
}

export interface Config {
  kit: KitConfig;
  jwtSecret: string;
  userService: UserServiceConfig;
}

export function readConfig(env: EnvReader): Config {
  return {
    kit: readKitConfig(env, 'auth-service', 'AUTH_SERVICE_PORT', 8002),
    jwtSecret: readJwtSecret(env),
    userService: {
      url: env.url('USER_SERVICE_URL', 'http://localhost:8001'),
      timeoutMs: env.duration('USER_SERVICE_TIMEOUT_MS', 2000, { min: 50, max: 60_000 }),
      checkIntervalMs: env.duration('USER_SERVICE_CHECK_INTERVAL_MS', 5000, { min: 100, max: 600_000 }),
    },
  };
}
