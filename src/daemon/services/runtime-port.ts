import type { Profile } from '../../config/index.js';
import type {
  BuildProgress,
  ContainerExit,
  ExecOptions,
  ExecSession,
  ManagedContainer,
  ProcessInfo,
  SandboxSpec,
} from '../../runtime/index.js';

/** What one finished buffered command returns. */
export interface BufferedExec {
  exitCode: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
  /** The exec's timeout killed it (exit 137). */
  timedOut?: boolean;
}

/** Container state as the daemon reads it (undefined: no such container). */
export interface ContainerState {
  running: boolean;
  pid: number;
  status: string;
  exitCode: number;
  oomKilled: boolean;
}

/**
 * Exactly what the daemon uses of the container runtime, declared on the consumer side: `SandboxRuntime`
 * (src/runtime) satisfies it structurally, and tests run the real composition root over `FakeRuntime`
 * (test/support/fake-runtime.ts). Nothing in src/daemon reaches past this (no dockerode, no Podman handle).
 */
export interface RuntimePort {
  /** This daemon's id: in every container label and in the mounts path. */
  readonly daemonId: string;
  readonly rootless: boolean;
  /** Host ids that appear as the sandbox user inside (owner of its home directory). */
  readonly sandboxHostIds: { uid: number; gid: number };
  /** The rootless Podman user, when there is one (doctor). */
  readonly user: { name: string; uid: number } | undefined;
  readonly podman: { ping(): Promise<boolean>; readonly socketPath: string };
  readonly image: {
    reference(): Promise<string>;
    present(): Promise<boolean>;
    build(
      force: boolean,
      onProgress: (p: BuildProgress) => void,
    ): Promise<{ image: string; cached: boolean }>;
  };
  readonly mounts: {
    unmount(sandboxId: string): Promise<void>;
    list(): Promise<string[]>;
    /** Where the sandbox's workspace is mounted (its tmpfs, for a sandbox without a host folder). */
    targetOf(sandboxId: string): string;
  };
  readonly limits: {
    available(): boolean;
    apply(sandboxId: string, profile: Profile, rootPid: number): Promise<void>;
    remove(sandboxId: string): Promise<void>;
    oomKills(sandboxId: string): Promise<number>;
  };

  start(): Promise<void>;
  stop(): Promise<void>;
  mountWorkspace(
    sandboxId: string,
    source: string,
    opts: { expect: string; forbid: string[] },
  ): Promise<string>;
  prepareMounts(
    sandboxId: string,
    items: { source: string; readOnly: boolean; forbid: string[] }[],
  ): Promise<string[]>;
  watchExits(onExit: (exit: ContainerExit) => void): () => void;
  compileSeccomp(profile: Profile, outFile: string): Promise<void>;
  createContainer(spec: SandboxSpec): Promise<string>;
  /** Starts the container; returns the host pid of its sandbox process. */
  startContainer(containerId: string): Promise<number>;
  inspect(containerId: string): Promise<ContainerState | undefined>;
  stopContainer(containerId: string): Promise<void>;
  removeContainer(containerId: string): Promise<void>;
  listManaged(daemonId: string): Promise<ManagedContainer[]>;
  /** Removes this daemon's containers the engine lost (gVisor state and processes); their sandbox ids. */
  sweepLost?(): Promise<string[]>;
  exec(containerId: string, options: ExecOptions): Promise<ExecSession>;
  execBuffered(containerId: string, options: ExecOptions): Promise<BufferedExec>;
  logs(containerId: string): Promise<string>;
  /** Every process in the sandbox but its exec agent. */
  processes(containerId: string): Promise<ProcessInfo[]>;
  /** Signals one process of the sandbox (the agent refuses itself and root processes). */
  killProcess(containerId: string, pid: number, signal: string | number): Promise<void>;
}
