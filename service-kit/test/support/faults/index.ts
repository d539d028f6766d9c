// Fault injection for tests: components a test can kill, stop, freeze, resume and start again,
// and steady load that records every outcome while it does.
export * from './components.js';
// Disk faults (full, read-only) are exported here from './disk.js'.
export * from './load.js';
