/**
 * Containment of egress method/path rules (`allow_http`, `network.http`), for the tighten-only check at load: a
 * lower layer's rule must allow nothing (method × path on a host) that a higher layer's rules for the same hosts do
 * not. Path globs are compared as the languages they match (the same meaning as pathGlobRegex in
 * doors/egress.ts, query string included): a small NFA per glob and a subset construction over both sides, so
 * `**`, `*` inside a segment and a trailing `/**` are exact, not approximated.
 */

/** Methods a rule without `methods` allows besides the listed ones (TRACE, PROPFIND, …): one stand-in symbol. */
const OTHER_METHOD = '(any other method)';
/** Beyond this many product states the comparison gives up and answers "not contained" (fail closed). */
const MAX_STATES = 20_000;

type Edge = { kind: 'lit'; c: string } | { kind: 'seg' } | { kind: 'any' };

interface Nfa {
  edges: { on: Edge; to: number }[][];
  eps: number[][];
  accept: Set<number>;
  start: number;
}

/** A rule as containment reads it: absent methods = every method; absent paths = every path. */
export interface HttpScope {
  methods?: readonly string[] | undefined;
  paths?: readonly string[] | undefined;
}

/** Why `inner` allows something none of `outers` does (method and an example path), or undefined if contained. */
export function httpScopeExcess(
  inner: HttpScope,
  outers: readonly HttpScope[],
  allMethods: readonly string[],
): { method: string; path: string } | undefined {
  const methods = inner.methods ?? [...allMethods, OTHER_METHOD];
  for (const method of methods) {
    const allowing = outers.filter((o) => o.methods === undefined || o.methods.includes(method));
    const outerGlobs = allowing.flatMap((o) => o.paths ?? ['/**']);
    for (const glob of inner.paths ?? ['/**']) {
      const example = globExcess(glob, outerGlobs);
      if (example !== undefined) return { method, path: example };
    }
  }
  return undefined;
}

/** True when every path `inner` matches is matched by one of `outers`. */
export function globContained(inner: string, outers: readonly string[]): boolean {
  return globExcess(inner, outers) === undefined;
}

/**
 * A path `inner` matches and none of `outers` does (the shortest found), or undefined when there is none. When
 * the comparison is too large to finish, the glob itself is returned (treated as not contained).
 */
export function globExcess(inner: string, outers: readonly string[]): string | undefined {
  const a = buildNfa(inner);
  const bs = outers.map(buildNfa);
  // The alphabet: every literal of either side, `/`, `?`, and one character standing for all the others.
  const literals = new Set<string>(['/', '?']);
  for (const g of [inner, ...outers]) for (const c of g) if (c !== '*') literals.add(c);
  const other = [...'xzq0123456789'].find((c) => !literals.has(c)) ?? '\u0001';
  const alphabet = [...literals, other];

  // Union of the outer NFAs: states numbered per NFA with an offset.
  const offsets: number[] = [];
  let total = 0;
  for (const b of bs) {
    offsets.push(total);
    total += b.edges.length;
  }
  const bStart = closure(
    bs.flatMap((b, i) => [b.start + offsets[i]!]),
    (s) => unionEps(bs, offsets, s),
  );
  const aStart = closure([a.start], (s) => a.eps[s] ?? []);
  const key = (x: number[], y: number[]) => `${x.join(',')}|${y.join(',')}`;
  const seen = new Set<string>([key(aStart, bStart)]);
  const queue: { a: number[]; b: number[]; path: string }[] = [{ a: aStart, b: bStart, path: '' }];
  while (queue.length > 0) {
    const cur = queue.shift()!;
    const aAccepts = cur.a.some((s) => a.accept.has(s));
    const bAccepts = cur.b.some((s) => unionAccepts(bs, offsets, s));
    // A request always has a path (at least `/`): the empty one is no example.
    if (aAccepts && !bAccepts && cur.path !== '') return cur.path;
    for (const c of alphabet) {
      const na = closure(
        step(cur.a, c, (s) => a.edges[s] ?? []),
        (s) => a.eps[s] ?? [],
      );
      if (na.length === 0) continue;
      const nb = closure(
        step(cur.b, c, (s) => unionEdges(bs, offsets, s)),
        (s) => unionEps(bs, offsets, s),
      );
      const k = key(na, nb);
      if (seen.has(k)) continue;
      if (seen.size >= MAX_STATES) return inner;
      seen.add(k);
      queue.push({ a: na, b: nb, path: cur.path + c });
    }
  }
  return undefined;
}

/** Does `glob` match `path` (the NFA; kept for tests that cross-check it against pathGlobRegex). */
export function nfaMatches(glob: string, path: string): boolean {
  const n = buildNfa(glob);
  let cur = closure([n.start], (s) => n.eps[s] ?? []);
  for (const c of path) {
    cur = closure(
      step(cur, c, (s) => n.edges[s] ?? []),
      (s) => n.eps[s] ?? [],
    );
    if (cur.length === 0) return false;
  }
  return cur.some((s) => n.accept.has(s));
}

/**
 * The NFA of a glob as pathGlobRegex reads it: a literal is itself, `*` any run without `/` or `?`, `**` any run,
 * a trailing `/**` also matches the path without it, and any `?query` may follow.
 */
function buildNfa(glob: string): Nfa {
  const edges: { on: Edge; to: number }[][] = [[]];
  const eps: number[][] = [[]];
  const add = () => {
    edges.push([]);
    eps.push([]);
    return edges.length - 1;
  };
  let cur = 0;
  const trailing = glob.endsWith('/**') && !glob.endsWith('***');
  const body = trailing ? glob.slice(0, -3) : glob;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '*' && body[i + 1] === '*') {
      edges[cur]!.push({ on: { kind: 'any' }, to: cur });
      i++;
    } else if (c === '*') {
      edges[cur]!.push({ on: { kind: 'seg' }, to: cur });
    } else {
      // A fresh state per literal, so a loop on the state before it does not repeat the literal.
      const next = add();
      edges[cur]!.push({ on: { kind: 'lit', c }, to: next });
      cur = next;
    }
  }
  if (trailing) {
    const slash = add();
    const end = add();
    edges[cur]!.push({ on: { kind: 'lit', c: '/' }, to: slash });
    edges[slash]!.push({ on: { kind: 'any' }, to: slash });
    eps[cur]!.push(end);
    eps[slash]!.push(end);
    cur = end;
  }
  // A loop on a state reached by another loop's state must not merge them: each loop state above is the state
  // entered by the preceding literal (or the start), and `***` is refused by pathGlobProblem.
  const query = add();
  edges[cur]!.push({ on: { kind: 'lit', c: '?' }, to: query });
  edges[query]!.push({ on: { kind: 'any' }, to: query });
  return { edges, eps, accept: new Set([cur, query]), start: 0 };
}

function accepts(on: Edge, c: string): boolean {
  if (on.kind === 'any') return true;
  if (on.kind === 'seg') return c !== '/' && c !== '?';
  return on.c === c;
}

function step(states: number[], c: string, edgesOf: (s: number) => { on: Edge; to: number }[]): number[] {
  const out = new Set<number>();
  for (const s of states) for (const e of edgesOf(s)) if (accepts(e.on, c)) out.add(e.to);
  return [...out];
}

function closure(states: number[], epsOf: (s: number) => number[]): number[] {
  const out = new Set(states);
  const stack = [...states];
  while (stack.length > 0)
    for (const t of epsOf(stack.pop()!))
      if (!out.has(t)) {
        out.add(t);
        stack.push(t);
      }
  return [...out].sort((x, y) => x - y);
}

function locate(offsets: number[], s: number): number {
  let i = offsets.length - 1;
  while (i > 0 && offsets[i]! > s) i--;
  return i;
}

function unionEdges(bs: Nfa[], offsets: number[], s: number): { on: Edge; to: number }[] {
  const i = locate(offsets, s);
  return (bs[i]!.edges[s - offsets[i]!] ?? []).map((e) => ({ on: e.on, to: e.to + offsets[i]! }));
}

function unionEps(bs: Nfa[], offsets: number[], s: number): number[] {
  const i = locate(offsets, s);
  return (bs[i]!.eps[s - offsets[i]!] ?? []).map((t) => t + offsets[i]!);
}

function unionAccepts(bs: Nfa[], offsets: number[], s: number): boolean {
  const i = locate(offsets, s);
  return bs[i]!.accept.has(s - offsets[i]!);
}
