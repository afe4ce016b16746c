import type { PayloadLogging } from './policy.js';
import type { TokenUsage } from './usage.js';

/** One LLM call as the audit log records it (kind `llm-call`). Payloads are already redacted. */
export interface LlmCallRecord {
  decisionId: string;
  sandboxId: string;
  sandboxName: string;
  provider: string;
  model: string | undefined;
  method: string;
  path: string;
  stream: boolean;
  /** forwarded: went upstream; refused: policy or placeholder check said no; failed: credential or upstream. */
  outcome: 'forwarded' | 'refused' | 'failed';
  rule?: string;
  reason?: string;
  status: number;
  startedAt: string;
  latencyMs: number;
  /** Time to the first response byte from upstream (streams: the first event). */
  ttfbMs?: number;
  usage?: TokenUsage;
  payloadLogging: PayloadLogging;
  request?: unknown;
  response?: unknown;
  truncated?: { request: boolean; response: boolean };
}

/** Where call records go: the daemon adapts this to the audit log. A failing sink is logged, never fatal to a call. */
export interface LlmCallSink {
  record(call: LlmCallRecord): void | Promise<void>;
}
