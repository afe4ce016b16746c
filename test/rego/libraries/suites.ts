/**
 * The vendored Rego libraries and how their own CI runs them: OPA's library as one `opa test --verbose` run over
 * the whole tree, gatekeeper-library one `opa test <folder>/*.rego` per policy folder (test.sh). Both are Rego v0.
 */
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPaths, runTests } from '../../../src/rego/index.js';
import type { TestResult } from '../../../src/rego/index.js';

export const LIBRARIES_DIR = dirname(fileURLToPath(import.meta.url));

export interface LibrarySuite {
  /** `library:folder`, the prefix of its test ids. */
  id: string;
  paths: string[];
  v0Compatible: boolean;
}

export function librarySuites(root = LIBRARIES_DIR): LibrarySuite[] {
  const suites: LibrarySuite[] = [
    { id: 'opa-library:.', paths: [join(root, 'opa-library')], v0Compatible: true },
  ];
  const g = join(root, 'gatekeeper-library', 'src');
  for (const group of readdirSync(g).sort())
    for (const policy of readdirSync(join(g, group)).sort()) {
      const dir = join(g, group, policy);
      suites.push({
        id: `gatekeeper-library:${relative(join(root, 'gatekeeper-library'), dir)}`,
        paths: readdirSync(dir)
          .filter((f) => f.endsWith('.rego'))
          .sort()
          .map((f) => join(dir, f)),
        v0Compatible: true,
      });
    }
  return suites;
}

export interface SuiteOutcome {
  /** `library:folder data.pkg.test_name` -> result. */
  results: Map<string, TestResult>;
  /** Suites that did not load or compile, with the error. */
  broken: Map<string, string>;
}

/** Run every suite; a test id is `<suite id> <package>.<name>` (a partial-object case adds `[case]`). */
export function runLibrarySuites(suites = librarySuites()): SuiteOutcome {
  const results = new Map<string, TestResult>();
  const broken = new Map<string, string>();
  for (const s of suites) {
    let rs: TestResult[];
    try {
      rs = runTests(loadPaths(s.paths), { v0Compatible: s.v0Compatible });
    } catch (e) {
      broken.set(s.id, e instanceof Error ? e.message : String(e));
      continue;
    }
    for (const r of rs) {
      if (r.result === 'skip') continue;
      const id = `${s.id} ${r.package}.${r.name}`;
      if (r.subResults?.length)
        for (const sr of r.subResults)
          results.set(`${id}[${sr.name}]`, { ...r, result: sr.fail ? 'fail' : 'pass' });
      else results.set(id, r);
    }
  }
  return { results, broken };
}
