/**
 * Recovery after a restart (SandboxService.adoptAndSweep) on a fake runtime and a real record store: every swept
 * sandbox is named once, interrupted starts are recovered side by side (not one after the other), a sandbox whose
 * layers cannot be re-adopted is never left running, and the store's name index finds records in one read.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DaemonConfig } from '../../src/config/index.js';
import type { ManagedContainer, SandboxRuntime } from '../../src/runtime/index.js';
import { SandboxService } from '../../src/daemon/services/sandboxes.js';
import type { SandboxHook } from '../../src/daemon/services/hooks.js';
import { SandboxStore, type SandboxRecord } from '../../src/daemon/state/sandbox-store.js';
import type { Logger } from '../../src/shared/index.js';

const DAEMON = 'd0d0d0d0d0d0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function record(
  id: string,
  name: string,
  state: SandboxRecord['state'],
  containerId?: string,
): SandboxRecord {
  return {
    id,
    name,
    path: `/home/u/${name}`,
    profile: 'default',
    state,
    image: 'localhost/aibox-base:x',
    createdAt: new Date().toISOString(),
    ownerUid: 1000,
    env: {},
    endpoints: {},
    network: false,
    ...(containerId ? { containerId } : {}),
  };
}

function fakeRuntime(containers: ManagedContainer[], mounts: string[], delayMs: number) {
  const removed: string[] = [];
  const unmounted: string[] = [];
  const runtime = {
    daemonId: DAEMON,
    listManaged: async () => containers,
    removeContainer: async (id: string) => {
      await sleep(delayMs);
      removed.push(id);
    },
    stopContainer: async () => sleep(delayMs),
    inspect: async () => undefined,
    watchExits: () => () => undefined,
    mounts: {
      list: async () => mounts,
      unmount: async (id: string) => {
        unmounted.push(id);
      },
    },
    limits: { remove: async () => undefined },
  };
  return { runtime: runtime as unknown as SandboxRuntime, removed, unmounted };
}

function captureLogger() {
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = (obj: Record<string, unknown>, msg: string) => void lines.push({ obj, msg });
  const logger: Logger = {
    debug: log as Logger['debug'],
    info: log as Logger['info'],
    warn: log as Logger['warn'],
    error: log as Logger['error'],
    child: () => logger,
  };
  return { logger, lines };
}

describe('adoptAndSweep', () => {
  let dir: string;
  let store: SandboxStore;
  const config = { profilesDir: '/nonexistent', runtime: { mode: 'rootless' } } as unknown as DaemonConfig;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-adopt-'));
    store = new SandboxStore(dir);
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('names every swept sandbox once and removes each container once', async () => {
    // An interrupted start whose container was made and whose mount is still there, plus true orphans.
    await store.save(record('sbx_creating01', 'half', 'creating', 'c-half'));
    const containers: ManagedContainer[] = [
      { containerId: 'c-half', sandboxId: 'sbx_creating01', name: 'half', running: true, pid: 10 },
      { containerId: 'c-orphan', sandboxId: 'sbx_orphan0001', name: 'orphan', running: false, pid: 0 },
    ];
    const { runtime, removed, unmounted } = fakeRuntime(
      containers,
      ['sbx_creating01', 'sbx_orphan0001', 'sbx_mountonly1'],
      0,
    );
    const { logger, lines } = captureLogger();
    const service = new SandboxService(config, runtime, store, [], DAEMON, logger);
    const result = await service.adoptAndSweep();
    expect(result.swept).toEqual(['half', 'orphan', 'sbx_mountonly1']);
    expect(removed.sort()).toEqual(['c-half', 'c-orphan']);
    expect(unmounted).toEqual(expect.arrayContaining(['sbx_mountonly1', 'sbx_orphan0001']));
    expect(await store.list()).toEqual([]);
    const line = lines.find((l) => l.msg === 'adopted running sandboxes and swept leftovers');
    expect(line?.obj.swept).toEqual(['half', 'orphan', 'sbx_mountonly1']);
    expect(typeof line?.obj.ms).toBe('number');
  });

  it('recovers interrupted starts side by side', async () => {
    const containers: ManagedContainer[] = [];
    for (let i = 0; i < 8; i++) {
      await store.save(record(`sbx_creating${i}0`, `s${i}`, 'creating', `c${i}`));
      containers.push({
        containerId: `c${i}`,
        sandboxId: `sbx_creating${i}0`,
        name: `s${i}`,
        running: true,
        pid: 1,
      });
    }
    const { runtime, removed } = fakeRuntime(containers, [], 300);
    const service = new SandboxService(config, runtime, store, [], DAEMON, captureLogger().logger);
    const t0 = Date.now();
    const result = await service.adoptAndSweep();
    // One after the other this takes 8 x 300 ms.
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(result.swept).toHaveLength(8);
    expect(removed).toHaveLength(8);
  });

  it('never leaves a sandbox running whose layers were not re-adopted', async () => {
    await store.save(record('sbx_runningok1', 'ok', 'running', 'c-ok'));
    await store.save(record('sbx_runningbad', 'bad', 'running', 'c-bad'));
    const containers: ManagedContainer[] = [
      { containerId: 'c-ok', sandboxId: 'sbx_runningok1', name: 'ok', running: true, pid: 1 },
      { containerId: 'c-bad', sandboxId: 'sbx_runningbad', name: 'bad', running: true, pid: 2 },
    ];
    const hook: SandboxHook = {
      layer: 'egress',
      adopt: async (s) => {
        if (s.name === 'bad') throw new Error('proxy state is gone');
      },
      close: () => Promise.resolve(),
    };
    const { runtime } = fakeRuntime(containers, [], 0);
    const service = new SandboxService(config, runtime, store, [hook], DAEMON, captureLogger().logger);
    const result = await service.adoptAndSweep();
    expect(result.adopted).toEqual(['ok']);
    const bad = await store.findByName('bad');
    expect(bad?.state).toBe('stopped');
    expect(bad?.error).toContain('proxy state is gone');
    expect((await store.findByName('ok'))?.state).toBe('running');
  });
});

describe('SandboxStore name index', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-store-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('finds by name through the index, and never returns a record that no longer carries the name', async () => {
    const store = new SandboxStore(dir);
    await store.save(record('sbx_aaaaaaaaaa', 'one', 'stopped'));
    await store.save(record('sbx_bbbbbbbbbb', 'two', 'stopped'));
    expect((await store.findByName('two'))?.id).toBe('sbx_bbbbbbbbbb');
    // Another store instance (a restarted daemon) rewrites the record under a new name: the stale hint is checked.
    await new SandboxStore(dir).save(record('sbx_bbbbbbbbbb', 'renamed', 'stopped'));
    expect(await store.findByName('two')).toBeUndefined();
    expect((await store.findByName('renamed'))?.id).toBe('sbx_bbbbbbbbbb');
    await store.remove('sbx_aaaaaaaaaa');
    expect(await store.findByName('one')).toBeUndefined();
    expect(await store.get('../etc')).toBeUndefined();
  });
});
