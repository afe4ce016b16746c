/**
 * Layered policy end to end, with a real aiboxd (its own policy repo in a temporary directory) and a real gVisor
 * sandbox: a project file that loosens the policy keeps the sandbox from starting; a running sandbox's policy
 * follows an org Rego edit without a restart; a broken edit keeps the last good policy in force and is reported;
 * decisions are explained by id through the CLI; the audit log verifies and exports the session.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'policy-sandbox');

const orgEgress = (domains: string[]) =>
  `package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := {${domains.map((d) => JSON.stringify(d)).join(', ')}}\n`;

interface Show {
  revision?: string;
  layers: string[];
  doors: { egress: { allowDomains: string[] } };
  errors: { scope: string; code: string; message: string }[];
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!run)('layered policy with a real aiboxd and a gVisor sandbox', () => {
  let daemon: TestDaemon;
  let repo: string;
  const name = 'polbox';

  const show = async (sandbox?: string): Promise<Show> => {
    const r = await daemon.api<Show>('GET', `/v1/policy${sandbox ? `?sandbox=${sandbox}` : ''}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-policy-repo-'));
    await mkdir(path.join(repo, 'org'));
    await mkdir(path.join(repo, 'teams/web'), { recursive: true });
    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(['a.example', 'b.example', 'c.example']));
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
    );
    await writeFile(
      path.join(repo, 'org/exec.rego'),
      'package aibox.org.exec\n\nimport rego.v1\n\ndeny contains "nsenter is not allowed" if input.argv[0] == "nsenter"\n',
    );
    await writeFile(
      path.join(repo, 'teams/web/egress.rego'),
      'package aibox.team.web.egress\n\nimport rego.v1\n\nallow_domains := {"a.example", "b.example"}\n',
    );
    daemon = await startTestDaemon({
      name: 'policy',
      config: { policy: { repo, debounceMs: 20, defaultTeam: 'web' } },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
  });

  afterAll(async () => {
    await daemon?.stop();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('refuses to start a sandbox whose project file loosens the team layer, naming file, key, value and layer', async () => {
    const project = await makeProject('policy-loose');
    await mkdir(path.join(project, 'aibox'));
    await writeFile(path.join(project, 'aibox/policy.yaml'), 'network:\n  allow:\n    - c.example\n');
    const r = await daemon.api<{
      error: { code: string; message: string; details: Record<string, unknown> };
    }>('POST', '/v1/sandboxes', { path: project, name: 'loose' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('POLICY_LOOSENING');
    expect(r.body.error.message).toContain(
      'aibox/policy.yaml:3: egress.allow_domains: "c.example" loosens the policy',
    );
    expect(r.body.error.message).toContain('layer team:web (teams/web/egress.rego:5)');
    expect(r.body.error.details).toMatchObject({
      layer: 'policy',
      policyLayer: 'project',
      conflictsWith: 'team:web',
    });
    const list = await daemon.api<{ sandboxes: { name: string; state: string }[] }>('GET', '/v1/sandboxes');
    expect(list.body.sandboxes.filter((s) => s.name === 'loose' && s.state === 'running')).toEqual([]);
  });

  it('starts a sandbox under org + team + project and shows its effective policy', async () => {
    const project = await makeProject('policy-ok');
    await mkdir(path.join(project, 'aibox'));
    await writeFile(path.join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example, b.example]\n');
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const ls = await daemon.exec(name, ['ls', '/']);
    expect(ls.exitCode).toBe(0);
    const cli = await daemon.cli(['policy', 'show', '--sandbox', name, '--json']);
    expect(cli.exitCode, cli.stderr).toBe(0);
    const report = JSON.parse(cli.stdout) as Show;
    expect(report.layers).toEqual(['org', 'team:web', 'project']);
    expect(report.doors.egress.allowDomains.sort()).toEqual(['a.example', 'b.example']);
  });

  it('applies an org Rego edit to the running sandbox without restarting it', async () => {
    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(['a.example', 'c.example']));
    const after = await until(
      () => show(name),
      (s) => !s.doors.egress.allowDomains.includes('b.example'),
    );
    expect(after.doors.egress.allowDomains).toEqual(['a.example']);
    // The team still lists b.example: the org's tightening applies anyway, and the leftover is reported.
    expect(after.errors).toContainEqual(
      expect.objectContaining({ scope: 'team:web', code: 'POLICY_LOOSENING' }),
    );
    const d = await daemon.api<{ outcome: string; layers: { layer: string; verdict: string }[] }>(
      'POST',
      '/v1/policy/decide',
      {
        door: 'egress',
        sandbox: name,
        request: { host: 'b.example' },
      },
    );
    expect(d.body.outcome).toBe('deny');
    expect(d.body.layers[0]).toMatchObject({ layer: 'org', verdict: 'deny' });
    const sb = await daemon.api<{ state: string }>('GET', `/v1/sandboxes/${name}`);
    expect(sb.body.state).toBe('running');
    // The change is audited once every layer applied it (egress re-renders Squid first): wait for the record.
    const records = await until(
      () =>
        daemon.api<{ records: { kind: string; data: { event?: string } }[] }>(
          'GET',
          `/v1/audit?sandbox=${name}&kind=policy`,
        ),
      (r) => r.body.records.some((x) => x.data.event === 'changed'),
    );
    expect(records.body.records.some((r) => r.data.event === 'changed')).toBe(true);
  });

  it('explains a command denial by its decision id through the CLI', async () => {
    const d = await daemon.api<{ id: string; outcome: string }>('POST', '/v1/policy/decide', {
      door: 'exec',
      sandbox: name,
      request: { argv: ['nsenter', '-t', '1'], via: 'cli' },
    });
    expect(d.body.outcome).toBe('deny');
    const text = await daemon.cli(['policy', 'explain', '--log-entry', d.body.id]);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toContain(`decision ${d.body.id}`);
    expect(text.stdout).toContain('outcome   DENY: org: nsenter is not allowed');
    expect(text.stdout).toContain('data.aibox.org.exec.deny  (org/exec.rego:5)');
    const json = await daemon.cli(['policy', 'explain', '--log-entry', d.body.id, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: d.body.id, door: 'exec', outcome: 'deny' });
    // A real `aibox exec` is asked of the same door: refused before anything runs, with the decision id.
    const refused = await daemon.cli(['exec', name, '--', 'nsenter', '-t', '1']);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('POLICY_DENIED');
    const refusedId = /aibox policy explain --log-entry (dec_[0-9a-f]+)/.exec(refused.stderr)?.[1];
    expect(refusedId, refused.stderr).toBeDefined();
    const why = await daemon.cli(['policy', 'explain', '--log-entry', refusedId!, '--json']);
    expect(JSON.parse(why.stdout)).toMatchObject({ door: 'exec', outcome: 'deny', request: { via: 'cli' } });
    const api = await daemon.api<{ error: { code: string } }>('POST', `/v1/sandboxes/${name}/exec`, {
      cmd: ['nsenter'],
    });
    expect(api.status).toBe(403);
    expect(api.body.error.code).toBe('POLICY_DENIED');
    expect((await daemon.exec(name, ['true'])).exitCode).toBe(0);
    const missing = await daemon.cli(['policy', 'explain', '--log-entry', 'dec_000000000000']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr + missing.stdout).toContain('POLICY_DECISION_NOT_FOUND');
  });

  it('keeps the last good policy in force after a broken edit, and reports the error', async () => {
    const before = await show(name);
    await writeFile(
      path.join(repo, 'org/egress.rego'),
      'package aibox.org.egress\n\nallow_domains := {"a.example"\n',
    );
    const broken = await until(
      () => show(name),
      (s) => s.errors.some((e) => e.scope === 'repo'),
    );
    const error = broken.errors.find((e) => e.scope === 'repo')!;
    expect(error).toMatchObject({ scope: 'repo', code: 'POLICY_REGO_ERROR' });
    expect(error.message).toContain('org/egress.rego:');
    expect(broken.revision).toBe(before.revision);
    expect(broken.doors.egress.allowDomains).toEqual(before.doors.egress.allowDomains);
    const cli = await daemon.cli(['policy', 'show']);
    expect(cli.exitCode).toBe(1);
    expect(cli.stdout).toMatch(/the last good policy( \([0-9a-f]+\))? stays in force/);
    expect((await daemon.exec(name, ['true'])).exitCode).toBe(0);
    const doctor = await daemon.cli(['doctor', '--json']);
    const checks = (
      JSON.parse(doctor.stdout) as { checks: { name: string; layer: string; ok: boolean; detail: string }[] }
    ).checks;
    expect(checks).toContainEqual(expect.objectContaining({ name: 'policy loaded', ok: true }));
    expect(checks).toContainEqual(
      expect.objectContaining({
        name: 'policy repo',
        layer: 'policy',
        ok: false,
        detail: expect.stringContaining('the last good policy stays in force'),
      }),
    );
    await writeFile(path.join(repo, 'org/egress.rego'), orgEgress(['a.example', 'b.example']));
    const fixed = await until(
      () => show(name),
      (s) => s.errors.length === 0,
    );
    expect(fixed.doors.egress.allowDomains.sort()).toEqual(['a.example', 'b.example']);
  });

  it('verifies the audit log and exports the sandbox session', async () => {
    const verify = await daemon.cli(['audit', 'verify', '--json']);
    expect(verify.exitCode, verify.stdout).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
    const out = path.join(daemon.dir, 'bundle.json');
    const exp = await daemon.cli(['audit', 'export', '--sandbox', name, '-o', out]);
    expect(exp.exitCode, exp.stderr).toBe(0);
    const { readFile } = await import('node:fs/promises');
    const bundle = JSON.parse(await readFile(out, 'utf8')) as {
      counts: Record<string, number>;
      verify: { ok: boolean };
    };
    expect(bundle.counts['decision']).toBeGreaterThanOrEqual(2);
    expect(bundle.verify.ok).toBe(true);
    const tail = await daemon.cli(['audit', 'tail', '--sandbox', name, '--kind', 'decision']);
    expect(tail.stdout).toMatch(/decision polbox dec_[0-9a-f]+ {2}exec deny/);
  });
});
