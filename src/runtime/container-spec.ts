import path from 'node:path';
import type Docker from 'dockerode';
import type { Profile } from '../config/index.js';
import { LABELS } from './labels.js';

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface SandboxSpec {
  id: string;
  name: string;
  daemonId: string;
  image: string;
  profile: Profile;
  rootless: boolean;
  sandboxUid: number;
  /** Host path of the (idmapped) workspace view, mounted at /workspace. */
  workspace: string;
  /** Host directory mounted as the sandbox user's home. */
  home: string;
  /** Compiled seccomp filter that aibox-exec loads for every command. */
  seccompBpf: string;
  /**
   * Read-only views of paths inside the workspace (e.g. .git/hooks), already made by aiboxd from no-follow fds:
   * source is aiboxd's mount, target the workspace-relative path.
   */
  readOnlyPaths: Mount[];
  /** Other host paths, already made bindable by aiboxd the same way (source: its mount; target: inside). */
  extraMounts: Mount[];
  /** The host's CA bundle, mounted over the image's (undefined: keep the image's). */
  hostCaBundle?: string | undefined;
  env: Record<string, string>;
  network: boolean;
}

export const SANDBOX_HOME = '/home/agent';
export const SECCOMP_BPF_PATH = '/etc/aibox/seccomp.bpf';
export const EXEC_HELPER_PATH = '/usr/local/lib/aibox/aibox-exec';
export const AGENT_PATH = '/usr/local/lib/aibox/aibox-agent';
/** Where the agent's socket folder is mounted inside (owned by the agent's uid, mode 0700). */
export const AGENT_DIR = '/run/aibox-agent';
/**
 * The agent's only capabilities: become the sandbox user for each command (SETUID, SETGID) and signal commands of
 * that user (KILL). aibox-exec's uid change clears them all before a command starts.
 */
export const AGENT_CAPS = ['CAP_SETGID', 'CAP_SETUID', 'CAP_KILL'];

/** Every bind: no set-uid program and no device node on a host path can take effect through it. */
const BIND_FLAGS = 'nosuid,nodev';

function bind(source: string, target: string, readOnly: boolean): string {
  return `${source}:${target}:${readOnly ? 'ro' : 'rw'},${BIND_FLAGS}`;
}

/**
 * The Docker-compatible create body for a sandbox. Pure: everything the sandbox may do is visible here.
 * The first process is the exec agent (libexec/aibox-agent.c), on a socket in `agentDir` (the host folder mounted at
 * AGENT_DIR); every command arrives through it once enforcement is ready, and runs behind aibox-exec as the
 * sandbox user. The agent itself runs as the container's root (inside gVisor and, rootless, a user namespace) with
 * only AGENT_CAPS, so commands cannot signal or ptrace it.
 */
export function containerSpec(spec: SandboxSpec, agentDir: string): Docker.ContainerCreateOptions {
  const uid = spec.sandboxUid;
  // Commands never run as root in the container: uid 0 there would own what it writes through the idmapped mount.
  if (!Number.isInteger(uid) || uid < 1) throw new Error(`refusing sandbox uid ${uid}`);
  const limits = spec.profile.limits;
  const binds = [
    bind(spec.workspace, '/workspace', false),
    // Read-only paths, after their parent folders (pinnedParents) bound read-write over themselves.
    ...spec.readOnlyPaths.map((m) => bind(m.source, path.posix.join('/workspace', m.target), m.readOnly)),
    bind(spec.home, SANDBOX_HOME, false),
    bind(spec.seccompBpf, SECCOMP_BPF_PATH, true),
    bind(agentDir, AGENT_DIR, false),
    // The sandbox trusts the CAs the host trusts (corporate TLS-inspecting proxies add their own).
    // (Not when a layer mounts its own bundle there: egress adds the sandbox's proxy CA to the host's.)
    ...(spec.hostCaBundle && !spec.extraMounts.some((m) => m.target === '/etc/ssl/certs/ca-certificates.crt')
      ? [bind(spec.hostCaBundle, '/etc/ssl/certs/ca-certificates.crt', true)]
      : []),
    ...spec.extraMounts.map((m) => bind(m.source, m.target, m.readOnly)),
  ];
  return {
    name: `aibox-${spec.id}`,
    Image: spec.image,
    Entrypoint: [AGENT_PATH],
    Cmd: [`${AGENT_DIR}/agent.sock`, EXEC_HELPER_PATH, SECCOMP_BPF_PATH],
    // The agent's uid; commands get `uid` from aibox-exec.
    User: '0:0',
    WorkingDir: '/workspace',
    Hostname: spec.name,
    Env: Object.entries({ HOME: SANDBOX_HOME, USER: 'agent', AIBOX_SANDBOX: spec.name, ...spec.env }).map(
      ([k, v]) => `${k}=${v}`,
    ),
    Labels: {
      [LABELS.managed]: 'true',
      [LABELS.daemon]: spec.daemonId,
      [LABELS.sandboxId]: spec.id,
      [LABELS.sandboxName]: spec.name,
      [LABELS.profile]: spec.profile.name,
    },
    HostConfig: {
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      CapAdd: AGENT_CAPS,
      SecurityOpt: ['no-new-privileges', `seccomp=${spec.profile.seccompPath}`],
      NetworkMode: spec.network ? 'slirp4netns:allow_host_loopback=true' : 'none',
      ...(spec.rootless ? { UsernsMode: `keep-id:uid=${uid},gid=${uid}` } : {}),
      Binds: binds,
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${limits.tmpfsMiB}m,mode=1777` },
      Ulimits: [
        { Name: 'nofile', Soft: limits.openFiles, Hard: limits.openFiles },
        { Name: 'nproc', Soft: limits.processes, Hard: limits.processes },
      ],
      // Rootful Podman enforces these through cgroups itself; rootless ones get the same limits from aiboxd's
      // own cgroups (see limits.ts), since rootless Podman cannot manage cgroup v1.
      ...(spec.rootless
        ? {}
        : {
            Memory: limits.memoryMiB * 1024 * 1024,
            NanoCpus: Math.round(limits.cpus * 1e9),
            PidsLimit: limits.pids,
          }),
    },
  };
}

/**
 * Parent folders of workspace-relative read-only paths (`.git/hooks` -> `.git`), parents first, none itself listed.
 * They are bound over themselves so they cannot be renamed away and replaced by the agent's own
 * (`mv .git .git.old && mkdir .git`): a mount point can be neither renamed nor removed.
 */
export function pinnedParents(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join('/'));
  }
  return [...out].filter((p) => !paths.includes(p)).sort((a, b) => a.split('/').length - b.split('/').length);
}
