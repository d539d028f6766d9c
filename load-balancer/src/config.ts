import { type EnvReader, type KitConfig, readKitConfig } from '@titanium/service-kit';

export interface Config {
  kit: KitConfig;
}

export function readConfig(env: EnvReader): Config {
  return { kit: readKitConfig(env, 'load-balancer', 'LB_PORT', 7100) };
}
