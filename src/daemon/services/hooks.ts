import type { DaemonConfig } from '../../config/index.js';
import type { Logger, SandboxReport } from '../../shared/index.js';
import type { RuntimePort } from './runtime-port.js';

/** What the composition root (compose.ts) hands every layer it builds. This module imports no layer: a leaf. */
export interface HookDeps {
  config: DaemonConfig;
  logger: Logger;
  runtime: RuntimePort;
  daemonId: string;
}

/**
 * What a sandbox looks like to the enforcement layers that plug into its lifecycle (egress, credentials/LLM proxy,
 * git gateway, …). Hooks run in order at start; if any throws, the sandbox is torn down (fail closed) and the error
 * names the hook's layer. At stop they run in reverse order, only once the container has stopped (enforcement
 * outlives the last sandbox process), and must be idempotent (a daemon restart may call
 * `stop` for a sandbox whose `start` ran in a previous life).
 */
export interface SandboxHookContext {
  readonly id: string;
  readonly name: string;
  /** Absolute host path of the project folder. */
  readonly path: string;
  readonly profile: string;
  readonly logger: Logger;
  /**
   * No host project folder (a session or a pooled sandbox): `path` is then an empty folder of the daemon's own,
   * never the workspace (which the agent writes), and there is no host path to authorize or watch.
   */
  readonly ephemeral?: boolean;
  /** The policy team layer the daemon chose for this sandbox (a session's token team); unset: the org decides. */
  readonly team?: string;
  /** Created with `devcontainer: false`: the project's devcontainer.json is not applied. */
  readonly noDevcontainer?: boolean;
}

/** What a hook contributes before the container is created. */
export interface SandboxContribution {
  /** Environment variables for every process in the sandbox (never secrets). */
  env?: Record<string, string>;
  /**
   * Workspace-relative paths mounted read-only over the workspace (host git and host aibox read them: the agent must
   * not be able to write them).
   */
  readOnlyPaths?: string[];
  /** Extra bind mounts (host path -> container path). */
  mounts?: {
    source: string;
    target: string;
    readOnly: boolean;
    /** The daemon made the source itself under its own state (exempt from the forbidden host prefixes). */
    daemonOwned?: boolean;
  }[];
  /** The sandbox needs a network namespace (otherwise it gets none at all). */
  network?: boolean;
  /** Named endpoints shown to users, e.g. { proxy: 'http://10.0.2.2:31280' }. */
  endpoints?: Record<string, string>;
}

export interface RunningSandbox extends SandboxHookContext {
  /** A host pid inside the sandbox's network namespace (for nsenter). */
  readonly pid: number;
  readonly containerId: string;
  /** The endpoints every hook contributed at prepare (name → URL): egress opens the gateway ports among them. */
  readonly endpoints?: Readonly<Record<string, string>>;
}

export interface SandboxHook {
  /** The enforcement layer's name, used in errors: "egress", "llm-proxy", … */
  readonly layer: string;
  prepare?(ctx: SandboxHookContext): Promise<SandboxContribution>;
  /**
   * Runs after the container started and before any exec is allowed, in start order (compose.ts): egress applies
   * its rules before any later layer (the SSH gateway registers the sandbox here) can let anything in.
   */
  started?(sandbox: RunningSandbox): Promise<void>;
  /** Re-attaches to a sandbox found running after a daemon restart. */
  adopt?(sandbox: RunningSandbox): Promise<void>;
  /**
   * After a restart, once every sandbox on record is recovered: the ids of containers the layer runs under ids of
   * their own (companion services) for the re-adopted sandboxes (`adopted`), which the start-up sweep leaves alone.
   */
  keeps?(adopted: ReadonlySet<string>): Promise<string[]>;
  stop?(ctx: SandboxHookContext): Promise<void>;
  /** What the layer adds to a running sandbox's view (`aibox status`, GET /v1/sandboxes/:name). */
  report?(sandboxId: string): Promise<Partial<Pick<SandboxReport, 'services'>>>;
  /** Environment added to every exec from now on (e.g. PATH of packs installed into the running sandbox). */
  execEnv?(ctx: { id: string; name: string }): Promise<Record<string, string>>;
  /** Releases what the layer holds in the daemon (listeners, timers, files) at shutdown; sandboxes keep running. */
  close(): Promise<void>;
}
