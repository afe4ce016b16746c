/**
 * The gVisor sweep's attribution: what a daemon may remove of runsc's shared root and the host's processes, and
 * above all what it refuses to touch (another daemon's containers, anything Podman still lists, a process whose
 * command line only looks alike, a pid reused between the scan and the signal).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  belongsTo,
  conmonContainer,
  ownedBy,
  parseRunscState,
  sandboxIdOf,
  sweepRunsc,
  sweepTargets,
  type Attribution,
  type ProcessEntry,
  type RunscState,
} from '../../src/runtime/runsc-sweep.js';
import type { Logger } from '../../src/shared/index.js';

const A: Attribution = {
  daemonId: 'aaaaaaaaaaaa',
  mountsDir: '/run/aibox/mounts',
  stateDir: '/var/lib/aibox',
  wrapper: '/var/lib/aibox/podman/runsc-wrapper',
  runscRoot: '/run/aibox/user-995/runsc',
};
const id = (c: string) => c.repeat(64);
const OURS = id('1');
const OTHER = id('2');
const STRAY = id('3');

function state(cid: string, sources: string[], status = 'created'): RunscState {
  return { id: cid, status, mountSources: sources };
}
const ours = state(OURS, [
  '/var/lib/aibox-user/.local/share/containers/storage/overlay-containers/x/userdata/hosts',
  `/run/aibox/mounts/${A.daemonId}/sbx_0123456789ab/workspace`,
  '/var/lib/aibox/agents/sbx_0123456789ab',
]);
const others = state(OTHER, [
  '/run/aibox/mounts/bbbbbbbbbbbb/sbx_x/workspace',
  '/tmp/aibox-x/state/agents/sbx_x',
]);

function conmon(cid: string, wrapper = A.wrapper): ProcessEntry {
  return {
    pid: 100,
    argv: [
      '/usr/bin/conmon',
      '--api-version',
      '1',
      '-c',
      cid,
      '-u',
      cid,
      '-r',
      wrapper,
      '-b',
      `/s/${cid}/userdata`,
    ],
  };
}
function runscProc(name: string, cid: string, root = A.runscRoot): ProcessEntry {
  return {
    pid: 200,
    argv: [name, `--root=${root}`, 'boot', `--bundle=/s/overlay-containers/${cid}/userdata`, cid],
  };
}

describe('runsc state files', () => {
  it('reads the id, status and mount sources of a state file', () => {
    const text = JSON.stringify({
      id: OURS,
      status: 'running',
      spec: { mounts: [{ source: '/a/b/../c' }, { destination: '/x' }, 7] },
    });
    expect(parseRunscState(text)).toEqual({ id: OURS, status: 'running', mountSources: ['/a/c'] });
  });

  it('refuses what is not a state file, and ids that are not container ids', () => {
    expect(parseRunscState('')).toBeUndefined();
    expect(parseRunscState('{"id":')).toBeUndefined();
    expect(parseRunscState('null')).toBeUndefined();
    expect(parseRunscState(JSON.stringify({ id: '../../etc', spec: {} }))).toBeUndefined();
    expect(parseRunscState(JSON.stringify({ id: `${OURS} --all`, spec: {} }))).toBeUndefined();
    expect(parseRunscState(JSON.stringify({ id: 'ABC', spec: {} }))).toBeUndefined();
  });
});

describe('what belongs to this daemon', () => {
  it('claims a container that binds its mounts folder or its state directory', () => {
    expect(ownedBy(ours, A)).toBe(true);
    expect(ownedBy(state(OURS, ['/var/lib/aibox/agents/sbx_1']), A)).toBe(true);
    expect(sandboxIdOf(ours, A)).toBe('sbx_0123456789ab');
  });

  it("refuses another daemon's container and look-alike paths", () => {
    expect(ownedBy(others, A)).toBe(false);
    expect(ownedBy(state(OTHER, [`/run/aibox/mounts/${A.daemonId}x/sbx_1/workspace`]), A)).toBe(false);
    expect(ownedBy(state(OTHER, ['/var/lib/aibox-2/agents/sbx_1', '/var/lib/aibox']), A)).toBe(false);
    // Normalized before the comparison: a path that climbs out of the daemon's folder is not in it.
    const climbing = parseRunscState(
      JSON.stringify({
        id: OTHER,
        spec: { mounts: [{ source: `/run/aibox/mounts/${A.daemonId}/../bbb/x` }] },
      }),
    )!;
    expect(ownedBy(climbing, A)).toBe(false);
    expect(ownedBy(state(OTHER, []), A)).toBe(false);
    expect(sandboxIdOf(others, A)).toBeUndefined();
  });

  it("claims a conmon only when it runs this daemon's runsc wrapper", () => {
    expect(conmonContainer(conmon(OURS), A)).toBe(OURS);
    expect(conmonContainer(conmon(OURS, '/tmp/other/podman/runsc-wrapper'), A)).toBeUndefined();
    expect(conmonContainer(conmon(OURS, `${A.wrapper}2`), A)).toBeUndefined();
    // Not a conmon, even with the same arguments.
    expect(conmonContainer({ pid: 1, argv: ['/bin/sh', ...conmon(OURS).argv.slice(1)] }, A)).toBeUndefined();
    expect(
      conmonContainer({ pid: 1, argv: ['/usr/bin/conmon', '-c', 'abc', '-r', A.wrapper] }, A),
    ).toBeUndefined();
  });

  it('ties a runsc process to a container only on the same runsc root and by the container id', () => {
    expect(belongsTo(runscProc('runsc-sandbox', OURS), OURS, A)).toBe(true);
    expect(belongsTo(runscProc('runsc-gofer', OURS), OURS, A)).toBe(true);
    expect(belongsTo(runscProc('runsc-sandbox', OURS), OTHER, A)).toBe(false);
    expect(belongsTo(runscProc('runsc-sandbox', OURS, '/run/runsc'), OURS, A)).toBe(false);
    expect(belongsTo({ pid: 3, argv: ['sleep', `--root=${A.runscRoot}`, OURS] }, OURS, A)).toBe(false);
    expect(belongsTo({ pid: 3, argv: ['/usr/bin/runscx', `--root=${A.runscRoot}`, OURS] }, OURS, A)).toBe(
      false,
    );
    // An id that is only a part of an argument is not a mention.
    expect(belongsTo(runscProc('runsc-sandbox', `${OURS}0`), OURS, A)).toBe(false);
  });

  it('sweeps only what Podman does not list, and a conmon of its own whose runsc state is gone', () => {
    const states = [ours, others, state(STRAY, [`/run/aibox/mounts/${A.daemonId}/sbx_2/workspace`])];
    const processes = [
      conmon(id('4')),
      conmon(id('5'), '/tmp/x/runsc-wrapper'),
      runscProc('runsc-sandbox', OTHER),
    ];
    expect(sweepTargets(states, processes, new Set([STRAY]), A)).toEqual([OURS, id('4')]);
    // Podman lists every daemon's containers: one it lists is Podman's to remove, even when it is ours.
    expect(sweepTargets(states, processes, new Set([OURS, STRAY, id('4')]), A)).toEqual([]);
  });
});

describe('sweepRunsc', () => {
  let dir: string;
  let proc: string;
  let root: string;
  const logger = { warn: () => undefined } as unknown as Logger;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'runsc-sweep-'));
    proc = path.join(dir, 'proc');
    root = path.join(dir, 'runsc');
    await mkdir(root);
    await mkdir(proc);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const processFile = async (pid: number, argv: string[]) => {
    await mkdir(path.join(proc, String(pid)), { recursive: true });
    await writeFile(path.join(proc, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
  };
  const stateFile = (s: RunscState) =>
    writeFile(
      path.join(root, `${s.id}_sandbox:${s.id}.state`),
      JSON.stringify({
        id: s.id,
        status: s.status,
        spec: { mounts: s.mountSources.map((source) => ({ source })) },
      }),
    );

  it('runs runsc on its lost containers and kills only the verified processes that name them', async () => {
    const a = { ...A, runscRoot: root };
    await stateFile(ours);
    await stateFile(others);
    await processFile(11, conmon(OURS).argv);
    await processFile(12, runscProc('runsc-gofer', OURS, root).argv);
    await processFile(13, runscProc('runsc-sandbox', OURS, root).argv); // its pid is reused before the signal
    await processFile(21, conmon(OTHER, '/tmp/other/runsc-wrapper').argv);
    await processFile(22, runscProc('runsc-sandbox', OTHER, root).argv);
    await processFile(31, ['sleep', OURS]);
    const calls: string[][] = [];
    const killed: number[] = [];
    const swept = await sweepRunsc({
      ...a,
      logger,
      procDir: proc,
      runsc: async (args) => {
        calls.push(args);
        if (args.includes('delete')) await processFile(13, ['/usr/bin/bash', OURS]);
        return { exitCode: 0, stderr: '' };
      },
      podmanContainers: () => Promise.resolve(new Set<string>()),
      kill: (pid) => void killed.push(pid),
    });
    expect(swept).toEqual([{ id: OURS, sandboxId: 'sbx_0123456789ab', status: 'created', killed: [11, 12] }]);
    expect(calls).toEqual([
      ['--root', root, 'kill', '--all', OURS, '9'],
      ['--root', root, 'delete', '--force', OURS],
    ]);
    expect(killed.sort()).toEqual([11, 12]);
  });

  it('touches nothing when Podman cannot say which containers it knows (fail closed)', async () => {
    await stateFile(ours);
    await processFile(11, conmon(OURS).argv);
    const killed: number[] = [];
    const calls: string[][] = [];
    await expect(
      sweepRunsc({
        ...A,
        runscRoot: root,
        logger,
        procDir: proc,
        runsc: (args) => {
          calls.push(args);
          return Promise.resolve({ exitCode: 0, stderr: '' });
        },
        podmanContainers: () => Promise.reject(new Error('podman is down')),
        kill: (pid) => void killed.push(pid),
      }),
    ).rejects.toThrow('podman is down');
    expect(calls).toEqual([]);
    expect(killed).toEqual([]);
  });
});
