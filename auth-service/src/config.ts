import {
  type EnvReader,
  type KitConfig,
  portSetting,
  readJwtSecret,
  readKitConfig,
  urlSetting,
} from '@titanium/service-kit';

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
    kit: readKitConfig(env, 'auth-service', ...portSetting('auth-service')),
    jwtSecret: readJwtSecret(env),
    userService: {
      url: env.url(...urlSetting('user-service')),
      timeoutMs: env.duration('USER_SERVICE_TIMEOUT_MS', 2000, { min: 50, max: 60_000 }),
      checkIntervalMs: env.duration('USER_SERVICE_CHECK_INTERVAL_MS', 5000, { min: 100, max: 600_000 }),
    },
  };
}
