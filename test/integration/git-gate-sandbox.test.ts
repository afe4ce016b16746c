/**
 * The git gateway seen from inside a real gVisor sandbox, with a real aiboxd: the upstream is a real git server
 * (git http-backend behind basic auth) on the host's loopback; the sandbox clones with the upstream's own URL (git
 * config from the gate rewrites it to the sandbox's gateway port on 10.0.2.2), commits and pushes. The token is
 * stored with `aibox secret set` and must appear nowhere in the sandbox. Pushes are reviewed with the aibox CLI.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { startUpstream, type Upstream } from '../git-gate/helpers/upstream.js';

const TOKEN = 'ghp_E2EgitTokenNeverInsideTheSandbox4242';
const run = requireHost(sandboxHostSupport(), 'git-gate-sandbox');
const name = 'gitbox';
const ident =
  'export GIT_AUTHOR_NAME=Agent GIT_AUTHOR_EMAIL=agent@example.invalid GIT_COMMITTER_NAME=Agent GIT_COMMITTER_EMAIL=agent@example.invalid';

describe.skipIf(!run)('git gateway from inside a gVisor sandbox', () => {
  let upstream: Upstream;
  let daemon: TestDaemon;
  let initial: string;
  let notifyDir: string;
  let gatewayPort: number;

  const sh = async (script: string) => {
    const r = await daemon.exec(name, ['sh', '-c', `${ident}; ${script}`]);
    return { ...r, all: `${r.stdout}\n${r.stderr}` };
  };
  const pushIdOf = (text: string) => /push (push_[0-9a-f]+)/.exec(text)?.[1];

  beforeAll(async () => {
    upstream = await startUpstream(TOKEN);
    initial = await upstream.create('acme/widgets');
    await upstream.create('acme/secret');
    notifyDir = await mkdtemp(path.join(tmpdir(), 'aibox-git-notify-'));
    daemon = await startTestDaemon({
      name: 'git',
      config: {
        git: {
          repos: [
            // acme/secret exists upstream but is not listed: no sandbox reaches it.
            { name: 'acme/widgets', upstream: upstream.url('acme/widgets'), credential: 'git-token' },
          ],
          notifications: { dir: notifyDir },
        },
      },
    });
    const stored = await daemon.cli(['secret', 'set', 'git-token'], { input: `${TOKEN}\n` });
    expect(stored.exitCode, stored.stderr).toBe(0);
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    // Push decisions come from the policy push door: the org protects main (approval), the project denies releases.
    const project = await makeProject('git');
    await mkdir(path.join(project, 'aibox'));
    await writeFile(path.join(project, 'aibox', 'policy.yaml'), 'push:\n  deny:\n    - release/**\n');
    await execa('chown', ['-R', '--reference', project, path.join(project, 'aibox')]);
    const created = await daemon.api<{ endpoints: Record<string, string> }>('POST', '/v1/sandboxes', {
      path: project,
      name,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.endpoints.git).toMatch(/^http:\/\/10\.0\.2\.2:\d+\/$/);
    gatewayPort = Number(new URL(created.body.endpoints.git!).port);
  });

  afterAll(async () => {
    await daemon?.stop();
    await upstream?.close();
    if (notifyDir) await rm(notifyDir, { recursive: true, force: true });
  });

  it('clones with the upstream URL, which git inside rewrites to the gateway', async () => {
    const r = await sh(`git clone -q ${upstream.url('acme/widgets')} /tmp/w && git -C /tmp/w rev-parse HEAD`);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout.trim()).toBe(initial);
  });

  it('cannot fetch a repository the policy does not allow', async () => {
    // Not rewritten to the gateway (policy does not allow it), and the gateway itself refuses it.
    const direct = await sh(`git clone -q ${upstream.url('acme/secret')} /tmp/s`);
    expect(direct.exitCode).not.toBe(0);
    const r = await sh('git clone -q "$AIBOX_GIT_GATEWAY/acme/secret.git" /tmp/s');
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain('GIT_REPO_NOT_ALLOWED');
  });

  it('stages a push to main, and approval through the CLI is bound to the commit shown', async () => {
    const first = await sh(
      'cd /tmp/w && echo one > a.txt && git add a.txt && git commit -qm one && git push origin HEAD:main 2>&1; git rev-parse HEAD',
    );
    expect(first.exitCode, first.all).toBe(0);
    const id = pushIdOf(first.stdout);
    expect(id, first.all).toBeDefined();
    const c1 = first.stdout.trim().split('\n').at(-1)!;
    expect(await upstream.refValue('acme/widgets', 'main')).toBe(initial);
    expect(await upstream.refValue('acme/widgets', `refs/aibox/staging/${name}/${id}`)).toBe(c1);

    const status = await daemon.cli(['push', 'status', '--json']);
    expect(JSON.parse(status.stdout).pushes).toContainEqual(
      expect.objectContaining({ id, state: 'pending' }),
    );
    const shown = await daemon.cli(['push', 'show', id!]);
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('+one');

    // The agent pushes again before the approval: the reviewed commit is no longer what is staged.
    const second = await sh(
      'cd /tmp/w && echo two > b.txt && git add b.txt && git commit -qm two && git push origin HEAD:main 2>&1; git rev-parse HEAD',
    );
    const c2 = second.stdout.trim().split('\n').at(-1)!;
    expect(pushIdOf(second.stdout)).toBe(id);
    const refused = await daemon.cli(['push', 'approve', id!]);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('PUSH_MOVED');
    expect(await upstream.refValue('acme/widgets', 'main')).toBe(initial);

    await daemon.cli(['push', 'show', id!, '--stat']);
    const ok = await daemon.cli(['push', 'approve', id!, '--json']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ id, state: 'approved', commit: c2 });
    expect(await upstream.refValue('acme/widgets', 'main')).toBe(c2);

    const notes = await readdir(notifyDir);
    const bodies = await Promise.all(notes.map(async (f) => readFile(path.join(notifyDir, f), 'utf8')));
    expect(bodies.some((b) => b.includes(id!) && b.includes('push.pending'))).toBe(true);
  });

  it('rejects a push with a reason, and reports a conflict when main moved', async () => {
    const a = await sh(
      'cd /tmp/w && echo three > c.txt && git add c.txt && git commit -qm three && git push origin HEAD:main 2>&1',
    );
    const id = pushIdOf(a.stdout)!;
    const rejected = await daemon.cli(['push', 'reject', id, '--reason', 'not now']);
    expect(rejected.exitCode, rejected.stderr).toBe(0);
    expect(await upstream.refValue('acme/widgets', `refs/aibox/staging/${name}/${id}`)).toBeUndefined();

    const b = await sh('cd /tmp/w && git push origin HEAD:main 2>&1');
    const id2 = pushIdOf(b.stdout)!;
    expect(id2).not.toBe(id);
    // Someone else moves main on the upstream meanwhile.
    await upstream.advance('acme/widgets', 'main', 'human.txt');
    await daemon.cli(['push', 'show', id2]);
    const conflict = await daemon.cli(['push', 'approve', id2]);
    expect(conflict.exitCode).not.toBe(0);
    expect(conflict.stderr).toContain('PUSH_CONFLICT');
  });

  it('refuses a push to a denied ref with the decision id', async () => {
    const r = await sh('cd /tmp/w && git push origin HEAD:refs/heads/release/1.0 2>&1');
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toMatch(/denied by policy \(decision dec_[0-9a-f]+, rule: policy: project: .*release/);
  });

  it('forwards a push to an ordinary branch straight to the upstream', async () => {
    const r = await sh('cd /tmp/w && git push -q origin HEAD:refs/heads/feature/x 2>&1; git rev-parse HEAD');
    expect(await upstream.refValue('acme/widgets', 'refs/heads/feature/x')).toBe(
      r.stdout.trim().split('\n').at(-1),
    );
  });

  it("answers 401 to anyone but the sandbox (a host user who finds the port), and never logs the sandbox's key", async () => {
    const base = `http://127.0.0.1:${gatewayPort}`;
    for (const p of [
      '/acme/widgets.git/info/refs?service=git-upload-pack',
      '/acme/widgets.git/info/refs?service=git-receive-pack',
    ]) {
      expect((await fetch(`${base}${p}`)).status, p).toBe(401);
      const wrong = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${'0'.repeat(64)}` } });
      expect(wrong.status, p).toBe(401);
    }
    // The sandbox's own git carries its key (in its git environment, not in any file of the workspace).
    const inside = await sh('git config --get-regexp "^http\\..*\\.extraheader$"');
    const key = /Authorization: Bearer ([0-9a-f]{64})/.exec(inside.stdout)?.[1];
    expect(key, inside.all).toBeDefined();
    const ok = await fetch(`${base}/acme/widgets.git/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(ok.status).toBe(200);
    const files = await sh(
      'grep -rlsF "$(git config --get-regexp extraheader | sed "s/.*Bearer //")" /workspace /home /tmp; echo searched',
    );
    expect(files.stdout.trim()).toBe('searched');
    expect(await daemon.log()).not.toContain(key!);
    const audit = await daemon.cli(['audit', 'tail', '-n', '1000', '--json']);
    expect(audit.exitCode, audit.stderr).toBe(0);
    expect(audit.stdout).toContain('git.auth.denied');
    expect(audit.stdout).not.toContain(key!);
  });

  it('leaves no trace of the upstream token in the sandbox environment, files or /proc', async () => {
    const b64 = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
    for (const needle of [TOKEN, b64]) {
      // The needle travels in halves and is read by grep from a file, so no command line of ours contains it.
      const half = Math.floor(needle.length / 2);
      const r = await sh(
        `printf '%s%s\\n' '${needle.slice(0, half)}' '${needle.slice(half)}' > /tmp/needle.txt; cp /tmp/needle.txt /tmp/control.txt; ` +
          `grep -rlsF -f /tmp/needle.txt --exclude=needle.txt / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev; ` +
          `for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do grep -lsF -f /tmp/needle.txt "$f"; done; echo searched`,
      );
      // The control file proves the search works; nothing else may match.
      expect(r.stdout.trim().split('\n')).toEqual(['/tmp/control.txt', 'searched']);
    }
    expect(
      upstream.seenAuth.every(
        (a) => a === `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`,
      ),
    ).toBe(true);
  });
});
