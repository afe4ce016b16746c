import { chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ProposalsService,
  type LearnEgress,
  type ProposalPolicy,
} from '../../src/daemon/services/proposals.js';
import type { DaemonConfig } from '../../src/config/index.js';
import type { ObservedDecision } from '../../src/proposals/index.js';
import type { PolicyDecision } from '../../src/shared/index.js';
import { isAiboxError } from '../../src/shared/index.js';

/** A policy where the org allows `org` hosts and the project narrows to `project` hosts. */
function fakePolicy(
  org: Set<string>,
  project: Set<string>,
  learning: { org?: unknown; team?: unknown } = {},
) {
  let n = 0;
  const decisions: PolicyDecision[] = [];
  const policy: ProposalPolicy & {
    decisions: PolicyDecision[];
    reloads: number;
    changed: ((sandbox: string) => Promise<void>)[];
  } = {
    decisions,
    reloads: 0,
    changed: [],
    ceiling: () => ({ allowDomains: [...org].sort(), allowPorts: [443], allowTcp: [], allowHttp: [] }),
    onEgressChange: (listener) => {
      policy.changed.push(listener);
      return () => policy.changed.splice(policy.changed.indexOf(listener), 1);
    },
    decide: async (_door, request) => {
      const host = (request as { host: string }).host;
      const orgOk = org.has(host);
      const projectOk = project.has(host);
      const d: PolicyDecision = {
        id: `dec_${(++n).toString(16).padStart(4, '0')}`,
        ts: 't',
        door: 'egress',
        request: request as Record<string, unknown>,
        outcome: orgOk && projectOk ? 'allow' : 'deny',
        reason: 'r',
        revision: 'rev',
        effective: {},
        layers: [
          {
            layer: 'org',
            verdict: orgOk ? 'allow' : 'deny',
            reason: orgOk ? 'listed' : `${host} is not in org's egress.allow_domains`,
            rules: [{ rule: 'data.aibox.org.egress.allow_domains', at: 'org/egress.rego:5' }],
          },
          {
            layer: 'project',
            verdict: projectOk ? 'allow' : 'deny',
            reason: projectOk ? 'listed' : `${host} is not in project's egress.allow_domains`,
            rules: [],
          },
        ],
      };
      decisions.push(d);
      return d;
    },
    layerValues: () => [
      ...(learning.org !== undefined ? [{ layer: 'org', value: learning.org }] : []),
      ...(learning.team !== undefined ? [{ layer: 'team:dev', value: learning.team }] : []),
    ],
    team: () => 'dev',
    reloadProject: async () => {
      policy.reloads++;
      // What the store would read back from the edited file.
      const text = await readFile(path.join(projectDir, 'aibox/policy.yaml'), 'utf8');
      for (const h of ['wanted.example', 'other.example']) if (text.includes(h)) project.add(h);
    },
  };
  return policy;
}

let projectDir = '';

const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: unknown) => (isAiboxError(err) ? err.code : String(err)),
  );

describe('ProposalsService', () => {
  let stateDir: string;
  let profilesDir: string;
  let service: ProposalsService | undefined;
  const audit: { kind: string; id?: string; data: Record<string, unknown> }[] = [];

  const build = async (policy: ProposalPolicy, egress?: LearnEgress, runtime: unknown = {}) => {
    const config = {
      stateDir,
      profilesDir,
      egress: { sandboxHostAddress: '10.0.2.2', listenAddress: '127.0.0.1' },
    } as unknown as DaemonConfig;
    service = await ProposalsService.create({
      config,
      logger: silent,
      runtime: runtime as never,
      daemonId: 'test',
      audit: {
        append: async (e) => {
          audit.push(e as never);
          return {} as never;
        },
      },
      policy,
      ...(egress ? { egress } : {}),
    });
    return service;
  };
  const ctx = () => ({
    id: 'sbx_1',
    name: 'sb',
    path: projectDir,
    profile: 'dev',
    logger: silent as never,
  });

  beforeEach(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'aibox-proposals-state-'));
    projectDir = await mkdtemp(path.join(tmpdir(), 'aibox-proposals-project-'));
    profilesDir = await mkdtemp(path.join(tmpdir(), 'aibox-proposals-profiles-'));
    await mkdir(path.join(profilesDir, 'seccomp'));
    await writeFile(path.join(profilesDir, 'seccomp/x.json'), '{}');
    const profile = (learn: boolean) =>
      `description: d\nlimits: {memoryMiB: 512, cpus: 1, pids: 1024, processes: 64, openFiles: 1024, tmpfsMiB: 64}\nseccomp: seccomp/x.json\n${learn ? 'egressLearning: true\n' : ''}`;
    await writeFile(path.join(profilesDir, 'dev.yaml'), profile(true));
    await writeFile(path.join(profilesDir, 'locked.yaml'), profile(false));
    await mkdir(path.join(projectDir, 'aibox'));
    await writeFile(
      path.join(projectDir, 'aibox/policy.yaml'),
      'network:\n  allow: [allowed.example] # ours\n',
    );
    audit.length = 0;
  });
  afterEach(async () => {
    await service?.close();
    service = undefined;
    for (const d of [stateDir, projectDir, profilesDir]) await rm(d, { recursive: true, force: true });
  });

  it('sorts a proposal at once: already allowed, above the org ceiling, or pending for a person', async () => {
    const policy = fakePolicy(new Set(['allowed.example', 'wanted.example']), new Set(['allowed.example']));
    const s = await build(policy);
    const contribution = await s.prepare(ctx());
    expect(contribution.env?.['AIBOX_PROPOSALS_URL']).toMatch(/^http:\/\/10\.0\.2\.2:[0-9]+\/proposals$/);
    expect(contribution.env?.['AIBOX_PROPOSALS_TOKEN']).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(contribution.endpoints?.['proposals']).toMatch(/^http:\/\/10\.0\.2\.2:[0-9]+$/);

    const allowed = await s.submit('sbx_1', { host: 'allowed.example', reason: 'r' });
    expect(allowed.proposal).toMatchObject({ state: 'allowed', resolution: { by: 'policy' } });
    const forbidden = await s.submit('sbx_1', { host: 'evil.example', reason: 'r' });
    expect(forbidden.proposal).toMatchObject({
      state: 'rejected',
      resolution: { by: 'ceiling', layer: 'org', rule: 'org/egress.rego:5' },
    });
    expect(forbidden.proposal.resolution?.reason).toContain('evil.example');
    const wanted = await s.submit('sbx_1', { host: 'Wanted.Example.', reason: 'tests' });
    expect(wanted).toMatchObject({ created: true, proposal: { state: 'pending', host: 'wanted.example' } });
    // The same pending proposal again is the same one.
    const again = await s.submit('sbx_1', { host: 'wanted.example', reason: 'again' });
    expect(again).toMatchObject({ created: false, proposal: { id: wanted.proposal.id } });
    expect(audit.filter((a) => a.kind === 'proposal').map((a) => a.data['event'])).toEqual([
      'submitted',
      'submitted',
      'submitted',
    ]);
    expect(audit.every((a) => typeof a.data['decisionId'] === 'string')).toBe(true);
  });

  it('refuses malformed proposals with PROPOSAL_INVALID', async () => {
    const s = await build(fakePolicy(new Set(), new Set()));
    await s.prepare(ctx());
    for (const body of [
      null,
      { host: '*', reason: 'r' },
      { host: '*.com', reason: 'r' },
      { host: '10.0.0.1', reason: 'r' },
      { host: 'a.example' },
      { host: 'a.example', reason: 'r', methods: ['FETCH'] },
      { host: 'a.example', reason: 'r', paths: ['no-slash'] },
      { host: 'a.example', reason: 'r', port: 70000 },
      { host: 'a.example', reason: 'r', sandbox: 'other' },
      { host: 'a.example', reason: 'looks fine\u001b[2K\u001b[1Aapproved' },
    ])
      expect(await codeOf(s.submit('sbx_1', body)), JSON.stringify(body)).toBe('PROPOSAL_INVALID');
  });

  it('approves into the project file (re-read at once), once; rejects with a reason; survives a restart', async () => {
    const policy = fakePolicy(
      new Set(['allowed.example', 'wanted.example', 'other.example']),
      new Set(['allowed.example']),
    );
    const s = await build(policy);
    await s.prepare(ctx());
    const wanted = (await s.submit('sbx_1', { host: 'wanted.example', reason: 'tests' })).proposal;
    const other = (await s.submit('sbx_1', { host: 'other.example', reason: 'maybe' })).proposal;

    const approved = await s.approve(wanted.id, { uid: 1000 });
    expect(approved.state).toBe('approved');
    expect(approved.resolution).toMatchObject({
      by: 'human',
      uid: 1000,
      changes: ['network.allow += wanted.example'],
    });
    expect(policy.reloads).toBe(1);
    const after = policy.decisions.find((d) => d.id === approved.resolution?.decisionId);
    expect(after?.outcome).toBe('allow');
    const text = await readFile(path.join(projectDir, 'aibox/policy.yaml'), 'utf8');
    expect(text).toContain('# ours');
    expect(text).toContain('wanted.example');
    expect(await codeOf(s.approve(wanted.id, { uid: 1000 }))).toBe('PROPOSAL_ALREADY_DECIDED');
    expect(await codeOf(s.reject(wanted.id, { uid: 1000, reason: 'no' }))).toBe('PROPOSAL_ALREADY_DECIDED');

    const rejected = await s.reject(other.id, { uid: 1000, reason: 'use the mirror' });
    expect(rejected.resolution).toMatchObject({ by: 'human', reason: 'use the mirror' });
    expect(await codeOf(s.approve('prp_000000000000', { uid: 0 }))).toBe('PROPOSAL_NOT_FOUND');

    // A new daemon reads the same proposals back.
    await s.close();
    const again = await build(policy);
    expect(again.list().map((p) => [p.id, p.state])).toEqual([
      [wanted.id, 'approved'],
      [other.id, 'rejected'],
    ]);
    expect(again.get(other.id).resolution?.reason).toBe('use the mirror');
  });

  it('approves after the sandbox stopped, still checking the org ceiling', async () => {
    const org = new Set(['allowed.example', 'wanted.example', 'other.example']);
    const s = await build(fakePolicy(org, new Set(['allowed.example'])));
    await s.prepare(ctx());
    const wanted = (await s.submit('sbx_1', { host: 'wanted.example', reason: 'r' })).proposal;
    const other = (await s.submit('sbx_1', { host: 'other.example', reason: 'r' })).proposal;
    await s.stop(ctx());
    expect(s.endpointPort('sbx_1')).toBeUndefined();
    expect((await s.approve(wanted.id, { uid: 0 })).state).toBe('approved');
    expect(await readFile(path.join(projectDir, 'aibox/policy.yaml'), 'utf8')).toContain('wanted.example');
    org.delete('other.example');
    expect((await s.approve(other.id, { uid: 0 })).resolution).toMatchObject({ by: 'ceiling', layer: 'org' });
  });

  it("re-opens a running sandbox's endpoint on the same port after a daemon restart", async () => {
    const policy = fakePolicy(new Set(['allowed.example', 'wanted.example']), new Set(['allowed.example']));
    const s = await build(policy);
    const token = (await s.prepare(ctx())).env?.['AIBOX_PROPOSALS_TOKEN'];
    const port = s.endpointPort('sbx_1');
    const before = (await s.submit('sbx_1', { host: 'wanted.example', reason: 'r' })).proposal;
    await s.close();
    const again = await build(policy);
    await again.adopt({ ...ctx(), pid: 1, containerId: 'c' });
    expect(again.endpointPort('sbx_1')).toBe(port);
    // The token in the sandbox's environment still works; no token does not.
    expect((await fetch(`http://127.0.0.1:${port}/proposals/${before.id}`)).status).toBe(401);
    const res = await fetch(`http://127.0.0.1:${port}/proposals/${before.id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { state: string }).state).toBe('pending');
  });

  it('turns an approval into a ceiling rejection when the org changed meanwhile', async () => {
    const org = new Set(['allowed.example', 'wanted.example']);
    const s = await build(fakePolicy(org, new Set(['allowed.example'])));
    await s.prepare(ctx());
    const p = (await s.submit('sbx_1', { host: 'wanted.example', reason: 'r' })).proposal;
    org.delete('wanted.example');
    const r = await s.approve(p.id, { uid: 0 });
    expect(r).toMatchObject({ state: 'rejected', resolution: { by: 'ceiling', layer: 'org' } });
    expect(await readFile(path.join(projectDir, 'aibox/policy.yaml'), 'utf8')).not.toContain('wanted');
  });

  it.skipIf(process.getuid?.() !== 0)(
    'refuses to edit a project file that is not the project owner’s',
    async () => {
      const s = await build(
        fakePolicy(new Set(['allowed.example', 'wanted.example']), new Set(['allowed.example'])),
      );
      await s.prepare(ctx());
      const p = (await s.submit('sbx_1', { host: 'wanted.example', reason: 'r' })).proposal;
      const { uid } = await stat(projectDir);
      await chown(path.join(projectDir, 'aibox/policy.yaml'), uid + 1, uid + 1);
      expect(await codeOf(s.approve(p.id, { uid: 0 }))).toBe('PROPOSAL_PROJECT_UNSAFE');
      expect(s.get(p.id).state).toBe('pending');
    },
  );

  describe('learn mode', () => {
    const fakeEgress = (fail: { widen?: boolean; narrow?: boolean } = {}) => {
      const listeners = new Set<(d: ObservedDecision) => void>();
      /** What the sandbox's egress was rendered from, in order: a ceiling's hosts, or undefined (its policy). */
      const applied: (string[] | undefined)[] = [];
      const egress: LearnEgress & { emit(d: ObservedDecision): void; applied: typeof applied } = {
        applied,
        enforces: () => true,
        observe: (l) => {
          listeners.add(l);
          return () => listeners.delete(l);
        },
        learnCeiling: async (_id, ceiling) => {
          if (ceiling && fail.widen) throw new Error('squid would not reconfigure');
          if (!ceiling && fail.narrow) throw new Error('squid would not reconfigure');
          applied.push(ceiling?.allowDomains);
        },
        emit: (d) => listeners.forEach((l) => l(d)),
      };
      return egress;
    };
    const d = (target: string, verdict: 'allow' | 'deny', kind = 'GET'): ObservedDecision => ({
      sandboxId: 'sbx_1',
      layer: 'proxy',
      verdict,
      target,
      kind,
    });
    const finished = (s: ProposalsService) =>
      new Promise<ReturnType<ProposalsService['learning']>>((resolve) => {
        const poll = () => {
          const r = s.learning('sb');
          if (r.state !== 'running') resolve(r);
          else setTimeout(poll, 50);
        };
        poll();
      });

    it('is refused unless the org allows it, no team forbids it, and the profile allows it', async () => {
      const org = new Set(['allowed.example']);
      for (const [learning, profile] of [
        [{}, 'dev'],
        [{ org: true, team: false }, 'dev'],
        [{ org: true }, 'locked'],
      ] as const) {
        const egress = fakeEgress();
        const s = await build(fakePolicy(org, org, learning), egress);
        await s.prepare({ ...ctx(), profile });
        expect(await codeOf(s.startLearning('sb', 10)), JSON.stringify(learning)).toBe('LEARN_NOT_ALLOWED');
        expect(egress.applied).toEqual([]);
        await s.close();
      }
    });

    it('widens to the org/team ceiling at once, records what was used, and proposes the project file', async () => {
      const org = new Set(['allowed.example', 'wanted.example']);
      const egress = fakeEgress();
      const s = await build(fakePolicy(org, new Set(['allowed.example']), { org: true }), egress);
      await s.prepare(ctx());
      const started = await s.startLearning('sb', 5);
      expect(started.state).toBe('running');
      // Before the first request: the whole ceiling, not host by host after refusals.
      expect(egress.applied).toEqual([['allowed.example', 'wanted.example']]);
      expect(await codeOf(s.startLearning('sb', 5))).toBe('LEARN_ALREADY_RUNNING');
      egress.emit(d('http://allowed.example/a', 'allow'));
      egress.emit(d('http://wanted.example:8080/pkg/x', 'allow'));
      egress.emit(d('evil.example:443', 'deny', 'CONNECT'));
      egress.emit({ ...d('http://other-sandbox.example/', 'allow'), sandboxId: 'sbx_2' });
      egress.emit(d('http://10.1.2.3/', 'deny'));
      const done = await finished(s);
      // The policy alone again once the run ended.
      expect(egress.applied).toEqual([['allowed.example', 'wanted.example'], undefined]);
      expect(done.state).toBe('done');
      // Classified under the full policy after the run: wanted.example was let through, but only the project allows it.
      expect(done.hosts.map((h) => [h.host, h.allowedBefore, h.forbiddenBy !== undefined])).toEqual([
        ['allowed.example', true, false],
        ['evil.example', false, true],
        ['wanted.example', false, false],
      ]);
      expect(done.hosts.find((h) => h.host === 'evil.example')?.forbiddenBy).toMatch(
        /^org \(org\/egress\.rego:5\)/,
      );
      expect(done.hosts.find((h) => h.host === 'wanted.example')).toMatchObject({
        ports: [8080],
        methods: ['GET'],
        paths: ['/pkg/x'],
      });
      expect(done.diff).toContain('+  allow: [allowed.example, wanted.example] # ours');
      expect(done.diff).not.toContain('evil.example');
      expect(audit.filter((a) => a.kind === 'learn').map((a) => a.data['event'])).toEqual([
        'started',
        'finished',
      ]);
    }, 15_000);

    it('widens again after a policy change, and ends the run when the org stops allowing learning', async () => {
      const org = new Set(['allowed.example', 'wanted.example']);
      const learning: { org?: unknown } = { org: true };
      const policy = fakePolicy(org, new Set(['allowed.example']), learning);
      const egress = fakeEgress();
      const s = await build(policy, egress);
      await s.prepare(ctx());
      await s.startLearning('sb', 60);
      org.delete('wanted.example');
      for (const changed of policy.changed) await changed('sb');
      expect(egress.applied).toEqual([['allowed.example', 'wanted.example'], ['allowed.example']]);
      expect(s.learning('sb').state).toBe('running');
      delete learning.org;
      for (const changed of policy.changed) await changed('sb');
      expect(egress.applied.at(-1)).toBeUndefined();
      expect(s.learning('sb')).toMatchObject({
        state: 'failed',
        error: expect.stringContaining('allow_learning'),
      });
    });

    it('fails closed: a sandbox whose policy cannot be re-applied is stopped, never left widened', async () => {
      const org = new Set(['allowed.example', 'wanted.example']);
      const stopped: string[] = [];
      const runtime = {
        listManaged: async () => [
          { containerId: 'c-other', sandboxId: 'sbx_2', name: 'x', running: true, pid: 2 },
          { containerId: 'c-1', sandboxId: 'sbx_1', name: 'sb', running: true, pid: 1 },
        ],
        stopContainer: async (id: string) => void stopped.push(id),
      };
      const egress = fakeEgress({ narrow: true });
      const s = await build(fakePolicy(org, new Set(['allowed.example']), { org: true }), egress, runtime);
      await s.prepare(ctx());
      await s.startLearning('sb', 5);
      const done = await finished(s);
      expect(stopped).toEqual(['c-1']);
      expect(done.state).toBe('failed');
      expect(done.error).toContain('the sandbox was stopped rather than left widened');
      expect(done.diff).toBeUndefined();
    }, 15_000);

    it('does not start when the ceiling cannot be applied, putting the policy back', async () => {
      const org = new Set(['allowed.example']);
      const egress = fakeEgress({ widen: true });
      const s = await build(fakePolicy(org, org, { org: true }), egress);
      await s.prepare(ctx());
      await expect(s.startLearning('sb', 5)).rejects.toThrow('squid would not reconfigure');
      expect(egress.applied).toEqual([undefined]);
      expect(await codeOf(Promise.resolve().then(() => s.learning('sb')))).toBe('LEARN_NOT_FOUND');
    });
  });
});
