import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxLimits } from '../../src/runtime/limits.js';
import { loadProfile } from '../../src/config/index.js';

/** A cgroup v1 tree made of plain files: what SandboxLimits writes is read back. */
async function fakeCgroups(withBurst: boolean): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'aibox-cgroups-'));
  for (const c of ['pids', 'memory', 'cpu']) {
    await mkdir(path.join(root, c, 'aibox', 'sbx_t'), { recursive: true });
    await writeFile(path.join(root, c, 'cgroup.procs'), '');
  }
  if (withBurst) await writeFile(path.join(root, 'cpu', 'aibox', 'sbx_t', 'cpu.cfs_burst_us'), '0');
  return root;
}

describe('sandbox CPU limits', () => {
  let root = '';
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('caps the quota at the profile CPUs and lets unused quota absorb a burst where the kernel can', async () => {
    root = await fakeCgroups(true);
    const profile = await loadProfile('', 'session');
    await new SandboxLimits(root).apply('sbx_t', profile, process.pid);
    const cpu = (f: string) => readFile(path.join(root, 'cpu', 'aibox', 'sbx_t', f), 'utf8');
    const quota = String(Math.round(profile.limits.cpus * 100000));
    expect(await cpu('cpu.cfs_period_us')).toBe('100000');
    expect(await cpu('cpu.cfs_quota_us')).toBe(quota);
    expect(await cpu('cpu.cfs_burst_us')).toBe(quota);
  });

  it('writes no burst file on a kernel without one', async () => {
    root = await fakeCgroups(false);
    const profile = await loadProfile('', 'session');
    await new SandboxLimits(root).apply('sbx_t', profile, process.pid);
    await expect(readFile(path.join(root, 'cpu', 'aibox', 'sbx_t', 'cpu.cfs_burst_us'))).rejects.toThrow(
      /ENOENT/,
    );
  });
});
