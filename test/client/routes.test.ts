import { describe, expect, it } from 'vitest';
import { loadCatalogues } from '../../scripts/errors-doc.js';
import { API_ERROR_CODES, API_ROUTES, routePath } from '../../src/shared/api/index.js';

describe('API routes', () => {
  it('fills :params percent-encoded, so a name never adds a path segment', () => {
    expect(routePath(API_ROUTES.sandboxes.one, { name: 'demo' })).toBe('/v1/sandboxes/demo');
    expect(routePath(API_ROUTES.sandboxes.logs, { name: '../version' })).toBe(
      '/v1/sandboxes/..%2Fversion/logs',
    );
    expect(routePath(API_ROUTES.packs.mcpOne, { name: 'a b', pack: 'x?y' })).toBe(
      '/v1/sandboxes/a%20b/mcp/x%3Fy',
    );
  });

  it('adds a query string without the undefined values', () => {
    expect(routePath(API_ROUTES.pushes.collection, {}, { state: 'pending', sandbox: undefined })).toBe(
      '/v1/pushes?state=pending',
    );
    expect(routePath(API_ROUTES.policy.show, {}, { sandbox: undefined })).toBe('/v1/policy');
    expect(routePath(API_ROUTES.tasks.one, { name: 't' }, { deleteBranch: true, force: false })).toBe(
      '/v1/tasks/t?deleteBranch=true&force=false',
    );
  });

  it('refuses a pattern whose params were not all given', () => {
    expect(() => routePath(API_ROUTES.sandboxes.one as string, {})).toThrow(/needs :name/);
  });

  it('names each route once, under /v1 but for the paths fixed by others (compat, metrics, dashboard)', () => {
    const all: string[] = Object.values(API_ROUTES).flatMap((group) => Object.values(group));
    const outside = new Set<string>([
      ...Object.values(API_ROUTES.compat),
      ...Object.values(API_ROUTES.dashboard),
      API_ROUTES.system.metrics,
    ]);
    for (const route of all.filter((r) => !outside.has(r))) expect(route).toMatch(/^\/v1\/[a-z0-9/:.-]+$/i);
    for (const route of outside) expect(route).not.toMatch(/^\/v1\//);
    expect(new Set(all).size).toBe(all.length);
  });
});

describe('the API error codes clients branch on', () => {
  it('are each defined in an error catalogue (so docs/errors.md documents them)', async () => {
    const defined = new Set((await loadCatalogues()).flatMap(({ catalogue }) => Object.keys(catalogue)));
    expect(API_ERROR_CODES.filter((code) => !defined.has(code))).toEqual([]);
  });
});
