// Fault injection for tests: components a test can kill, stop, freeze, resume and start again,
// disks that fill up or turn read-only, a process holding SQLite's write lock, and steady load that
// records every outcome while it does.
export * from './components.js';
export * from './disk.js';
export * from './load.js';
export * from './sqlite-locks.js';
