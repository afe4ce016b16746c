import { isIP } from 'node:net';
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

/**
 * Domains under which anyone can register a subdomain: a wildcard there is an open door (an attacker publishes
 * `exfil.github.io`). Not the whole public-suffix list, only the suffixes an agent is likely to be told about.
 */
const SHARED_SUFFIXES = new Set([
  'co.uk',
  'org.uk',
  'ac.uk',
  'com.au',
  'net.au',
  'co.jp',
  'com.br',
  'co.nz',
  'co.in',
  'github.io',
  'githubusercontent.com',
  'gitlab.io',
  'herokuapp.com',
  'vercel.app',
  'netlify.app',
  'pages.dev',
  'workers.dev',
  'appspot.com',
  'web.app',
  'firebaseapp.com',
  'cloudfront.net',
  'amazonaws.com',
  's3.amazonaws.com',
  'azurewebsites.net',
  'blob.core.windows.net',
  'ngrok.io',
  'ngrok-free.app',
  'trycloudflare.com',
  'repl.co',
  'glitch.me',
]);

/** Names that always mean "this machine": never a legitimate egress destination. */
const LOCAL_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export type HostPatternCheck = { ok: true; value: string } | { ok: false; reason: string };

/**
 * The one check of host patterns (`example.com`, `*.example.com`): run at policy load (so a bad value is refused
 * with its file and line) and by egress on what it renders. Normalises; the reason says why a value is refused.
 */
export function checkHostPattern(raw: string): HostPatternCheck {
  const value = raw.trim().toLowerCase().replace(/\.$/, '');
  if (value === '') return { ok: false, reason: 'empty host' };
  if (value === '*' || value === '*.*' || value === '**')
    return {
      ok: false,
      reason: 'a bare wildcard allows every destination; list the hosts the project needs',
    };
  const unbracketed = value.replace(/^\[(.*)\]$/, '$1');
  if (isIP(unbracketed) !== 0)
    return {
      ok: false,
      reason: 'IP literals are refused: they bypass the name allowlist and DNS; name the host instead',
    };
  const wildcard = value.startsWith('*.');
  const base = wildcard ? value.slice(2) : value;
  if (base.includes('*'))
    return { ok: false, reason: 'a wildcard is only allowed as the whole leftmost label (`*.example.com`)' };
  if (base.length > 253) return { ok: false, reason: 'host name longer than 253 characters' };
  const labels = base.split('.');
  const bad = labels.find((l) => !LABEL.test(l));
  if (bad !== undefined)
    return { ok: false, reason: `invalid label "${bad}" (letters, digits and "-" only)` };
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? ''))
    return {
      ok: false,
      reason: 'the top-level label is numeric: this looks like an IP address, name the host',
    };
  if (LOCAL_NAMES.has(base) || base.endsWith('.localhost'))
    return { ok: false, reason: 'localhost names point at the host itself; use a gateway endpoint instead' };
  if (wildcard && labels.length < 2)
    return {
      ok: false,
      reason: `"*.${base}" covers a whole top-level domain; list the hosts the project needs`,
    };
  if (wildcard && SHARED_SUFFIXES.has(base))
    return {
      ok: false,
      reason: `anyone can create a subdomain of ${base}, so "*.${base}" lets data out to anyone; list exact hosts`,
    };
  return { ok: true, value };
}

/** Why a domain pattern may not be allowed, or undefined when it may (see checkHostPattern). */
export function domainPatternProblem(pattern: string): string | undefined {
  const checked = checkHostPattern(pattern);
  if (!checked.ok) return checked.reason;
  return checked.value === pattern ? undefined : `write it as ${checked.value}`;
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
