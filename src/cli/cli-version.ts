import { readFileSync } from 'node:fs';

/**
 * The CLI's version, from the package.json above this file: two levels up from src/cli/ (tsx) and dist/cli/
 * (tsc), or from a bundle's folder and its chunks/ folder (scripts/bundle-cli.ts).
 */
export function cliVersion(): string {
  for (const up of ['../../package.json', '../../../package.json', '../../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'aibox' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: try the next level
    }
  }
  return 'unknown';
}
