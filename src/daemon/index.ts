export { startDaemon, type RunningDaemon } from './server.js';
export { buildApp } from './app.js';
export type { DaemonServices } from './services/index.js';
