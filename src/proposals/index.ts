/**
 * Agent-proposed policy and learn mode: the human-in-the-loop side of egress policy. A sandbox proposes a
 * destination through its own endpoint; a person approves (the project's aibox/policy.yaml gains it) or rejects it
 * with a reason the agent reads back; the org/team ceiling rejects what no project may allow. Learn mode watches a
 * sandbox's egress for a while and proposes the project file that would allow what it used.
 */
export { proposalErrors } from './errors.js';
export * from './schema.js';
export { ProposalStore } from './store.js';
export { ProposalEndpoint, RateLimit, MAX_BODY_BYTES, type ProposalHandler } from './endpoint.js';
export { standingOf, type Standing } from './ceiling.js';
export { addDestination, editProjectPolicy, type Destination, type FileChange } from './project-file.js';
export {
  LearnRecorder,
  proposeProjectPolicy,
  MAX_LEARNED_HOSTS,
  type LearnedRequest,
  type ObservedDecision,
} from './learn.js';
export { unifiedDiff } from './diff.js';
