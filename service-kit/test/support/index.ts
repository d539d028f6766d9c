export * from './browser.js';
export * from './faults/index.js';
export * from './processes.js';
export * from './redis.js';
export * from './services.js';
export * from './stack.js';
export * from './tokens.js';
