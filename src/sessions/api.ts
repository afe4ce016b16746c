import type { TokenStore } from '../tokens/index.js';
import type { SessionsConfig } from './config.js';
import type { SessionMetrics } from './metrics.js';
import type { SessionService } from './service.js';

/** The session API's parts, built once by the composition root: what its routes and the listener use. */
export interface SessionApi {
  sessions: SessionService;
  tokens: TokenStore;
  metrics: SessionMetrics;
  config: SessionsConfig;
  close(): Promise<void>;
}
