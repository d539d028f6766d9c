import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, readKitConfig } from '../src/config.js';
import { createService } from '../src/create-service.js';
import { MAX_JSON_DEPTH } from '../src/request-input.js';
import { fuzzParameters, nestedText } from './support/bad-input.js';

// The edges of the kit's body rules: what must still be accepted next to what is refused.
describe('JSON bodies in every service', () => {
  const config = loadConfig((env) => readKitConfig(env, 'svc', 'SVC_PORT', 0), { LOG_LEVEL: 'silent' });
  const app = createService({ config, statsKey: 'svc' });
  app.post('/echo', async (request) => ({ body: request.body }));
  app.get('/page', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } } } } }, (r) => ({
    query: r.query,
  }));
  const post = (payload: string | Buffer) =>
    app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload });

  beforeAll(() => app.ready());
  afterAll(() => app.close());

  it(`accepts nesting of exactly ${MAX_JSON_DEPTH} levels and refuses one more`, async () => {
    expect((await post(nestedText(MAX_JSON_DEPTH, 'array'))).statusCode).toBe(200);
    expect((await post(nestedText(MAX_JSON_DEPTH, 'object'))).statusCode).toBe(200);
    const deeper = await post(nestedText(MAX_JSON_DEPTH + 1, 'array'));
    expect(deeper.statusCode).toBe(400);
    expect(deeper.json().message).toBe(`The request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('does not count brackets inside strings, escaped quotes included, as nesting', async () => {
    const text = JSON.stringify({ a: `\\"${'['.repeat(100)}`, b: '{'.repeat(100) });
    const res = await post(text);
    expect(res.statusCode).toBe(200);
    expect(res.json().body).toEqual(JSON.parse(text));
  });

  // Keys that reach an object's prototype are refused on purpose (the test below); everything
  // else well-formed must come through untouched.
  const PROTOTYPE_KEY = /"__proto__"\s*:|"constructor"\s*:\s*\{[\s\S]*"prototype"\s*:/;

  it('takes any well-formed JSON of a few levels without prototype keys exactly as JSON.parse reads it', async () => {
    const values = fc.jsonValue({ maxDepth: 5 }).filter((value) => !PROTOTYPE_KEY.test(JSON.stringify(value)));
    await fc.assert(
      fc.asyncProperty(values, async (value) => {
        const res = await post(JSON.stringify(value));
        expect(res.statusCode).toBe(200);
        expect(res.json().body).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      fuzzParameters(100),
    );
  });

  it('refuses a prototype key at any depth and says which', async () => {
    for (const [text, key] of [
      ['{"":{"__proto__":null}}', '__proto__'],
      ['[1,{"a":[{"__proto__":{"admin":true}}]}]', '__proto__'],
      ['{"constructor":{"prototype":{"admin":true}}}', 'constructor'],
    ] as const) {
      const res = await post(text);
      expect(res.statusCode, text).toBe(400);
      expect(res.json().message).toBe(`The request body must not use the key "${key}"`);
    }
    expect((await post('{"constructor":"a name","proto":1}')).json().body).toEqual({ constructor: 'a name', proto: 1 });
  });

  it('accepts paired surrogates (emoji) and a byte order mark', async () => {
    expect((await post('{"a":"\\ud83d\\ude00 \u{1f600}"}')).json().body).toEqual({ a: '\u{1f600} \u{1f600}' });
    expect((await post('\ufeff{"a":1}')).statusCode).toBe(200);
  });

  it('answers a bad body with the kit error shape and says what is wrong', async () => {
    const res = await post('{"a":"\\ud800"}');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'The request body holds text that is not valid Unicode (a lone surrogate)',
    });
  });

  it('coerces numeric query values, but only to finite numbers', async () => {
    expect((await app.inject('/page?n=7')).json()).toEqual({ query: { n: 7 } });
    const res = await app.inject('/page?n=1e400');
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe('querystring/n must be a finite number');
  });

  it('answers router errors in the kit shape with the request id', async () => {
    const res = await app.inject('/echo/%zz');
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-request-id']).toBeTruthy();
    expect(res.json()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'The URL is not valid: it has a malformed "%" escape',
    });
  });
});
