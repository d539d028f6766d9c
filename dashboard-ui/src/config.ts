import { fileURLToPath } from 'node:url';
import { type EnvReader, type KitConfig, portSetting, readKitConfig } from '@titanium/service-kit';

export interface Config {
  kit: KitConfig;
  /** The Vite build of the page: `dist/public` next to the compiled server. */
  staticDir: string;
}

export function readConfig(env: EnvReader): Config {
  return {
    kit: readKitConfig(env, 'dashboard-ui', ...portSetting('dashboard-ui')),
    staticDir: env.string('DASHBOARD_STATIC_DIR', fileURLToPath(new URL('./public/', import.meta.url))),
  };
}
