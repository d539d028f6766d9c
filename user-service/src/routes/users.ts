import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import type { UserCache } from '../cache.js';
import type { PublicUser, UserRow, UserStore } from '../db.js';
import { userErrors } from '../errors.js';
import { hashPassword, needsRehash, rejectAfterEqualWork, verifyPassword } from '../passwords.js';

export interface UserRoutesOptions {
  store: UserStore;
  cache: UserCache;
}

const USERNAME = { type: 'string', minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9_.-]+$' } as const;
const USERNAME_RULE = new RegExp(`^[A-Za-z0-9_.-]{${USERNAME.minLength},${USERNAME.maxLength}}$`);
const USER = {
  type: 'object',
  properties: { id: { type: 'integer' }, username: { type: 'string' }, email: { type: 'string' } },
  required: ['id', 'username', 'email'],
  additionalProperties: false,
} as const;

const REGISTRATION_RULES: Record<string, string> = {
  username: 'username must be 3 to 32 characters long, using only letters, digits, "_", "." and "-"',
  email: 'email must be a valid email address of at most 254 characters',
  password: 'password must be 8 to 128 characters long',
};
const CREDENTIAL_RULES: Record<string, string> = {
  username: 'username must be a string of 1 to 64 characters',
  password: 'password must be a string of 1 to 1024 characters',
};

/** Turns JSON-schema errors into one message that names the field and the rule it broke. */
function describeErrors(rules: Record<string, string>) {
  return (errors: FastifySchemaValidationError[], dataVar: string): Error => {
    const first = errors[0];
    if (!first) return new Error(`invalid request ${dataVar}`);
    const missing = first.keyword === 'required' ? String(first.params.missingProperty) : undefined;
    if (missing) return new Error(`${missing} is required`);
    const field = first.instancePath.split('/')[1];
    if (field === undefined) return new Error(`the request ${dataVar} must be a JSON object`);
    return new Error(rules[field] ?? `${field} ${first.message ?? 'is invalid'}`);
  };
}

const publicUser = ({ id, username, email }: UserRow | PublicUser): PublicUser => ({ id, username, email });

export async function userRoutes(app: FastifyInstance, { store, cache }: UserRoutesOptions): Promise<void> {
  app.post<{ Body: { username: string; email: string; password: string } }>(
    '/users',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            username: USERNAME,
            email: { type: 'string', format: 'email', maxLength: 254 },
            password: { type: 'string', minLength: 8, maxLength: 128 },
          },
          required: ['username', 'email', 'password'],
        },
        response: { 201: USER },
      },
      schemaErrorFormatter: describeErrors(REGISTRATION_RULES),
    },
    async (request, reply) => {
      const { username, email, password } = request.body;
      // Checked before hashing so a duplicate costs no hashing work; the UNIQUE index still decides races.
      if (store.findByUsername(username)) throw new userErrors.UserExists(username);
      const user = store.create(username, email, await hashPassword(password));
      cache.remember(user);
      return reply.code(201).send(user);
    },
  );

  app.get<{ Params: { username: string } }>(
    '/users/:username',
    {
      schema: { response: { 200: USER } },
    },
    async (request, reply) => {
      const { username } = request.params;
      // A name that breaks the registration rules belongs to no user: the lookup's answer is the
      // same 404 as for any unknown name, found without asking the cache or the database.
      if (!USERNAME_RULE.test(username)) throw new userErrors.UserNotFound(username);
      const cached = await cache.get(username);
      if (cached) return reply.header('x-cache', 'HIT').send(cached);
      const row = store.findByUsername(username);
      if (!row) throw new userErrors.UserNotFound(username);
      const user = publicUser(row);
      cache.remember(user);
      return reply.header('x-cache', 'MISS').send(user);
    },
  );

  app.post<{ Body: { username: string; password: string } }>(
    '/users/verify-credentials',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            username: { type: 'string', minLength: 1, maxLength: 64 },
            password: { type: 'string', minLength: 1, maxLength: 1024 },
          },
          required: ['username', 'password'],
        },
        response: { 200: USER },
      },
      schemaErrorFormatter: describeErrors(CREDENTIAL_RULES),
    },
    async (request) => {
      const { username, password } = request.body;
      const row = store.findByUsername(username);
      const valid = row ? await verifyPassword(password, row.password_hash) : await rejectAfterEqualWork(password);
      // A hash made with older parameters is replaced now that the password is known to be right.
      const rehash =
        row && valid && needsRehash(row.password_hash)
          ? { from: row.password_hash, to: await hashPassword(password) }
          : undefined;
      // Every outcome writes one row, so an unknown name still costs what a wrong password does.
      // The check is a read: when SQLite cannot take the event (or the new hash), the answer
      // stands and the loss is logged; the old hash keeps working and is replaced next time.
      try {
        store.recordLogin(row, valid, rehash);
      } catch (err) {
        if (!(err instanceof userErrors.DatabaseUnavailable)) throw err;
        request.log.warn({ err: err.message, success: valid, rehash: rehash !== undefined }, 'user.login not saved');
      }
      if (!row || !valid) throw new userErrors.InvalidCredentials();
      return publicUser(row);
    },
  );
}
