export * from './processes.js';
export * from './redis.js';
export * from './services.js';
export * from './tokens.js';
