import { basename, dirname, join } from 'node:path';
import {
  buildEgressPolicy,
  Canary,
  EgressConfig,
  EgressManager,
  egressErrors,
  runSelftest,
  systemResolvers,
  type EgressDecision,
  type EgressPolicy,
  type GatewayEndpoint,
  type SandboxExec,
  type SelftestReport,
} from '../../egress/index.js';
import { messageOf, systemClock, type Clock, type Logger } from '../../shared/index.js';
import type {
  HookDeps,
  RunningSandbox,
  SandboxContribution,
  SandboxHook,
  SandboxHookContext,
} from './hooks.js';
import { egressPolicyInput, type PolicyService } from './policy.js';
import type { EffectiveEgress } from '../../policy/doors/egress.js';
import type { CredentialProvider } from '../../credentials/index.js';
import type { PlaceholderRule } from '../../egress/policy.js';
import {
  CredentialBindings,
  type BindingOutcome,
  type PackBindingSource,
  type SandboxBindings,
} from './credential-bindings.js';

const RECENT_DECISIONS = 5000;
/** The base image's system trust bundle (Debian), and where the sandbox finds its egress CA alone. */
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const SANDBOX_TRUST_DIR = '/etc/aibox/egress';
/** Where Debian's JDKs read their trust store (lib/security/cacerts links there): see egress/java-truststore.ts. */
const JAVA_CACERTS = '/etc/ssl/certs/java/cacerts';

export interface EgressServiceDeps extends HookDeps {
  /** The sandbox's effective egress comes from the policy layer only, and its changes hot-reload. */
  policy: PolicyService;
  /**
   * 'none': no sandbox gets a network at all (the egress layer enforces nothing, so nothing may go out). For
   * daemons without the root-only parts (nftables, netns): the unit-test daemon. Default: 'enforced'.
   */
  network?: 'enforced' | 'none';
  clock?: Clock;
  /** Where injected credentials come from (egress.credentials bindings); required when there are bindings. */
  credentials?: CredentialProvider;
}

/**
 * The egress layer in the daemon: a SandboxHook around the EgressManager. prepare starts the sandbox's resolver
 * and proxy and asks for a network namespace; started applies and verifies the ruleset inside that namespace
 * before any exec is allowed (fail closed: a failure stops the sandbox, naming EGRESS_*); adopt re-attaches after
 * a daemon restart; stop tears everything down. Policy changes (aibox/policy.yaml edits) apply to running
 * sandboxes without a restart.
 */
export class EgressService implements SandboxHook {
  readonly layer = 'egress';
  private readonly recent = new Map<string, EgressDecision>();
  private readonly canary = new Canary();
  private readonly names = new Map<string, string>();
  /** Learn mode (src/daemon/services/proposals.ts): decision observers. */
  private readonly observers = new Set<(d: EgressDecision) => void>();
  /** The credential rules (bound host, header, placeholder) in force per sandbox id; values live in the manager. */
  private readonly placeholders = new Map<string, PlaceholderRule[]>();
  /** Which bindings each sandbox gets (daemon config + its packs', through the credentials door). */
  private readonly bindings: CredentialBindings;
  private sweepTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly manager: EgressManager,
    private readonly config: EgressConfig,
    private readonly policyService: PolicyService,
    private readonly logger: Logger,
    /** Whether sandboxes may get a network: only when this layer enforces egress on it. */
    readonly enforcing: boolean,
    credentials: CredentialProvider | undefined,
  ) {
    this.bindings = new CredentialBindings({
      config: config.credentials,
      provider: credentials,
      policy: policyService,
      logger,
    });
    // A change that fails to apply throws: the previous policy stays in force (nothing is opened by it), and the
    // policy service shows that one, with the error. The credentials door is decided again with it.
    policyService.onChange('egress', 'egress', async (change) => {
      if (!this.manager.state(change.sandboxId)) return;
      await this.bindings.recompute({ id: change.sandboxId, name: change.sandbox }, {}, async (b) => {
        const policy = this.withDaemonSettings(
          egressPolicyInput(change.effective.egress),
          change.effective.egress.allowHttp,
          b.rules,
        );
        await this.manager.update(change.sandboxId, policy, b.values);
        this.placeholders.set(change.sandboxId, b.rules);
      });
    });
  }

  static async create(deps: EgressServiceDeps): Promise<EgressService> {
    const config = EgressConfig.parse((deps.config as { egress?: unknown }).egress ?? {});
    const logger = deps.logger.child({ svc: 'egress' });
    const late: { service?: EgressService } = {};
    const manager = new EgressManager({
      config,
      stateDir: join(deps.config.stateDir, 'egress'),
      logger,
      clock: deps.clock ?? systemClock,
      sink: (d) => late.service?.record(d),
      upstreamDns: await systemResolvers(config.upstreamDns),
      daemonId: deps.daemonId,
    });
    await manager.init();
    const service = new EgressService(
      manager,
      config,
      deps.policy,
      logger,
      deps.network !== 'none',
      deps.credentials,
    );
    service.startRefreshing();
    late.service = service;
    service.startSweeping(async () => {
      const containers = await deps.runtime.listManaged(deps.daemonId);
      return new Set(containers.filter((c) => c.running).map((c) => c.sandboxId));
    });
    return service;
  }

  async prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    if (!this.enforcing) return {};
    // Squid finishes starting while the container is made; `started` (attach) waits for it before the rules open.
    await this.bindings.recompute(ctx, { strict: true }, async (b) => {
      this.placeholders.set(ctx.id, b.rules);
      await this.manager.prepare(ctx.id, await this.policyFor(ctx, b.rules), {
        background: true,
        credentialPlaceholders: { ...b.placeholders },
        credentials: b.values,
      });
    });
    this.names.set(ctx.name, ctx.id);
    const { proxy } = this.manager.endpoints(ctx.id);
    // Gateways on the host (LLM proxy, git) are reached directly: the ruleset opens their ports, the proxy would
    // refuse an IP-literal destination.
    const noProxy = ['localhost', '127.0.0.1', '::1', this.config.sandboxHostAddress].join(',');
    // The sandbox trusts its own egress CA (inspected hosts' certificates are signed with it); the key stays here.
    const trust = this.manager.trust(ctx.id);
    return {
      network: true,
      mounts: [
        { source: trust.bundle, target: SYSTEM_CA_BUNDLE, readOnly: true, daemonOwned: true },
        { source: dirname(trust.caCert), target: SANDBOX_TRUST_DIR, readOnly: true, daemonOwned: true },
        { source: trust.javaTrustStore, target: JAVA_CACERTS, readOnly: true, daemonOwned: true },
      ],
      env: {
        NODE_EXTRA_CA_CERTS: `${SANDBOX_TRUST_DIR}/${basename(trust.caCert)}`,
        SSL_CERT_FILE: SYSTEM_CA_BUNDLE,
        REQUESTS_CA_BUNDLE: SYSTEM_CA_BUNDLE,
        CURL_CA_BUNDLE: SYSTEM_CA_BUNDLE,
        HTTP_PROXY: proxy,
        HTTPS_PROXY: proxy,
        http_proxy: proxy,
        https_proxy: proxy,
        NO_PROXY: noProxy,
        no_proxy: noProxy,
      },
      endpoints: { proxy },
    };
  }

  async started(sandbox: RunningSandbox): Promise<void> {
    if (!this.enforcing) return;
    await this.manager.attach(sandbox.id, { pid: sandbox.pid }, this.gatewaysOf(sandbox));
  }

  async adopt(sandbox: RunningSandbox): Promise<void> {
    if (!this.enforcing) return;
    this.names.set(sandbox.name, sandbox.id);
    // Commands already running hold the placeholders they were given: keep them (new ones if none recorded).
    const saved = await this.savedPlaceholders(sandbox.id);
    await this.bindings.recompute(sandbox, { saved }, async (b) => {
      this.placeholders.set(sandbox.id, b.rules);
      await this.manager.adopt(
        sandbox.id,
        await this.policyFor(sandbox, b.rules),
        { pid: sandbox.pid },
        this.gatewaysOf(sandbox),
        b.values,
      );
      await this.manager.recordCredentialPlaceholders(sandbox.id, { ...b.placeholders });
    });
  }

  /** The placeholder variables of the bindings the sandbox is given, for every later command. */
  execEnv(ctx: { id: string }): Promise<Record<string, string>> {
    return Promise.resolve(this.bindings.env(ctx.id));
  }

  /** What became of each credential binding of the sandbox at the last computation (doctor). */
  bindingOutcomes(sandboxId: string): BindingOutcome[] {
    return this.bindings.current(sandboxId)?.outcomes ?? [];
  }

  /** The packs layer (built after this one) tells which bindings the packs installed in a sandbox declare. */
  setPackBindings(source: PackBindingSource): void {
    this.bindings.setPackSource(source);
  }

  /**
   * Decides the sandbox's bindings again (a pack installed or removed) and reloads its proxy; returns what became
   * of each binding. Nothing to do for a sandbox without enforcement.
   */
  async refreshBindings(sandbox: { id: string; name: string }): Promise<SandboxBindings | undefined> {
    if (!this.enforcing || !this.manager.state(sandbox.id)) return undefined;
    return this.bindings.recompute(sandbox, {}, async (b) => {
      const effective = this.policyService.egress(sandbox.name);
      const policy = this.withDaemonSettings(egressPolicyInput(effective), effective.allowHttp, b.rules);
      await this.manager.update(sandbox.id, policy, b.values);
      this.placeholders.set(sandbox.id, b.rules);
      await this.manager.recordCredentialPlaceholders(sandbox.id, { ...b.placeholders });
      return b;
    });
  }

  /** Placeholders by binding key from the state file (older state: the config bindings' list, in config order). */
  private async savedPlaceholders(sandboxId: string): Promise<Record<string, string>> {
    const byKey = await this.manager.savedCredentialPlaceholders(sandboxId);
    if (byKey) return byKey;
    const list = (await this.manager.savedPlaceholders(sandboxId)) ?? [];
    const out: Record<string, string> = {};
    this.config.credentials.forEach((b, i) => {
      if (list[i] !== undefined && list.length === this.config.credentials.length)
        out[`config:${b.env}`] = list[i];
    });
    return out;
  }

  async stop(ctx: SandboxHookContext): Promise<void> {
    this.names.delete(ctx.name);
    this.placeholders.delete(ctx.id);
    this.bindings.forget(ctx.id);
    await this.manager.release(ctx.id);
  }

  /**
   * Opens the sandbox's companion services (src/daemon/services/companions.ts) in its ruleset: each an address and
   * port on a private link. Refused without enforcement (then the sandbox has no network to link).
   */
  async openPeers(
    sandboxId: string,
    peers: readonly { name: string; address: string; port: number }[],
  ): Promise<void> {
    if (!this.enforcing)
      throw egressErrors.create('EGRESS_NOT_ENFORCED', 'companion services need egress enforcement');
    await this.manager.setPeers(sandboxId, [...peers]);
  }

  /** Runs the enforcement probes from inside the sandbox (see src/egress/selftest.ts). */
  async selftest(name: string, sandboxId: string, exec: SandboxExec): Promise<SelftestReport> {
    if (!this.manager.state(sandboxId))
      throw egressErrors.create('EGRESS_NOT_ENFORCED', `sandbox ${name} has no egress enforcement attached`);
    await this.canary.start(this.manager.state(sandboxId)!.listenAddress);
    return runSelftest({
      sandbox: name,
      sandboxId,
      manager: this.manager,
      canary: this.canary,
      exec,
      findDecision: (id) => this.recent.get(id),
    });
  }

  decision(id: string): EgressDecision | undefined {
    return this.recent.get(id);
  }

  /** The decisions kept in memory (allowed and refused, oldest first; the last RECENT_DECISIONS since start). */
  recentDecisions(): EgressDecision[] {
    return [...this.recent.values()];
  }

  /** Learn mode: every decision from now on (the listener must not throw); returns the unsubscribe. */
  observe(listener: (d: EgressDecision) => void): () => void {
    this.observers.add(listener);
    return () => this.observers.delete(listener);
  }

  enforces(sandboxId: string): boolean {
    return this.enforcing && this.manager.state(sandboxId) !== undefined;
  }

  /**
   * Learn mode (src/daemon/services/proposals.ts): renders one running sandbox's egress from `ceiling` (its org/team
   * layers without the project's narrowing) instead of its policy; undefined renders its policy again. Throws when
   * the rules cannot be applied (learn mode then fails closed). A policy change renders the policy alone: learn
   * mode, told after this layer, applies the ceiling again.
   */
  async learnCeiling(sandboxId: string, ceiling: EffectiveEgress | undefined): Promise<void> {
    const name = [...this.names].find(([, id]) => id === sandboxId)?.[0];
    if (!name || !this.manager.state(sandboxId)) {
      if (ceiling)
        throw egressErrors.create(
          'EGRESS_NOT_ENFORCED',
          `sandbox ${sandboxId} has no egress enforcement attached`,
        );
      return;
    }
    const effective = ceiling ?? this.policyService.egress(name);
    const policy = this.withDaemonSettings(
      egressPolicyInput(effective),
      effective.allowHttp,
      this.placeholders.get(sandboxId) ?? [],
    );
    await this.manager.update(sandboxId, policy);
  }

  /** Periodically removes what failed or interrupted starts left in the egress state directory. */
  private startSweeping(running: () => Promise<ReadonlySet<string>>): void {
    let sweeping = false;
    this.sweepTimer = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      this.manager
        .sweep(running)
        .catch((err: unknown) => this.logger.warn({ err: messageOf(err) }, 'egress sweep failed'))
        .finally(() => (sweeping = false));
    }, this.config.sweepIntervalSeconds * 1000);
    // A timer must never keep a closing daemon (or a test) alive.
    this.sweepTimer.unref();
  }

  /** Re-reads bound secrets periodically (Vault leases renew, values rotate) and reloads proxies whose value changed. */
  private startRefreshing(): void {
    let busy = false;
    this.refreshTimer = setInterval(() => {
      if (busy) return;
      busy = true;
      void (async () => {
        try {
          for (const id of this.placeholders.keys()) {
            if (!this.manager.state(id)) continue;
            const changed = await this.bindings.refresh(id, (b) =>
              this.manager.updateCredentials(id, b.values),
            );
            if (changed) this.logger.info({ sandboxId: id }, 'injected credentials reloaded');
          }
        } catch (err) {
          this.logger.warn({ err: messageOf(err) }, 'cannot refresh injected credentials');
        } finally {
          busy = false;
        }
      })();
    }, this.config.credentialRefreshSeconds * 1000);
    this.refreshTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.refreshTimer);
    clearInterval(this.sweepTimer);
    await this.canary.close();
    await this.manager.close();
  }

  private record(d: EgressDecision): void {
    this.recent.set(d.id, d);
    for (const observe of this.observers) observe(d);
    if (this.recent.size > RECENT_DECISIONS) this.recent.delete(this.recent.keys().next().value!);
    const line = {
      decision: d.id,
      sandboxId: d.sandboxId,
      layer: d.layer,
      reason: d.reason,
      target: d.target,
    };
    if (d.verdict === 'deny') this.logger.info(line, 'egress denied');
    else this.logger.debug(line, 'egress allowed');
    // Refusals go to the audit log under the id the agent saw, so `aibox policy explain --log-entry` finds them.
    if (d.verdict === 'deny') {
      this.policyService
        .recordEnforced({
          id: d.id,
          door: 'egress',
          sandbox: [...this.names].find(([, id]) => id === d.sandboxId)?.[0] ?? d.sandboxId,
          request: egressRequestOf(d),
          outcome: 'deny',
          enforcedBy: `${d.layer}: ${d.reason}`,
        })
        .catch((err: unknown) => this.logger.warn({ decision: d.id, err: messageOf(err) }, 'cannot audit'));
    }
  }

  private policyFor(ctx: SandboxHookContext, placeholders: PlaceholderRule[]): Promise<EgressPolicy> {
    // Egress comes from the policy layer only (never from a file the agent can write).
    const effective = this.policyService.egress(ctx.name);
    return Promise.resolve(
      this.withDaemonSettings(egressPolicyInput(effective), effective.allowHttp, placeholders),
    );
  }

  private withDaemonSettings(
    input: ReturnType<typeof egressPolicyInput>,
    http: EffectiveEgress['allowHttp'],
    credentials: PlaceholderRule[],
  ): EgressPolicy {
    return buildEgressPolicy({
      http,
      credentials,
      allow: [
        ...this.config.alwaysAllow.map((a) => (typeof a === 'string' ? { host: a } : a)),
        ...input.allow,
      ],
      tcp: input.tcp,
      upstreamProxy: this.config.upstreamProxy,
      dnsHosts: this.config.dns.hosts,
      hostAccess: this.config.hostAccess,
    });
  }

  /** Gateway endpoints other layers contributed (`http://10.0.2.2:PORT`, `ssh://…@127.0.0.1:2222` is not one). */
  private gatewaysOf(sandbox: RunningSandbox): GatewayEndpoint[] {
    const endpoints = sandbox.endpoints ?? {};
    const host = this.config.sandboxHostAddress;
    const out: GatewayEndpoint[] = [];
    for (const [name, url] of Object.entries(endpoints)) {
      if (name === 'proxy') continue;
      const m = /^[a-z]+:\/\/(?:[^@/]*@)?([^/:]+):([0-9]+)/.exec(url);
      if (m && m[1] === host) out.push({ name, port: Number(m[2]) });
    }
    return out;
  }
}

/** The egress door's request (host, port, method) as well as a refusal's target tells it. */
function egressRequestOf(d: EgressDecision): Record<string, unknown> {
  if (d.layer === 'dns') return { host: d.target, port: 53, method: d.kind };
  const target = d.target.includes('://') ? d.target : `https://${d.target}`;
  try {
    const url = new URL(target);
    const port = Number(url.port) || (url.protocol === 'http:' ? 80 : 443);
    // A full URL (plain HTTP, or a request inside an inspected connection) carries the path method/path rules saw.
    const path = d.target.includes('://') && d.kind !== 'CONNECT' ? { path: url.pathname + url.search } : {};
    return { host: url.hostname, port, method: d.kind, ...path };
  } catch {
    return { host: d.target, method: d.kind };
  }
}
