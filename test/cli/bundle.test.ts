import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printedError } from './run-cli.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Under the repository (packages resolve from its node_modules), in dist/ (ignored by git).
const OUT = `dist/test-bundle-${process.pid}/bin`;

function run(...argv: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, OUT, 'aibox.js'), ...argv], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], AIBOX_SOCKET: path.join(ROOT, OUT, 'no-daemon.sock') },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the bundled CLI (scripts/bundle-cli.ts)', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/bundle-cli.ts', OUT], { cwd: ROOT });
  }, 60_000);
  afterAll(() => rmSync(path.join(ROOT, path.dirname(OUT)), { recursive: true, force: true }));

  it('runs commands from its entry file and from its lazily loaded chunks', () => {
    const version = run('version');
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^aibox {3}\d+\.\d+\.\d+\naiboxd {2}not reachable: /);
    expect(run('--help').stdout).toContain('Usage: aibox [options] [command]');
    expect(run('completion', 'bash').stdout).toContain('complete -F _aibox aibox');
  });

  it('reports an unreachable daemon the same way on the exec path and on a zod-validated path (exit 3)', () => {
    for (const argv of [['exec', 'demo', '--', 'true'], ['list'], ['push', 'status']]) {
      const r = run(...argv);
      expect(r.code, argv.join(' ')).toBe(3);
      expect(printedError(r.stderr)).toMatchObject({ code: 'DAEMON_NOT_RUNNING', hasStack: false });
    }
  });

  it('runs the offline policy tools (packages loaded from node_modules by a chunk)', () => {
    const r = run('policy', 'eval', '--format', 'pretty', '1 + 1');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('2');
  });
});
