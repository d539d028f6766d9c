import { type EnvReader, type KitConfig, readKitConfig } from '@titanium/service-kit';

export interface Config {
  kit: KitConfig;
}

export function readConfig(env: EnvReader): Config {
  return { kit: readKitConfig(env, 'api-gateway', 'API_GATEWAY_PORT', 8000) };
}
