/**
 * Prerequisite checks for integration tests. Locally a missing prerequisite skips the suite with the reason; in CI
 * (CI=true) it fails instead, because CI installs everything and nothing may silently skip there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { execa } from 'execa';

export interface HostSupport {
  ok: boolean;
  reason: string;
}

export function sandboxHostSupport(): HostSupport {
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'needs root (aiboxd manages mounts, cgroups and nftables)' };
  if (!existsSync('/usr/bin/podman'))
    return { ok: false, reason: 'podman is not installed (scripts/setup-host.sh)' };
  if (!existsSync('/opt/aibox/runtime/runsc'))
    return { ok: false, reason: 'runsc is not installed (scripts/setup-host.sh)' };
  if (!readFileSync('/etc/passwd', 'utf8').includes('\naibox:')) {
    return { ok: false, reason: 'the aibox user is missing (scripts/setup-host.sh)' };
  }
  return { ok: true, reason: '' };
}

export function commandExists(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns whether the suite should run. In CI a missing prerequisite throws (the suite fails loudly); locally the
 * reason is printed and the suite is skipped.
 */
export function requireHost(support: HostSupport, suite: string): boolean {
  if (support.ok) return true;
  if (process.env.CI) throw new Error(`${suite}: ${support.reason} — CI must provide it`);
  console.warn(`[skip] ${suite}: ${support.reason}`);
  return false;
}

/**
 * Removes every container labelled with this daemon's id, through the podman CLI as the rootless user: the safety net
 * of a test daemon's stop() when its API could not remove them (it did not start again, it crashed mid-test).
 */
export async function removeDaemonContainers(stateDir: string, daemonId: string): Promise<string[]> {
  const conf = path.join(stateDir, 'podman', 'containers.conf');
  if (process.getuid?.() !== 0 || !existsSync(conf)) return [];
  const [, , uid, gid, , home] = (await execa('getent', ['passwd', 'aibox'], { reject: false })).stdout.split(
    ':',
  );
  if (!uid) return [];
  const podman = (args: string[]) =>
    execa('podman', args, {
      env: { HOME: home!, XDG_RUNTIME_DIR: `/run/aibox/user-${uid}`, CONTAINERS_CONF: conf },
      extendEnv: false,
      uid: Number(uid),
      gid: Number(gid),
      cwd: '/',
      reject: false,
    });
  const ids = (await podman(['ps', '-a', '-q', '--filter', `label=io.aibox.daemon=${daemonId}`])).stdout
    .split('\n')
    .filter(Boolean);
  if (ids.length) await podman(['rm', '-f', '-t', '0', ...ids]);
  return ids;
}

/** The rootless Podman user's ids and runsc's state root (Podman passes `--root=$XDG_RUNTIME_DIR/runsc`). */
export async function podmanUser(): Promise<{ uid: number; gid: number; home: string; runscRoot: string }> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith('aibox:')) ?? '';
  const [, , uid, gid, , home] = line.split(':');
  return {
    uid: Number(uid),
    gid: Number(gid),
    home: home ?? '',
    runscRoot: `/run/aibox/user-${uid}/runsc`,
  };
}

export interface RuntimeLeftovers {
  /** runsc containers (by id) whose state is still in runsc's root. */
  states: string[];
  /** "pid argv0 containerId" of every live conmon / runsc process. */
  processes: string[];
}

/**
 * What gVisor still holds for one daemon: runsc state whose spec binds something of that daemon (its mounts folder
 * `/run/aibox/mounts/<daemonId>/` or its state directory) and conmon/runsc processes of those containers (or of any
 * container id in `ids`, or whose conmon runs the daemon's runsc wrapper). Other daemons on the host share runsc's
 * root and the Podman user: nothing of theirs is counted.
 */
export async function runtimeLeftovers(
  stateDir: string,
  daemonId: string,
  ids: Iterable<string> = [],
): Promise<RuntimeLeftovers> {
  const states = await runscStatesOf(stateDir, daemonId);
  const ours = new Set([...ids, ...states]);
  const wrapper = path.join(stateDir, 'podman', 'runsc-wrapper');
  const processes: string[] = [];
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const name = path.basename(argv[0] ?? '');
    if (name === 'conmon') {
      const id = argv[argv.indexOf('-c') + 1] ?? '';
      if (ours.has(id) || argv[argv.indexOf('-r') + 1] === wrapper) processes.push(`${pid} conmon ${id}`);
    } else if (name.startsWith('runsc')) {
      const id = [...ours].find((i) => argv.some((a) => a === i || a.includes(`/${i}/`)));
      if (id) processes.push(`${pid} ${name} ${id}`);
    }
  }
  return { states, processes };
}

/** Ids of the runsc containers (state in runsc's root) whose spec binds something of this daemon. */
export async function runscStatesOf(stateDir: string, daemonId: string): Promise<string[]> {
  const { runscRoot } = await podmanUser();
  const mine = (source: string) =>
    source.startsWith(`/run/aibox/mounts/${daemonId}/`) || source.startsWith(`${stateDir}/`);
  const states = new Set<string>();
  for (const f of (await readdir(runscRoot).catch(() => [] as string[])).filter((n) =>
    n.endsWith('.state'),
  )) {
    const text = await readFile(path.join(runscRoot, f), 'utf8').catch(() => '');
    let state: { id?: string; spec?: { mounts?: { source?: string }[] } } = {};
    try {
      state = JSON.parse(text) as typeof state;
    } catch {
      continue;
    }
    if (state.id && (state.spec?.mounts ?? []).some((m) => mine(m.source ?? ''))) states.add(state.id);
  }
  return [...states].sort();
}

/**
 * Kills the Squids whose configuration lies in this daemon's state directory (`squid -f <state>/egress/<id>/…`),
 * master and kids, each pid's command line checked right before its signal. A daemon's SIGTERM leaves sandboxes
 * (and their Squids) running by design, and a start in flight at that moment (a pack build, a pool fill) is not in
 * the API's list: without this, a test daemon's Squid outlives its deleted state folder.
 */
export async function killDaemonSquids(stateDir: string): Promise<number[]> {
  const prefix = `${path.join(stateDir, 'egress')}/`;
  const ofDaemon = (argv: string[]) => {
    const i = argv.indexOf('-f');
    return argv.some((a) => a.includes('squid')) && i >= 0 && (argv[i + 1] ?? '').startsWith(prefix);
  };
  const killed: number[] = [];
  const services = new Set<string>();
  // Twice: a master killed between the scan and its kid's signal cannot respawn that kid, but one scan more is cheap.
  for (let round = 0; round < 2; round++) {
    for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (!ofDaemon(argv)) continue;
      const name = argv[argv.indexOf('-n') + 1];
      if (argv.includes('-n') && name && /^[A-Za-z0-9]+$/.test(name)) services.add(name);
      try {
        process.kill(Number(pid), 'SIGKILL');
        killed.push(Number(pid));
      } catch {
        // Gone meanwhile.
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // A killed Squid leaves its shared-memory segments, named after its service (-n).
  for (const shm of await readdir('/dev/shm').catch(() => [] as string[]))
    if ([...services].some((n) => shm.startsWith(`${n}-`) && shm.endsWith('.shm')))
      await rm(path.join('/dev/shm', shm), { force: true });
  return [...new Set(killed)];
}

/**
 * The restart sweep of gVisor containers Podman lost (src/runtime/runsc-sweep.ts), run for a test daemon that is no
 * longer running: a daemon that never came back must not leave runsc state and processes behind.
 */
export async function sweepDaemonGvisor(stateDir: string, daemonId: string): Promise<string[]> {
  const conf = path.join(stateDir, 'podman', 'containers.conf');
  const wrapper = path.join(stateDir, 'podman', 'runsc-wrapper');
  if (process.getuid?.() !== 0 || !existsSync(conf) || !existsSync(wrapper)) return [];
  const user = await podmanUser();
  const asUser = (args: string[]) => podmanAs(stateDir, args);
  const { sweepRunsc } = await import('../../src/runtime/runsc-sweep.js');
  const swept = await sweepRunsc({
    daemonId,
    mountsDir: '/run/aibox/mounts',
    stateDir,
    wrapper,
    runscRoot: user.runscRoot,
    logger: { warn: () => undefined } as never,
    runsc: async (args) => {
      const r = await asUser(['unshare', wrapper, ...args]);
      return { exitCode: r.exitCode, stderr: String(r.stderr) };
    },
    podmanContainers: async () => {
      const r = await asUser(['ps', '-a', '-q', '--no-trunc']);
      if (r.exitCode !== 0) throw new Error(`podman ps: ${String(r.stderr)}`);
      return new Set(String(r.stdout).split('\n').filter(Boolean));
    },
  });
  return swept.map((s) => s.id);
}

/** Runs podman as the rootless Podman user with a test daemon's containers.conf (`unshare …` runs in its userns). */
export async function podmanAs(
  stateDir: string,
  args: string[],
  /** No pipes: for a command that leaves processes behind (they would hold the pipes open). */
  detached = false,
) {
  const user = await podmanUser();
  return execa('podman', args, {
    env: {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: user.home,
      XDG_RUNTIME_DIR: path.dirname(user.runscRoot),
      CONTAINERS_CONF: path.join(stateDir, 'podman', 'containers.conf'),
    },
    extendEnv: false,
    uid: user.uid,
    gid: user.gid,
    cwd: '/',
    reject: false,
    timeout: 60_000,
    stdin: 'ignore',
    ...(detached ? { stdout: 'ignore' as const, stderr: 'ignore' as const } : {}),
  });
}
