import createError from '@fastify/error';

export const blogErrors = {
  StorageUnavailable: createError(
    'TI_ERR_STORAGE_UNAVAILABLE',
    'Posts cannot be changed right now: %s. Reading still works; try again later.',
    503,
  ),
  Forbidden: createError('TI_ERR_NOT_AUTHOR', 'Only the author of post %s can change it', 403),
  PostNotFound: createError('TI_ERR_POST_NOT_FOUND', 'Post %s not found', 404),
  Unauthorized: createError('TI_ERR_UNAUTHORIZED', '%s', 401),
};

/** SQLite result codes that mean the storage, not the request, is at fault, and what to tell the client. */
const STORAGE_FAULTS: [prefix: string, reason: string][] = [
  ['SQLITE_FULL', 'the disk is full'],
  ['SQLITE_READONLY', 'the database is read-only'],
  ['SQLITE_BUSY', 'the database is busy'],
  ['SQLITE_LOCKED', 'the database is busy'],
  ['SQLITE_IOERR', 'the disk reported an I/O error'],
  ['SQLITE_CANTOPEN', 'the database file cannot be opened'],
  ['SQLITE_CORRUPT', 'the database file is damaged'],
];

/** The client-facing reason when `err` is a storage fault, otherwise undefined. */
export function storageFault(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return undefined;
  return STORAGE_FAULTS.find(([prefix]) => code.startsWith(prefix))?.[1];
}
