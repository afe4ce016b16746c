import { chown, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import {
  companionErrors,
  hostLinker,
  linkPlan,
  MAX_LINKS,
  parseServices,
  readServicesFile,
  renderCompanionNftables,
  DEFAULT_RESTART_LIMITS,
  Supervisor,
  type CompanionLinker,
  type CompanionService,
  type HealthEvent,
  type RestartLimits,
  type RestartMode,
  type ServiceExit,
  type ServiceHealth,
  type Supervised,
  type SupervisorTimers,
} from '../../companions/index.js';
import type { AuditLog } from '../../audit/index.js';
import { loadProfile, type Profile } from '../../config/index.js';
import { packEnv, PACKS_MOUNT, type InstalledPack } from '../../packs/index.js';
import type { Mount } from '../../runtime/index.js';
import { isAiboxError, messageOf, newId } from '../../shared/index.js';
import type {
  HookDeps,
  RunningSandbox,
  SandboxContribution,
  SandboxHook,
  SandboxHookContext,
} from './hooks.js';
import { SandboxRecords } from './sandbox-records.js';
import type { PacksService } from './packs.js';
import type { PolicyService } from './policy.js';

/** A data folder when the service declares none: its server still needs somewhere to write (tmpfs, removed). */
const DEFAULT_DATA_MIB = 256;
const READY_TIMEOUT_MS = 60_000;
/** The service's output, in its data folder (the exec's working directory): quoted when it does not come up. */
const SERVICE_LOG = '.aibox-service.log';
/** The exit code of the service's command, written by its wrapper shell when it ends (read on the next check). */
const SERVICE_EXIT = '.aibox-service.exit';

export interface CompanionsDeps extends HookDeps {
  policy: Pick<PolicyService, 'authorize'>;
  packs: Pick<PacksService, 'build' | 'registry'>;
  /** Whether egress is enforced: without it the agent's sandbox has no network to link a companion to. */
  networked: boolean;
  /** Opens the companions' addresses and ports in the agent sandbox's egress ruleset (EgressService.openPeers). */
  openPeers(sandboxId: string, peers: { name: string; address: string; port: number }[]): Promise<void>;
  /** The host's network operations (root); unit tests pass a fake. */
  linker?: CompanionLinker;
  /** Mounts a companion's data tmpfs at `target` (root); unit tests pass a fake. */
  mountData?: (target: string, sizeMiB: number) => Promise<void>;
  /** How long a service may take to listen on its port after its command started (default 60 s). */
  readyTimeoutMs?: number;
  /** Where service exits, restarts and give-ups are recorded. */
  audit?: Pick<AuditLog, 'append'>;
  /** How often running services are checked (default: config companions.checkSeconds); tests pass fake timers. */
  healthIntervalMs?: number;
  timers?: SupervisorTimers;
  restartLimits?: RestartLimits;
}

/** How the service's command is run again (restart): what the start used, kept on the record. */
interface LaunchRecord {
  command: string[];
  env: Record<string, string>;
  /** RLIMIT_NPROC of its exec (the profile's `processes`). */
  processes: number;
}

/** One running companion of an agent sandbox, as kept in the daemon's state (what stop must remove). */
interface CompanionRecord {
  service: string;
  pack: string;
  port: number;
  id: string;
  linkIndex: number;
  containerId?: string;
  /** services.yaml's `restart` (records of an older daemon: on-failure). */
  restart?: RestartMode;
  /** The pid (inside the companion) of the wrapper shell whose child is the service's command. */
  servicePid?: number;
  launch?: LaunchRecord;
  health?: ServiceHealth;
}

/** One companion service as `aibox status` shows it. */
export interface CompanionStatus {
  service: string;
  pack: string;
  port: number;
  state: ServiceHealth['state'];
  restarts: number;
  lastExitCode?: number;
  reason?: string;
}

interface AgentRecord {
  sandboxId: string;
  sandbox: string;
  companions: CompanionRecord[];
}

/**
 * Companion services (aibox/services.yaml): per declared service, its own gVisor sandbox with no network but a private
 * veth link to its agent's sandbox (docs/companions.md). prepare reads and checks the file (never following links),
 * reserves the links and gives the agent an /etc/hosts with the service names; started creates each companion
 * (its packs mounted read-only, a daemon-owned tmpfs for data), links it, opens it in the agent's egress ruleset
 * and starts its command through the exec agent, waiting until it listens. Any failure fails the agent's start,
 * naming the service. stop removes every companion with its mounts, cgroup and state. After a daemon restart
 * `adopt` takes them back from this layer's record when each still runs with its link as made; otherwise the agent's
 * sandbox is stopped (fail closed) and its companions removed.
 */
export class CompanionsService implements SandboxHook {
  readonly layer = 'companions';
  private readonly dir: string;
  private readonly records: SandboxRecords<AgentRecord>;
  private readonly linker: CompanionLinker;
  /** Serialises link allocation (the state files are the allocation table). */
  private queue: Promise<unknown> = Promise.resolve();
  /** The parsed services of sandboxes between prepare and started. */
  private readonly pending = new Map<string, CompanionService[]>();
  private readonly supervisor: Supervisor;
  /** Watched companion id → its agent sandbox (for the record and the audit). */
  private readonly owners = new Map<string, { sandboxId: string; sandbox: string; service: string }>();

  constructor(private readonly deps: CompanionsDeps) {
    this.dir = path.join(deps.config.stateDir, 'companions');
    this.records = new SandboxRecords(this.dir);
    this.linker = deps.linker ?? hostLinker;
    this.supervisor = new Supervisor({
      intervalMs: deps.healthIntervalMs ?? (deps.config.companions?.checkSeconds ?? 3) * 1000,
      ...(deps.timers ? { timers: deps.timers } : {}),
      limits: deps.restartLimits ?? {
        ...DEFAULT_RESTART_LIMITS,
        ...(deps.config.companions
          ? {
              maxRestarts: deps.config.companions.maxRestarts,
              windowMs: deps.config.companions.restartWindowSeconds * 1000,
            }
          : {}),
      },
      onChange: (key, health, event, detail) => this.healthChanged(key, health, event, detail),
    });
  }

  async prepare(ctx: SandboxHookContext): Promise<SandboxContribution> {
    if (ctx.ephemeral) return {};
    const text = await readServicesFile(ctx.path);
    if (text === undefined) return {};
    // A service's own limits are checked against the agent sandbox profile's (its ceiling).
    const services = parseServices(
      text,
      (await loadProfile(this.deps.config.profilesDir, ctx.profile)).limits,
    );
    if (services.length === 0) return {};
    if (!this.deps.networked)
      throw companionErrors.create(
        'COMPANION_START_FAILED',
        `${services.map((x) => x.name).join(', ')}: companion services need egress enforcement, which this daemon runs without`,
        { services: services.map((x) => x.name) },
      );
    for (const s of services) this.deps.packs.registry.resolve(s.pack); // an unknown pack fails before anything runs
    const record = await this.serial(async () => {
      const used = await this.usedLinks(ctx.id);
      const companions: CompanionRecord[] = [];
      let next = 0;
      for (const s of services) {
        while (used.has(next)) next++;
        if (next >= MAX_LINKS)
          throw companionErrors.create('COMPANION_START_FAILED', 'no free private link left on this host', {
            service: s.name,
          });
        used.add(next);
        companions.push({ service: s.name, pack: s.pack, port: s.port, id: newId('cmp'), linkIndex: next });
      }
      const r: AgentRecord = { sandboxId: ctx.id, sandbox: ctx.name, companions };
      await this.records.save(r);
      return r;
    });
    this.pending.set(ctx.id, services);
    const hosts = path.join(this.records.folder(ctx.id), 'hosts');
    const lines = [
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      `127.0.1.1\t${ctx.name}`,
      ...record.companions.map((c) => `${linkPlan(c.linkIndex).companionAddress}\t${c.service}`),
    ];
    await writeFile(hosts, `${lines.join('\n')}\n`, { mode: 0o644 });
    return {
      mounts: [{ source: hosts, target: '/etc/hosts', readOnly: true, daemonOwned: true }],
      endpoints: Object.fromEntries(
        record.companions.map((c) => [`service ${c.service}`, `tcp://${c.service}:${c.port} (${c.pack})`]),
      ),
    };
  }

  async started(sandbox: RunningSandbox): Promise<void> {
    const services = this.pending.get(sandbox.id);
    this.pending.delete(sandbox.id);
    if (!services) return;
    const record = await this.records.load(sandbox.id);
    if (!record) throw new Error(`companion state of ${sandbox.name} is missing`);
    const profile = await loadProfile(this.deps.config.profilesDir, sandbox.profile);
    const peers: { name: string; address: string; port: number }[] = [];
    for (const [i, service] of services.entries()) {
      const c = record.companions[i]!;
      try {
        await this.startOne(sandbox, service, c, record, profile);
        c.restart = service.restart;
        c.health = { state: 'running', restarts: 0 };
        await this.serial(() => this.records.save(record));
      } catch (err) {
        // A refusal (the policy denies its pack, …) keeps its code and status, and names the service.
        if (isAiboxError(err) && err.status < 500) {
          err.message = `companion service ${service.name} (${service.pack}): ${err.message}`;
          Object.assign(err, { details: { ...err.details, service: service.name } });
          throw err;
        }
        throw companionErrors.create(
          'COMPANION_START_FAILED',
          `companion service ${service.name} (${service.pack}) did not start: ${messageOf(err)}`,
          { service: service.name },
        );
      }
      peers.push({ name: service.name, address: linkPlan(c.linkIndex).companionAddress, port: service.port });
    }
    await this.deps.openPeers(sandbox.id, peers);
    for (const c of record.companions) this.watch(sandbox, c, c.health);
    sandbox.logger.info({ services: services.map((s) => s.name) }, 'companion services running');
  }

  private async startOne(
    agent: RunningSandbox,
    service: CompanionService,
    c: CompanionRecord,
    record: AgentRecord,
    profile: Profile,
  ): Promise<void> {
    const { runtime, config } = this.deps;
    // The pack and what it requires, each allowed by the agent sandbox's policy, mounted from the read-only cache.
    const resolved = this.deps.packs.registry.resolve(service.pack);
    const chain = [...resolved.manifest.requires.map((n) => this.deps.packs.registry.resolve(n)), resolved];
    const installed: InstalledPack[] = [];
    const packMounts: Mount[] = [];
    for (const r of chain) {
      await this.deps.policy.authorize(
        'packs',
        { name: r.manifest.name, version: r.version, kind: r.manifest.kind },
        agent.name,
      );
      const { built } = await this.deps.packs.build(`${r.manifest.name}@${r.version}`);
      installed.push({ name: r.manifest.name, version: r.version, key: built.key, spec: r.spec });
      packMounts.push({ source: built.dir, target: `${PACKS_MOUNT}/${r.manifest.name}`, readOnly: true });
    }
    const env = { ...packEnv(installed), ...service.env };
    const dir = path.join(this.records.folder(agent.id), c.id);
    const home = path.join(dir, 'home');
    const seccompBpf = path.join(dir, 'seccomp.bpf');
    // The rootless Podman user traverses to the home and the filter: 0711 on the way, the home the sandbox user's.
    await mkdir(dir, { recursive: true, mode: 0o711 });
    await mkdir(home, { mode: 0o750 });
    await chown(home, runtime.sandboxHostIds.uid, runtime.sandboxHostIds.gid);
    await runtime.compileSeccomp(profile, seccompBpf);
    // The service's limits where it sets them (parseServices checked them against this profile), else the profile's.
    // Never above the profile, even one edited since prepare.
    const cap = (key: 'memoryMiB' | 'cpus' | 'pids') =>
      Math.min(service.limits?.[key] ?? Infinity, profile.limits[key]);
    const limited: Profile = {
      ...profile,
      limits: { ...profile.limits, memoryMiB: cap('memoryMiB'), cpus: cap('cpus'), pids: cap('pids') },
    };
    const data = await this.mountData(c.id, service.data?.sizeMiB ?? DEFAULT_DATA_MIB);
    const dataPath = service.data?.path ?? '/data';
    const containerId = await runtime.createContainer({
      id: c.id,
      name: service.name,
      daemonId: this.deps.daemonId,
      image: await runtime.image.reference(),
      profile: limited,
      rootless: runtime.rootless,
      sandboxUid: config.runtime.sandboxUid,
      workspace: data,
      home,
      seccompBpf,
      readOnlyPaths: [],
      extraMounts: [...packMounts, { source: data, target: dataPath, readOnly: false }],
      env,
      // Podman's `none`: loopback only; the private link below is its one way to anything.
      network: false,
    });
    c.containerId = containerId;
    await this.serial(() => this.records.save(record));
    const pid = await runtime.startContainer(containerId);
    if (runtime.rootless) await runtime.limits.apply(c.id, limited, pid);
    const link = linkPlan(c.linkIndex);
    await this.linker.create({
      link,
      agentPid: agent.pid,
      companionPid: pid,
      ruleset: renderCompanionNftables({ companionId: c.id, link, port: service.port }),
    });
    c.launch = { command: service.command, env, processes: profile.limits.processes };
    c.servicePid = await this.launch(containerId, c.launch, service.port, false);
  }

  /**
   * Starts the service's command detached (its own session) through the exec agent, under a wrapper shell that
   * writes its exit code to SERVICE_EXIT when it ends, its output appended to SERVICE_LOG; then waits until it listens
   * on its port. The command stays in the foreground (the wrapper's pid is watched): one that exits before it listens
   * fails at once, not after the timeout. Returns the wrapper's pid.
   */
  private async launch(
    containerId: string,
    launch: LaunchRecord,
    servicePort: number,
    again: boolean,
  ): Promise<number> {
    const exec = (cmd: string[], timeoutMs: number) =>
      this.deps.runtime.execBuffered(containerId, {
        cmd,
        env: launch.env,
        // The data tmpfs, mounted at /workspace too.
        workdir: '/workspace',
        maxProcesses: launch.processes,
        timeoutMs,
      });
    const wrapper = `"$@" ${again ? '>>' : '>'}${SERVICE_LOG} 2>&1 </dev/null; echo $? >${SERVICE_EXIT}`;
    const launched = await exec(
      [
        '/bin/sh',
        '-c',
        `rm -f ${SERVICE_EXIT}; setsid /bin/sh -c '${wrapper}' service "$@" & echo $!`,
        'service',
        ...launch.command,
      ],
      15_000,
    );
    const servicePid = /^\d+$/.exec(launched.stdout.trim())?.[0];
    if (launched.exitCode !== 0 || !servicePid)
      throw new Error(`its command did not launch: ${launched.stderr.trim()}`);
    const port = hexPort(servicePort);
    const timeoutMs = this.deps.readyTimeoutMs ?? READY_TIMEOUT_MS;
    const tries = Math.ceil(timeoutMs / 250);
    const ready = await exec(
      [
        '/bin/sh',
        '-c',
        [
          `for i in $(seq ${tries}); do`,
          `grep -qs ':${port} [0-9A-F:]* 0A' /proc/net/tcp /proc/net/tcp6 && exit 0;`,
          `if [ ! -d /proc/${servicePid} ] || grep -qs '^State:[[:space:]]*Z' /proc/${servicePid}/status; then echo '(its command exited)'; break; fi;`,
          `sleep 0.25; done; tail -c 1500 ${SERVICE_LOG}; exit 1`,
        ].join(' '),
      ],
      timeoutMs + 10_000,
    );
    if (ready.exitCode !== 0)
      throw new Error(`nothing listens on port ${servicePort}; its log: ${ready.stdout.trim() || '(empty)'}`);
    return Number(servicePid);
  }

  /**
   * After a daemon restart: every companion on record (this layer's own state, never services.yaml) must still run
   * in the container it was started in, with its private link exactly as made (both ends, addresses, peers, nothing
   * else in its namespace); its ruleset is applied again and it is opened in the agent's egress ruleset again (the
   * egress layer, adopted first, re-applies the agent's rules without peers). Any companion gone or any link not as
   * made: throws COMPANION_LOST, and the sandbox service stops the agent's sandbox, whose stop removes them all.
   */
  async adopt(sandbox: RunningSandbox): Promise<void> {
    const record = await this.records.load(sandbox.id);
    if (!record || record.companions.length === 0) return;
    const managed = await this.deps.runtime.listManaged(this.deps.daemonId);
    const peers: { name: string; address: string; port: number }[] = [];
    for (const c of record.companions) {
      const lost = (why: string) =>
        companionErrors.create(
          'COMPANION_LOST',
          `companion service ${c.service} (${c.pack}) of ${sandbox.name} ${why} after a daemon restart: the sandbox is stopped and its companions removed`,
          { service: c.service },
        );
      const found = managed.find((m) => m.sandboxId === c.id);
      if (!found || !c.containerId) throw lost('is gone');
      if (found.containerId !== c.containerId) throw lost('is not in the container it was started in');
      if (!found.running || !found.pid) throw lost('is not running');
      const link = linkPlan(c.linkIndex);
      try {
        await this.linker.reattach({
          link,
          agentPid: sandbox.pid,
          companionPid: found.pid,
          companionId: c.id,
          port: c.port,
          ruleset: renderCompanionNftables({ companionId: c.id, link, port: c.port }),
        });
      } catch (err) {
        throw lost(`has no private link to re-attach (${messageOf(err)})`);
      }
      peers.push({ name: c.service, address: link.companionAddress, port: c.port });
    }
    await this.deps.openPeers(sandbox.id, peers);
    // Declared running only once its command is alive and listens; otherwise its restart policy applies now.
    for (const c of record.companions) await this.adoptService(sandbox, c);
    sandbox.logger.info({ services: peers.map((p) => p.name) }, 'companion services re-adopted');
  }

  private async adoptService(sandbox: RunningSandbox, c: CompanionRecord): Promise<void> {
    const before = c.health ?? { state: 'running', restarts: 0 };
    if (before.state === 'failed' || before.state === 'stopped') return; // given up before the restart: stays so
    const up = c.servicePid !== undefined && (await this.listening(c.containerId!, c.servicePid, c.port));
    if (up) {
      this.watch(sandbox, c, before);
      return;
    }
    if (!c.launch || c.servicePid === undefined) {
      // Started by an older daemon: nothing on record to run it again with.
      await this.setHealth(sandbox.id, c.id, {
        ...before,
        state: 'failed',
        reason: 'not listening after a daemon restart',
      });
      return;
    }
    const exit = await this.exitOf(c.containerId!, c.launch).catch((): ServiceExit => ({}));
    this.owners.set(c.id, { sandboxId: sandbox.id, sandbox: sandbox.name, service: c.service });
    this.supervisor.ended(
      this.supervised(c),
      exit.exitCode === undefined ? { why: 'not listening after a daemon restart' } : exit,
      before,
    );
  }

  /** Starts the periodic check of one running companion service. */
  private watch(sandbox: { id: string; name: string }, c: CompanionRecord, health?: ServiceHealth): void {
    if (!c.containerId || c.servicePid === undefined) return;
    this.owners.set(c.id, { sandboxId: sandbox.id, sandbox: sandbox.name, service: c.service });
    this.supervisor.watch(this.supervised(c), health);
  }

  /** How the supervisor sees and restarts one companion's service (its pid is updated on every relaunch). */
  private supervised(c: CompanionRecord): Supervised {
    const containerId = c.containerId!;
    let pid = c.servicePid!;
    return {
      key: c.id,
      mode: c.restart ?? 'on-failure',
      probe: async () => {
        let procs;
        try {
          procs = await this.deps.runtime.processes(containerId);
        } catch (err) {
          const state = await this.deps.runtime.inspect(containerId).catch(() => undefined);
          if (state?.running) throw err;
          // Its sandbox (and with it the private link) is gone: running the command again cannot help.
          return { fatal: `its container exited${state ? ` with code ${state.exitCode}` : ''}` };
        }
        const p = procs.find((x) => x.pid === pid);
        if (p && !p.state.startsWith('Z')) return undefined;
        return this.exitOf(containerId, c.launch);
      },
      relaunch: async () => {
        if (!c.launch) throw new Error('nothing on record to run it with');
        // What is left of the old command (its session, led by the wrapper) goes first: it may hold the port or data.
        const procs = await this.deps.runtime.processes(containerId);
        for (const p of procs.filter((x) => x.pgid === pid && x.pid !== pid))
          await this.deps.runtime.killProcess(containerId, p.pid, 'KILL').catch(() => undefined);
        pid = await this.launch(containerId, c.launch, c.port, true);
        await this.serial(async () => {
          const owner = this.owners.get(c.id);
          const record = owner ? await this.records.load(owner.sandboxId) : undefined;
          const own = record?.companions.find((x) => x.id === c.id);
          if (!record || !own) return;
          own.servicePid = pid;
          await this.records.save(record);
        });
      },
    };
  }

  /** The exit code the service's wrapper wrote when its command ended (undefined when it wrote none). */
  private async exitOf(containerId: string, launch: LaunchRecord | undefined): Promise<ServiceExit> {
    const r = await this.deps.runtime.execBuffered(containerId, {
      cmd: ['/bin/cat', SERVICE_EXIT],
      workdir: '/workspace',
      maxProcesses: launch?.processes ?? 64,
      timeoutMs: 10_000,
    });
    // Written inside the companion: only a plain number counts.
    const code = /^(\d{1,3})$/.exec(r.stdout.trim())?.[1];
    return r.exitCode === 0 && code !== undefined ? { exitCode: Number(code) } : {};
  }

  /** Whether the service's wrapper still runs and something listens on its port (inside the companion). */
  private async listening(containerId: string, pid: number, servicePort: number): Promise<boolean> {
    const r = await this.deps.runtime
      .execBuffered(containerId, {
        cmd: [
          '/bin/sh',
          '-c',
          `[ -d /proc/${pid} ] && ! grep -qs '^State:[[:space:]]*Z' /proc/${pid}/status && grep -qs ':${hexPort(servicePort)} [0-9A-F:]* 0A' /proc/net/tcp /proc/net/tcp6`,
        ],
        workdir: '/workspace',
        maxProcesses: 64,
        timeoutMs: 10_000,
      })
      .catch(() => undefined);
    return r?.exitCode === 0;
  }

  /** Keeps a service's health on the agent's record, logs it and audits it. */
  private async healthChanged(
    companionId: string,
    health: ServiceHealth,
    event: HealthEvent,
    detail: string,
  ): Promise<void> {
    const owner = this.owners.get(companionId);
    if (!owner) return;
    await this.setHealth(owner.sandboxId, companionId, health);
    const fields = {
      sandbox: owner.sandbox,
      service: owner.service,
      state: health.state,
      restarts: health.restarts,
      ...(health.lastExitCode !== undefined ? { exitCode: health.lastExitCode } : {}),
    };
    const message = `companion service ${event}: ${detail}`;
    if (event === 'failed') this.deps.logger.error(fields, message);
    else this.deps.logger.warn(fields, message);
    await this.deps.audit
      ?.append({
        kind: 'companion',
        sandbox: owner.sandbox,
        sandboxId: owner.sandboxId,
        data: { ...fields, event, detail },
      })
      .catch((err: unknown) =>
        this.deps.logger.error({ err: messageOf(err) }, 'cannot audit a companion service event'),
      );
  }

  private async setHealth(sandboxId: string, companionId: string, health: ServiceHealth): Promise<void> {
    await this.serial(async () => {
      const record = await this.records.load(sandboxId);
      const c = record?.companions.find((x) => x.id === companionId);
      if (!record || !c) return;
      c.health = health;
      await this.records.save(record);
    });
  }

  /**
   * After a restart, once every sandbox on record is recovered: the companion ids (their containers' sandbox ids)
   * of the re-adopted sandboxes, which the start-up sweep must leave running. The companions of any other sandbox
   * on this layer's record (its agent stopped, failed or gone) are removed here.
   */
  async keeps(adopted: ReadonlySet<string>): Promise<string[]> {
    const kept: string[] = [];
    for (const id of await readdir(this.dir).catch(() => [] as string[])) {
      if (!/^[A-Za-z0-9_-]+$/.test(id)) continue;
      if (!adopted.has(id)) {
        await this.release(id).catch((err: unknown) =>
          this.deps.logger.warn({ sandboxId: id, err: messageOf(err) }, 'cannot remove stale companions'),
        );
        continue;
      }
      const record = await this.records.load(id).catch(() => undefined);
      for (const c of record?.companions ?? []) kept.push(c.id);
    }
    return kept;
  }

  async stop(ctx: SandboxHookContext): Promise<void> {
    this.pending.delete(ctx.id);
    await this.release(ctx.id);
  }

  /** Removes every companion of the sandbox with its link, mounts, cgroup and state; idempotent. */
  private async release(sandboxId: string): Promise<void> {
    const record = await this.records.load(sandboxId).catch(() => undefined);
    for (const c of record?.companions ?? []) {
      this.supervisor.unwatch(c.id);
      this.owners.delete(c.id);
    }
    if (record) {
      const { runtime } = this.deps;
      const managed = await runtime.listManaged(this.deps.daemonId);
      for (const c of record.companions) {
        // The one on record and any other carrying its id (a start cut short before the record was written).
        const containers = new Set(managed.filter((m) => m.sandboxId === c.id).map((m) => m.containerId));
        if (c.containerId) containers.add(c.containerId);
        for (const containerId of containers) {
          await runtime.stopContainer(containerId).catch(() => undefined);
          await runtime.removeContainer(containerId);
        }
        await this.linker.remove(linkPlan(c.linkIndex));
        await runtime.mounts.unmount(c.id);
        await runtime.limits.remove(c.id);
      }
    }
    await this.serial(() => this.records.remove(sandboxId));
  }

  async close(): Promise<void> {
    this.supervisor.close();
    await this.queue.catch(() => undefined);
  }

  /** The companion services of a sandbox with their health, as `aibox status` and the API's view show them. */
  async services(sandboxId: string): Promise<CompanionStatus[]> {
    const record = await this.records.load(sandboxId).catch(() => undefined);
    return (record?.companions ?? []).map((c) => {
      const h = this.supervisor.health(c.id) ?? c.health ?? { state: 'running', restarts: 0 };
      return {
        service: c.service,
        pack: c.pack,
        port: c.port,
        state: h.state,
        restarts: h.restarts,
        ...(h.lastExitCode !== undefined ? { lastExitCode: h.lastExitCode } : {}),
        ...(h.reason ? { reason: h.reason } : {}),
      };
    });
  }

  /** The sandbox view's part of this layer: its companion services' health. */
  async report(sandboxId: string): Promise<{ services?: CompanionStatus[] }> {
    const services = await this.services(sandboxId);
    return services.length > 0 ? { services } : {};
  }

  /**
   * The companion's data folder: a size-capped tmpfs (nosuid, nodev) owned by the sandbox user's host ids, where the
   * runtime keeps sandbox mounts (shared propagation makes it visible to rootless Podman); mounts.unmount removes it.
   */
  private async mountData(companionId: string, sizeMiB: number): Promise<string> {
    const { runtime } = this.deps;
    await runtime.mounts.unmount(companionId);
    const target = runtime.mounts.targetOf(companionId);
    await mkdir(target, { recursive: true, mode: 0o755 });
    if (this.deps.mountData) await this.deps.mountData(target, sizeMiB);
    else {
      const ids = runtime.sandboxHostIds;
      const options = `size=${sizeMiB}m,mode=0700,uid=${ids.uid},gid=${ids.gid},nosuid,nodev`;
      const r = await execa('mount', ['-t', 'tmpfs', '-o', options, 'aibox-companion', target], {
        reject: false,
      });
      if (r.exitCode !== 0) throw new Error(`cannot mount its data tmpfs: ${r.stderr.trim()}`);
    }
    return target;
  }

  /** Link indexes held by other sandboxes' companions (this sandbox's own are given back). */
  private async usedLinks(except: string): Promise<Set<number>> {
    const used = new Set<number>();
    for (const id of await readdir(this.dir).catch(() => [] as string[])) {
      if (id === except) continue;
      const r = await this.records.load(id).catch(() => undefined);
      for (const c of r?.companions ?? []) used.add(c.linkIndex);
    }
    return used;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

/** A port as /proc/net/tcp writes it. */
function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}
