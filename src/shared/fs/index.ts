export * from './atomic-write.js';
export * from './keyed-mutex.js';
export * from './read-json.js';
