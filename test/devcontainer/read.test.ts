import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEVCONTAINER_MAX_BYTES, readDevcontainer } from '../../src/devcontainer/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'devc-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'no error';
}

describe('reading devcontainer.json from a hostile workspace', () => {
  it('reads .devcontainer/devcontainer.json, else .devcontainer.json, else nothing', async () => {
    expect(await readDevcontainer(dir)).toBeUndefined();
    await writeFile(path.join(dir, '.devcontainer.json'), '{"name":"b"}');
    expect(await readDevcontainer(dir)).toEqual({ file: '.devcontainer.json', text: '{"name":"b"}' });
    await mkdir(path.join(dir, '.devcontainer'));
    await writeFile(path.join(dir, '.devcontainer', 'devcontainer.json'), '{"name":"a"}');
    expect((await readDevcontainer(dir))?.file).toBe('.devcontainer/devcontainer.json');
  });

  it('refuses a link at the file or at .devcontainer/, never reading its target', async () => {
    const secret = path.join(dir, 'secret');
    await writeFile(secret, '{"name":"host secret"}');
    await symlink(secret, path.join(dir, '.devcontainer.json'));
    expect(await codeOf(readDevcontainer(dir))).toBe('DEVCONTAINER_UNSAFE');
    await rm(path.join(dir, '.devcontainer.json'));
    await mkdir(path.join(dir, 'elsewhere'));
    await writeFile(path.join(dir, 'elsewhere', 'devcontainer.json'), '{}');
    await symlink(path.join(dir, 'elsewhere'), path.join(dir, '.devcontainer'));
    expect(await codeOf(readDevcontainer(dir))).toBe('DEVCONTAINER_UNSAFE');
  });

  it('refuses a FIFO without blocking, and a file over the size cap', async () => {
    execFileSync('mkfifo', [path.join(dir, '.devcontainer.json')]);
    expect(await codeOf(readDevcontainer(dir))).toBe('DEVCONTAINER_UNSAFE');
    await rm(path.join(dir, '.devcontainer.json'));
    await writeFile(path.join(dir, '.devcontainer.json'), ' '.repeat(DEVCONTAINER_MAX_BYTES + 1));
    expect(await codeOf(readDevcontainer(dir))).toBe('DEVCONTAINER_UNSAFE');
  });
});
