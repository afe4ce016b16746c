import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { lookup } from 'node:dns/promises';
import type { Clock, Logger } from '../shared/index.js';
import { NftApplier, SquidProcess, squidUserIds, type NetnsTarget, type SquidFiles } from './apply.js';
import type { EgressConfig } from './config.js';
import type { DecisionSink } from './decisions.js';
import { AllowlistResolver, type Endpoint } from './dns-server.js';
import { egressErrors } from './errors.js';
import type { EgressPolicy } from './policy.js';
import { renderNftables, type NftRulesetInput } from './render-nftables.js';
import { renderErrorPages, renderSquidConf, SQUID_ACCESS_LOG } from './render-squid.js';
import { renderCredentialsConf } from './credentials.js';
import { createSandboxTls, sandboxTlsPaths, type SandboxTlsPaths } from './tls.js';
import { SquidLogTail } from './squid-log.js';
import { kernelFreePort, PortReservations } from './ports.js';
import { timedStep } from './steps.js';

/** Marks an egress state directory as this daemon's (the periodic sweep removes only its own leftovers). */
const OWNER_FILE = 'owner';
/** Squid binds the proxy port itself: how many times a start may find its port taken before giving up. */
const PROXY_PORT_ATTEMPTS = 5;

/** A daemon service the sandbox may reach directly (LLM proxy, git gateway, …), on the host as the sandbox sees it. */
export interface GatewayEndpoint {
  name: string;
  port: number;
}

/** What one sandbox's egress looks like from outside: where its proxy and resolver are. */
export interface SandboxEgressState {
  sandboxId: string;
  /** The daemon that started it (several daemons can share a host). */
  daemonId?: string;
  /** Host address the proxy and resolver listen on, and the same host as the sandbox reaches it. */
  listenAddress: string;
  sandboxHostAddress: string;
  proxyPort: number;
  dnsPort: number;
  squidDnsAddress: string;
  instanceToken: string;
  gateways: GatewayEndpoint[];
  /** The credential placeholders in the sandbox's environment (not secrets): kept so adopt renders the same. */
  placeholders?: string[];
  /** The same by binding key (daemon config and pack bindings): what the sandbox's commands were given. */
  credentialPlaceholders?: Record<string, string>;
}

/**
 * Credential values for a sandbox's bindings with the header format of each: in binding order, or matched to the
 * policy's rules by `placeholders` when given (a rule without a value is then not rendered: nothing injected).
 */
export interface CredentialValues {
  values: string[];
  formats: string[];
  placeholders?: string[];
}

export interface EgressManagerOptions {
  config: EgressConfig;
  /** Directory for per-sandbox egress state (`<id>/state.json`, `<id>/squid/`). */
  stateDir: string;
  logger: Logger;
  clock: Clock;
  sink: DecisionSink;
  /** Resolvers allowed names are forwarded to; default: config.upstreamDns, else /etc/resolv.conf. */
  upstreamDns?: Endpoint[];
  /** This daemon's id, written into every state directory it creates; the sweep removes only those. */
  daemonId?: string;
  /** Proxy port reservations (tests pass one that hands out a taken port first). */
  ports?: PortReservations;
}

export interface PrepareOptions {
  /** Daemon endpoints the sandbox may reach directly. */
  gateways?: GatewayEndpoint[];
  /** Override of config.listenAddress (rootful: the host end of the sandbox's veth pair). */
  listenAddress?: string;
  /** Override of config.sandboxHostAddress. */
  sandboxHostAddress?: string;
  /**
   * Return once the resolver listens and the proxy port is chosen; Squid finishes starting in the background and
   * attach() waits for it (so the rules never open a proxy that is not up). No port retry in this mode.
   */
  background?: boolean;
  /** Values for policy.credentials (same order); required when the policy has any. */
  credentials?: CredentialValues;
  /** The placeholders the sandbox's environment holds, recorded in its state for adopt. */
  placeholders?: string[];
  /** The same by binding key. */
  credentialPlaceholders?: Record<string, string>;
}

interface Live {
  state: SandboxEgressState;
  policy: EgressPolicy;
  resolver: AllowlistResolver;
  squid: SquidProcess;
  log: SquidLogTail;
  target?: NetnsTarget;
  appliedTcp: string;
  /** Squid's start when it runs in the background (prepare's `background`); settled before any use of Squid. */
  ready?: Promise<void>;
  credentials?: CredentialValues;
  /** Companion services the sandbox reaches over private links (setPeers). */
  peers?: NonNullable<NftRulesetInput['peers']>;
}

/**
 * Egress enforcement for every sandbox of a daemon: per sandbox an allowlisting resolver (in this process), a Squid
 * (its own process) and an nftables table inside the sandbox's network namespace. Lifecycle: prepare (resolver and
 * proxy up, before the container exists) → attach (ruleset applied and verified in the container's netns) →
 * update (hot reload) → release.
 */
export class EgressManager {
  private readonly live = new Map<string, Live>();
  /** Sandboxes whose prepare is running: their directory exists before they are live. */
  private readonly pending = new Set<string>();
  private readonly ports: PortReservations;
  private readonly nft: NftApplier;
  /** Squid's user ids, looked up at the first start (a failed lookup is tried again next time). */
  private squidUser: Promise<{ uid: number; gid: number }> | undefined;

  constructor(private readonly opts: EgressManagerOptions) {
    this.ports = opts.ports ?? new PortReservations();
    this.nft = new NftApplier({ nft: opts.config.nft, nsenter: opts.config.nsenter, logger: opts.logger });
  }

  private get daemonId(): string {
    return this.opts.daemonId ?? 'standalone';
  }

  /** Makes the state directory traversable for Squid's unprivileged user (and no more than that). */
  async init(): Promise<void> {
    await mkdir(this.opts.stateDir, { recursive: true });
    await chmod(this.opts.stateDir, 0o711);
  }

  state(sandboxId: string): SandboxEgressState | undefined {
    return this.live.get(sandboxId)?.state;
  }

  policy(sandboxId: string): EgressPolicy | undefined {
    return this.live.get(sandboxId)?.policy;
  }

  /** The proxy URL and resolver as the sandbox reaches them. */
  endpoints(sandboxId: string): { proxy: string; dns: string } {
    const s = this.requireLive(sandboxId).state;
    return {
      proxy: `http://${s.sandboxHostAddress}:${s.proxyPort}`,
      dns: `${s.sandboxHostAddress}:${s.dnsPort}`,
    };
  }

  /**
   * Starts the sandbox's resolver and proxy. Nothing reaches them until attach() opens the namespace to them.
   * All or nothing: a failure at any step undoes every step before it (processes, ports and the state directory),
   * so a failed start leaves nothing behind.
   */
  async prepare(
    sandboxId: string,
    policy: EgressPolicy,
    options: PrepareOptions = {},
  ): Promise<SandboxEgressState> {
    const step = <T>(name: string, work: () => Promise<T>) =>
      timedStep(this.opts.logger, sandboxId, name, work);
    this.pending.add(sandboxId);
    await this.init().catch((err: unknown) => {
      this.pending.delete(sandboxId);
      throw err;
    });
    await this.release(sandboxId);
    const dir = this.dir(sandboxId);
    const listenAddress = options.listenAddress ?? this.opts.config.listenAddress;
    const resolver = this.newResolver(sandboxId, policy);
    const squid = this.newSquid(sandboxId);
    let proxyPort = 0;
    try {
      // The owner mark comes first: a directory the sweep finds without a live sandbox is this daemon's leftover.
      await mkdir(join(dir, 'squid'), { recursive: true });
      await writeFile(join(dir, OWNER_FILE), this.daemonId);
      await chmod(dir, 0o711);
      await step('tls-ca', () => this.createTls(sandboxId));
      const [dns] = await step('resolver-listen', () =>
        resolver.listen([{ address: listenAddress, port: 0 }]),
      );
      const squidDnsAddress = await step('resolver-squid-dns', () => this.bindSquidDns(resolver));
      const state: SandboxEgressState = {
        sandboxId,
        daemonId: this.daemonId,
        listenAddress,
        sandboxHostAddress: options.sandboxHostAddress ?? this.opts.config.sandboxHostAddress,
        proxyPort: 0,
        dnsPort: dns!.port,
        squidDnsAddress,
        instanceToken: randomBytes(4).toString('hex'),
        gateways: options.gateways ?? [],
        ...(options.placeholders ? { placeholders: options.placeholders } : {}),
        ...(options.credentialPlaceholders ? { credentialPlaceholders: options.credentialPlaceholders } : {}),
      };
      if (options.background) {
        // Squid starts while the container is made; attach() waits for it. Its port is already in the
        // sandbox's environment, so it cannot be changed: a port someone took in between fails the start.
        proxyPort = await this.ports.reserve(listenAddress);
        state.proxyPort = proxyPort;
        await writeFile(join(dir, 'state.json'), JSON.stringify(state));
        const files = await this.squidFiles(state, policy, options.credentials);
        const log = this.newLogTail(sandboxId);
        const ready = step('squid-start', () => squid.start(files, this.proxyListen(state))).then(() => {
          log.start();
          this.opts.logger.info({ sandboxId, proxyPort, dnsPort: state.dnsPort }, 'egress prepared');
        });
        // Awaited by attach() or release(); a failure is reported there, never as an unhandled rejection.
        ready.catch(() => undefined);
        this.live.set(sandboxId, {
          state,
          policy,
          resolver,
          squid,
          log,
          appliedTcp: '',
          ready,
          ...(options.credentials ? { credentials: options.credentials } : {}),
        });
        return state;
      }
      for (let attempt = 1; ; attempt++) {
        proxyPort = await this.ports.reserve(listenAddress);
        state.proxyPort = proxyPort;
        await writeFile(join(dir, 'state.json'), JSON.stringify(state));
        try {
          const files = await this.squidFiles(state, policy, options.credentials);
          await step('squid-start', () => squid.start(files, this.proxyListen(state)));
          break;
        } catch (err) {
          await squid.stop();
          this.ports.release(listenAddress, proxyPort);
          proxyPort = 0;
          // Someone else bound the port between the probe and Squid's bind: take another one.
          if (!portInUse(err) || attempt >= PROXY_PORT_ATTEMPTS) throw err;
          this.opts.logger.warn({ sandboxId, attempt }, 'proxy port taken before squid bound it; retrying');
        }
      }
      const log = this.newLogTail(sandboxId);
      log.start();
      this.live.set(sandboxId, {
        state,
        policy,
        resolver,
        squid,
        log,
        appliedTcp: '',
        ...(options.credentials ? { credentials: options.credentials } : {}),
      });
      this.opts.logger.info(
        { sandboxId, proxyPort: state.proxyPort, dnsPort: state.dnsPort },
        'egress prepared',
      );
      return state;
    } catch (err) {
      await resolver.close();
      await squid.stop();
      if (proxyPort) this.ports.release(listenAddress, proxyPort);
      await rm(dir, { recursive: true, force: true });
      throw err;
    } finally {
      this.pending.delete(sandboxId);
    }
  }

  /** Applies and verifies the ruleset inside the sandbox's network namespace (before the sandbox is ready). */
  async attach(sandboxId: string, target: NetnsTarget, gateways?: GatewayEndpoint[]): Promise<void> {
    const live = this.requireLive(sandboxId);
    await live.ready;
    live.target = target;
    if (gateways) live.state.gateways = gateways;
    await timedStep(this.opts.logger, sandboxId, 'nft-apply', () => this.applyRules(live));
  }

  /**
   * The sandbox's companion services (address and port on a private link each): accepted in its ruleset next to
   * the policy's TCP destinations, re-applied and verified at once.
   */
  async setPeers(sandboxId: string, peers: NonNullable<NftRulesetInput['peers']>): Promise<void> {
    const live = this.requireLive(sandboxId);
    await live.ready;
    live.peers = peers;
    await this.applyRules(live);
  }

  /**
   * Hot reload: the resolver switches at once, Squid reconfigures, the ruleset changes only if TCP rules did.
   * `credentials`: the values for the policy's credential rules, when they changed with it.
   */
  async update(sandboxId: string, policy: EgressPolicy, credentials?: CredentialValues): Promise<void> {
    const live = this.requireLive(sandboxId);
    await live.ready;
    if (credentials) live.credentials = credentials;
    const files = await this.squidFiles(live.state, policy, live.credentials);
    live.resolver.update(policy);
    live.policy = policy;
    await live.squid.reconfigure(files, this.proxyListen(live.state));
    if (live.target && JSON.stringify(policy.tcp) !== live.appliedTcp) await this.applyRules(live);
    this.opts.logger.info({ sandboxId }, 'egress policy reloaded');
  }

  /**
   * After a daemon restart: the resolver comes back on the same ports (the ruleset's DNAT points there), Squid is
   * reconfigured (or restarted if it died), and the ruleset is re-verified — re-applied if it drifted.
   */
  async adopt(
    sandboxId: string,
    policy: EgressPolicy,
    target: NetnsTarget,
    gateways?: GatewayEndpoint[],
    credentials?: CredentialValues,
  ): Promise<void> {
    await this.init();
    const text = await readFile(join(this.dir(sandboxId), 'state.json'), 'utf8').catch(() => undefined);
    if (text === undefined) {
      await this.prepare(sandboxId, policy, gateways ? { gateways } : {});
      await this.attach(sandboxId, target);
      return;
    }
    const state = JSON.parse(text) as SandboxEgressState;
    if (gateways) state.gateways = gateways;
    // The sandbox's environment names this port: it cannot move, only be held.
    this.ports.hold(state.listenAddress, state.proxyPort);
    const resolver = this.newResolver(sandboxId, policy);
    await resolver.listen([
      { address: state.listenAddress, port: state.dnsPort },
      { address: state.squidDnsAddress, port: 53 },
    ]);
    const squid = this.newSquid(sandboxId);
    // A state directory from before per-sandbox CAs: make one (the sandbox keeps the bundle it was started with).
    const hasCa = await readFile(sandboxTlsPaths(this.dir(sandboxId)).caKey).then(
      () => true,
      () => false,
    );
    if (!hasCa) await this.createTls(sandboxId);
    // Lines written while the daemon was away are decisions too: read the log from its start.
    const log = this.newLogTail(sandboxId);
    log.start();
    const live: Live = {
      state,
      policy,
      resolver,
      squid,
      log,
      target,
      appliedTcp: '',
      ...(credentials ? { credentials } : {}),
    };
    this.live.set(sandboxId, live);
    const files = await this.squidFiles(state, policy, credentials);
    if (await squid.running()) await squid.reconfigure(files, this.proxyListen(state));
    else await squid.start(files, this.proxyListen(state));
    await this.applyRules(live);
  }

  /** Tears everything down; idempotent (a sandbox from a previous daemon life may have left any part of it). */
  async release(sandboxId: string, target?: NetnsTarget): Promise<void> {
    const live = this.live.get(sandboxId);
    this.live.delete(sandboxId);
    const netns = target ?? live?.target;
    if (netns) await this.nft.remove(netns, sandboxId).catch(() => undefined);
    // A Squid still starting is let finish first: stopping it half-way could miss its pid file.
    await live?.ready?.catch(() => undefined);
    await live?.resolver.close();
    await live?.log.stop();
    await (live?.squid ?? this.newSquid(sandboxId)).stop();
    if (live) this.ports.release(live.state.listenAddress, live.state.proxyPort);
    await rm(this.dir(sandboxId), { recursive: true, force: true });
  }

  /** Verifies the ruleset again and counts the packets it refused (for doctor/status). */
  async verify(sandboxId: string): Promise<{ deniedPackets: number }> {
    const live = this.requireLive(sandboxId);
    if (!live.target)
      throw egressErrors.create('EGRESS_NOT_ENFORCED', `egress of ${sandboxId} is not attached`);
    await this.nft.verify(live.target, await this.nftInput(live));
    if (!(await live.squid.running()))
      throw egressErrors.create('EGRESS_SQUID', `the proxy of ${sandboxId} is not running`);
    return { deniedPackets: await this.nft.deniedPackets(live.target, sandboxId) };
  }

  /**
   * Removes egress state this daemon left behind (a start interrupted by a crash, a release that failed half-way):
   * only directories carrying this daemon's id, not live or being prepared here, and whose sandbox has no running
   * container (`running` lists those; asked only when there is a candidate). Stops a Squid still running there.
   */
  async sweep(running: () => Promise<ReadonlySet<string>>): Promise<string[]> {
    if (this.opts.daemonId === undefined) return [];
    const entries = await readdir(this.opts.stateDir, { withFileTypes: true }).catch(() => []);
    const candidates: string[] = [];
    for (const e of entries) {
      if (!e.isDirectory() || this.busy(e.name)) continue;
      const owner = await readFile(join(this.opts.stateDir, e.name, OWNER_FILE), 'utf8').catch(() => '');
      if (owner === this.daemonId) candidates.push(e.name);
    }
    if (candidates.length === 0) return [];
    const alive = await running();
    const swept: string[] = [];
    for (const id of candidates) {
      if (alive.has(id) || this.busy(id)) continue;
      await this.newSquid(id).stop();
      if (this.busy(id)) continue;
      await rm(this.dir(id), { recursive: true, force: true });
      swept.push(id);
    }
    if (swept.length > 0) this.opts.logger.info({ swept }, 'swept egress leftovers');
    return swept;
  }

  private busy(sandboxId: string): boolean {
    return this.live.has(sandboxId) || this.pending.has(sandboxId);
  }

  /** Stops listening (daemon shutdown). Squid processes and rulesets stay for adopt(). */
  async close(): Promise<void> {
    for (const live of this.live.values()) {
      await live.resolver.close();
      await live.log.stop();
    }
    this.live.clear();
  }

  private async applyRules(live: Live): Promise<void> {
    if (!live.target) return;
    const input = await this.nftInput(live);
    await this.nft.apply(live.target, renderNftables(input), input);
    live.appliedTcp = JSON.stringify(live.policy.tcp);
  }

  private async nftInput(live: Live): Promise<NftRulesetInput> {
    const host = live.state.sandboxHostAddress;
    const tcp: NftRulesetInput['tcp'][number][] = [];
    for (const rule of live.policy.tcp) {
      const addresses = await this.resolveForRules(rule.host, live.policy);
      for (const address of addresses) tcp.push({ name: rule.host, address, port: rule.port });
    }
    return {
      sandboxId: live.state.sandboxId,
      hostAddress: host,
      proxyPort: live.state.proxyPort,
      dnsPort: live.state.dnsPort,
      gateways: live.state.gateways.map((g) => ({ name: g.name, address: host, port: g.port })),
      tcp,
      ...(live.peers ? { peers: live.peers } : {}),
    };
  }

  /** TCP rules name hosts; nftables needs addresses: static records first, then the host's resolver. */
  private async resolveForRules(host: string, policy: EgressPolicy): Promise<string[]> {
    if (/^[0-9.]+$/.test(host) || host.includes(':')) return [host];
    const fixed = policy.dnsHosts[host];
    if (fixed) return [fixed];
    try {
      return (await lookup(host, { all: true })).map((a) => a.address);
    } catch (err) {
      throw egressErrors.create(
        'EGRESS_DNS',
        `cannot resolve TCP destination ${host}: ${(err as Error).message}`,
      );
    }
  }

  /** The placeholders a sandbox was started with (from its state file: also after a daemon restart). */
  async savedPlaceholders(sandboxId: string): Promise<string[] | undefined> {
    return (await this.savedState(sandboxId))?.placeholders;
  }

  /** The placeholders by binding key the sandbox's commands were given (state file: survives a daemon restart). */
  async savedCredentialPlaceholders(sandboxId: string): Promise<Record<string, string> | undefined> {
    return (await this.savedState(sandboxId))?.credentialPlaceholders;
  }

  /** Records placeholders handed out since start (a pack's binding), so a restarted daemon renders the same. */
  async recordCredentialPlaceholders(sandboxId: string, placeholders: Record<string, string>): Promise<void> {
    const live = this.requireLive(sandboxId);
    if (JSON.stringify(live.state.credentialPlaceholders ?? {}) === JSON.stringify(placeholders)) return;
    live.state.credentialPlaceholders = { ...placeholders };
    await writeFile(join(this.dir(sandboxId), 'state.json'), JSON.stringify(live.state));
  }

  private async savedState(sandboxId: string): Promise<SandboxEgressState | undefined> {
    const live = this.live.get(sandboxId);
    if (live) return live.state;
    const text = await readFile(join(this.dir(sandboxId), 'state.json'), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as SandboxEgressState);
  }

  /** New credential values (a renewed lease, a rotated secret): Squid reloads only when one changed. */
  async updateCredentials(sandboxId: string, credentials: CredentialValues): Promise<boolean> {
    const live = this.requireLive(sandboxId);
    await live.ready;
    if (JSON.stringify(live.credentials) === JSON.stringify(credentials)) return false;
    live.credentials = credentials;
    await live.squid.reconfigure(
      await this.squidFiles(live.state, live.policy, credentials),
      this.proxyListen(live.state),
    );
    return true;
  }

  /** The sandbox's CA certificate and trust bundle (host paths): what the sandbox gets mounted. */
  trust(sandboxId: string): { caCert: string; bundle: string; javaTrustStore: string } {
    this.requireLive(sandboxId);
    const paths = sandboxTlsPaths(this.dir(sandboxId));
    return { caCert: paths.caCert, bundle: paths.bundle, javaTrustStore: paths.javaTrustStore };
  }

  private async createTls(sandboxId: string): Promise<SandboxTlsPaths> {
    const tls = this.opts.config.tls;
    return createSandboxTls(this.dir(sandboxId), {
      openssl: tls.openssl,
      certgen: tls.certgen,
      systemBundle: tls.systemBundle,
      owner: await this.squidIds(),
      sandboxId,
    });
  }

  private async squidFiles(
    state: SandboxEgressState,
    policy: EgressPolicy,
    credentials?: CredentialValues,
  ): Promise<SquidFiles> {
    const dir = join(this.dir(state.sandboxId), 'squid');
    const tls = sandboxTlsPaths(this.dir(state.sandboxId));
    const { rendered, values } = withValues(policy, credentials);
    return {
      conf: renderSquidConf({
        sandboxId: state.sandboxId,
        policy: rendered,
        listen: this.proxyListen(state),
        dnsServer: state.squidDnsAddress,
        dir,
        instanceToken: state.instanceToken,
        hostNets: hostNets(state.listenAddress),
        tls: {
          caCert: tls.caCert,
          caKey: tls.caKey,
          certDb: tls.certDb,
          certgen: this.opts.config.tls.certgen,
          upstreamCaFiles: this.opts.config.tls.upstreamCaFiles,
        },
      }),
      errorPages: renderErrorPages(state.instanceToken, rendered),
      ...(rendered.credentials.length > 0
        ? { credentials: renderCredentialsConf(rendered.credentials, values.values, values.formats) }
        : {}),
    };
  }

  private newResolver(sandboxId: string, policy: EgressPolicy): AllowlistResolver {
    return new AllowlistResolver({
      sandboxId,
      policy,
      upstreams: this.opts.upstreamDns ?? [],
      sink: this.opts.sink,
      logger: this.opts.logger.child({ sandboxId, layer: 'dns' }),
      clock: this.opts.clock,
    });
  }

  /** Reads the proxy's decisions written so far (tests and the self-test call it before looking a decision up). */
  async flushDecisions(sandboxId: string): Promise<void> {
    await this.live.get(sandboxId)?.log.poll();
  }

  private newLogTail(sandboxId: string): SquidLogTail {
    return new SquidLogTail(
      join(this.dir(sandboxId), 'squid', SQUID_ACCESS_LOG),
      this.opts.sink,
      this.opts.logger,
    );
  }

  private newSquid(sandboxId: string): SquidProcess {
    return new SquidProcess(join(this.dir(sandboxId), 'squid'), {
      sandboxId,
      squid: this.opts.config.squid,
      user: this.opts.config.squidUser,
      userIds: () => this.squidIds(),
      logger: this.opts.logger,
    });
  }

  private squidIds(): Promise<{ uid: number; gid: number }> {
    this.squidUser ??= squidUserIds(this.opts.config.squidUser).catch((err: unknown) => {
      this.squidUser = undefined;
      throw err;
    });
    return this.squidUser;
  }

  private proxyListen(state: SandboxEgressState) {
    return { address: state.listenAddress, port: state.proxyPort };
  }

  private dir(sandboxId: string): string {
    return join(this.opts.stateDir, sandboxId);
  }

  private requireLive(sandboxId: string): Live {
    const live = this.live.get(sandboxId);
    if (!live)
      throw egressErrors.create('EGRESS_NOT_ENFORCED', `no egress enforcement for sandbox ${sandboxId}`);
    return live;
  }

  /**
   * Squid's resolver address (127.N.x.y:53, Squid's dns_nameservers takes no port): the resolver binds the first
   * candidate no live sandbox holds, and the bind itself decides (no probe that another start could race).
   */
  private async bindSquidDns(resolver: AllowlistResolver): Promise<string> {
    const used = new Set([...this.live.values()].map((l) => l.state.squidDnsAddress));
    const base = this.opts.config.squidDnsNetwork.split('.').slice(0, 2).join('.');
    for (let i = 1; i < 65_000; i++) {
      const address = `${base}.${i >> 8}.${i & 255}`;
      if ((i & 255) === 0 || (i & 255) === 255 || used.has(address)) continue;
      try {
        await resolver.bind({ address, port: 53 });
        return address;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw resolverBindError(err, address);
      }
    }
    throw egressErrors.create('EGRESS_DNS', 'no free loopback address left for a sandbox resolver');
  }
}

/**
 * Pairs the policy's credential rules with their values. Values that name their placeholders are matched by it, and
 * a rule without one is left out of what Squid renders (its placeholder is then refused like any other: nothing is
 * injected by mistake); values without placeholders are in rule order, as before.
 */
function withValues(
  policy: EgressPolicy,
  credentials: CredentialValues | undefined,
): { rendered: EgressPolicy; values: { values: string[]; formats: string[] } } {
  const byPlaceholder = credentials?.placeholders;
  if (!byPlaceholder)
    return {
      rendered: policy,
      values: { values: credentials?.values ?? [], formats: credentials?.formats ?? [] },
    };
  const rules: EgressPolicy['credentials'] = [];
  const values: string[] = [];
  const formats: string[] = [];
  for (const rule of policy.credentials) {
    const i = byPlaceholder.indexOf(rule.placeholder);
    if (i < 0 || credentials.values[i] === undefined || credentials.formats[i] === undefined) continue;
    rules.push(rule);
    values.push(credentials.values[i]);
    formats.push(credentials.formats[i]);
  }
  return { rendered: { ...policy, credentials: rules }, values: { values, formats } };
}

function resolverBindError(err: unknown, address: string) {
  return egressErrors.create(
    'EGRESS_DNS',
    `the sandbox resolver could not listen on ${address}:53: ${(err as Error).message}`,
    {},
    { cause: err },
  );
}

function portInUse(err: unknown): boolean {
  return (err as { details?: { portInUse?: unknown } }).details?.portInUse === true;
}

/** Addresses that mean the host itself: Squid refuses them as destinations unless the policy exempts them. */
export function hostNets(listenAddress: string): string[] {
  const own = Object.values(networkInterfaces())
    .flat()
    .flatMap((i) => (i && !i.internal && !i.address.startsWith('fe80') ? [i.address] : []));
  return [
    ...new Set(['127.0.0.0/8', '0.0.0.0/8', '169.254.0.0/16', '::1', 'fe80::/10', listenAddress, ...own]),
  ];
}

/** A port free at this instant, for tests that start their own servers (aiboxd itself never probes-then-binds). */
export function freePort(address: string): Promise<number> {
  return kernelFreePort(address);
}
