import { type EnvReader, type KitConfig, readKitConfig } from '@titanium/service-kit';

export interface Config {
  kit: KitConfig;
}

export function readConfig(env: EnvReader): Config {
  return { kit: readKitConfig(env, 'dashboard-ui', 'DASHBOARD_UI_PORT', 8080) };
}
