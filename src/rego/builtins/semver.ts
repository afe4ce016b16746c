/** semver.is_valid and semver.compare: strict SemVer 2.0.0 (no leading zeros, no "v" prefix). */
import type { BuiltinRegistry } from './registry.js';
import { BuiltinError } from './registry.js';

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

interface Version {
  readonly core: readonly bigint[];
  readonly pre: readonly string[];
}

function parse(s: string): Version | undefined {
  const m = SEMVER.exec(s);
  if (!m) return undefined;
  return { core: [BigInt(m[1]!), BigInt(m[2]!), BigInt(m[3]!)], pre: m[4] ? m[4].split('.') : [] };
}

/** SemVer precedence (build metadata ignored). */
export function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a.core[i] !== b.core[i]) return a.core[i]! < b.core[i]! ? -1 : 1;
  if (a.pre.length === 0 || b.pre.length === 0)
    return a.pre.length === b.pre.length ? 0 : a.pre.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i]!;
    const y = b.pre[i]!;
    if (x === y) continue;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) return BigInt(x) < BigInt(y) ? -1 : 1;
    if (xn !== yn) return xn ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.pre.length === b.pre.length ? 0 : a.pre.length < b.pre.length ? -1 : 1;
}

export function register(r: BuiltinRegistry): void {
  r.register({
    name: 'semver.is_valid',
    args: ['any'],
    result: 'boolean',
    checkTypes: false,
    impl: (a) => typeof a[0] === 'string' && parse(a[0]) !== undefined,
  });
  r.register({
    name: 'semver.compare',
    args: ['string', 'string'],
    result: 'number',
    impl: (a) => {
      const v = [a[0] as string, a[1] as string].map((s, i) => {
        const p = parse(s);
        if (!p) throw new BuiltinError(`operand ${i + 1}: string ${JSON.stringify(s)} is not a valid SemVer`);
        return p;
      });
      return compareVersions(v[0]!, v[1]!);
    },
  });
}
