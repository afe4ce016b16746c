/**
 * gVisor's file caching in a real sandbox: the read-only root is cached by gVisor (exclusive), every bind mount keeps
 * shared file access, so what the host changes in the workspace is seen at once, including files the sandbox has
 * already read, listed or cached, and after walking more files than gVisor's dentry cache holds.
 */
import { appendFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'gVisor file caching');

describe.runIf(run)('file caching inside a gVisor sandbox', () => {
  let daemon: TestDaemon;
  let project: string;
  const name = 'files';
  const sh = async (script: string) => {
    const r = await daemon.exec(name, ['sh', '-c', script]);
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    daemon = await startTestDaemon({ name: 'gvisor-files' });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    project = await makeProject('gvisor-files');
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name, profile: 'session' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('keeps the root read-only and cached, and revalidates every bind mount with the host', async () => {
    const mounts = (await sh('cat /proc/mounts')).split('\n');
    const of = (target: string) => mounts.find((l) => l.split(' ')[1] === target) ?? '';
    expect(of('/')).toMatch(/ 9p ro,.*cache=fscache/);
    for (const target of ['/workspace', '/home/agent', '/opt/aibox/packs']) {
      expect(of(target), target).toContain('cache=remote_revalidating');
    }
  });

  it('sees a host edit of a file it has already read, in place and by rename', async () => {
    const file = path.join(project, 'edited.txt');
    await writeFile(file, 'one\n');
    expect(await sh('cat /workspace/edited.txt')).toBe('one\n');
    await writeFile(file, 'two, longer\n'); // same inode, new size
    expect(await sh('cat /workspace/edited.txt')).toBe('two, longer\n');
    await appendFile(file, 'three\n');
    expect(await sh('cat /workspace/edited.txt')).toBe('two, longer\nthree\n');
    await writeFile(`${file}.new`, 'renamed\n');
    await rename(`${file}.new`, file); // a new inode under the cached name (what editors do)
    expect(await sh('cat /workspace/edited.txt; stat -c %s /workspace/edited.txt')).toBe('renamed\n8\n');
    await rm(file);
    const gone = await daemon.exec(name, ['cat', '/workspace/edited.txt']);
    expect(gone.exitCode).not.toBe(0);
  });

  it('sees files the host adds to a folder it has listed, also after walking more files than the cache holds', async () => {
    const big = path.join(project, 'big');
    const count = 3000; // runsc caches 1000 unused dentries per mount by default
    for (let d = 0; d < count / 500; d++) {
      await mkdir(path.join(big, `d${d}`), { recursive: true });
      await Promise.all(
        Array.from({ length: 500 }, (_, i) => writeFile(path.join(big, `d${d}`, `f${i}`), `${d}/${i}\n`)),
      );
    }
    const walk = 'find /workspace/big -type f | wc -l; cat /workspace/big/d0/f0';
    expect(await sh(walk)).toBe(`${count}\n0/0\n`);
    expect(await sh(walk)).toBe(`${count}\n0/0\n`);
    await writeFile(path.join(big, 'd0', 'added'), 'x\n');
    await writeFile(path.join(big, 'd0', 'f0'), 'changed\n');
    expect(await sh(walk)).toBe(`${count + 1}\nchanged\n`);
    expect(await sh('ls /workspace/big/d0 | grep -c added')).toBe('1\n');
  });
});
