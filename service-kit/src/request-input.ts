import { isUtf8 } from 'node:buffer';
import AjvCompiler from '@fastify/ajv-compiler';
import type { FastifyInstance, FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import { errorBody, errors } from './errors.js';

/** What a request with more than one Host header is told; RFC 9112 requires a 400 for it. */
export const REPEATED_HOST = 'The request has more than one Host header';

/**
 * True when the header lines name Host more than once. Node keeps the first and drops the others,
 * so a proxy and the server behind it could each believe a different one.
 */
export function hasRepeatedHost(rawHeaders: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

/** Deepest nesting of arrays and objects a JSON body may have; real bodies are flat. */
export const MAX_JSON_DEPTH = 32;

// A code point of category Cs in a `u` regex is a surrogate without its other half.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The input rules every service shares: bodies are JSON only (415 otherwise), strictly UTF-8,
 * well-formed Unicode, finite numbers, at most MAX_JSON_DEPTH levels and no prototype keys, and
 * their types are never coerced (`123` is not the string "123"). Query, path and header values
 * are text, so their numbers are coerced, but only to finite ones.
 */
export function installInputRules(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (!hasRepeatedHost(request.raw.rawHeaders)) return done();
    void reply.header('connection', 'close').code(400).send(errorBody(400, REPEATED_HOST));
  });
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  const compilers = AjvCompiler();
  type Compile = (route: Parameters<FastifySchemaCompiler<unknown>>[0]) => Validate;
  const coercing = compilers({}, { customOptions: {} }) as unknown as Compile;
  const exact = compilers({}, { customOptions: { coerceTypes: false } }) as unknown as Compile;
  const compile: FastifySchemaCompiler<unknown> = (route) =>
    route.httpPart === 'body' ? exact(route) : finiteOnly(coercing(route));
  app.setValidatorCompiler(compile);
}

type Validate = ((data: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null };

/** `validate`, also failing when a value was coerced to a number JavaScript cannot hold (1e400 → Infinity). */
function finiteOnly(validate: Validate): Validate {
  const checked: Validate = (data) => {
    if (!validate(data)) {
      checked.errors = validate.errors ?? null;
      return false;
    }
    const where = nonFinite(data, '');
    if (where === undefined) {
      checked.errors = null;
      return true;
    }
    checked.errors = [
      { keyword: 'type', instancePath: where, schemaPath: '#', params: {}, message: 'must be a finite number' },
    ];
    return false;
  };
  return checked;
}

function nonFinite(value: unknown, path: string): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = nonFinite(item, `${path}/${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Parses a JSON request body under the rules above; a body that breaks one is a 400 saying which. */
export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) throw new errors.BadBody('is empty but its content type is application/json');
  if (!isUtf8(raw)) throw new errors.BadBody('is not valid UTF-8');
  // Checked on the bytes before parsing: a deep body must not reach recursive code anywhere.
  if (deeperThan(raw, MAX_JSON_DEPTH)) throw new errors.BadBody(`is nested deeper than ${MAX_JSON_DEPTH} levels`);
  let text = raw.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text, checkValue);
  } catch (err) {
    if (err instanceof errors.BadBody) throw err;
    throw new errors.BadBody('is not valid JSON');
  }
}

function checkValue(key: string, value: unknown): unknown {
  if (key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value && 'prototype' in value)) {
    throw new errors.BadBody(`must not use the key "${key}"`);
  }
  if (LONE_SURROGATE.test(key) || (typeof value === 'string' && LONE_SURROGATE.test(value))) {
    throw new errors.BadBody('holds text that is not valid Unicode (a lone surrogate)');
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new errors.BadBody('holds a number too large to represent');
  }
  return value;
}

/** Whether JSON text nests arrays and objects more than `limit` levels deep. */
function deeperThan(raw: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i];
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > limit) return true;
    } else if (byte === 0x5d || byte === 0x7d) depth--;
  }
  return false;
}
