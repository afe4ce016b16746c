import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createGitGate,
  credentialsFrom,
  GitPolicy,
  decideRef,
  type GitAuditEvent,
  type GitGate,
  GitGateConfig,
  gatewayAuthConfig,
} from '../../src/git-gate/index.js';
import { systemClock, type Logger } from '../../src/shared/index.js';
import { git as rawGit, silentLogger, startUpstream, type Upstream } from '../git-gate/helpers/upstream.js';

// Host-side end to end: a real authenticated git server (git http-backend) as the upstream, the gateway in front of
// it, and the host's git client playing the agent. The same flow from inside a gVisor sandbox is in
// git-gate-sandbox.test.ts.

const TOKEN = 'ghp_s3cretTokenThatMustNeverLeak0123456789';
// Each sandbox's listener accepts only requests carrying that sandbox's key (given to its git as an extra header).
const KEY1 = randomBytes(32).toString('hex');
const KEY2 = randomBytes(32).toString('hex');
/** Host git as a sandbox's git: the header config of every listener opened in this file, as GIT_CONFIG_* env. */
const authEnv: Record<string, string> = { GIT_CONFIG_COUNT: '0' };
function addAuth(url: string, key: string): void {
  const i = Number(authEnv.GIT_CONFIG_COUNT);
  for (const [k, v] of Object.entries(gatewayAuthConfig(url, key))) {
    const n = Number(authEnv.GIT_CONFIG_COUNT);
    authEnv[`GIT_CONFIG_KEY_${n}`] = k;
    authEnv[`GIT_CONFIG_VALUE_${n}`] = v;
    authEnv.GIT_CONFIG_COUNT = String(n + 1);
  }
  expect(Number(authEnv.GIT_CONFIG_COUNT)).toBeGreaterThan(i);
}
const git: typeof rawGit = (cwd, args, opts = {}) =>
  rawGit(cwd, args, { ...opts, env: { ...authEnv, ...opts.env } });
/** Every log line of the gate, to prove keys never reach a log. */
const logLines: string[] = [];
const capturingLogger: Logger = {
  debug: (o: unknown, m?: string) => void logLines.push(JSON.stringify([o, m])),
  info: (o: unknown, m?: string) => void logLines.push(JSON.stringify([o, m])),
  warn: (o: unknown, m?: string) => void logLines.push(JSON.stringify([o, m])),
  error: (o: unknown, m?: string) => void logLines.push(JSON.stringify([o, m])),
  child: () => capturingLogger,
};

async function grepTree(dir: string, needles: string[]): Promise<string[]> {
  const hits: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const text = await readFile(file, 'latin1');
    if (needles.some((n) => text.includes(n))) hits.push(file);
  }
  return hits;
}

function headerEnv(url: string, header: string): Record<string, string> {
  return {
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: `http.${url}/.extraHeader`,
    GIT_CONFIG_VALUE_0: header,
  };
}

describe('git gateway with a host git client', () => {
  let upstream: Upstream;
  let state: string;
  let work: string;
  let gate: GitGate;
  let base: string;
  let initial: string;
  const audit: GitAuditEvent[] = [];
  const webhook: unknown[] = [];
  let hookServer: http.Server;
  let notifyDir: string;
  const policy = GitPolicy.parse({
    repos: [{ pattern: 'acme/widgets' }, { pattern: 'acme/readonly', push: false }],
    refs: [
      { pattern: 'refs/heads/main', action: 'require-approval', rule: 'project: protected main' },
      { pattern: 'refs/heads/release/**', action: 'deny', rule: 'org: releases are cut by CI' },
      { pattern: 'refs/heads/**', action: 'allow' },
    ],
    defaultAction: 'deny',
  });

  beforeAll(async () => {
    upstream = await startUpstream(TOKEN);
    initial = await upstream.create('acme/widgets');
    await upstream.create('acme/readonly');
    await upstream.create('acme/secret');
    state = await mkdtemp(path.join(tmpdir(), 'aibox-gate-state-'));
    work = await mkdtemp(path.join(tmpdir(), 'aibox-gate-work-'));
    notifyDir = path.join(state, 'notifications');
    hookServer = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        webhook.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()));
    const config = GitGateConfig.parse({
      repos: ['acme/widgets', 'acme/readonly', 'acme/secret'].map((name) => ({
        name,
        upstream: upstream.url(name),
        credential: 'github',
      })),
      maxPushMiB: 1,
      notifications: {
        dir: notifyDir,
        webhook: `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`,
      },
    });
    gate = createGitGate({
      config,
      stateDir: state,
      credentials: credentialsFrom((name) => (name === 'github' ? TOKEN : undefined)),
      audit: { record: (e) => void audit.push(e) },
      logger: capturingLogger,
      clock: systemClock,
    });
    const l = await gate.gateway.openFor({
      sandboxId: 'sbx_1',
      sandbox: 'agent1',
      key: KEY1,
      policy: () => policy,
      decide: async (ref, op) => decideRef(policy, ref, op),
    });
    base = l.hostUrl;
    addAuth(base, KEY1);
  });

  afterAll(async () => {
    await gate?.gateway.close();
    await upstream?.close();
    hookServer?.close();
    if (state) await rm(state, { recursive: true, force: true });
    if (work) await rm(work, { recursive: true, force: true });
  });

  const clone = async (name: string) => {
    const dir = path.join(work, `${name}-${Math.random().toString(36).slice(2, 8)}`);
    await git(work, ['clone', '--quiet', `${base}/acme/widgets.git`, dir]);
    return dir;
  };
  const commit = async (dir: string, file: string, content: string) => {
    await writeFile(path.join(dir, file), content);
    await git(dir, ['add', file]);
    await git(dir, ['commit', '--quiet', '-m', `change ${file}`]);
    return (await git(dir, ['rev-parse', 'HEAD'])).stdout.trim();
  };

  it('clones through the gateway without the client ever seeing the upstream credential', async () => {
    const dir = path.join(work, 'clone1');
    const r = await git(work, ['clone', `${base}/acme/widgets.git`, dir]);
    expect(await readFile(path.join(dir, 'README.md'), 'utf8')).toBe('# hello\n');
    expect((await git(dir, ['rev-parse', 'HEAD'])).stdout.trim()).toBe(initial);
    const b64 = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
    expect(r.all).not.toContain(TOKEN);
    expect(await grepTree(dir, [TOKEN, b64])).toEqual([]);
    expect((await git(dir, ['remote', 'get-url', 'origin'])).stdout).toContain('127.0.0.1');
    // The upstream only ever saw the gateway's credential.
    expect(upstream.seenAuth.length).toBeGreaterThan(0);
    expect(audit.some((e) => e.type === 'git.fetch' && e.repo === 'acme/widgets')).toBe(true);
  });

  it('refuses to serve a repository the policy does not allow, and says why', async () => {
    const r = await git(work, ['clone', `${base}/acme/secret.git`, path.join(work, 'secret')], {
      reject: false,
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('GIT_REPO_NOT_ALLOWED');
    const unknown = await git(work, ['clone', `${base}/acme/nothere.git`, path.join(work, 'nothere')], {
      reject: false,
    });
    expect(unknown.exitCode).not.toBe(0);
    expect(audit.some((e) => e.type === 'git.fetch.denied' && e.repo === 'acme/secret')).toBe(true);
  });

  it('lets a read-only repository be cloned but not pushed', async () => {
    const dir = path.join(work, 'ro');
    await git(work, ['clone', '--quiet', `${base}/acme/readonly.git`, dir]);
    await commit(dir, 'x.txt', 'x\n');
    const r = await git(dir, ['push', 'origin', 'HEAD:refs/heads/feature/x'], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('GIT_REPO_NOT_ALLOWED');
  });

  it('forwards a push to an allowed branch straight to the upstream', async () => {
    const dir = await clone('allowed');
    const sha = await commit(dir, 'feature.txt', 'feature\n');
    const r = await git(dir, ['push', 'origin', 'HEAD:refs/heads/feature/login']);
    expect(r.stderr).toContain('aibox: refs/heads/feature/login updated upstream');
    expect(await upstream.refValue('acme/widgets', 'refs/heads/feature/login')).toBe(sha);
  });

  it('refuses a push to a denied ref with the decision id and the rule', async () => {
    const dir = await clone('denied');
    await commit(dir, 'rel.txt', 'release\n');
    const r = await git(dir, ['push', 'origin', 'HEAD:refs/heads/release/1.0'], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(
      /remote: aibox: push to refs\/heads\/release\/1\.0 denied by policy \(decision dec_[0-9a-f]+/,
    );
    expect(r.stderr).toContain('org: releases are cut by CI');
    expect(await upstream.refValue('acme/widgets', 'refs/heads/release/1.0')).toBeUndefined();
    const denied = audit.find((e) => e.type === 'git.push.denied');
    expect(denied?.decisionId).toMatch(/^dec_/);
    expect(r.stderr).toContain(denied!.decisionId);
  });

  it('stages a push to a protected branch, leaves the branch untouched and approves exactly the reviewed commit', async () => {
    const dir = await clone('gated');
    const first = await commit(dir, 'a.txt', 'one\n');
    const r = await git(dir, ['push', 'origin', 'HEAD:main']);
    const id = /push (push_[0-9a-f]+): refs\/heads\/main needs approval/.exec(r.stderr)?.[1];
    expect(id, r.stderr).toBeDefined();
    const stagingRef = `refs/aibox/staging/agent1/${id}`;
    expect(r.stderr).toContain(stagingRef);
    expect(await upstream.refValue('acme/widgets', stagingRef)).toBe(first);
    expect(await upstream.refValue('acme/widgets', 'main')).toBe(initial);
    const pending = await gate.pushes.list({ state: 'pending' });
    expect(pending.map((p) => p.id)).toContain(id);

    // The host was told: a file in the watched folder and a webhook call.
    const files = await readdir(notifyDir);
    const notes = await Promise.all(
      files.map(
        async (f) =>
          JSON.parse(await readFile(path.join(notifyDir, f), 'utf8')) as { kind: string; pushId?: string },
      ),
    );
    expect(notes.some((n) => n.kind === 'push.pending' && n.pushId === id)).toBe(true);
    expect(webhook.some((n) => (n as { pushId?: string }).pushId === id)).toBe(true);

    // Approval is refused until someone has looked at a commit.
    await expect(gate.pushes.approve(id!)).rejects.toMatchObject({ code: 'PUSH_NOT_REVIEWED' });
    const shown = await gate.pushes.show(id!);
    expect(shown.commits.map((c) => c.sha)).toEqual([first]);
    expect(shown.diff).toContain('+one');

    // The agent pushes again: the staging ref moves, the earlier review no longer counts.
    const second = await commit(dir, 'b.txt', 'two\n');
    const again = await git(dir, ['push', 'origin', 'HEAD:main']);
    expect(again.stderr).toContain(id);
    expect(await upstream.refValue('acme/widgets', stagingRef)).toBe(second);
    await expect(gate.pushes.approve(id!)).rejects.toMatchObject({ code: 'PUSH_MOVED' });
    await expect(gate.pushes.approve(id!, { commit: first })).rejects.toMatchObject({ code: 'PUSH_MOVED' });
    expect(await upstream.refValue('acme/widgets', 'main')).toBe(initial);

    const reviewed = await gate.pushes.show(id!);
    expect(reviewed.commits.map((c) => c.sha)).toEqual([second, first]);
    const approved = await gate.pushes.approve(id!);
    expect(approved.state).toBe('approved');
    expect(await upstream.refValue('acme/widgets', 'main')).toBe(second);
    expect(await upstream.refValue('acme/widgets', stagingRef)).toBeUndefined();
    const types = audit.filter((e) => e.pushId === id).map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'git.push.staged',
        'git.push.shown',
        'git.push.approve.refused',
        'git.push.approved',
      ]),
    );
  });

  it('rejects a staged push with a reason and removes its staging ref', async () => {
    const dir = await clone('reject');
    await commit(dir, 'c.txt', 'nope\n');
    const mainBefore = await upstream.refValue('acme/widgets', 'main');
    const r = await git(dir, ['push', 'origin', 'HEAD:main']);
    const id = /push (push_[0-9a-f]+)/.exec(r.stderr)![1]!;
    const rejected = await gate.pushes.reject(id, { reason: 'wrong approach' });
    expect(rejected).toMatchObject({ state: 'rejected', reason: 'wrong approach' });
    expect(await upstream.refValue('acme/widgets', `refs/aibox/staging/agent1/${id}`)).toBeUndefined();
    expect(await upstream.refValue('acme/widgets', 'main')).toBe(mainBefore);
    await expect(gate.pushes.approve(id, { commit: rejected.commit })).rejects.toMatchObject({
      code: 'PUSH_NOT_PENDING',
    });
  });

  it('reports a conflict when the target moved and the staged commit no longer fast-forwards', async () => {
    const dir = await clone('conflict');
    await commit(dir, 'd.txt', 'agent\n');
    const r = await git(dir, ['push', 'origin', 'HEAD:main']);
    const id = /push (push_[0-9a-f]+)/.exec(r.stderr)![1]!;
    // Someone else moves main upstream meanwhile.
    const other = await clone('other');
    await commit(other, 'e.txt', 'human\n');
    await git(other, ['push', '--quiet', upstream.dir('acme/widgets'), 'HEAD:main']);
    const moved = await upstream.refValue('acme/widgets', 'main');
    await gate.pushes.show(id);
    await expect(gate.pushes.approve(id)).rejects.toMatchObject({ code: 'PUSH_CONFLICT' });
    expect((await gate.pushes.get(id)).state).toBe('conflict');
    expect(await upstream.refValue('acme/widgets', 'main')).toBe(moved);
  });

  it('reports a non-fast-forward push to an allowed branch instead of forcing it', async () => {
    const dir = await clone('nonff');
    await commit(dir, 'f.txt', 'v1\n');
    await git(dir, ['push', '--quiet', 'origin', 'HEAD:refs/heads/feature/ff']);
    await git(dir, ['reset', '--quiet', '--hard', 'HEAD~1']);
    await commit(dir, 'f.txt', 'v2\n');
    const before = await upstream.refValue('acme/widgets', 'refs/heads/feature/ff');
    const r = await git(dir, ['push', '--force', 'origin', 'HEAD:refs/heads/feature/ff'], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('not a fast-forward');
    expect(await upstream.refValue('acme/widgets', 'refs/heads/feature/ff')).toBe(before);
  });

  it('hides staging refs from sandboxes and refuses pushes into the reserved namespace', async () => {
    const dir = await clone('hidden');
    const ls = await git(dir, ['ls-remote', 'origin']);
    expect(ls.stdout).not.toContain('refs/aibox');
    const r = await git(dir, ['push', 'origin', 'HEAD:refs/aibox/staging/agent1/push_forged'], {
      reject: false,
    });
    expect(r.exitCode).not.toBe(0);
  });

  it('refuses a push larger than the configured limit, so a sandbox cannot fill the disk', async () => {
    const dir = await clone('big');
    await writeFile(path.join(dir, 'big.bin'), randomBytes(2 * 1024 * 1024));
    await git(dir, ['add', 'big.bin']);
    await git(dir, ['commit', '--quiet', '-m', 'big']);
    const r = await git(dir, ['push', 'origin', 'HEAD:refs/heads/feature/big'], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/exceeds maximum allowed size/);
    expect(await upstream.refValue('acme/widgets', 'refs/heads/feature/big')).toBeUndefined();
  });

  it('lets the policy layer tighten a ref decision, and quotes its decision id', async () => {
    const l = await gate.gateway.openFor({
      sandboxId: 'sbx_2',
      sandbox: 'agent2',
      key: KEY2,
      policy: () => policy,
      decide: async (ref) => ({ id: 'dec_0123456789ab', action: 'deny', rule: `policy: org forbids ${ref}` }),
    });
    addAuth(l.hostUrl, KEY2);
    const dir = path.join(work, 'agent2');
    await git(work, ['clone', '--quiet', `${l.hostUrl}/acme/widgets.git`, dir]);
    await commit(dir, 'g.txt', 'g\n');
    const r = await git(dir, ['push', 'origin', 'HEAD:refs/heads/feature/tight'], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain(
      'decision dec_0123456789ab, rule: policy: org forbids refs/heads/feature/tight',
    );
    await gate.gateway.closeFor('sbx_2');
  });

  it("refuses every request without the listener's own key: 401, audited, and no key in any log line", async () => {
    const other = await gate.gateway.openFor({
      sandboxId: 'sbx_3',
      sandbox: 'agent3',
      key: KEY2,
      policy: () => policy,
      decide: async (ref, op) => decideRef(policy, ref, op),
    });
    const attempts: [string, Record<string, string>][] = [
      ['no key', {}],
      ['a wrong key', headerEnv(base, 'Authorization: Bearer ' + 'f'.repeat(64))],
      ["another sandbox's key", headerEnv(base, `Authorization: Bearer ${KEY2}`)],
      [
        'the key as basic auth',
        headerEnv(base, `Authorization: Basic ${Buffer.from(`x:${KEY1}`).toString('base64')}`),
      ],
      ['a prefix of the key', headerEnv(base, `Authorization: Bearer ${KEY1.slice(0, 32)}`)],
    ];
    for (const [what, env] of attempts) {
      const dir = path.join(work, `noauth-${Math.random().toString(36).slice(2, 8)}`);
      const r = await rawGit(work, ['clone', `${base}/acme/widgets.git`, dir], { reject: false, env });
      expect(r.exitCode, what).not.toBe(0);
      expect(r.stderr, what).toMatch(/401|Authentication failed|could not read Username/);
      const push = await rawGit(work, ['ls-remote', `${base}/acme/widgets.git`], { reject: false, env });
      expect(push.exitCode, what).not.toBe(0);
    }
    // Raw HTTP, every endpoint and even unknown paths: 401 before anything else is said.
    for (const p of [
      '/acme/widgets.git/info/refs?service=git-upload-pack',
      '/acme/widgets.git/info/refs?service=git-receive-pack',
      '/acme/widgets.git/git-upload-pack',
      '/nothing',
    ]) {
      const res = await fetch(`${base}${p}`, { method: p.endsWith('pack') ? 'POST' : 'GET' });
      expect(res.status, p).toBe(401);
    }
    expect(audit.some((e) => e.type === 'git.auth.denied' && e.sandbox === 'agent1')).toBe(true);
    // The sandbox's own key still works on its own listener, and only there.
    const ok = await rawGit(work, ['ls-remote', `${other.hostUrl}/acme/widgets.git`], {
      reject: false,
      env: headerEnv(other.hostUrl, `Authorization: Bearer ${KEY2}`),
    });
    expect(ok.exitCode, ok.stderr).toBe(0);
    await gate.gateway.closeFor('sbx_3');
    for (const key of [KEY1, KEY2]) {
      expect(logLines.filter((l) => l.includes(key))).toEqual([]);
      expect(audit.filter((e) => JSON.stringify(e).includes(key))).toEqual([]);
    }
    expect(logLines.length).toBeGreaterThan(0);
  });

  it('keeps the push state across a restart of the gate', async () => {
    const before = await gate.pushes.list();
    const again = createGitGate({
      config: GitGateConfig.parse({ repos: [] }),
      stateDir: state,
      credentials: credentialsFrom(() => undefined),
      audit: { record: () => undefined },
      logger: silentLogger,
      clock: systemClock,
    });
    expect((await again.pushes.list()).map((p) => [p.id, p.state])).toEqual(
      before.map((p) => [p.id, p.state]),
    );
  });
});
