// The wire contract between aiboxd and its clients (CLI, session API users, dashboard).
// One file per resource; add one export line per resource.
export * from './errors.js';
export * from './sandboxes.js';
export * from './system.js';
export * from './policy.js';
export * from './audit.js';
export * from './pushes.js';
export * from './tasks.js';
export * from './secrets.js';
export * from './ssh-keys.js';
export * from './egress.js';
export * from './packs.js';
export * from './sessions.js';
export * from './tokens.js';
