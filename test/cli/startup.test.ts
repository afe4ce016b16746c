import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN } from './run-cli.js';

// Records every module a process loads (after tsx's own hooks, which translate src/*.ts).
const TRACE = `data:text/javascript,${encodeURIComponent(`
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(process.env.TRACE_OUT, url + '\\\\n'); return next(url, context); }
\`));
`)}`;

function modulesLoadedBy(argv: string[]): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'aibox-startup-'));
  const out = path.join(dir, 'modules.txt');
  try {
    spawnSync(process.execPath, ['--import', 'tsx', '--import', TRACE, BIN, ...argv], {
      env: { PATH: process.env['PATH'], TRACE_OUT: out, AIBOX_SOCKET: path.join(dir, 'no-daemon.sock') },
      stdio: 'ignore',
      timeout: 60_000,
    });
    return readFileSync(out, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const HEAVY =
  /node_modules\/(zod|ws|fastify|@fastify|dockerode|pino|yaml|re2js|ssh2|execa|cli-progress)\/|\/src\/(rego|daemon|policy|runtime)\//;

describe('what an `aibox` start loads', () => {
  it.each([['version'], ['list'], ['exec', 'demo', '--', 'true'], ['--help']])(
    'aibox %s loads no heavy module and no other command',
    (...argv) => {
      const loaded = modulesLoadedBy(argv);
      expect(loaded.some((u) => u.includes('/src/cli/run.ts'))).toBe(true);
      expect(loaded.filter((u) => HEAVY.test(u))).toEqual([]);
      const commands = loaded.filter((u) => u.includes('/src/cli/commands/'));
      expect(commands.length).toBeLessThanOrEqual(1);
    },
    60_000,
  );
});
