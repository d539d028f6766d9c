import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { expect } from 'vitest';

/**
 * Generators of hostile requests for property-based tests, and the check every answer to one
 * must pass. `FUZZ_RUNS` sets how many requests each property sends, `FUZZ_SEED` replays a run
 * (fast-check prints the seed of a failing run).
 */

/** fast-check parameters: `defaultRuns` unless FUZZ_RUNS says otherwise, and FUZZ_SEED when set. */
export function fuzzParameters(defaultRuns: number): fc.Parameters<unknown> {
  const runs = Number(process.env.FUZZ_RUNS);
  const seed = Number(process.env.FUZZ_SEED);
  return {
    numRuns: Number.isInteger(runs) && runs > 0 ? runs : defaultRuns,
    ...(process.env.FUZZ_SEED && Number.isInteger(seed) ? { seed } : {}),
  };
}

/** One request body as it goes over the wire. */
export interface BodyCase {
  /** Undefined sends no Content-Type header. */
  contentType: string | undefined;
  payload: string | Buffer | undefined;
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));

/** Strings that have broken parsers and databases before. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\t\r\n',
  '\ufeff',
  '\u202e',
  '\u{1f600}',
  'null',
  'true',
  '0',
  '-0',
  '1e400',
  'NaN',
  '__proto__',
  'constructor',
  "'; DROP TABLE users; --",
  '" OR 1=1 --',
  '"*" NEAR( OR AND',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '%00',
  '\\u0000',
];

/** Any string: ASCII, graphemes, any code point, with a lone surrogate, nasty or huge. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 8 }), loneSurrogate, fc.string({ maxLength: 8 }))
      .map(([before, lone, after]) => `${before}${lone}${after}`),
  },
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 30_000 }).map((length) => 'x'.repeat(length)) },
);

/** Number literals as JSON text, including ones JavaScript cannot hold exactly or at all. */
const numberLiteral: fc.Arbitrary<string> = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => JSON.stringify(value)),
  fc.constantFrom('0', '-0', '1e400', '-1e400', '1e-400', '9999999999999999999', '1.5', '-1', '0.0', '1E2'),
);

const hostileKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', ''),
  hostileString,
);

/** Any JSON value as text; objects may repeat keys and carry `__proto__`/`constructor`. */
export const hostileJsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3, depthSize: 'small' },
    hostileString.map((text) => JSON.stringify(text)),
    numberLiteral,
    fc.constantFrom('null', 'true', 'false'),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
    fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 }).map(objectText),
  ),
})).value;

function objectText(entries: [string, string][]): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
}

/**
 * A JSON object shaped like what an endpoint expects: each of `valid`'s fields left out, right,
 * or hostile, sometimes twice (duplicate keys), plus hostile extra keys.
 */
export function hostileObjectText(valid: Record<string, string>): fc.Arbitrary<string> {
  const fields = Object.entries(valid).map(([name, good]) =>
    fc.oneof(
      fc.constant([] as [string, string][]),
      fc.constant([[name, JSON.stringify(good)]] as [string, string][]),
      hostileJsonText.map((value) => [[name, value]] as [string, string][]),
      hostileJsonText.map(
        (value) =>
          [
            [name, JSON.stringify(good)],
            [name, value],
          ] as [string, string][],
      ),
    ),
  );
  const extras = fc.array(fc.tuple(hostileKey, hostileJsonText), { maxLength: 2 });
  return fc.tuple(fc.tuple(...fields), extras).map(([chosen, extra]) => objectText([...chosen.flat(), ...extra]));
}

/** Bodies nested `depth` levels deep, as arrays or objects. */
export function nestedText(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array'
    ? `${'['.repeat(depth)}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** A JSON text with bytes that are not UTF-8 put inside its first string value (or at its start). */
function withBadUtf8(text: string, bytes: number[]): Buffer {
  const raw = Buffer.from(text);
  const value = raw.indexOf('":"');
  const at = value === -1 ? 0 : value + 3;
  return Buffer.concat([raw.subarray(0, at), Buffer.from(bytes), raw.subarray(at)]);
}

const INVALID_UTF8: number[][] = [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80]];

const OTHER_CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/octet-stream',
  'application/jsonx',
  '*/*',
  'json',
  ';;;',
];

/**
 * Request bodies around an endpoint that expects `valid`: mostly objects of its shape, and any
 * JSON, broken JSON, deep nesting, bytes that are not UTF-8, other or no content types and
 * oversized bodies (`overLimit` bytes and more).
 */
export function hostileBody(valid: Record<string, string>, overLimit = 64 * 1024): fc.Arbitrary<BodyCase> {
  const json = (payload: string | Buffer): BodyCase => ({ contentType: 'application/json', payload });
  const shaped = hostileObjectText(valid);
  return fc.oneof(
    { weight: 8, arbitrary: shaped.map(json) },
    { weight: 2, arbitrary: hostileJsonText.map(json) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.integer({ min: 20, max: 5_000 }), fc.constantFrom('array' as const, 'object' as const))
        .map(([depth, kind]) => json(nestedText(depth, kind))),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(shaped, fc.constantFrom(...INVALID_UTF8))
        .map(([text, bytes]) => json(withBadUtf8(text, bytes))),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(shaped, fc.nat())
        .map(([text, cut]) => json(text.length > 1 ? text.slice(0, 1 + (cut % (text.length - 1))) : '{')),
    },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', 'null', '\ufeff{}', '{}{}', '{"a":1,}', "{'a':1}").map(json) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...OTHER_CONTENT_TYPES, undefined), shaped)
        .map(([contentType, payload]) => ({ contentType, payload })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('application/json; charset=utf-8', 'Application/JSON', 'application/json; charset=latin1')
        .chain((contentType) => shaped.map((payload) => ({ contentType, payload }))),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: overLimit, max: overLimit * 2 })
        .map((size) => json(JSON.stringify({ ...valid, padding: 'x'.repeat(size) }))),
    },
  );
}

/** Query values: non-finite and odd numbers, bad escapes, lone-surrogate escapes, long and unicode text. */
export const hostileQueryValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '1e400',
    '-1e400',
    'Infinity',
    '-Infinity',
    'NaN',
    '-0',
    '0',
    '-1',
    '1.5',
    '1e3',
    '0x10',
    '9999999999999999999',
    '',
    '%',
    '%zz',
    '%00',
    '%ED%A0%80',
    '%FF',
    '%C3',
    '+',
    '[]',
    '{}',
  ),
  fc.integer({ min: -5, max: 200 }).map(String),
  fc.string({ unit: 'binary', maxLength: 30 }).map(encodeURIComponent),
  fc.integer({ min: 100, max: 5_000 }).map((length) => 'q'.repeat(length)),
);

/** A query string (with its `?`) using the endpoint's `keys` and others, keys sometimes repeated. */
export function hostileQuery(keys: string[]): fc.Arbitrary<string> {
  const key = fc.oneof(fc.constantFrom(...keys), fc.constantFrom('__proto__', 'constructor', 'x', ''));
  return fc
    .array(fc.tuple(key, hostileQueryValue), { maxLength: 4 })
    .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));
}

/** Path segments for `/:id`, already escaped for the URL. */
export const hostilePathId: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '0',
    '-1',
    '1.5',
    '1e3',
    '01',
    '9999999999999999999',
    '%00',
    '%',
    '%zz',
    '%ED%A0%80',
    '%FF',
    '%2F',
    '..',
    '%20',
    '__proto__',
    'constructor',
    'null',
    'NaN',
  ),
  fc.nat().map(String),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).map(encodeURIComponent),
  fc.integer({ min: 50, max: 3_000 }).map((length) => '1'.repeat(length)),
  fc.integer({ min: 50, max: 3_000 }).map((length) => 'a'.repeat(length)),
);

/** An answer as the checks below see it. */
export interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/**
 * What every answer to bad input must be: a 2xx or 4xx, never a 5xx; a 4xx is the kit's JSON
 * error `{statusCode, error, message}` with no stack trace. Returns whether it was a rejection.
 */
export function expectOrderlyAnswer(answer: Answer, what: string): boolean {
  const { statusCode, body } = answer;
  if (statusCode >= 500 || statusCode < 200 || (statusCode >= 300 && statusCode < 400)) {
    expect.fail(`${what} answered ${statusCode}: ${body.slice(0, 300)}`);
  }
  if (statusCode < 400) return false;
  expect(String(answer.headers['content-type']), `${what}: content type of the ${statusCode}`).toMatch(
    /^application\/json/,
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    expect.fail(`${what} answered ${statusCode} with a body that is not JSON: ${body.slice(0, 300)}`);
  }
  expect(parsed, `${what}: error body`).toEqual({
    statusCode,
    error: expect.any(String),
    message: expect.any(String),
    ...(typeof parsed === 'object' && parsed !== null && 'status' in parsed ? { status: 'failed' } : {}),
  });
  expect((parsed as { message: string }).message, `${what}: no stack trace`).not.toMatch(/\n\s+at /);
  return true;
}

/** A request every endpoint taking a JSON object must refuse, and the status it must refuse it with. */
export interface Refusal {
  name: string;
  status: number;
  body: BodyCase;
}

/**
 * The bodies each JSON endpoint must refuse, built around a valid body `valid` whose first field
 * is a string: wrong types (no coercion), lone surrogates, bytes that are not UTF-8, deep nesting,
 * prototype keys, non-finite numbers, other content types and oversized bodies.
 */
export function refusals(valid: Record<string, string>, bodyLimit = 64 * 1024): Refusal[] {
  const [field] = Object.keys(valid);
  if (!field) throw new Error('refusals need a valid body with at least one field');
  const json = (payload: string | Buffer): BodyCase => ({ contentType: 'application/json', payload });
  const text = JSON.stringify(valid);
  const withField = (value: string) => json(`${text.slice(0, -1)},${JSON.stringify(field)}:${value}}`);
  return [
    { name: `a number for the string ${field}`, status: 400, body: withField('123') },
    { name: `a boolean for the string ${field}`, status: 400, body: withField('true') },
    { name: `an array for the string ${field}`, status: 400, body: withField(JSON.stringify([valid[field]])) },
    { name: `null for the string ${field}`, status: 400, body: withField('null') },
    { name: `a lone surrogate in ${field}`, status: 400, body: withField('"ab\\ud800cd"') },
    { name: `a lone low surrogate in ${field}`, status: 400, body: withField('"\\udfff"') },
    { name: 'bytes that are not UTF-8', status: 400, body: json(withBadUtf8(text, [0xff, 0xfe])) },
    { name: 'a UTF-8 encoded surrogate', status: 400, body: json(withBadUtf8(text, [0xed, 0xa0, 0x80])) },
    { name: 'a number too large for a double', status: 400, body: json(`${text.slice(0, -1)},"n":1e400}`) },
    { name: 'a __proto__ key', status: 400, body: json(`${text.slice(0, -1)},"__proto__":{"admin":true}}`) },
    {
      name: 'a constructor.prototype key',
      status: 400,
      body: json(`${text.slice(0, -1)},"constructor":{"prototype":{"admin":true}}}`),
    },
    {
      name: 'an object nested 33 levels',
      status: 400,
      body: json(`${text.slice(0, -1)},"n":${nestedText(32, 'object')}}`),
    },
    { name: 'objects nested 5,000 levels', status: 400, body: json(nestedText(5_000, 'object')) },
    { name: 'arrays nested 30,000 levels', status: 400, body: json(nestedText(30_000, 'array')) },
    { name: 'an empty JSON body', status: 400, body: json('') },
    { name: 'broken JSON', status: 400, body: json(text.slice(0, -1)) },
    { name: 'a JSON array', status: 400, body: json(`[${text}]`) },
    { name: 'a JSON string', status: 400, body: json(JSON.stringify(text)) },
    { name: 'text/plain', status: 415, body: { contentType: 'text/plain', payload: text } },
    { name: 'a form', status: 415, body: { contentType: 'application/x-www-form-urlencoded', payload: 'a=b' } },
    {
      name: 'multipart',
      status: 415,
      body: { contentType: 'multipart/form-data; boundary=xyz', payload: '--xyz\r\n\r\nx\r\n--xyz--' },
    },
    { name: 'a body without a content type', status: 415, body: { contentType: undefined, payload: text } },
    {
      name: 'a body over the size limit',
      status: 413,
      body: json(JSON.stringify({ ...valid, padding: 'x'.repeat(bodyLimit) })),
    },
  ];
}

/** Query values a numeric parameter must refuse: numbers JavaScript cannot hold as finite. */
export const NON_FINITE_QUERY_VALUES = ['1e400', '-1e400', 'Infinity', '-Infinity', 'NaN', '1e309'];

/** Path ids no resource has. */
export const BAD_PATH_IDS = ['0', '-1', '1.5', '1e3', '9999999999999999999', '%00', '%20', 'null', '__proto__'];
/** Path ids the router itself refuses: bad escapes and over-long segments. */
export const MALFORMED_PATH_IDS = ['%', '%zz', '%E0%A4%A', '1'.repeat(2_000), 'a'.repeat(5_000)];

/**
 * For an accepted write: the answer's `fields` hold exactly what the request sent (the last of
 * duplicate keys, as JSON.parse reads them) — no coercion, no replaced characters.
 */
export function expectStoredAsSent(body: BodyCase, answer: Answer, fields: string[]): void {
  const { payload } = body;
  const raw = typeof payload === 'string' ? Buffer.from(payload) : payload;
  expect(raw !== undefined && isUtf8(raw), 'a body that is not UTF-8 was accepted').toBe(true);
  const sent = JSON.parse(String(raw)) as Record<string, unknown>;
  const stored = JSON.parse(answer.body) as Record<string, unknown>;
  for (const field of fields) {
    if (!Object.hasOwn(sent, field)) continue;
    expect(typeof sent[field], `${field} was accepted as a ${typeof sent[field]}`).toBe('string');
    expect(stored[field], `${field} as stored`).toBe(sent[field]);
  }
}

/** Anything that can take a snapshot of a database. */
export interface Snapshotter {
  take(): unknown;
}

/**
 * Sends a request (`send`) and checks its answer with expectOrderlyAnswer; when it was refused,
 * or `readOnly` says it can change nothing, every database must be as it was before.
 */
export async function sendChecked(
  what: string,
  send: () => Promise<Answer>,
  databases: Snapshotter[],
  readOnly = false,
): Promise<Answer> {
  const before = databases.map((db) => db.take());
  const answer = await send();
  if (expectOrderlyAnswer(answer, what) || readOnly) {
    expect(
      databases.map((db) => db.take()),
      `${what}: database after a ${answer.statusCode}`,
    ).toEqual(before);
  }
  return answer;
}

/** Something with Fastify's `inject`. */
interface Injectable {
  inject(options: {
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
    url: string;
    headers: Record<string, string>;
    payload?: string | Buffer;
  }): Promise<{ statusCode: number; headers: Answer['headers']; body: string }>;
}

/** A request to an app in-process, with `body` sent exactly as given. */
export async function injectAnswer(
  app: Injectable,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  body?: BodyCase,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const all = { ...headers };
  if (body?.contentType !== undefined) all['content-type'] = body.contentType;
  const res = await app.inject({
    method,
    url,
    headers: all,
    ...(body?.payload === undefined ? {} : { payload: body.payload }),
  });
  return { statusCode: res.statusCode, headers: res.headers, body: res.body };
}
