import { type RunningService, startService, stopAllProcesses } from '@titanium/test-support';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildUserService, post, statsOf, tempDir, until } from './helpers.js';

const user = (username: string) => ({ username, email: `${username}@example.com`, password: 'long enough' });

describe('a database that cannot take writes', () => {
  let app: FastifyInstance;
  let temp: ReturnType<typeof tempDir>;

  beforeEach(async () => {
    temp = tempDir();
    app = await buildUserService({ DATABASE_PATH: temp.dbPath });
    await app.inject({ method: 'POST', url: '/users', payload: user('alice') });
  });

  afterEach(async () => {
    await app.close();
    temp.cleanup();
  });

  const register = (name: string) => app.inject({ method: 'POST', url: '/users', payload: user(name) });

  it('answers 503 with a clear message when the disk is full (simulated with max_page_count), keeps serving reads and recovers', async () => {
    const db = app.userStore.connection;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    let res = await register('bob');
    for (let i = 0; res.statusCode === 201 && i < 200; i++) res = await register(`bob${i}`);
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'The user database cannot save changes right now because the disk is full; try again later',
    });
    expect((await app.inject('/users/alice')).statusCode).toBe(200);
    expect(await statsOf(app)).toMatchObject({ service_status: 'degraded', database: { status: 'unhealthy' } });

    db.pragma('max_page_count = 1073741823');
    await until(
      () => statsOf(app),
      (stats) => stats.database.status === 'healthy',
    );
    expect((await register('carol')).statusCode).toBe(201);
  });

  it('answers 503 when the database is read-only (simulated with query_only), and a 201 again once it is writable', async () => {
    const db = app.userStore.connection;
    db.pragma('query_only = 1');
    const res = await register('bob');
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toBe(
      'The user database cannot save changes right now because it is read-only; try again later',
    );
    expect((await app.inject('/users/alice')).statusCode).toBe(200);
    expect((await statsOf(app)).database.status).toBe('unhealthy');
    db.pragma('query_only = 0');
    expect((await register('bob')).statusCode).toBe(201);
    expect((await statsOf(app)).database.status).toBe('healthy');
  });

  it('turns /ready to 503 and answers requests with 503 once the database is closed', async () => {
    app.kit.lifecycle.markReady();
    expect((await app.inject('/ready')).statusCode).toBe(200);
    app.userStore.close();
    expect((await app.inject('/ready')).json()).toEqual({ status: 'unready', checks: { database: false } });
    const res = await app.inject('/users/alice');
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toBe('The user database cannot be read right now because it is closed; try again later');
    expect(await statsOf(app)).toMatchObject({ users: null, database: { status: 'unhealthy' } });
  });
});

describe('a database locked by another writer (real process)', () => {
  let service: RunningService;
  let temp: ReturnType<typeof tempDir>;

  beforeEach(async () => {
    temp = tempDir();
    service = await startService('user-service', { DATABASE_PATH: temp.dbPath, DATABASE_BUSY_TIMEOUT_MS: '100' });
  });

  afterEach(async () => {
    await stopAllProcesses();
    temp.cleanup();
  });

  it('answers 503 after the busy timeout instead of hanging or crashing, and recovers when the lock goes', async () => {
    expect((await post(service.url, '/users', user('alice'))).status).toBe(201);
    const other = new Database(temp.dbPath);
    try {
      other.exec('BEGIN IMMEDIATE');
      const res = await post(service.url, '/users', user('bob'));
      expect(res.status).toBe(503);
      expect(((await res.json()) as { message: string }).message).toBe(
        'The user database cannot save changes right now because another writer holds its lock; try again later',
      );
      expect((await fetch(`${service.url}/users/alice`)).status).toBe(200);
      expect(await statsOf(service.url)).toMatchObject({
        service_status: 'degraded',
        database: { status: 'unhealthy' },
      });
      expect((await fetch(`${service.url}/ready`)).status).toBe(200);
      other.exec('COMMIT');
    } finally {
      other.close();
    }
    await until(
      () => statsOf(service.url),
      (stats) => stats.database.status === 'healthy',
    );
    expect((await post(service.url, '/users', user('bob'))).status).toBe(201);
    expect((await statsOf(service.url)).users).toBe(2);
    expect(service.process.running).toBe(true);
  });

  it('counts users written by another connection too', async () => {
    await post(service.url, '/users', user('alice'));
    expect((await statsOf(service.url)).users).toBe(1);
    const other = new Database(temp.dbPath);
    other
      .prepare("INSERT INTO users (username, email, password_hash, created_at) VALUES ('zed', 'z@x.io', 'x', 'now')")
      .run();
    other.close();
    expect((await statsOf(service.url)).users).toBe(2);
  });

  it('closes the database on SIGTERM and exits 0, leaving no write-ahead log behind', async () => {
    await post(service.url, '/users', user('alice'));
    const { existsSync } = await import('node:fs');
    expect(existsSync(`${temp.dbPath}-wal`)).toBe(true);
    service.process.signal('SIGTERM');
    expect(await service.process.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(`${temp.dbPath}-wal`)).toBe(false);
  });
});
