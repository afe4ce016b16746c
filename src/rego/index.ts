/**
 * aibox's Rego engine: a standalone TypeScript interpreter for Rego v1, and v0 with `regoVersion: 'v0'` (OPA's
 * --v0-compatible). Imports nothing else from aibox. See README.md for the pipeline.
 *
 *   const engine = new Engine();                        // all builtin families; options: limits, strict errors
 *   engine.addModule('authz.rego', source);            // throws RegoErrors (rego_parse_error) with locations
 *   engine.setData({ roles: {...} });                  // plain JSON (bigint for exact integers) or a Value
 *   const q = engine.prepare('data.authz.allow');      // compiles once (RegoErrors: compile/type/unsafe/recursion)
 *   q.evaluate({ user: 'alice' });                     // [{ expressions: [{ value: true, text, location }], bindings: {} }]
 *   q.evaluateValues(input)                            // same with exact Values (sets, big numbers)
 *
 * Explaining a decision: `engine.evalRule('data.aibox.egress.decision', input, { provenance: true })` returns the
 * value and `provenance`: the rules (file, row, col) whose bodies produced it, including the `default` rule when that
 * is what decided. `aibox policy explain` names the deciding rule from it.
 *
 * Limits: every evaluation is bounded (default 1 s and 1000 nested rule/function evaluations; `limits` option),
 * failing with eval_cancel_error / eval_limit_error instead of stalling the caller.
 *
 * opa eval: `evalQuery` (opa eval's JSON shape), `evalQueryJSON` (exact numbers); opa test: `runTestSuite`/`runTests`
 * (tester.ts) with `formatPretty`/`toOpaJson` (test-report.ts); `loadPaths` (opa's -d loading of .rego/.json/.yaml
 * files and directories).
 *
 * Network builtins (http.send, net.lookup_ip_addr) are known to the compiler so tests can mock them with `with`,
 * but every real call fails: policy is pure.
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
export { BuiltinRegistry, BuiltinError, defaultRegistry, opaRuntime, registerAll } from './builtins/index.js';
export type { BuiltinDef, BuiltinContext, ArgType } from './builtins/index.js';
export * as values from './value.js';
export type { Value } from './value.js';
export { evalQuery, evalQueryJSON } from './opa-api.js';
export type { EvalQueryOptions, EvalQueryOutput, OpaErrorJson } from './opa-api.js';
export { runTestSuite, runTests } from './tester.js';
export type { TestOptions, TestResult, TestReport, SubResult, CoverageReport } from './tester.js';
export { formatPretty, summarize, toOpaJson } from './test-report.js';
export type { TestSummary, OpaTestResultJson } from './test-report.js';
export { loadPaths, manifestRegoVersionOf } from './load.js';
export { parseModule } from './parser.js';
export type { ParseOptions, RegoVersion } from './parser.js';
export type { LoadedPolicy } from './load.js';
