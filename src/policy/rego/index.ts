/**
 * aibox's Rego engine: a standalone TypeScript interpreter for Rego v1.
 *
 *   const engine = new Engine();
 *   engine.addModule('authz.rego', source);
 *   engine.setData({ roles: {...} });
 *   const q = engine.prepare('data.authz.allow');
 *   q.evaluate({ user: 'alice' });   // [{ expressions: [{ value: true, text, location }], bindings: {} }]
 */
export { Engine, PreparedQuery } from './engine.js';
export type {
  EngineOptions,
  ResultSet,
  Result,
  RawResult,
  EvalCallOptions,
  RuleEvaluation,
} from './engine.js';
export { RegoError, RegoErrors } from './errors.js';
export type { RegoErrorCode, Location } from './errors.js';
export type { ProvenanceEntry, EvalLimits } from './eval.js';
export { BuiltinRegistry, BuiltinError, defaultRegistry, registerAll } from './builtins/index.js';
export type { BuiltinDef, BuiltinContext, ArgType } from './builtins/index.js';
export * as values from './value.js';
export type { Value } from './value.js';
export { evalQuery, evalQueryJSON, runTests } from './cli.js';
export type { EvalQueryOptions, EvalQueryOutput, OpaErrorJson, TestResult } from './cli.js';
export { loadPaths } from './load.js';
export type { LoadedPolicy } from './load.js';
