import { readFileSync } from 'node:fs';

/** The CLI's version: package.json sits two levels up both from src/cli/ (tsx) and dist/cli/ (built). */
export function cliVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
