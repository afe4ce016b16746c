// The wire contract between aiboxd and its clients (CLI, session API users, dashboard).
// One file per resource; add one export line per resource. routes, names and light import no zod: the CLI's hot
// path imports them directly.
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
export * from './processes.js';
export * from './routes.js';
export * from './names.js';
export * from './light.js';
export * from './error-codes.js';
