import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoFingerprint } from '../../src/policy/watcher.js';

describe('the policy repo fingerprint (what hot reload compares)', () => {
  let repo: string;
  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-fp-'));
    await mkdir(path.join(repo, 'org'));
    await mkdir(path.join(repo, '.git'));
    await writeFile(path.join(repo, 'org', 'egress.rego'), 'package aibox.org.egress\n');
  });
  afterAll(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  const fp = async () => (await repoFingerprint(repo)).fingerprint;

  it('changes when a bundle .manifest changes (its rego_version decides how a layer is parsed)', async () => {
    const before = await fp();
    await writeFile(path.join(repo, 'org', '.manifest'), '{"rego_version": 0}\n');
    const withManifest = await fp();
    expect(withManifest).not.toBe(before);
    await writeFile(path.join(repo, 'org', '.manifest'), '{"rego_version": 1}\n');
    expect(await fp()).not.toBe(withManifest);
  });

  it('ignores other dot-entries such as .git', async () => {
    const before = await fp();
    await writeFile(path.join(repo, '.git', 'index'), 'x');
    await writeFile(path.join(repo, 'org', '.swp'), 'x');
    expect(await fp()).toBe(before);
  });
});
