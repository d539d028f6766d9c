import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { ApiClient, type Outcome, type Post } from './api-client.js';
import { LatencyRecord, type ScenarioSummary, SKIPPED } from './latency-record.js';
import { openLoop } from './open-loop.js';
import type { LoadOptions } from './options.js';

interface RunState {
  url: string;
  username: string;
  password: string;
  postIds: number[];
}

export interface LoadResult {
  url: string;
  run_id: string;
  duration_s: number;
  scenarios: ScenarioSummary[];
  total: ScenarioSummary;
  failure_percent: number;
  passed: boolean;
  reasons: string[];
  lb_stats_before: unknown;
  lb_stats_after: unknown;
  cleaned_up: number;
}

type Log = (line: string) => void;

async function lbStats(url: string): Promise<unknown> {
  try {
    const res = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? await res.json() : { error: `HTTP ${res.status}` };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function saveState(path: string, state: RunState): void {
  writeFileSync(path, JSON.stringify(state, null, 2), { mode: 0o600 });
}

/** Deletes the given posts as their author, honouring 429 Retry-After; returns how many are gone. */
async function deletePosts(client: ApiClient, ids: number[], log: Log): Promise<number> {
  let gone = 0;
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const res = await client.call('DELETE', `/posts/${id}`, undefined, true);
        if (res.status === 204 || res.status === 404) {
          gone++;
          break;
        }
        if (res.status !== 429 && res.status !== 503) {
          log(`cleanup: post ${id} answered ${res.status}; left in place`);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, (res.retryAfterS ?? 1) * 1000));
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return gone;
}

/** A failed call as the operator needs it: status and the server's own message, when it gave one. */
function describe(outcome: Outcome): string {
  const message = (outcome.body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? `${outcome.status} (${message})` : String(outcome.status);
}

async function login(client: ApiClient, username: string, password: string): Promise<void> {
  const res = await client.call<{ token?: string }>('POST', '/login', { username, password });
  if (res.status !== 200 || !res.body?.token) throw new Error(`login as ${username} failed: ${describe(res)}`);
  client.token = res.body.token;
}

/** `--cleanup`: removes exactly the posts the last run against this URL created, by id. */
export async function cleanupLastRun(options: LoadOptions, log: Log): Promise<number> {
  let state: RunState;
  try {
    state = JSON.parse(readFileSync(options.statePath, 'utf8')) as RunState;
  } catch {
    log(`nothing to clean up: no run recorded in ${options.statePath}`);
    return 0;
  }
  const client = new ApiClient(`${options.url}/api`);
  try {
    await login(client, state.username, state.password);
    const gone = await deletePosts(client, state.postIds, log);
    saveState(options.statePath, { ...state, postIds: [] });
    log(`cleanup: removed ${gone} of ${state.postIds.length} posts created by ${state.username}`);
    return gone;
  } finally {
    await client.close();
  }
}

/** The seed's mixed load: register, log in, seed 5 posts, then every scenario at its exact rate. */
export async function runMixedLoad(options: LoadOptions, log: Log): Promise<LoadResult> {
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const client = new ApiClient(`${options.url}/api`);
  const state: RunState = {
    url: options.url,
    username: `load_${runId}`,
    password: randomBytes(12).toString('base64url'),
    postIds: [],
  };
  try {
    const before = await lbStats(options.url);
    const registered = await client.call('POST', '/register', {
      username: state.username,
      email: `${state.username}@load.test`,
      password: state.password,
    });
    if (registered.status !== 201) throw new Error(`registering ${state.username} failed: ${describe(registered)}`);
    await login(client, state.username, state.password);
    const seeds: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await client.call<Post>(
        'POST',
        '/posts',
        { title: `seed-${runId}-${i}`, content: `Seed post ${i} of load run ${runId}.` },
        true,
      );
      if (res.status !== 201 || !res.body) throw new Error(`seeding posts failed: ${describe(res)}`);
      seeds.push(res.body.id);
    }
    state.postIds.push(...seeds);
    saveState(options.statePath, state);
    log(`run ${runId}: user ${state.username}, seed posts ${seeds.join(', ')}`);

    const updatable = [...seeds];
    const deletable: number[] = [];
    let created = 0;
    const pick = <T>(items: T[]): T | undefined => items[Math.floor(Math.random() * items.length)];
    const total = new LatencyRecord('total', 0);
    const scenarios: { record: LatencyRecord; send: () => Promise<number | string> }[] = [
      {
        record: new LatencyRecord('list', options.rates.list),
        send: async () => (await client.call('GET', '/posts?offset=0&limit=20')).status,
      },
      {
        record: new LatencyRecord('detail', options.rates.detail),
        send: async () => (await client.call('GET', `/posts/${pick(seeds)}`)).status,
      },
      {
        record: new LatencyRecord('create', options.rates.create),
        send: async () => {
          const n = created++;
          const res = await client.call<Post>(
            'POST',
            '/posts',
            { title: `load-${runId}-${n}`, content: `Post ${n} written by load run ${runId}.` },
            true,
          );
          if (res.status === 201 && res.body) {
            state.postIds.push(res.body.id);
            // Half of the new posts may be edited, the other half deleted, so the two never race.
            (n % 2 === 0 ? deletable : updatable).push(res.body.id);
          }
          return res.status;
        },
      },
      {
        record: new LatencyRecord('update', options.rates.update),
        send: async () =>
          (await client.call('PATCH', `/posts/${pick(updatable)}`, { title: `upd-${runId}` }, true)).status,
      },
      {
        record: new LatencyRecord('delete', options.rates.delete),
        send: async () => {
          const id = deletable.shift();
          if (id === undefined) return SKIPPED;
          const res = await client.call('DELETE', `/posts/${id}`, undefined, true);
          if (res.status === 204) state.postIds.splice(state.postIds.indexOf(id), 1);
          return res.status;
        },
      },
    ].filter((s) => s.record.targetRate > 0);

    const startedAt = performance.now();
    const progress = options.quiet
      ? undefined
      : setInterval(() => {
          const elapsed = (performance.now() - startedAt) / 1000;
          const parts = scenarios.map((s) => `${s.record.name} ${s.record.sent}/${s.record.failed}`);
          log(`  ${elapsed.toFixed(0).padStart(4)} s  sent/failed: ${parts.join('  ')}`);
        }, 1000);
    const loops = await Promise.all(
      scenarios.map(({ record, send }) =>
        openLoop({
          rate: record.targetRate,
          durationMs: options.durationMs,
          fire: async (_i, scheduledAt) => {
            const outcome = await send();
            // Latency from the moment the request was due: a late generator cannot hide a slow server.
            const latency = performance.now() - scheduledAt;
            record.record(outcome, latency);
            total.record(outcome, latency);
          },
        }),
      ),
    );
    clearInterval(progress);
    const elapsedMs = performance.now() - startedAt;
    const lag = Math.max(...loops.map((l) => l.maxStartLagMs));
    if (lag > 50) log(`warning: the load generator fell behind its schedule by up to ${lag.toFixed(0)} ms`);
    saveState(options.statePath, state);
    const after = await lbStats(options.url);

    let cleaned = 0;
    if (options.plus && !options.keep) cleaned = await deletePosts(client, [...state.postIds], log);
    if (cleaned > 0) {
      state.postIds = [];
      saveState(options.statePath, state);
    }

    const totalSummary = total.summary(elapsedMs);
    const failurePercent = totalSummary.sent > 0 ? (totalSummary.failed * 100) / totalSummary.sent : 0;
    const reasons: string[] = [];
    if (failurePercent > options.maxFailPercent) {
      reasons.push(`failure rate ${failurePercent.toFixed(2)} % is above --max-fail ${options.maxFailPercent} %`);
    }
    if (options.maxP95Ms !== undefined && totalSummary.p95_ms > options.maxP95Ms) {
      reasons.push(`p95 ${totalSummary.p95_ms} ms is above --max-p95 ${options.maxP95Ms} ms`);
    }
    return {
      url: options.url,
      run_id: runId,
      duration_s: Math.round(elapsedMs) / 1000,
      scenarios: scenarios.map((s) => s.record.summary(elapsedMs)),
      total: { ...totalSummary, target_rate: scenarios.reduce((sum, s) => sum + s.record.targetRate, 0) },
      failure_percent: Math.round(failurePercent * 1000) / 1000,
      passed: reasons.length === 0,
      reasons,
      lb_stats_before: before,
      lb_stats_after: after,
      cleaned_up: cleaned,
    };
  } finally {
    await client.close();
  }
}
