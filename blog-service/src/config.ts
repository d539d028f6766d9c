import { type EnvReader, type KitConfig, readKitConfig } from '@titanium/service-kit';

export interface Config {
  kit: KitConfig;
}

export function readConfig(env: EnvReader): Config {
  return { kit: readKitConfig(env, 'blog-service', 'BLOG_SERVICE_PORT', 8005) };
}
