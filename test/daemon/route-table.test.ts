/**
 * One route table: every path in API_ROUTES (src/shared/api/routes.ts) is served by the real daemon (the composition
 * root over the fake runtime), and the daemon serves no /v1 path that the table does not name — so the client, the
 * SDK and the daemon cannot drift apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../src/shared/api/routes.js';
import { SESSION_ROUTES, TOKEN_ROUTES } from '../../src/shared/index.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

/**
 * Paths in the table that the unit-test daemon may not serve (yet), each with why. Remove a line once the daemon
 * registers it: the test then holds it to the table like every other route.
 */
const MAY_BE_ABSENT: Record<string, string> = Object.fromEntries(
  // The dashboard is installed only with the network listener enabled and the web build present (test/web).
  Object.values(API_ROUTES.dashboard).map((p) => [p, 'dashboard: network listener only']),
);

/** Every full path in `app.printRoutes({ commonPrefix: false })`'s tree (one node per line, 4 columns a level). */
export function servedPaths(tree: string): Set<string> {
  const paths = new Set<string>();
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = [...m[1]!].length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    if (m[3]) paths.add(stack.join(''));
  }
  return paths;
}

function tablePaths(): string[] {
  return Object.values(API_ROUTES).flatMap((group) => Object.values(group) as string[]);
}

describe('the route table', () => {
  let d: TestDaemon;
  let served: Set<string>;
  beforeAll(async () => {
    d = await startTestDaemon();
    await d.daemon.app.ready();
    served = servedPaths(d.daemon.app.printRoutes({ commonPrefix: false }));
  });
  afterAll(async () => d?.close());

  it('reads the served paths from the route tree', () => {
    expect(servedPaths('├── /v1/a (GET)\n│   └── /:n (GET, HEAD)\n│       └── /x (POST)\n└── /b')).toEqual(
      new Set(['/v1/a', '/v1/a/:n', '/v1/a/:n/x']),
    );
    expect(served.has(API_ROUTES.sandboxes.collection)).toBe(true);
  });

  it('names every path once', () => {
    const all = tablePaths();
    const twice = all.filter((p, i) => all.indexOf(p) !== i);
    expect(twice).toEqual([]);
  });

  it('is served by the daemon, every path of it', () => {
    const missing = tablePaths().filter((p) => !served.has(p) && !(p in MAY_BE_ABSENT));
    expect(missing).toEqual([]);
  });

  it('names every /v1 path the daemon serves', () => {
    const table = new Set(tablePaths());
    const unnamed = [...served].filter((p) => p.startsWith('/v1/') && !table.has(p));
    expect(unnamed).toEqual([]);
  });

  it('is where the session and token route lists come from', () => {
    const table = new Set(tablePaths());
    for (const p of [...Object.values(SESSION_ROUTES), ...Object.values(TOKEN_ROUTES)]) {
      expect(table.has(p), p).toBe(true);
    }
  });
});
