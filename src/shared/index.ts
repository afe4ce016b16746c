export * from './errors.js';
export * from './logger.js';
export * from './ids.js';
export * from './api/index.js';
export * from './version.js';
export * from './caller.js';
export * from './process-alive.js';
