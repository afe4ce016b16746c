import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ERRORS_DOC, loadCatalogues, renderErrorsDoc } from '../../scripts/errors-doc.js';

describe('the error catalogue', () => {
  it('uses each code once across all modules', async () => {
    const seen = new Map<string, string>();
    for (const { module, catalogue } of await loadCatalogues()) {
      for (const code of Object.keys(catalogue)) {
        expect(seen.get(code), `${code} is defined in ${seen.get(code)} and ${module}`).toBeUndefined();
        seen.set(code, module);
      }
    }
    expect(seen.size).toBeGreaterThan(20);
  });

  it('gives every code an UPPER_SNAKE name, a 4xx/5xx status (0: detected by the client) and a hint', async () => {
    for (const { catalogue } of await loadCatalogues()) {
      for (const [code, spec] of Object.entries(catalogue)) {
        expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
        if (spec.status !== 0) {
          expect(spec.status).toBeGreaterThanOrEqual(400);
          expect(spec.status).toBeLessThan(600);
        }
        expect(spec.hint.length, code).toBeGreaterThan(10);
      }
    }
  });

  it('is documented in docs/errors.md exactly as the code defines it', async () => {
    expect(await readFile(ERRORS_DOC, 'utf8')).toBe(await renderErrorsDoc());
  });
});
