// The LLM sidecar proxy: one host-side listener per sandbox that injects the real key and records every call.
export * from './config.js';
export * from './errors.js';
export * from './policy.js';
export * from './record.js';
export * from './usage.js';
export { LlmProxy, type LlmProxyOptions } from './proxy.js';
export { StreamRedactor } from './stream-redact.js';
