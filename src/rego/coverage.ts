/**
 * Coverage in `opa test --coverage`'s report shape (OPA's cover.Report: files -> covered / not_covered row ranges,
 * line counts, percentage).
 *
 * OPA's tracer marks each expression it evaluates and each rule head it exits. This engine records the rules whose
 * body produced a value (evaluation provenance), so coverage here is rule-level: such a rule's head and every
 * expression line of its body count as covered; every other rule head and expression line does not. A rule whose
 * body failed half-way counts as not covered at all, where OPA would mark the expressions before the failure.
 */
import type { Expr, Module, Rule } from './ast.js';

/** File -> `row:col` of rules that produced a value. */
export type CoveredRules = Map<string, Set<string>>;

export interface CoverageRange {
  start: { row: number };
  end: { row: number };
}

export interface FileCoverage {
  covered?: CoverageRange[];
  not_covered?: CoverageRange[];
  covered_lines?: number;
  not_covered_lines?: number;
  coverage?: number;
}

export interface CoverageReport {
  files: Record<string, FileCoverage>;
  covered_lines: number;
  not_covered_lines: number;
  coverage: number;
}

function exprRows(body: readonly Expr[], rows: Set<number>): void {
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const x of node) walk(x);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o.type === 'scalar') return;
    if (typeof o.kind === 'string' && typeof o.negated === 'boolean' && o.kind !== 'some') {
      const loc = o.loc as { row: number } | undefined;
      if (loc) rows.add(loc.row);
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'loc') walk(v);
  };
  walk(body);
}

function ranges(rows: Iterable<number>): CoverageRange[] {
  const sorted = [...new Set(rows)].sort((a, b) => a - b);
  const out: CoverageRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r === last.end.row + 1) last.end = { row: r };
    else out.push({ start: { row: r }, end: { row: r } });
  }
  return out;
}

const count = (rs: readonly CoverageRange[]): number =>
  rs.reduce((n, r) => n + r.end.row - r.start.row + 1, 0);

export function coverageReport(modules: readonly Module[], covered: CoveredRules): CoverageReport {
  const files: Record<string, FileCoverage> = {};
  let coveredLoc = 0;
  let notCoveredLoc = 0;
  for (const m of modules) {
    const hit = covered.get(m.file);
    const yes = new Set<number>();
    const no = new Set<number>();
    const visit = (r: Rule): void => {
      const isHit = hit?.has(`${r.loc.row}:${r.loc.col}`) === true;
      const rows = new Set<number>([r.head.loc.row]);
      exprRows(r.body, rows);
      for (const row of rows) (isHit ? yes : no).add(row);
      if (r.else) visit(r.else);
    };
    for (const r of m.rules) visit(r);
    for (const row of yes) no.delete(row);
    const fc: FileCoverage = {};
    const c = ranges(yes);
    const n = ranges(no);
    if (c.length) fc.covered = c;
    if (n.length) fc.not_covered = n;
    const cl = count(c);
    const nl = count(n);
    if (cl) fc.covered_lines = cl;
    if (nl) fc.not_covered_lines = nl;
    if (cl + nl && cl) fc.coverage = (100 * cl) / (cl + nl);
    files[m.file] = fc;
    coveredLoc += cl;
    notCoveredLoc += nl;
  }
  const total = coveredLoc + notCoveredLoc;
  return {
    files,
    covered_lines: coveredLoc,
    not_covered_lines: notCoveredLoc,
    coverage: total ? (100 * coveredLoc) / total : 0,
  };
}
