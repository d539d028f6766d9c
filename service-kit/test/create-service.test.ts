import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig, readKitConfig } from '../src/config.js';
import { createService } from '../src/create-service.js';
import { errors } from '../src/errors.js';

function service(logLines: string[] = []) {
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().trim().split('\n')));
  const config = loadConfig((env) => readKitConfig(env, 'svc', 'SVC_PORT', 0), { LOG_LEVEL: 'info' });
  const app = createService({ config, statsKey: 'svc', logStream });
  app.get('/ok', async () => ({ ok: true }));
  app.get('/disk-full', async () => {
    throw new errors.NotReady('the disk is full');
  });
  app.get('/bug', async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'secret')");
  });
  return app;
}

describe('createService', () => {
  it('counts in-process requests by status like real ones', async () => {
    const app = service();
    await app.inject('/ok');
    await app.inject('/missing');
    const stats = (await app.inject('/stats')).json();
    expect(stats.svc.responses).toMatchObject({ '2xx': 1, '4xx': 1, aborted: 0 });
    await app.close();
  });

  it('shows the message of its own 5xx errors and logs them in one line without a stack', async () => {
    const lines: string[] = [];
    const app = service(lines);
    const res = await app.inject('/disk-full');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'Service is not ready: the disk is full',
    });
    const logged = lines.map((line) => JSON.parse(line)).find((entry) => entry.code === 'TI_ERR_NOT_READY');
    expect(logged).toMatchObject({ level: 40, msg: 'Service is not ready: the disk is full' });
    expect(JSON.stringify(logged)).not.toContain('stack');
    await app.close();
  });

  it('hides the details of an unexpected error from the client but logs them', async () => {
    const lines: string[] = [];
    const app = service(lines);
    const res = await app.inject('/bug');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' });
    expect(res.body).not.toContain('secret');
    expect(lines.join('\n')).toContain("Cannot read properties of undefined (reading 'secret')");
    await app.close();
  });
});
