import { loadConfigOrExit, runService } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { build } from './app.js';
import { readConfig } from './config.js';

const config = loadConfigOrExit('blog-service', readConfig);
let app: FastifyInstance;
try {
  app = build(config);
} catch (err) {
  process.stderr.write(
    `blog-service: cannot open the database at ${config.databasePath} (BLOG_DATABASE_PATH): ${(err as Error).message}\n`,
  );
  process.exit(1);
}
await runService(app);
