/**
 * Matching and narrowing of the allowlist patterns the doors use. Pure functions, shared by every door so
 * "covered by" means the same thing at load (tighten-only checks) and at decision time.
 */

/**
 * Domain patterns, the one meaning used everywhere (policy decisions and explain, the egress resolver and
 * self-test, Squid's `.example.com`, a DNS zone): `example.com` is exactly that host; `*.example.com` is
 * example.com itself and every name below it. Case and a trailing dot do not matter.
 */
export function domainMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase().replace(/\.$/, '');
  if (p.startsWith('*.')) return h === p.slice(2) || h.endsWith(p.slice(1));
  return p === h;
}

/** True when everything `inner` matches is also matched by `outer`. */
export function domainCovers(outer: string, inner: string): boolean {
  const o = outer.toLowerCase();
  const i = inner.toLowerCase();
  if (o === i) return true;
  if (!o.startsWith('*.')) return false;
  if (i.startsWith('*.')) return i.slice(1).endsWith(o.slice(1));
  return domainMatches(o, i);
}

/** A domain pattern that is safe to allow: no bare `*`, no wildcard over a public suffix-like single label. */
export function domainPatternProblem(pattern: string): string | undefined {
  if (!/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(pattern)) {
    return 'not a host name or *.domain pattern';
  }
  if (pattern.startsWith('*.') && !pattern.slice(2).includes('.'))
    return 'a wildcard over a top-level domain';
  return undefined;
}

/** Name globs: `claude-*` (trailing star) or an exact name; `*` alone matches everything. */
export function globMatches(pattern: string, name: string): boolean {
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

export function globCovers(outer: string, inner: string): boolean {
  if (outer === inner) return true;
  if (!outer.endsWith('*')) return false;
  const prefix = outer.slice(0, -1);
  return inner.startsWith(prefix);
}

/** Path prefix match on normalised absolute paths: `/home/a` covers `/home/a` and `/home/a/b`, not `/home/ab`. */
export function pathCovers(outer: string, inner: string): boolean {
  if (outer === '/') return true;
  return inner === outer || inner.startsWith(`${outer}/`);
}

export function normalisePath(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  const parts: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return undefined;
    parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

/**
 * Intersection of two allowlists under a "covers" relation: what both allow. Keeps the narrower pattern of each
 * overlapping pair (for exact names and trailing wildcards that is always one of the two).
 */
export function intersect<T>(a: readonly T[], b: readonly T[], covers: (outer: T, inner: T) => boolean): T[] {
  const out: T[] = [];
  for (const x of a) if (b.some((y) => covers(y, x))) out.push(x);
  for (const y of b) if (a.some((x) => covers(x, y)) && !out.some((z) => covers(z, y))) out.push(y);
  return out.filter((x, i) => !out.some((y, j) => j !== i && covers(y, x) && !(covers(x, y) && j > i)));
}
