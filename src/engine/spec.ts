import type Docker from 'dockerode';
import { LABELS } from '../runtime/labels.js';
import { ENGINE_BASE_TAR, ENGINE_ENTRY, ENGINE_SOCKET, ENGINE_SOCKET_DIR } from './recipe.js';

export interface EngineSpec {
  /** The engine's own id (its container name, labels and limits cgroup). */
  id: string;
  /** The agent sandbox's name: the engine's host name is `<name>-engine`. */
  sandboxName: string;
  daemonId: string;
  image: string;
  baseReference: string;
  baseTarball: string;
  /** Host folder mounted at ENGINE_SOCKET_DIR, where gVisor creates the API socket aiboxd connects to. */
  socketDir: string;
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
 * The Docker-compatible create body of an engine sandbox. Pure. Unlike an agent sandbox, its first process is root
 * inside gVisor with gVisor's virtual capabilities (a rootful Podman needs them to build: chroot, mounts, chown of
 * layer files); gVisor's root is not the host's, and under rootless Podman it maps to the aibox user. Its network is
 * a slirp4netns namespace like an agent's, where aiboxd's ruleset (net.ts) opens the agent's proxy only; Podman's
 * service gets that proxy in its environment and buildah passes it into RUN steps. No exec agent, and two mounts:
 * the folder of its API socket (and aiboxd's go-ahead) and the base image's tarball, read-only.
 */
export function engineContainerSpec(spec: EngineSpec): Docker.ContainerCreateOptions {
  const l = spec.limits;
  return {
    name: `aibox-${spec.id}`,
    Image: spec.image,
    Entrypoint: [ENGINE_ENTRY],
    Cmd: [ENGINE_SOCKET, ENGINE_BASE_TAR, spec.baseReference, String(spec.sandboxUid)],
    User: '0:0',
    WorkingDir: '/',
    Hostname: `${spec.sandboxName}-engine`,
    Env: [
      'LANG=C.UTF-8',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      ...['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].map((k) => `${k}=${spec.proxy}`),
      'NO_PROXY=localhost,127.0.0.1,::1',
      'no_proxy=localhost,127.0.0.1,::1',
    ],
    Labels: {
      [LABELS.managed]: 'true',
      [LABELS.daemon]: spec.daemonId,
      [LABELS.sandboxId]: spec.id,
      [LABELS.sandboxName]: `${spec.sandboxName}-engine`,
      'io.aibox.engine': 'true',
    },
    HostConfig: {
      CapAdd: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      NetworkMode: 'slirp4netns:allow_host_loopback=true',
      Binds: [
        `${spec.socketDir}:${ENGINE_SOCKET_DIR}:rw,nosuid,nodev`,
        `${spec.baseTarball}:${ENGINE_BASE_TAR}:ro,nosuid,nodev`,
      ],
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${l.tmpfsMiB}m,mode=1777` },
      Ulimits: [
        { Name: 'nofile', Soft: l.openFiles, Hard: l.openFiles },
        { Name: 'nproc', Soft: l.processes, Hard: l.processes },
      ],
      ...(spec.rootless
        ? {}
        : { Memory: l.memoryMiB * 1024 * 1024, NanoCpus: Math.round(l.cpus * 1e9), PidsLimit: l.pids }),
    },
  };
}
