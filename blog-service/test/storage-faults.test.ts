import { describe, expect, it } from 'vitest';
import { storageFault } from '../src/errors.js';

describe('storageFault', () => {
  it('names the storage faults a client is told about, including extended SQLite codes', () => {
    expect(storageFault({ code: 'SQLITE_FULL' })).toBe('the disk is full');
    expect(storageFault({ code: 'SQLITE_READONLY_DBMOVED' })).toBe('the database is read-only');
    expect(storageFault({ code: 'SQLITE_BUSY_SNAPSHOT' })).toBe('the database is busy');
    expect(storageFault({ code: 'SQLITE_IOERR_WRITE' })).toBe('the disk reported an I/O error');
  });

  it('leaves other errors alone, so they stay 500s with nothing shown', () => {
    expect(storageFault({ code: 'SQLITE_CONSTRAINT_NOTNULL' })).toBeUndefined();
    expect(storageFault(new Error('boom'))).toBeUndefined();
    expect(storageFault(undefined)).toBeUndefined();
  });
});
