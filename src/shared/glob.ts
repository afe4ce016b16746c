/**
 * Globs over `/`-separated names (refs, repository names, branch names). One meaning everywhere:
 * - a literal matches exactly itself (regex characters included);
 * - `*` matches any characters within one segment (never `/`), `?` one character within a segment;
 * - `**` as a whole segment matches zero or more whole segments: `release/**` matches `release`, `release/1.0` and
 *   `release/1.0/rc1`; `a/**` + `/b` matches `a/b` and `a/x/y/b`;
 * - a trailing `/` means everything beneath: `release/` is `release/**`.
 * `**` inside a segment (`rel**`) and empty segments are refused by `globProblem` at load time.
 */
export function globToRegExp(glob: string): RegExp {
  const pattern = glob.endsWith('/') ? `${glob}**` : glob;
  // `**/**` means what `**` means.
  const segments = pattern.split('/').filter((s, i, all) => !(s === '**' && all[i - 1] === '**'));
  let out = '';
  segments.forEach((seg, i) => {
    const first = i === 0;
    const last = i === segments.length - 1;
    if (seg === '**') {
      // Zero or more whole segments with their separators, so `a/**/b` also matches `a/b`.
      if (first) out += last ? '.*' : '(?:[^/]*/)*';
      else out += last ? '(?:/.*)?' : '(?:/[^/]*)*';
      return;
    }
    // A leading `**` already ends with its separator.
    if (!first && !(i === 1 && segments[0] === '**')) out += '/';
    out += segmentRegExp(seg);
  });
  return new RegExp(`^${out}$`);
}

function segmentRegExp(seg: string): string {
  let out = '';
  for (const c of seg) {
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\*?]/g, '\\$&');
  }
  return out;
}

export function globMatches(glob: string, name: string): boolean {
  return globToRegExp(glob).test(name);
}

/** Why a glob is refused (undefined: usable). Called where policies are loaded, so a typo fails closed. */
export function globProblem(glob: string): string | undefined {
  if (glob === '') return 'an empty pattern';
  const segments = (glob.endsWith('/') ? glob.slice(0, -1) : glob).split('/');
  if (segments.some((s) => s === '')) return `"${glob}" has an empty segment (leading or double "/")`;
  if (segments.some((s) => s.includes('**') && s !== '**')) {
    return `"${glob}": "**" must be a whole segment (write "a/**", not "a**")`;
  }
  return undefined;
}
