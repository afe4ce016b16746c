import * as fsp from 'node:fs/promises';
import { mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SandboxStore, type SandboxRecord } from '../../../src/daemon/state/sandbox-store.js';

// Counts the store's file system calls: a lookup must not list the records, and reads one file.
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof fsp>();
  return { ...real, readdir: vi.fn(real.readdir), readFile: vi.fn(real.readFile) };
});

const record = (id: string, name: string, state: SandboxRecord['state'] = 'stopped'): SandboxRecord => ({
  id,
  name,
  path: '/srv/project',
  profile: 'default',
  state,
  image: 'aibox-base:test',
  createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, Number(id.slice(-2)) || 0)).toISOString(),
  ownerUid: 1000,
  env: {},
  endpoints: {},
  network: false,
});
const id = (i: number) => `sbx_${String(i).padStart(10, '0')}`;

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'aibox-store-'));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('SandboxStore', () => {
  it('finds a sandbox by name or id with one file read and no listing, among many', async () => {
    const store = new SandboxStore(stateDir);
    for (let i = 0; i < 200; i++) await store.create(record(id(i), `box-${i}`));
    vi.mocked(fsp.readdir).mockClear();
    vi.mocked(fsp.readFile).mockClear();
    const fresh = new SandboxStore(stateDir);
    expect((await fresh.findByName('box-137'))?.id).toBe(id(137));
    expect((await fresh.lookup({ id: id(42) }))?.name).toBe('box-42');
    expect((await fresh.lookup({ name: 'box-7' }))?.id).toBe(id(7));
    expect(await fresh.findByName('no-such-box')).toBeUndefined();
    expect(fsp.readdir).not.toHaveBeenCalled();
    expect(fsp.readFile).toHaveBeenCalledTimes(3);
  });

  it('lets exactly one of racing creates have a name', async () => {
    const store = new SandboxStore(stateDir);
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => store.create(record(id(i), 'contested'))),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected')
        expect(r.reason).toMatchObject({ code: 'SANDBOX_NAME_TAKEN', status: 409 });
    const winner = await store.findByName('contested');
    expect(winner).toBeDefined();
    // Nothing of the losers was written.
    expect((await store.list()).map((r) => r.id)).toEqual([winner!.id]);
    await expect(store.save(record(id(99), 'contested'))).rejects.toMatchObject({
      code: 'SANDBOX_NAME_TAKEN',
    });
  });

  it('serialises concurrent saves of one record: each lands whole, no temporary file stays', async () => {
    const store = new SandboxStore(stateDir);
    await store.create(record(id(1), 'busy'));
    const states = ['creating', 'running', 'stopped', 'failed'] as const;
    await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        store.save({ ...record(id(1), 'busy', states[i % 4]), error: `${i}` }),
      ),
    );
    const last = await store.get(id(1));
    expect(last?.error).toBe('23');
    expect(await readdir(store.dirOf(id(1)))).toEqual(['sandbox.json']);
    expect(((await fsp.stat(path.join(store.dirOf(id(1)), 'sandbox.json'))).mode & 0o777).toString(8)).toBe(
      '600',
    );
  });

  it('moves the name with a renamed record and frees it on remove', async () => {
    const store = new SandboxStore(stateDir);
    await store.create(record(id(1), 'one'));
    await store.save(record(id(1), 'uno'));
    expect(await store.findByName('one')).toBeUndefined();
    expect((await store.findByName('uno'))?.id).toBe(id(1));
    expect(await store.takenNames()).toEqual(new Set(['uno']));
    await store.remove(id(1));
    expect(await store.findByName('uno')).toBeUndefined();
    expect(await store.takenNames()).toEqual(new Set());
    await store.create(record(id(2), 'uno'));
    expect((await store.findByName('uno'))?.id).toBe(id(2));
  });

  it('reads what a crash leaves as absent, never as corrupt state', async () => {
    const store = new SandboxStore(stateDir);
    await store.create(record(id(1), 'kept'));
    // A crash during a write leaves at most a temporary file beside the record.
    await writeFile(
      path.join(store.dirOf(id(1)), '.sandbox.json.0123456789ab.tmp'),
      '{"id": "sbx_0000000001", "na',
    );
    expect((await store.get(id(1)))?.name).toBe('kept');
    // A crash between claiming a name and writing the record leaves a link to nothing: the name is free.
    await symlink(id(5), path.join(stateDir, 'sandbox-names', 'orphan'));
    expect(await store.findByName('orphan')).toBeUndefined();
    await store.create(record(id(6), 'orphan'));
    expect((await store.findByName('orphan'))?.id).toBe(id(6));
    // A damaged record (edited by hand) is skipped, not fatal to the others.
    await store.create(record(id(7), 'damaged'));
    await writeFile(path.join(store.dirOf(id(7)), 'sandbox.json'), '{ not json');
    expect(await store.findByName('damaged')).toBeUndefined();
    expect((await store.list()).map((r) => r.name).sort()).toEqual(['kept', 'orphan']);
    // A link pointing at a record that now carries another name does not answer for the old name.
    await writeFile(path.join(store.dirOf(id(1)), 'sandbox.json'), JSON.stringify(record(id(1), 'other')));
    expect(await store.findByName('kept')).toBeUndefined();
  });

  it('builds the index once from records written before it existed', async () => {
    const store = new SandboxStore(stateDir);
    await store.create(record(id(1), 'old-a'));
    await store.create(record(id(2), 'old-b'));
    await rm(path.join(stateDir, 'sandbox-names'), { recursive: true });
    const upgraded = new SandboxStore(stateDir);
    expect((await upgraded.findByName('old-b'))?.id).toBe(id(2));
    expect(await readlink(path.join(stateDir, 'sandbox-names', 'old-a'))).toBe(id(1));
    expect((await readdir(stateDir)).sort()).toEqual(['sandbox-names', 'sandboxes']);
  });

  it('never touches paths outside its folders for hostile names or ids', async () => {
    const store = new SandboxStore(stateDir);
    await writeFile(path.join(stateDir, 'sandbox.json'), JSON.stringify(record(id(1), 'x')));
    expect(await store.get('..')).toBeUndefined();
    expect(await store.get('../etc')).toBeUndefined();
    expect(await store.findByName('../sandboxes')).toBeUndefined();
    expect(await store.findByName('.hidden')).toBeUndefined();
    await expect(store.create(record(id(1), '../escape'))).rejects.toMatchObject({
      code: 'SANDBOX_NAME_INVALID',
    });
    await store.remove('../..');
    expect(JSON.parse(await readFile(path.join(stateDir, 'sandbox.json'), 'utf8'))).toMatchObject({
      name: 'x',
    });
  });
});
