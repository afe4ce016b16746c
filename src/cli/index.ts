// The `aibox` command line: one file per command in commands/, human output or one JSON object with --json.
export { runCli } from './run.js';
export { buildProgram } from './program.js';
export { CliContext } from './context.js';
export type { GlobalOptions } from './context.js';
export { EXIT } from './exit-codes.js';
export { processIo } from './io.js';
export type { CliIo } from './io.js';
