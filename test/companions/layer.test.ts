/**
 * The companions layer over the fake runtime: what it asks of the runtime, the host linker and egress, in order, and
 * what it leaves (nothing) — without root. The fake runtime runs execs on the host, so the readiness check finds a
 * TCP listener this test opens on the service's port.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CompanionLinker, LinkPlan } from '../../src/companions/index.js';
import { loadDaemonConfig, type DaemonConfig } from '../../src/config/index.js';
import { CompanionsService, type CompanionsDeps } from '../../src/daemon/services/companions.js';
import type { RunningSandbox, SandboxHookContext } from '../../src/daemon/services/hooks.js';
import { SandboxService } from '../../src/daemon/services/sandboxes.js';
import { SandboxStore } from '../../src/daemon/state/sandbox-store.js';
import type { Logger } from '../../src/shared/index.js';
import { FakeRuntime } from '../support/fake-runtime.js';
import { policyErrors } from '../../src/policy/index.js';

const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quiet,
};

describe('companions layer', () => {
  let dir: string;
  let config: DaemonConfig;
  let runtime: FakeRuntime;
  let server: Server;
  let port: number;
  let links: { created: LinkPlan[]; removed: LinkPlan[]; rulesets: string[]; pids: number[][] };
  let reattached: { link: LinkPlan; agentPid: number; companionPid: number; port: number; ruleset: string }[];
  /** What the fake linker's reattach throws (a link not as made), when set. */
  let linkBroken: string | undefined;
  let peers: { sandboxId: string; peers: { name: string; address: string; port: number }[] }[];
  let authorized: { request: unknown; sandbox: string | undefined }[];
  let denyPacks: boolean;
  let mounted: { target: string; sizeMiB: number }[];
  let service: CompanionsService;
  let deps: CompanionsDeps;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-companions-layer-'));
    const stateDir = path.join(dir, 'state');
    await writeFile(path.join(dir, 'aiboxd.yaml'), `runtime: { mountsDir: ${dir}/mounts }\n`);
    config = await loadDaemonConfig(path.join(dir, 'aiboxd.yaml'), { stateDir, socket: `${dir}/s.sock` });
    runtime = new FakeRuntime(stateDir);
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    links = { created: [], removed: [], rulesets: [], pids: [] };
    reattached = [];
    linkBroken = undefined;
    peers = [];
    authorized = [];
    denyPacks = false;
    mounted = [];
    const linker: CompanionLinker = {
      create: ({ link, agentPid, companionPid, ruleset }) => {
        links.created.push(link);
        links.rulesets.push(ruleset);
        links.pids.push([agentPid, companionPid]);
        return Promise.resolve();
      },
      remove: (link) => {
        links.removed.push(link);
        return Promise.resolve();
      },
      reattach: ({ link, agentPid, companionPid, port: p, ruleset }) => {
        if (linkBroken) return Promise.reject(new Error(linkBroken));
        reattached.push({ link, agentPid, companionPid, port: p, ruleset });
        return Promise.resolve();
      },
    };
    const registry = {
      resolve: (ref: string) => ({
        manifest: { name: ref.replace(/@.*/, ''), kind: 'tool', requires: [] },
        version: '1',
        spec: { path: ['${prefix}/bin'], libraryPath: [], env: {} },
      }),
    };
    deps = {
      config,
      logger: quiet,
      runtime,
      daemonId: runtime.daemonId,
      policy: {
        authorize: (_door: string, request: unknown, sandbox?: string) => {
          authorized.push({ request, sandbox });
          if (denyPacks)
            return Promise.reject(
              policyErrors.create('POLICY_DENIED', 'org: redis is not an allowed pack (decision dec_1)', {
                decision: 'dec_1',
              }),
            );
          return Promise.resolve({ id: 'dec_1', outcome: 'allow', reason: 'allowed' });
        },
      } as never,
      packs: {
        registry,
        build: (ref: string) =>
          Promise.resolve({
            built: { name: ref, version: '1', key: 'k', dir: `/cache/${ref.replace(/@.*/, '')}` },
            cached: true,
          }),
      } as never,
      networked: true,
      openPeers: (sandboxId, p) => {
        peers.push({ sandboxId, peers: p });
        return Promise.resolve();
      },
      linker,
      readyTimeoutMs: 20_000,
      mountData: async (target, sizeMiB) => {
        mounted.push({ target, sizeMiB });
        await mkdir(target, { recursive: true });
      },
    };
    service = new CompanionsService(deps);
  });

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  async function project(name: string, services?: string): Promise<string> {
    const p = path.join(dir, name);
    await mkdir(path.join(p, 'aibox'), { recursive: true });
    if (services !== undefined) await writeFile(path.join(p, 'aibox/services.yaml'), services);
    return p;
  }

  const ctx = (id: string, p: string): SandboxHookContext => ({
    id,
    name: id.replace('sbx_', ''),
    path: p,
    profile: 'default',
    logger: quiet,
  });
  const running = (c: SandboxHookContext): RunningSandbox => ({ ...c, pid: 4242, containerId: 'agent' });

  it('does nothing for a project without aibox/services.yaml', async () => {
    const c = ctx('sbx_a', await project('a'));
    expect(await service.prepare(c)).toEqual({});
    await service.started(running(c));
    expect(runtime.calls).toEqual([]);
  });

  it('refuses a services file that is a link, before anything starts', async () => {
    const p = await project('b');
    await writeFile(path.join(dir, 'elsewhere.yaml'), 'services: []\n');
    await symlink(path.join(dir, 'elsewhere.yaml'), path.join(p, 'aibox/services.yaml'));
    await expect(service.prepare(ctx('sbx_b', p))).rejects.toMatchObject({ code: 'COMPANION_UNSAFE' });
    expect(runtime.calls).toEqual([]);
  });

  it('starts a companion with no network, linked and opened to its agent alone, and removes all of it at stop', async () => {
    const c = ctx(
      'sbx_c',
      await project(
        'c',
        `services:\n  - name: db\n    pack: postgresql\n    port: ${port}\n    command: ['true']\n    data: { sizeMiB: 64 }\n`,
      ),
    );
    const contribution = await service.prepare(c);
    expect(contribution.endpoints).toEqual({ 'service db': `tcp://db:${port} (postgresql)` });
    const hosts = contribution.mounts!.find((m) => m.target === '/etc/hosts')!;
    expect(hosts).toMatchObject({ readOnly: true, daemonOwned: true });
    expect(await readFile(hosts.source, 'utf8')).toContain('10.213.0.2\tdb\n');
    await service.started(running(c));

    const companion = [...runtime.containers.values()].find((x) => x.spec.name === 'db')!;
    expect(companion.spec.network).toBe(false);
    expect(companion.running).toBe(true);
    expect(companion.spec.extraMounts).toEqual([
      { source: '/cache/postgresql', target: '/opt/aibox/packs/postgresql', readOnly: true },
      { source: mounted[0]!.target, target: '/data', readOnly: false },
    ]);
    expect(mounted[0]!.sizeMiB).toBe(64);
    expect(companion.spec.env['PATH']).toMatch(/^\/opt\/aibox\/packs\/postgresql\/bin:/);
    // The pack is decided by the agent sandbox's policy.
    expect(authorized).toEqual([
      { request: { name: 'postgresql', version: '1', kind: 'tool' }, sandbox: 'c' },
    ]);
    expect(links.created.map((l) => [l.agentAddress, l.companionAddress])).toEqual([
      ['10.213.0.1', '10.213.0.2'],
    ]);
    expect(links.pids).toEqual([[4242, process.pid]]);
    expect(links.rulesets[0]).toContain(`ip saddr 10.213.0.1 ip daddr 10.213.0.2 tcp dport ${port}`);
    expect(peers).toEqual([{ sandboxId: 'sbx_c', peers: [{ name: 'db', address: '10.213.0.2', port }] }]);
    expect(await service.services('sbx_c')).toEqual([
      { service: 'db', pack: 'postgresql', port, state: 'running', restarts: 0 },
    ]);

    await service.stop(c);
    expect(runtime.containers.size).toBe(0);
    expect(links.removed.map((l) => l.agentIf)).toEqual([links.created[0]!.agentIf]);
    expect(existsSync(path.join(config.stateDir, 'companions', 'sbx_c'))).toBe(false);
    // Idempotent: a restarted daemon may call stop again.
    await service.stop(c);
  });

  it('gives two agents different links', async () => {
    const text = `services:\n  - name: db\n    pack: postgresql\n    port: ${port}\n    command: ['true']\n`;
    const one = ctx('sbx_one', await project('one', text));
    const two = ctx('sbx_two', await project('two', text));
    await service.prepare(one);
    await service.prepare(two);
    await service.started(running(one));
    await service.started(running(two));
    expect(links.created.map((l) => l.companionAddress)).toEqual(['10.213.0.2', '10.213.0.6']);
    expect(new Set(links.created.map((l) => l.agentIf)).size).toBe(2);
    await service.stop(one);
    await service.stop(two);
    expect(runtime.containers.size).toBe(0);
  });

  it('fails the start with the policy refusal, naming the service, when its pack is refused; stop leaves nothing', async () => {
    denyPacks = true;
    const c = ctx(
      'sbx_d',
      await project(
        'd',
        `services:\n  - name: cache\n    pack: redis\n    port: ${port}\n    command: ['true']\n`,
      ),
    );
    await service.prepare(c);
    await expect(service.started(running(c))).rejects.toMatchObject({
      code: 'POLICY_DENIED',
      status: 403,
      message: 'companion service cache (redis): org: redis is not an allowed pack (decision dec_1)',
      details: { decision: 'dec_1', service: 'cache' },
    });
    expect(peers).toEqual([]);
    await service.stop(c);
    expect(runtime.containers.size).toBe(0);
    expect(existsSync(path.join(config.stateDir, 'companions', 'sbx_d'))).toBe(false);
  });

  it('fails the start when nothing listens on the service port, with the service log', async () => {
    const free = port;
    await new Promise((resolve) => server.close(resolve));
    server = createServer();
    const c = ctx(
      'sbx_e',
      await project(
        'e',
        `services:\n  - name: db\n    pack: postgresql\n    port: ${free}\n    command: [sh, -c, 'echo no config; exit 1']\n`,
      ),
    );
    await service.prepare(c);
    await expect(service.started(running(c))).rejects.toMatchObject({
      code: 'COMPANION_START_FAILED',
      message: expect.stringMatching(
        new RegExp(`nothing listens on port ${free}; its log: \\(its command exited\\)\\s+no config`),
      ),
    });
    await service.stop(c);
    expect(runtime.containers.size).toBe(0);
  });

  it("gives a companion its own limits, within the agent sandbox profile's; above it, the start fails first", async () => {
    const c = ctx(
      'sbx_l',
      await project(
        'l',
        `services:\n  - name: db\n    pack: postgresql\n    port: ${port}\n    command: ['true']\n    limits: { memoryMiB: 256, pids: 300 }\n`,
      ),
    );
    await service.prepare(c);
    await service.started(running(c));
    const companion = [...runtime.containers.values()].find((x) => x.spec.name === 'db')!;
    // The default profile: 4096 MiB, 2 CPUs, 4096 pids; what the service leaves out stays the profile's.
    expect(companion.spec.profile.limits).toMatchObject({
      memoryMiB: 256,
      cpus: 2,
      pids: 300,
      processes: 512,
    });
    await service.stop(c);

    const over = ctx(
      'sbx_m',
      await project(
        'm',
        `services:\n  - name: db\n    pack: postgresql\n    port: ${port}\n    command: ['true']\n    limits:\n      cpus: 3\n`,
      ),
    );
    await expect(service.prepare(over)).rejects.toMatchObject({
      code: 'COMPANION_SPEC_INVALID',
      message: "aibox/services.yaml:7: services.0.limits.cpus: 3 is above the sandbox profile's 2",
    });
    expect(runtime.containers.size).toBe(0);
    expect(existsSync(path.join(config.stateDir, 'companions', 'sbx_m'))).toBe(false);
  });

  const oneService = (p: number) =>
    `services:\n  - name: db\n    pack: postgresql\n    port: ${p}\n    command: ['true']\n`;

  it('re-adopts running companions from its own record: link re-checked, ruleset re-applied, peers opened again', async () => {
    const p = await project('f', oneService(port));
    const c = ctx('sbx_f', p);
    await service.prepare(c);
    await service.started(running(c));
    const before = runtime.calls.length;
    // The agent can rewrite services.yaml while the daemon is down: adoption never reads it.
    await writeFile(path.join(p, 'aibox/services.yaml'), oneService(port + 1).replace('db', 'evil'));
    // A fresh layer, as in a restarted daemon (nothing in memory).
    const after = new CompanionsService(deps);
    peers = [];
    await after.adopt({ ...running(c), pid: 777 });
    expect(reattached).toHaveLength(1);
    expect(reattached[0]).toMatchObject({ agentPid: 777, companionPid: process.pid, port });
    expect(reattached[0]!.link.companionAddress).toBe('10.213.0.2');
    expect(reattached[0]!.ruleset).toContain(`ip saddr 10.213.0.1 ip daddr 10.213.0.2 tcp dport ${port}`);
    expect(peers).toEqual([{ sandboxId: 'sbx_f', peers: [{ name: 'db', address: '10.213.0.2', port }] }]);
    // Nothing created, started or removed: the running companion is taken back as it is. Its service is probed
    // (alive and listening) before it counts as running: this one's command (`true`) ended cleanly, so it is
    // stopped, with its exit code read from what its wrapper wrote.
    expect(runtime.calls.slice(before).map((x) => x.split(' ').slice(0, 3).join(' '))).toEqual([
      'exec db /bin/sh',
      'exec db /bin/cat',
    ]);
    expect(await after.services('sbx_f')).toEqual([
      {
        service: 'db',
        pack: 'postgresql',
        port,
        state: 'stopped',
        restarts: 0,
        lastExitCode: 0,
        reason: 'its command exited with code 0',
      },
    ]);
    expect([...runtime.containers.values()].filter((x) => x.spec.name === 'db' && x.running)).toHaveLength(1);
    expect(await after.keeps(new Set(['sbx_f']))).toEqual([
      [...runtime.containers.values()].find((x) => x.spec.name === 'db')!.spec.id,
    ]);
    await after.stop(c);
    expect(runtime.containers.size).toBe(0);
    // A sandbox without companions is adopted with nothing to do.
    await expect(after.adopt(running(c))).resolves.toBeUndefined();
  });

  it('fails closed when a companion container is gone, not running, or not the one on record', async () => {
    for (const [i, harm] of (
      [
        (id: string) => runtime.containers.delete(id),
        (id: string) => void (runtime.containers.get(id)!.running = false),
        (id: string) => {
          const x = runtime.containers.get(id)!;
          runtime.containers.delete(id);
          runtime.containers.set('fake-other', { ...x, id: 'fake-other' });
        },
      ] as const
    ).entries()) {
      const c = ctx(`sbx_g${i}`, await project(`g${i}`, oneService(port)));
      await service.prepare(c);
      await service.started(running(c));
      const companion = [...runtime.containers.values()].find((x) => x.spec.name === 'db')!;
      harm(companion.id);
      peers = [];
      await expect(service.adopt(running(c))).rejects.toMatchObject({
        code: 'COMPANION_LOST',
        status: 500,
        details: { service: 'db' },
        message: expect.stringMatching(
          /^companion service db \(postgresql\) of g\d .* after a daemon restart/,
        ),
      });
      expect(peers).toEqual([]);
      await service.stop(c);
      expect(runtime.containers.size).toBe(0);
    }
  });

  it('fails closed when the private link is not as made, saying what is wrong', async () => {
    const c = ctx('sbx_h', await project('h', oneService(port)));
    await service.prepare(c);
    await service.started(running(c));
    linkBroken = "aibxc0 is not in the agent's namespace";
    peers = [];
    await expect(service.adopt(running(c))).rejects.toMatchObject({
      code: 'COMPANION_LOST',
      message: expect.stringContaining(
        "has no private link to re-attach (aibxc0 is not in the agent's namespace)",
      ),
    });
    expect(peers).toEqual([]);
    await service.stop(c);
  });

  it('keeps the companions of adopted sandboxes only, and removes the others it has on record', async () => {
    const a = ctx('sbx_ka', await project('ka', oneService(port)));
    const b = ctx('sbx_kb', await project('kb', oneService(port)));
    for (const c of [a, b]) {
      await service.prepare(c);
      await service.started(running(c));
    }
    const idOf = (agent: string) =>
      (
        JSON.parse(readFileSync(path.join(config.stateDir, 'companions', agent, 'state.json'), 'utf8')) as {
          companions: { id: string }[];
        }
      ).companions[0]!.id;
    const keptId = idOf('sbx_ka');
    expect(await service.keeps(new Set(['sbx_ka']))).toEqual([keptId]);
    expect([...runtime.containers.values()].map((x) => x.spec.id)).toEqual([keptId]);
    expect(existsSync(path.join(config.stateDir, 'companions', 'sbx_kb'))).toBe(false);
    expect(links.removed).toHaveLength(1);
    await service.stop(a);
    expect(await service.keeps(new Set(['sbx_ka']))).toEqual([]);
  });

  it("survives the restarted daemon's recovery: adopted with its companion, only unclaimed containers swept", async () => {
    const store = new SandboxStore(config.stateDir);
    const agent = async (id: string, name: string) => {
      const containerId = await runtime.createContainer({ id, name } as never);
      const pid = await runtime.startContainer(containerId);
      const p = await project(name, oneService(port));
      await store.save({
        id,
        name,
        path: p,
        profile: 'default',
        state: 'running',
        image: 'localhost/aibox-base:fake',
        createdAt: new Date().toISOString(),
        ownerUid: 1000,
        env: {},
        endpoints: {},
        network: true,
        containerId,
      });
      const c = ctx(id, p);
      await service.prepare(c);
      await service.started({ ...c, pid, containerId });
      return [...runtime.containers.values()].find(
        (x) => x.spec.name === 'db' && x.spec.id.startsWith('cmp_') && !known.has(x.id),
      )!;
    };
    const known = new Set<string>();
    const kept = await agent('sbx_ra', 'ra');
    known.add(kept.id);
    const lost = await agent('sbx_rb', 'rb');
    // While the daemon is down: one agent's companion is removed; a companion container no record names is left.
    runtime.containers.delete(lost.id);
    const stray = await runtime.createContainer({ id: 'cmp_stray', name: 'stray' } as never);
    await runtime.startContainer(stray);

    const restarted = new SandboxService(
      config,
      runtime,
      store,
      [new CompanionsService(deps)],
      runtime.daemonId,
      quiet,
    );
    const result = await restarted.adoptAndSweep();
    await restarted.close();
    expect(result.adopted).toEqual(['ra']);
    expect(result.swept).toEqual(['stray']);
    expect(runtime.containers.get(kept.id)?.running).toBe(true);
    expect(runtime.containers.has(stray)).toBe(false);
    const rb = await store.get('sbx_rb');
    expect(rb?.state).toBe('stopped');
    expect(rb?.error).toMatch(/^companion service db \(postgresql\) of rb is gone after a daemon restart/);
    // The stopped agent's container and its companions' state are gone with it; the adopted one's stay.
    expect(runtime.containers.has(rb!.containerId!)).toBe(true);
    expect(runtime.containers.get(rb!.containerId!)?.running).toBe(false);
    expect(existsSync(path.join(config.stateDir, 'companions', 'sbx_rb'))).toBe(false);
    expect(existsSync(path.join(config.stateDir, 'companions', 'sbx_ra', 'state.json'))).toBe(true);
  });
});
