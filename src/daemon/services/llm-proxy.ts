import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import {
  LlmProxy,
  LlmPolicy,
  type LlmCallRecord,
  type LlmCallSink,
  type LlmConfig,
} from '../../llm-proxy/index.js';
import { messageOf, systemClock, type Clock, type Logger } from '../../shared/index.js';
import { writeJsonAtomic } from '../../shared/fs/index.js';
import { daemonErrors } from '../errors.js';
import type { CredentialsService } from './credentials.js';
import type {
  HookDeps,
  RunningSandbox,
  SandboxContribution,
  SandboxHook,
  SandboxHookContext,
} from './hooks.js';

/** What a restarted daemon needs to serve a running sandbox again: the port and placeholder in its environment. */
const ProxyState = z.object({ port: z.number().int().positive(), placeholder: z.string().min(16) });

/** Where call records go (kind `llm-call`): the daemon's audit log. */
export interface LlmAuditLog {
  append(entry: {
    kind: string;
    id?: string;
    sandbox?: string;
    sandboxId?: string;
    data: Record<string, unknown>;
  }): Promise<unknown>;
}

/** Where each sandbox's LLM policy comes from: the policy layer (compose.ts adapts the PolicyService). */
export interface LlmPolicySource {
  /** The effective `llm` door of a sandbox (allowed providers, models, limits). */
  llmPolicyFor(ctx: SandboxHookContext): Promise<LlmPolicy>;
  /** Policy edits while sandboxes run: the listener gets a sandbox id and its new LLM policy (no restart needed). */
  onLlmPolicyChange(listener: (sandboxId: string, policy: LlmPolicy) => void): () => void;
}

export interface LlmProxyHookDeps extends HookDeps {
  credentials: CredentialsService;
  audit: LlmAuditLog;
  policy: LlmPolicySource;
  clock?: Clock;
}

/** Nothing allowed: what a sandbox gets when its new policy cannot be read (fail closed). */
const DENY_ALL: LlmPolicy = LlmPolicy.parse({});

/**
 * The policy service as the LLM layer's source: each sandbox's LLM policy is the effective `llm` door composed from
 * the org/team/project Rego layers.
 */
export function llmPolicySource(policy: {
  show(sandbox?: string): { doors: Record<string, unknown> };
  onChange(
    door: 'llm',
    layer: string,
    listener: (change: { sandboxId: string; effective: { llm?: unknown } }) => void,
  ): () => void;
}): LlmPolicySource {
  return {
    onLlmPolicyChange: (listener) =>
      policy.onChange('llm', 'llm-proxy', (change) => {
        const parsed = LlmPolicy.safeParse(change.effective.llm ?? {});
        listener(change.sandboxId, parsed.success ? parsed.data : DENY_ALL);
      }),
    llmPolicyFor: (ctx) => {
      const door = policy.show(ctx.name).doors['llm'];
      const parsed = LlmPolicy.safeParse(door ?? {});
      if (!parsed.success) {
        throw daemonErrors.create(
          'SANDBOX_LAYER_FAILED',
          `llm-proxy: the effective llm policy of ${ctx.name} is not usable`,
          { layer: 'llm-proxy' },
        );
      }
      return Promise.resolve(parsed.data);
    },
  };
}

/**
 * The LLM proxy layer: at prepare, starts the sandbox's proxy on the host loopback and contributes base URLs and
 * placeholder keys (never a key) plus the endpoint the egress layer must allow; re-attaches after a daemon restart
 * on the same port; stops it with the sandbox. Keys come from the daemon's CredentialsService.
 */
export class LlmProxyHook implements SandboxHook {
  readonly layer = 'llm-proxy';
  private readonly proxies = new Map<string, LlmProxy>();
  private readonly stateDir: string;

  private constructor(
    readonly credentials: CredentialsService,
    private readonly llm: LlmConfig,
    daemonStateDir: string,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly audit: LlmAuditLog,
    private readonly policy: LlmPolicySource,
  ) {
    this.stateDir = path.join(daemonStateDir, 'llm-proxy');
  }

  static create(deps: LlmProxyHookDeps): Promise<LlmProxyHook> {
    const logger = deps.logger.child({ layer: 'llm-proxy' });
    const hook = new LlmProxyHook(
      deps.credentials,
      deps.config.llm,
      deps.config.stateDir,
      logger,
      deps.clock ?? systemClock,
      deps.audit,
      deps.policy,
    );
    deps.policy.onLlmPolicyChange((sandboxId, policy) => hook.policyChanged(sandboxId, policy));
    return Promise.resolve(hook);
  }

  /** Applies a new LLM policy to a running sandbox's proxy at once. */
  policyChanged(sandboxId: string, policy: LlmPolicy): void {
    const proxy = this.proxies.get(sandboxId);
    if (!proxy) return;
    proxy.setPolicy(policy);
    this.logger.info(
      { sandboxId, providers: policy.providers, models: policy.models },
      'LLM policy updated for a running sandbox',
    );
  }

  /** The running proxy of a sandbox (tests, doctor). */
  proxyOf(sandboxId: string): LlmProxy | undefined {
    return this.proxies.get(sandboxId);
  }

  async prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    if (Object.keys(this.llm.providers).length === 0) return {};
    await this.stopProxy(ctx.id);
    const proxy = await this.startProxy(ctx, undefined);
    await this.saveState(ctx.id, { port: proxy.port, placeholder: proxy.placeholder });
    return {
      env: proxy.sandboxEnv(),
      network: true,
      endpoints: { 'llm-proxy': `http://${this.llm.sandboxHost}:${proxy.port}` },
    };
  }

  async adopt(sandbox: RunningSandbox): Promise<void> {
    if (Object.keys(this.llm.providers).length === 0) return;
    const state = await this.loadState(sandbox.id);
    if (!state) {
      throw daemonErrors.create(
        'SANDBOX_LAYER_FAILED',
        `llm-proxy: no saved proxy state for sandbox ${sandbox.name}; restart it with \`aibox start\``,
        { layer: 'llm-proxy' },
      );
    }
    await this.startProxy(sandbox, state);
  }

  async stop(ctx: SandboxHookContext): Promise<void> {
    await this.stopProxy(ctx.id);
    await rm(this.stateFile(ctx.id), { force: true });
  }

  private async startProxy(
    ctx: SandboxHookContext,
    state: z.infer<typeof ProxyState> | undefined,
  ): Promise<LlmProxy> {
    const policy = await this.policy.llmPolicyFor(ctx);
    const proxy = new LlmProxy({
      sandbox: { id: ctx.id, name: ctx.name },
      config: this.llm,
      policy,
      credentials: this.credentials.provider,
      sink: this.sink(),
      logger: this.logger,
      clock: this.clock,
      redactor: this.credentials.redactor,
      ...(state ? { port: state.port, placeholder: state.placeholder } : {}),
    });
    await proxy.start();
    this.proxies.set(ctx.id, proxy);
    return proxy;
  }

  private async stopProxy(id: string): Promise<void> {
    const proxy = this.proxies.get(id);
    this.proxies.delete(id);
    await proxy?.stop();
  }

  /** Every running proxy stops with the daemon (a restarted daemon re-adopts them on the same ports). */
  async close(): Promise<void> {
    for (const id of [...this.proxies.keys()]) await this.stopProxy(id);
  }

  private sink(): LlmCallSink {
    return {
      record: async (r: LlmCallRecord) => {
        await this.audit.append({
          kind: 'llm-call',
          id: r.decisionId,
          sandbox: r.sandboxName,
          sandboxId: r.sandboxId,
          data: { ...r },
        });
      },
    };
  }

  private stateFile(id: string): string {
    return path.join(this.stateDir, `${id}.json`);
  }

  private async saveState(id: string, state: z.infer<typeof ProxyState>): Promise<void> {
    // Atomic: a restarted daemon re-adopts the proxy from this file, never from half of it.
    await writeJsonAtomic(this.stateFile(id), state, { mode: 0o600, mkdirMode: 0o700 });
  }

  private async loadState(id: string): Promise<z.infer<typeof ProxyState> | undefined> {
    try {
      return ProxyState.parse(JSON.parse(await readFile(this.stateFile(id), 'utf8')));
    } catch (err) {
      this.logger.warn({ sandboxId: id, reason: messageOf(err) }, 'no usable llm-proxy state');
      return undefined;
    }
  }
}
