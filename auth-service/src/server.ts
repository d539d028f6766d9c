import { loadConfigOrExit, runService } from '@titanium/service-kit';
import { build } from './app.js';
import { readConfig } from './config.js';

const config = loadConfigOrExit('auth-service', readConfig);
await runService(build(config));
