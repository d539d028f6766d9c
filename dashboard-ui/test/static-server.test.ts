import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { loadConfig } from '@titanium/service-kit';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { build, CONTENT_SECURITY_POLICY } from '../src/app.js';
import { readConfig } from '../src/config.js';

describe('dashboard static server', () => {
  let dir: string;
  let app: FastifyInstance;
  const script = `console.log(${JSON.stringify('x'.repeat(2000))});`;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'titanium-dashboard-'));
    mkdirSync(join(dir, 'assets'));
    const html = '<!doctype html><title>t</title>';
    writeFileSync(join(dir, 'index.html'), html);
    writeFileSync(join(dir, 'index.html.br'), brotliCompressSync(html));
    writeFileSync(join(dir, 'index.html.gz'), gzipSync(html));
    writeFileSync(join(dir, 'assets', 'index-AbC123xY.js'), script);
    writeFileSync(join(dir, 'assets', 'index-AbC123xY.js.br'), brotliCompressSync(script));
    app = build(loadConfig(readConfig, { DASHBOARD_STATIC_DIR: dir, LOG_LEVEL: 'silent' }));
    await app.ready();
    app.kit.lifecycle.markReady();
  });

  afterEach(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html uncached with a same-origin content security policy', async () => {
    const res = await app.inject('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(res.headers['x-frame-options']).toBe('DENY');
    for (const encoding of ['br', 'gzip']) {
      const compressed = await app.inject({ url: '/', headers: { 'accept-encoding': encoding } });
      expect(compressed.headers['content-encoding']).toBe(encoding);
      expect(compressed.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
      expect(compressed.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('serves hashed assets for a year, brotli-compressed when the browser accepts it', async () => {
    const res = await app.inject({ url: '/assets/index-AbC123xY.js', headers: { 'accept-encoding': 'br, gzip' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const plain = await app.inject('/assets/index-AbC123xY.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(script);
  });

  it('serves nothing outside its folder', async () => {
    for (const url of ['/../package.json', '/%2e%2e/%2e%2e/package.json', '/assets/..%2f..%2fetc%2fpasswd']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, url).toBeLessThan(500);
      expect(res.body).not.toContain('"name"');
    }
  });

  it('is not ready when the page has not been built', async () => {
    rmSync(join(dir, 'index.html'));
    const res = await app.inject('/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ checks: { page: false } });
  });
});
