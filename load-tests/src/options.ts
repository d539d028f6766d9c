import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export interface LoadOptions {
  url: string;
  durationMs: number;
  rates: { list: number; detail: number; create: number; update: number; delete: number };
  plus: boolean;
  cleanupOnly: boolean;
  keep: boolean;
  maxFailPercent: number;
  maxP95Ms: number | undefined;
  jsonPath: string | undefined;
  statePath: string;
  quiet: boolean;
}

export class UsageError extends Error {}

/** `60s`, `2m`, `500ms` or a plain number of seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new UsageError(`--duration must look like 60s, 2m or 90 (seconds); got ${JSON.stringify(text)}`);
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(value * (unit === 'm' ? 60_000 : unit === 's' ? 1000 : 1));
}

function rate(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 10_000) {
    throw new UsageError(
      `--${name} must be a number of requests per second from 0 to 10000; got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

export const USAGE = `Usage: mixed_load.sh [--url URL] [--duration 60s|2m|N] [--rate-list 64] [--rate-detail 12] [--rate-create 4]
       mixed_load_plus.sh [same] [--rate-update 4] [--rate-delete 3] [--keep] | --cleanup
Options: --max-fail PERCENT (2)  --max-p95 MS  --json FILE  --state FILE  --quiet`;

export function parseOptions(argv: string[], plus: boolean): LoadOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:7100' },
      duration: { type: 'string', default: '60s' },
      'rate-list': { type: 'string' },
      'rate-detail': { type: 'string' },
      'rate-create': { type: 'string' },
      'rate-update': { type: 'string' },
      'rate-delete': { type: 'string' },
      cleanup: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'max-fail': { type: 'string', default: '2' },
      'max-p95': { type: 'string' },
      json: { type: 'string' },
      state: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) throw new UsageError(USAGE);
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError(`--url must be an http(s) URL like http://127.0.0.1:30700; got ${JSON.stringify(values.url)}`);
  }
  if (!plus && (values['rate-update'] || values['rate-delete'] || values.cleanup)) {
    throw new UsageError('--rate-update, --rate-delete and --cleanup belong to mixed_load_plus.sh');
  }
  const maxFail = Number(values['max-fail']);
  if (!Number.isFinite(maxFail) || maxFail < 0 || maxFail > 100)
    throw new UsageError('--max-fail must be a percentage from 0 to 100');
  const maxP95 = values['max-p95'] === undefined ? undefined : Number(values['max-p95']);
  if (maxP95 !== undefined && !(maxP95 > 0))
    throw new UsageError('--max-p95 must be a positive number of milliseconds');
  const base = url.href.replace(/\/+$/, '');
  return {
    url: base,
    durationMs: parseDuration(values.duration),
    rates: {
      list: rate('rate-list', values['rate-list'], plus ? 40 : 64),
      detail: rate('rate-detail', values['rate-detail'], plus ? 15 : 12),
      create: rate('rate-create', values['rate-create'], plus ? 8 : 4),
      update: plus ? rate('rate-update', values['rate-update'], 4) : 0,
      delete: plus ? rate('rate-delete', values['rate-delete'], 3) : 0,
    },
    plus,
    cleanupOnly: values.cleanup,
    keep: values.keep,
    maxFailPercent: maxFail,
    maxP95Ms: maxP95,
    jsonPath: values.json,
    statePath: values.state ?? join(tmpdir(), `titanium-load-${base.replace(/[^A-Za-z0-9]+/g, '_')}.json`),
    quiet: values.quiet,
  };
}
