import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CLIENT = fileURLToPath(new URL('../../clients/python/', import.meta.url));

// The Python client's own unit tests (standard library unittest, an in-test HTTP server), so `npm test` runs them.
describe('the Python client', () => {
  it('passes python3 -m unittest', async () => {
    const { stderr } = await run('python3', ['-B', '-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'], {
      cwd: CLIENT,
      env: { ...process.env, PYTHONPATH: path.join(CLIENT, 'src'), PYTHONDONTWRITEBYTECODE: '1' },
      timeout: 120_000,
    });
    // unittest reports on stderr: "Ran N tests … OK"
    expect(stderr).toMatch(/Ran (\d+) tests/);
    expect(Number(/Ran (\d+) tests/.exec(stderr)?.[1])).toBeGreaterThanOrEqual(15);
    expect(stderr.trimEnd()).toMatch(/\nOK$/);
  });
});
