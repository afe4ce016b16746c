import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { evalQuery, evalQueryJSON } from '../../rego/index.js';
import type { EvalQueryOutput, OpaErrorJson } from '../../rego/index.js';
import type { CliContext } from '../context.js';
import { cliErrors } from '../errors.js';
import { EXIT } from '../exit-codes.js';

interface EvalOptions {
  data: string[];
  input?: string;
  format: 'json' | 'pretty';
  strictBuiltinErrors?: boolean;
  v0Compatible?: boolean;
  fail?: boolean;
  failDefined?: boolean;
}

/** `aibox policy eval`: offline, like `opa eval` (no daemon), on the project's own Rego engine. */
export async function policyEval(ctx: CliContext, query: string, opts: EvalOptions): Promise<void> {
  await requireReadable(opts.data);
  const evalOpts = {
    query,
    dataPaths: opts.data,
    strictBuiltinErrors: opts.strictBuiltinErrors === true,
    v0Compatible: opts.v0Compatible === true,
    ...(opts.input === undefined ? {} : { input: await readInput(opts.input) }),
  };
  const output: EvalQueryOutput = evalQuery(evalOpts);
  const defined = (output.result?.length ?? 0) > 0;
  if (output.errors?.length) ctx.exitCode = EXIT.failed;
  else if ((opts.fail && !defined) || (opts.failDefined && defined)) ctx.exitCode = EXIT.failed;
  if (ctx.json || opts.format === 'json') {
    // The exact-number rendering (big integers, long decimals keep every digit).
    ctx.io.stdout.write(`${evalQueryJSON(evalOpts)}\n`);
    return;
  }
  if (output.errors?.length) {
    ctx.io.stderr.write(renderErrors(output.errors));
    return;
  }
  ctx.out(renderPretty(output));
}

function renderPretty(output: EvalQueryOutput): string {
  const rows = output.result ?? [];
  if (rows.length === 0) return 'undefined';
  const only = rows.length === 1 ? rows[0] : undefined;
  if (only && !only.bindings && only.expressions.length === 1)
    return JSON.stringify(only.expressions[0]?.value, null, 2);
  return rows
    .map((row, i) => {
      const lines = [`# result ${i + 1}`];
      for (const [name, value] of Object.entries(row.bindings ?? {}))
        lines.push(`${name} = ${JSON.stringify(value)}`);
      for (const e of row.expressions) lines.push(`${e.text} => ${JSON.stringify(e.value)}`);
      return lines.join('\n');
    })
    .join('\n');
}

/** Errors the way opa prints them: `N error(s) occurred:` then `file:row: code: message`. */
export function renderErrors(errors: readonly OpaErrorJson[]): string {
  const head = `${errors.length} error${errors.length === 1 ? '' : 's'} occurred:\n`;
  return (
    head +
    errors
      .map((e) => {
        const where = e.location ? `${e.location.file}:${e.location.row}:${e.location.col}: ` : '';
        return `${where}${e.code}: ${e.message}\n`;
      })
      .join('')
  );
}

async function requireReadable(paths: readonly string[]): Promise<void> {
  for (const p of paths) {
    if (!(await stat(p).catch(() => undefined)))
      throw cliErrors.create('POLICY_FILE_UNREADABLE', `no such file or directory: ${p}`, { path: p });
  }
}

async function readInput(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw cliErrors.create('POLICY_FILE_UNREADABLE', `cannot read the input file ${file}`, { path: file });
  });
  try {
    return /\.ya?ml$/i.test(file) ? (parseYaml(text) as unknown) : (JSON.parse(text) as unknown);
  } catch (err) {
    throw cliErrors.create(
      'POLICY_INPUT_INVALID',
      `${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}`,
      {
        path: file,
        reason: err instanceof Error ? err.message : String(err),
      },
    );
  }
}
