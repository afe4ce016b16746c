import { LABELS } from '../runtime/labels.js';
import { ENGINE_BASE_TAR, ENGINE_CA_DIR, ENGINE_ENTRY, ENGINE_SOCKET, ENGINE_SOCKET_DIR } from './recipe.js';

export interface EngineSpec {
  /** The engine's own id (its container name, its nftables table and limits cgroup). */
  id: string;
  /** The agent sandbox's id: the engine's sandbox-id label is `<it>-engine` (engineLabelId). */
  sandboxId: string;
  /** The agent sandbox's name: the engine's host name is `<name>-engine`. */
  sandboxName: string;
  daemonId: string;
  /** The engine image unpacked on the engine's capped disk (store.ts): the container's root filesystem. */
  rootfs: string;
  baseReference: string;
  baseTarball: string;
  /** Host folder mounted at ENGINE_SOCKET_DIR, where gVisor creates the API socket aiboxd connects to. */
  socketDir: string;
  /**
   * Daemon-owned host folder holding only the agent's egress CA certificate as `<hash>.0`, mounted read-only at
   * ENGINE_CA_DIR (RUN steps get it through mounts.conf). Without it, RUN steps trust their image's store only.
   */
  caDir?: string;
  rootless: boolean;
  sandboxUid: number;
  /** The agent sandbox's egress proxy as the engine sees it (http://10.0.2.2:<port>): the engine's only way out. */
  proxy: string;
  limits: {
    memoryMiB: number;
    cpus: number;
    pids: number;
    openFiles: number;
    processes: number;
    tmpfsMiB: number;
  };
}

/**
 * The sandbox-id label of a sandbox's engine container, and the id of its disk's mount folder: `<sandbox id>-engine`.
 * The restart sweep keeps a container or mount named `<id>-…` of a sandbox it re-adopted and sweeps it otherwise.
 */
export function engineLabelId(sandboxId: string): string {
  return `${sandboxId}-engine`;
}

/**
 * The libpod create body (SpecGenerator) of an engine sandbox. Pure. Libpod's, not Docker's: the root filesystem is
 * the engine image unpacked on the engine's capped disk (`rootfs`), which gVisor's root overlay keeps its file store
 * next to, so every write of the engine is capped (store.ts). Unlike an agent sandbox, its first process is root
 * inside gVisor with gVisor's virtual capabilities (a rootful Podman needs them to build: chroot, mounts, chown of
 * layer files); gVisor's root is not the host's, and under rootless Podman it maps to the aibox user. Its network is
 * a slirp4netns namespace like an agent's, where aiboxd's ruleset (net.ts) opens the agent's proxy only; Podman's
 * service gets that proxy in its environment and buildah passes it into RUN steps. No exec agent, and two mounts:
 * the folder of its API socket (and aiboxd's go-ahead) and the base image's tarball, read-only; a third, read-only,
 * with the agent's egress CA certificate when the sandbox has one.
 */
export function engineContainerSpec(spec: EngineSpec): Record<string, unknown> {
  const l = spec.limits;
  const proxyEnv = Object.fromEntries(
    ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].map((k) => [k, spec.proxy]),
  );
  return {
    name: `aibox-${spec.id}`,
    rootfs: spec.rootfs,
    entrypoint: [ENGINE_ENTRY],
    command: [ENGINE_SOCKET, ENGINE_BASE_TAR, spec.baseReference, String(spec.sandboxUid)],
    user: '0:0',
    work_dir: '/',
    hostname: `${spec.sandboxName}-engine`,
    env: {
      LANG: 'C.UTF-8',
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      ...proxyEnv,
      NO_PROXY: 'localhost,127.0.0.1,::1',
      no_proxy: 'localhost,127.0.0.1,::1',
    },
    labels: {
      [LABELS.managed]: 'true',
      [LABELS.daemon]: spec.daemonId,
      [LABELS.sandboxId]: engineLabelId(spec.sandboxId),
      [LABELS.sandboxName]: `${spec.sandboxName}-engine`,
      'io.aibox.engine': 'true',
    },
    cap_add: ['ALL'],
    no_new_privileges: true,
    netns: { nsmode: 'slirp4netns' },
    network_options: { slirp4netns: ['allow_host_loopback=true'] },
    mounts: [
      {
        destination: ENGINE_SOCKET_DIR,
        source: spec.socketDir,
        type: 'bind',
        options: ['rw', 'nosuid', 'nodev'],
      },
      {
        destination: ENGINE_BASE_TAR,
        source: spec.baseTarball,
        type: 'bind',
        options: ['ro', 'nosuid', 'nodev'],
      },
      ...(spec.caDir
        ? [
            {
              destination: ENGINE_CA_DIR,
              source: spec.caDir,
              type: 'bind',
              options: ['ro', 'nosuid', 'nodev', 'noexec'],
            },
          ]
        : []),
      {
        destination: '/tmp',
        source: 'tmpfs',
        type: 'tmpfs',
        options: ['rw', 'nosuid', 'nodev', `size=${l.tmpfsMiB}m`, 'mode=1777'],
      },
    ],
    r_limits: [
      { type: 'nofile', soft: l.openFiles, hard: l.openFiles },
      { type: 'nproc', soft: l.processes, hard: l.processes },
    ],
    ...(spec.rootless
      ? {}
      : {
          resource_limits: {
            memory: { limit: l.memoryMiB * 1024 * 1024 },
            cpu: { quota: Math.round(l.cpus * 100_000), period: 100_000 },
            pids: { limit: l.pids },
          },
        }),
  };
}
