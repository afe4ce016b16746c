/**
 * Writes docs/errors.md from every module's error catalogue (src/<module>/errors.ts). `--check` exits 1 when the
 * file is out of date; test/shared/errors-doc.test.ts runs that check so the catalogue and the docs never drift.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ErrorCatalogue } from '../src/shared/errors.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const ERRORS_DOC = path.join(ROOT, 'docs/errors.md');

export async function loadCatalogues(): Promise<{ module: string; catalogue: ErrorCatalogue }[]> {
  const modules = (await readdir(path.join(ROOT, 'src'))).filter((m) =>
    existsSync(path.join(ROOT, 'src', m, 'errors.ts')),
  );
  const result: { module: string; catalogue: ErrorCatalogue }[] = [];
  for (const module of modules.sort()) {
    const exports = (await import(pathToFileURL(path.join(ROOT, 'src', module, 'errors.ts')).href)) as Record<
      string,
      unknown
    >;
    for (const value of Object.values(exports)) {
      const catalogue = (value as { catalogue?: ErrorCatalogue } | null)?.catalogue;
      if (catalogue) result.push({ module, catalogue });
    }
  }
  return result;
}

export async function renderErrorsDoc(): Promise<string> {
  const lines = [
    '# Error codes',
    '',
    'Every error aibox shows has a stable code, the HTTP status the API answers with ("client": detected by the CLI',
    'itself), and a hint. Codes never change',
    'meaning once released. This file is generated from the catalogues in `src/<module>/errors.ts`',
    '(`npx tsx scripts/errors-doc.ts`); a test keeps it in sync.',
    '',
  ];
  for (const { module, catalogue } of await loadCatalogues()) {
    lines.push(`## ${module}`, '', '| code | status | hint |', '| --- | --- | --- |');
    for (const [code, spec] of Object.entries(catalogue)) {
      lines.push(
        `| \`${code}\` | ${spec.status === 0 ? 'client' : spec.status} | ${spec.hint.replace(/\|/g, '\\|')} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = await renderErrorsDoc();
  if (process.argv.includes('--check')) {
    const current = await readFile(ERRORS_DOC, 'utf8').catch(() => '');
    if (current !== text) {
      console.error('docs/errors.md is out of date: run `npx tsx scripts/errors-doc.ts`');
      process.exit(1);
    }
  } else {
    await writeFile(ERRORS_DOC, text);
    console.log(`wrote ${path.relative(ROOT, ERRORS_DOC)}`);
  }
}
