import type { Logger } from '../shared/index.js';
import type { SshGatewayConfig } from './config.js';
import type { EnvPolicy } from './env-policy.js';
import type {
  CommandDecision,
  CommandKind,
  CommandPolicy,
  SandboxExecutor,
  SandboxRef,
  SshAuditEvent,
  SshAuditSink,
} from './ports.js';

/** Everything a channel handler needs about the authenticated connection it belongs to. */
export class ConnectionContext {
  private readonly open = new Set<{ close(): void }>();

  constructor(
    readonly sandbox: SandboxRef,
    readonly keyFingerprint: string,
    readonly remote: string,
    readonly logger: Logger,
    readonly config: SshGatewayConfig,
    readonly executor: SandboxExecutor,
    private readonly policy: CommandPolicy,
    private readonly audit: SshAuditSink,
    readonly envPolicy: EnvPolicy,
  ) {}

  record(event: Omit<SshAuditEvent, 'sandbox' | 'sandboxId' | 'keyFingerprint' | 'remote'>): void {
    try {
      this.audit.record({
        sandbox: this.sandbox.name,
        sandboxId: this.sandbox.id,
        keyFingerprint: this.keyFingerprint,
        remote: this.remote,
        ...event,
      });
    } catch (err) {
      this.logger.error({ err }, 'audit sink failed');
    }
  }

  /** Asks the command door; a failing policy refuses (fail closed). */
  async decide(kind: CommandKind, argv: string[], command?: string): Promise<CommandDecision> {
    try {
      return await this.policy({
        sandbox: this.sandbox,
        kind,
        argv,
        keyFingerprint: this.keyFingerprint,
        ...(command !== undefined ? { command } : {}),
      });
    } catch (err) {
      this.logger.error({ err }, 'command policy failed; refusing');
      return { allow: false, reason: 'the command policy could not be evaluated', rule: 'policy-error' };
    }
  }

  /** Keeps an exec to close when the connection ends; returns the function that forgets it. */
  track(item: { close(): void }): () => void {
    this.open.add(item);
    return () => this.open.delete(item);
  }

  closeAll(): void {
    for (const item of this.open) item.close();
    this.open.clear();
  }
}

export function refusalText(decision: Extract<CommandDecision, { allow: false }>): string {
  return `aibox: refused by policy${decision.rule ? ` (${decision.rule})` : ''}: ${decision.reason}`;
}
