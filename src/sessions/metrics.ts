import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The session API's Prometheus metrics, in a registry of their own (one per daemon, no global default). */
export function createSessionMetrics(poolSize: () => number = () => 0) {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    active: new Gauge({ name: 'aibox_sessions_active', help: 'Sessions open now', registers }),
    created: new Counter({
      name: 'aibox_sessions_created_total',
      help: 'Sessions created, by whether a warm-pool sandbox was claimed',
      labelNames: ['warm'] as const,
      registers,
    }),
    expired: new Counter({
      name: 'aibox_sessions_expired_total',
      help: 'Sessions removed by a TTL, by which one',
      labelNames: ['reason'] as const,
      registers,
    }),
    execs: new Counter({
      name: 'aibox_session_execs_total',
      help: 'Commands run in sessions, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
    execSeconds: new Histogram({
      name: 'aibox_session_exec_seconds',
      help: 'Buffered exec latency in sessions (request to answer)',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    refused: new Counter({
      name: 'aibox_session_refusals_total',
      help: 'Requests refused for quota or rate limits, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    pool: new Gauge({
      name: 'aibox_warm_pool_ready',
      help: 'Warm-pool sandboxes ready to be claimed',
      registers,
      collect() {
        this.set(poolSize());
      },
    }),
  };
}
export type SessionMetrics = ReturnType<typeof createSessionMetrics>;
