import { join } from 'node:path';
import type { DaemonConfig } from '../../config/index.js';
import type { ExecSession as RuntimeExecSession } from '../../runtime/index.js';
import {
  SshGateway,
  SshGatewayConfig,
  sshErrors,
  type CommandPolicy,
  type ExecExit,
  type ExecSession,
  type ExecSpec,
  type GatewayInfo,
  type RegisteredKey,
  type SandboxExecutor,
  type SandboxRef,
  type SshAuditEvent,
  type SshAuditSink,
} from '../../ssh-gateway/index.js';
import { messageOf, systemClock, type Clock, type Logger } from '../../shared/index.js';
import type { RunningSandbox, SandboxContribution, SandboxHook, SandboxHookContext } from './hooks.js';
import type { BufferedExec } from './runtime-port.js';
import type { SandboxExecOptions } from './sandboxes.js';

/** Where audit records go: the daemon's hash-chained AuditLog satisfies this. */
export interface AuditAppender {
  append(entry: {
    kind: string;
    sandbox?: string;
    sandboxId?: string;
    data: Record<string, unknown>;
  }): Promise<unknown>;
}

/**
 * The sandbox service's exec path (SandboxService satisfies it): the same limits and environment `aibox exec` gets,
 * decided in one place.
 */
export interface SandboxExec {
  exec(name: string, options: SandboxExecOptions): Promise<RuntimeExecSession>;
  execBuffered(name: string, options: SandboxExecOptions): Promise<BufferedExec>;
}

interface Tracked {
  id: string;
  name: string;
}

/** Signals a client may ask for (RFC 4254 names); anything else is ignored. */
const SIGNALS = new Set([
  'ABRT',
  'ALRM',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'KILL',
  'PIPE',
  'QUIT',
  'SEGV',
  'TERM',
  'USR1',
  'USR2',
]);
/** In a pty the terminal's own keys deliver these to the foreground process group, as they would locally. */
const TTY_KEYS: Record<string, string> = { INT: '\x03', QUIT: '\x1c' };

/**
 * The gateway's SandboxExecutor over the sandbox service: every channel is an exec in the sandbox (gVisor, the
 * sandbox's non-root user, its seccomp filter, process limit and exec environment, exactly as `aibox exec` gets),
 * through the sandbox's exec agent, which also makes the pty, resizes it and signals the command's process group.
 * Sandboxes are known from the lifecycle hook calls, so a stopped or unknown sandbox is simply not found.
 */
export class SandboxSshExecutor implements SandboxExecutor {
  private readonly running = new Map<string, Tracked>();

  constructor(
    private readonly sandboxes: SandboxExec,
    private readonly logger: Logger,
  ) {}

  track(sandbox: Tracked): void {
    this.running.set(sandbox.name, { id: sandbox.id, name: sandbox.name });
  }

  forget(name: string): void {
    this.running.delete(name);
  }

  find(name: string): Promise<SandboxRef | undefined> {
    const s = this.running.get(name);
    return Promise.resolve(s ? { id: s.id, name: s.name } : undefined);
  }

  async exec(ref: SandboxRef, spec: ExecSpec): Promise<ExecSession> {
    const sandbox = this.running.get(ref.name);
    if (!sandbox || sandbox.id !== ref.id) {
      throw sshErrors.create('SSH_SANDBOX_GONE', `sandbox ${ref.name} is no longer running`);
    }
    const options: SandboxExecOptions = {
      cmd: spec.cmd,
      stdin: true,
      env: spec.env,
      ...(spec.workdir ? { workdir: spec.workdir } : {}),
      ...(spec.tty ? { tty: true, cols: spec.tty.cols, rows: spec.tty.rows } : {}),
    };
    const session = await this.sandboxes.exec(sandbox.name, options);
    let done = false;
    const exit: Promise<ExecExit> = session.exit.then(
      (code) => {
        done = true;
        return { code };
      },
      (err: unknown) => {
        done = true;
        throw err;
      },
    );
    const kill = async (signal: string) => {
      if (done || !session.signal) return;
      await session
        .signal(signal)
        .catch((err: unknown) => this.logger.debug({ err: messageOf(err), signal }, 'signal not delivered'));
    };
    let closed = false;
    return {
      stdin: session.stdin,
      stdout: session.stdout,
      stderr: session.stderr,
      exit,
      resize: (cols, rows) => (spec.tty && !done ? session.resize(cols, rows) : Promise.resolve()),
      signal: async (name) => {
        const sig = name.toUpperCase().replace(/^SIG/, '');
        if (!SIGNALS.has(sig)) return;
        const key = spec.tty ? TTY_KEYS[sig] : undefined;
        if (key) session.stdin.write(key);
        else await kill(sig);
      },
      close: () => {
        if (closed) return;
        closed = true;
        session.stdin.end();
        // Like sshd: a pty session gets a hang-up; a plain command only loses its stdin (daemons it started survive).
        if (spec.tty) void kill('HUP');
      },
    };
  }
}

/** Writes every gateway event to the audit log (kind `ssh`) and to the daemon log. */
export class SshAuditBridge implements SshAuditSink {
  constructor(
    private readonly logger: Logger,
    private readonly log: AuditAppender,
  ) {}

  record(event: SshAuditEvent): void {
    const { sandbox, sandboxId, ...data } = event;
    this.logger.info({ ssh: event }, `${event.action} ${event.outcome}`);
    this.log
      .append({
        kind: 'ssh',
        sandbox,
        ...(sandboxId ? { sandboxId } : {}),
        data: data,
      })
      .catch((err: unknown) =>
        this.logger.error({ err: messageOf(err) }, 'could not append an ssh audit record'),
      );
  }
}

/** The slice of the daemon's PolicyService the gateway uses: its exec door. */
export interface PolicyAccess {
  decide(
    door: 'exec',
    request: unknown,
    sandbox?: string,
  ): Promise<{ id: string; outcome: 'allow' | 'approve' | 'deny'; reason: string }>;
}

/**
 * The command door for SSH: shells, commands and sftp servers are asked of policy's `exec` door (via `ssh`), with
 * the argv that will run (`bash -c '<command>'` for a command, as sshd runs it). A decision that needs approval is
 * a refusal here: an SSH session cannot wait for one. Forwards to the sandbox's own loopback are not commands.
 */
export function execDoorPolicy(policy: PolicyAccess): CommandPolicy {
  return async (req) => {
    if (req.kind === 'forward') return { allow: true };
    const d = await policy.decide(
      'exec',
      { argv: [...req.argv], via: 'ssh', tty: req.kind === 'shell' },
      req.sandbox.name,
    );
    if (d.outcome === 'allow') return { allow: true };
    return {
      allow: false,
      reason: d.outcome === 'approve' ? `needs an approval SSH cannot wait for: ${d.reason}` : d.reason,
      rule: `decision ${d.id}; aibox policy explain --log-entry ${d.id}`,
    };
  };
}

export interface SshGatewayHookDeps {
  config: DaemonConfig;
  logger: Logger;
  /** Where every command runs: the sandbox service's exec path. */
  sandboxes: SandboxExec;
  /** The command door of policy (`execDoorPolicy` over the policy service): asked for every command. */
  policy: CommandPolicy;
  /** The daemon's audit log: every gateway event is recorded (kind `ssh`). */
  audit: AuditAppender;
  clock?: Clock;
}

/**
 * The SSH gateway as a daemon layer: listens from daemon start (fail closed: if it is enabled and cannot listen,
 * the daemon does not start and the error names the port), learns running sandboxes from the lifecycle calls,
 * drops a sandbox's SSH connections when it stops, and serves the ssh-keys routes.
 */
export class SshGatewayHook implements SandboxHook {
  readonly layer = 'ssh-gateway';

  private constructor(
    readonly config: SshGatewayConfig,
    private readonly gateway: SshGateway | undefined,
    private readonly executor: SandboxSshExecutor | undefined,
  ) {}

  static async create(deps: SshGatewayHookDeps): Promise<SshGatewayHook> {
    const section = (deps.config as { sshGateway?: unknown }).sshGateway;
    const config = SshGatewayConfig.parse(section ?? {});
    if (!config.enabled) return new SshGatewayHook(config, undefined, undefined);
    const logger = deps.logger.child({ layer: 'ssh-gateway' });
    const executor = new SandboxSshExecutor(deps.sandboxes, logger);
    const gateway = new SshGateway({
      config,
      stateDir: join(deps.config.stateDir, 'ssh'),
      executor,
      audit: new SshAuditBridge(logger, deps.audit),
      logger,
      clock: deps.clock ?? systemClock,
      policy: deps.policy,
    });
    await gateway.start();
    return new SshGatewayHook(config, gateway, executor);
  }

  prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    const info = this.gateway?.info();
    return Promise.resolve(info ? { endpoints: { ssh: `ssh://${ctx.name}@${info.host}:${info.port}` } } : {});
  }

  started(sandbox: RunningSandbox): Promise<void> {
    this.executor?.track(sandbox);
    return Promise.resolve();
  }

  adopt(sandbox: RunningSandbox): Promise<void> {
    return this.started(sandbox);
  }

  stop(ctx: SandboxHookContext): Promise<void> {
    this.executor?.forget(ctx.name);
    this.gateway?.disconnectSandbox(ctx.name);
    return Promise.resolve();
  }

  /** Where and how clients reach the gateway; undefined when it is disabled. */
  info(): GatewayInfo | undefined {
    return this.gateway?.info();
  }

  listKeys(): Promise<RegisteredKey[]> {
    return this.enabled().keys.list();
  }

  addKey(publicKey: string): Promise<RegisteredKey[]> {
    return this.enabled().keys.add(publicKey);
  }

  removeKey(selector: string): Promise<RegisteredKey> {
    return this.enabled().keys.remove(selector);
  }

  async close(): Promise<void> {
    await this.gateway?.stop();
  }

  private enabled(): SshGateway {
    if (!this.gateway)
      throw sshErrors.create('SSH_GATEWAY_DISABLED', 'the SSH gateway is disabled in the daemon config');
    return this.gateway;
  }
}
