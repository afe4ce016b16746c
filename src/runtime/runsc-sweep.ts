import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import type { RuntimeConfig } from '../config/index.js';
import type { Logger } from '../shared/index.js';
import type { HostUser } from './host-user.js';
import { runtimeDirOf, type PodmanService } from './podman-service.js';

/**
 * gVisor leftovers Podman lost. A daemon killed in the middle of concurrent starts can leave runsc containers (state
 * in runsc's root, `runsc-sandbox`/`runsc-gofer` processes, their `conmon`) whose container Podman no longer lists:
 * Podman cannot remove what it does not know, so the restart sweeps them here, straight through runsc.
 *
 * runsc's root and the Podman user are shared by every daemon on the host (and by anything else that user runs), so
 * a runsc container is this daemon's only when its OCI spec binds something of this daemon (its mounts folder
 * `<mountsDir>/<daemonId>/` or its state directory: every sandbox binds both), and a process only when its command
 * line names such a container (a conmon also must run this daemon's runsc wrapper). Anything Podman still lists is
 * Podman's to remove, whoever owns it.
 */

/** What a runsc state file says about one container (runsc writes `<id>_sandbox:<sandbox id>.state`). */
export interface RunscState {
  id: string;
  status: string;
  /** Host sources of the spec's mounts. */
  mountSources: string[];
}

/** One process as /proc shows it. */
export interface ProcessEntry {
  pid: number;
  argv: string[];
}

export interface Attribution {
  daemonId: string;
  mountsDir: string;
  stateDir: string;
  /** The runtime this daemon's Podman runs (its runsc wrapper): conmon's `-r`. */
  wrapper: string;
  /** runsc's state root as Podman passes it (`--root=`). */
  runscRoot: string;
}

/** Container ids as runsc and Podman write them. */
const CONTAINER_ID = /^[0-9a-f]{64}$/;

/** Parses a runsc state file; undefined for anything that is not one (a half-written file, another format). */
export function parseRunscState(text: string): RunscState | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object') return undefined;
  const s = raw as { id?: unknown; status?: unknown; spec?: { mounts?: unknown } };
  if (typeof s.id !== 'string' || !CONTAINER_ID.test(s.id)) return undefined;
  const mounts = Array.isArray(s.spec?.mounts) ? (s.spec.mounts as unknown[]) : [];
  return {
    id: s.id,
    status: typeof s.status === 'string' ? s.status : 'unknown',
    mountSources: mounts.flatMap((m) =>
      m && typeof m === 'object' && typeof (m as { source?: unknown }).source === 'string'
        ? [path.normalize((m as { source: string }).source)]
        : [],
    ),
  };
}

/** Whether a runsc container binds something of this daemon's (and so was created by it). */
export function ownedBy(state: RunscState, a: Attribution): boolean {
  const roots = [path.join(a.mountsDir, a.daemonId), a.stateDir].map((r) => `${path.normalize(r)}/`);
  return state.mountSources.some((s) => roots.some((r) => s.startsWith(r)));
}

/** The sandbox a container of this daemon was for: `<mountsDir>/<daemonId>/<sandboxId>/…` among its mounts. */
export function sandboxIdOf(state: RunscState, a: Attribution): string | undefined {
  const root = `${path.join(a.mountsDir, a.daemonId)}/`;
  for (const s of state.mountSources) {
    const id = s.startsWith(root) ? s.slice(root.length).split('/')[0] : undefined;
    if (id && /^[A-Za-z0-9_-]{1,64}$/.test(id)) return id;
  }
  return undefined;
}

/** The value after a flag in an argv (`-c ID`), or of `--flag=value`. */
function flagValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
}

/** The container a conmon of this daemon's runtime watches (undefined: not a conmon, or another runtime's). */
export function conmonContainer(p: ProcessEntry, a: Attribution): string | undefined {
  if (path.basename(p.argv[0] ?? '') !== 'conmon') return undefined;
  if (flagValue(p.argv, '-r') !== a.wrapper) return undefined;
  const id = flagValue(p.argv, '-c');
  return id && CONTAINER_ID.test(id) ? id : undefined;
}

/**
 * Whether a process is one of this container's: its conmon (this daemon's runtime), or a runsc process on the same
 * root whose command line names the container (its id as an argument, or its bundle folder).
 */
export function belongsTo(p: ProcessEntry, id: string, a: Attribution): boolean {
  if (!CONTAINER_ID.test(id)) return false;
  if (conmonContainer(p, a) === id) return true;
  const name = path.basename(p.argv[0] ?? '');
  if (name !== 'runsc' && !name.startsWith('runsc-')) return false;
  if (flagValue(p.argv, '--root') !== a.runscRoot) return false;
  return p.argv.some((arg) => arg === id || arg.includes(`/${id}/`));
}

/**
 * The containers to sweep: this daemon's runsc containers and the containers of this daemon's conmons, minus every
 * container Podman lists (any daemon's).
 */
export function sweepTargets(
  states: RunscState[],
  processes: ProcessEntry[],
  podmanKnows: ReadonlySet<string>,
  a: Attribution,
): string[] {
  const ids = new Set<string>();
  for (const s of states) if (ownedBy(s, a)) ids.add(s.id);
  for (const p of processes) {
    const id = conmonContainer(p, a);
    if (id) ids.add(id);
  }
  return [...ids].filter((id) => !podmanKnows.has(id)).sort();
}

export interface RunscSweepOptions extends Attribution {
  /** Runs this daemon's runsc wrapper with these arguments as Podman's user (in its user namespace when rootless). */
  runsc(args: string[]): Promise<{ exitCode: number | undefined; stderr: string }>;
  /** Every container id Podman lists (all of them, any daemon's); throws when Podman cannot be asked. */
  podmanContainers(): Promise<Set<string>>;
  logger: Logger;
  /** Where processes are read from (tests). */
  procDir?: string;
  /** Sends a signal (tests). */
  kill?: (pid: number, signal: NodeJS.Signals) => void;
}

export interface SweptContainer {
  id: string;
  /** The sandbox it was started for, when its mounts say so. */
  sandboxId?: string;
  status: string;
  killed: number[];
}

/** Sweeps this daemon's runsc containers that Podman lost. Call once Podman's own removals are done. */
export async function sweepRunsc(o: RunscSweepOptions): Promise<SweptContainer[]> {
  const states = await readStates(o.runscRoot);
  const processes = await readProcesses(o.procDir ?? '/proc');
  // Fail closed: without Podman's list nothing can be told apart from a live container of some daemon.
  const known = await o.podmanContainers();
  const swept: SweptContainer[] = [];
  for (const id of sweepTargets(states, processes, known, o)) {
    const state = states.find((s) => s.id === id);
    const status = state?.status ?? 'no runsc state';
    const sandboxId = state ? sandboxIdOf(state, o) : undefined;
    // runsc's own way first: it signals the sandbox, stops the gofer and removes the state.
    const kill = await o.runsc(['--root', o.runscRoot, 'kill', '--all', id, '9']);
    const del = await o.runsc(['--root', o.runscRoot, 'delete', '--force', id]);
    // Whatever still names the container (conmon always; runsc's processes when runsc had no state for them): each
    // pid's command line is read again right before its signal.
    const killed: number[] = [];
    for (const p of await readProcesses(o.procDir ?? '/proc')) {
      if (!belongsTo(p, id, o)) continue;
      const now = await readArgv(o.procDir ?? '/proc', p.pid);
      if (!now || now.join('\0') !== p.argv.join('\0')) continue;
      try {
        (o.kill ?? process.kill)(p.pid, 'SIGKILL');
        killed.push(p.pid);
      } catch {
        // Gone meanwhile.
      }
    }
    o.logger.warn(
      {
        containerId: id,
        ...(sandboxId ? { sandbox: sandboxId } : {}),
        runscStatus: status,
        runscKill: kill.exitCode,
        runscDelete: del.exitCode,
        ...(del.exitCode !== 0 ? { deleteError: lastLine(del.stderr) } : {}),
        killed,
      },
      'swept a gVisor container Podman no longer lists',
    );
    swept.push({ id, ...(sandboxId ? { sandboxId } : {}), status, killed });
  }
  return swept;
}

async function readStates(root: string): Promise<RunscState[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const out: RunscState[] = [];
  for (const name of names.filter((n) => n.endsWith('.state'))) {
    const s = parseRunscState(await readFile(path.join(root, name), 'utf8').catch(() => ''));
    if (s && name.startsWith(`${s.id}_`)) out.push(s);
  }
  return out;
}

async function readArgv(procDir: string, pid: number): Promise<string[] | undefined> {
  const text = await readFile(path.join(procDir, String(pid), 'cmdline'), 'utf8').catch(() => '');
  if (!text) return undefined;
  return text.replace(/\0$/, '').split('\0');
}

async function readProcesses(procDir: string): Promise<ProcessEntry[]> {
  const out: ProcessEntry[] = [];
  for (const name of await readdir(procDir).catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const argv = await readArgv(procDir, Number(name));
    if (argv) out.push({ pid: Number(name), argv });
  }
  return out;
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1)?.slice(0, 300) ?? '';
}

/** runsc's state root as Podman passes it: `$XDG_RUNTIME_DIR/runsc` rootless, runsc's default as root. */
export function runscRootOf(user: HostUser | undefined): string {
  return user ? path.join(runtimeDirOf(user), 'runsc') : '/var/run/runsc';
}

/** What the sweep needs of a SandboxRuntime. */
export interface GvisorRuntime {
  readonly config: RuntimeConfig;
  readonly user: HostUser | undefined;
  readonly podman: PodmanService;
  readonly docker: Docker;
  readonly daemonId: string;
}

/**
 * Sweeps the daemon's gVisor containers Podman lost, running runsc as Podman does: as its user, inside its user
 * namespace (`podman unshare`) when rootless, so runsc can signal the container's processes and remove their state.
 */
export async function sweepLostGvisor(
  rt: GvisorRuntime,
  stateDir: string,
  logger: Logger,
): Promise<SweptContainer[]> {
  const podmanDir = path.dirname(rt.podman.socketPath);
  const wrapper = path.join(podmanDir, 'runsc-wrapper');
  return sweepRunsc({
    daemonId: rt.daemonId,
    mountsDir: rt.config.mountsDir,
    stateDir,
    wrapper,
    runscRoot: runscRootOf(rt.user),
    logger,
    async runsc(args) {
      const [cmd, argv] = rt.user ? [rt.config.podman, ['unshare', wrapper, ...args]] : [wrapper, args];
      const r = await execa(cmd, argv, {
        env: rt.podman.env(),
        extendEnv: false,
        ...rt.podman.runAs,
        cwd: podmanDir,
        reject: false,
        timeout: 30_000,
      });
      return { exitCode: r.exitCode, stderr: String(r.stderr ?? '') };
    },
    async podmanContainers() {
      const list = await rt.docker.listContainers({ all: true });
      return new Set(list.map((c) => c.Id));
    },
  });
}
