/**
 * Packs and the other doors, with a real aiboxd and real gVisor sandboxes: a pack's run-time egress needs pass the
 * egress door for the sandbox it is installed into (the python pack needs pypi.org; here pypi.org resolves, through
 * the daemon's static DNS records, to an origin on the host's loopback, reached through the sandbox's own proxy —
 * never the internet); a project that narrows its egress refuses the need (install refused with the decision id,
 * nothing installed, the host unreachable); the packs a project's aibox/policy.yaml lists are installed before the
 * sandbox runs, and a listed pack that cannot be installed fails the start naming the pack and the file; `aibox
 * doctor --sandbox` lists the installed packs and runs their smoke tests. Uses packs the host cache may already hold
 * (python, git-tools); they are built otherwise.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { startOrigin, type Origin } from '../egress/support/servers.js';

const run = requireHost(sandboxHostSupport(), 'packs-policy');

interface ApiError {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

describe.skipIf(!run)('packs through the egress door and the project policy', () => {
  let daemon: TestDaemon;
  let origin: Origin;
  let repo: string;
  const ids: Record<string, string> = {};

  const curl = (name: string, host: string) =>
    daemon.exec(name, ['curl', '-sS', '-i', '--max-time', '5', `http://${host}:${origin.port}/`]);
  const folder = (name: string) => path.join(daemon.stateDir, 'packs/sandboxes', ids[name]!);
  const project = async (name: string, policy?: string) => {
    const dir = await makeProject(name);
    if (policy !== undefined) {
      await mkdir(path.join(dir, 'aibox'));
      await writeFile(path.join(dir, 'aibox/policy.yaml'), policy);
    }
    return dir;
  };

  beforeAll(async () => {
    origin = await startOrigin('loopback', '127.0.0.1');
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-packs-policy-'));
    await mkdir(path.join(repo, 'org'));
    const rego = (pkg: string, body: string) =>
      writeFile(
        path.join(repo, `org/${pkg}.rego`),
        `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
      );
    await rego('packs', 'allowed := ["*"]');
    await rego(
      'egress',
      `allow_domains := {"pypi.org", "files.pythonhosted.org"}\n\nallow_ports := {443, ${origin.port}}`,
    );
    await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
    daemon = await startTestDaemon({
      name: 'packs-policy',
      config: {
        policy: { repo, debounceMs: 20 },
        egress: {
          dns: { hosts: { 'pypi.org': '127.0.0.1', 'files.pythonhosted.org': '127.0.0.1' } },
          hostAccess: [{ address: '127.0.0.1', port: origin.port }],
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await daemon?.stop();
    await origin?.close();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('installs a pack whose egress need the door allows: the decisions are reported and audited, the host answers through the proxy', async () => {
    const created = await daemon.api('POST', '/v1/sandboxes', { path: await project('ppa'), name: 'ppa' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    ids.ppa = (created.body as { id: string }).id;

    const install = await daemon.cli(['install', 'python', '--sandbox', 'ppa', '--json']);
    expect(install.exitCode, install.stderr).toBe(0);
    const r = JSON.parse(install.stdout) as {
      installed: { name: string; egress: { host: string; port: number; decision: string }[] }[];
    };
    expect(r.installed.map((p) => p.name)).toEqual(['python']);
    const egress = r.installed[0]!.egress;
    expect(egress.map((g) => `${g.host}:${g.port}`)).toEqual(['pypi.org:443', 'files.pythonhosted.org:443']);
    for (const g of egress) expect(g.decision).toMatch(/^dec_[0-9a-f]+$/);
    const explained = await daemon.cli(['policy', 'explain', '--log-entry', egress[0]!.decision, '--json']);
    expect(explained.exitCode, explained.stderr).toBe(0);
    expect(JSON.parse(explained.stdout)).toMatchObject({ door: 'egress', outcome: 'allow' });

    const reached = await curl('ppa', 'pypi.org');
    expect(reached.stdout, reached.stderr).toContain('origin loopback');
    const audit = await readFile(path.join(daemon.stateDir, 'audit/audit.jsonl'), 'utf8');
    const line = audit.split('\n').find((l) => l.includes('"pack.install"') && l.includes('"python"'));
    expect(line).toContain(`pypi.org:443 (${egress[0]!.decision})`);
  }, 600_000);

  it('aibox doctor --sandbox lists the installed packs, runs their smoke tests and checks their egress needs', async () => {
    const doctor = await daemon.cli(['doctor', '--sandbox', 'ppa', '--json']);
    const report = JSON.parse(doctor.stdout) as {
      packs: { checks: { name: string; ok: boolean; detail: string }[] };
    };
    const byName = new Map(report.packs.checks.map((c) => [c.name, c]));
    expect([...byName.keys()]).toEqual([
      'python@3.11 egress pypi.org:443',
      'python@3.11 egress files.pythonhosted.org:443',
      'python@3.11',
    ]);
    const smoke = byName.get('python@3.11')!;
    expect(smoke.ok, smoke.detail).toBe(true);
    expect(smoke.detail).toMatch(/^python3 -m pip --version: pip \d+/);
    expect(byName.get('python@3.11 egress pypi.org:443')!.ok).toBe(true);

    // The org drops pypi.org: the egress layer closes it live, and doctor says the installed pack lost its need.
    await writeFile(
      path.join(repo, 'org/egress.rego'),
      `package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := {"files.pythonhosted.org"}\n\nallow_ports := {443, ${origin.port}}\n`,
    );
    const end = Date.now() + 20_000;
    while ((await curl('ppa', 'pypi.org')).stdout.includes('origin loopback')) {
      if (Date.now() > end) throw new Error('pypi.org still reachable after the org dropped it');
      await new Promise((res) => setTimeout(res, 250));
    }
    const after = await daemon.cli(['doctor', '--sandbox', 'ppa', '--json']);
    expect(after.exitCode).not.toBe(0);
    const lost = (
      JSON.parse(after.stdout) as { packs: { checks: { name: string; ok: boolean; detail: string }[] } }
    ).packs.checks.find((c) => c.name === 'python@3.11 egress pypi.org:443')!;
    expect(lost.ok).toBe(false);
    expect(lost.detail).toMatch(/^denied: .*decision dec_[0-9a-f]+/);
  }, 300_000);

  it('installs the packs aibox/policy.yaml lists before the sandbox runs; a need the project narrows away refuses an install', async () => {
    await writeFile(
      path.join(repo, 'org/egress.rego'),
      `package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := {"pypi.org", "files.pythonhosted.org"}\n\nallow_ports := {443, ${origin.port}}\n`,
    );
    const created = await daemon.api('POST', '/v1/sandboxes', {
      path: await project('ppb', 'network:\n  allow: [files.pythonhosted.org]\npacks: [git-tools, "py*"]\n'),
      name: 'ppb',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    ids.ppb = (created.body as { id: string }).id;
    // There at the first command, without any install.
    const jq = await daemon.exec('ppb', ['jq', '--version']);
    expect(jq.exitCode, jq.stderr).toBe(0);
    expect(jq.stdout).toMatch(/^jq-1\./);
    const listed = await daemon.cli(['packs', '--sandbox', 'ppb', '--json']);
    expect(
      (JSON.parse(listed.stdout) as { packs: { name: string; via: string }[] }).packs.map(
        (p) => `${p.name}:${p.via}`,
      ),
    ).toEqual(['git-tools:project']);

    // python is allowed by the packs door ("py*"), but its need pypi.org is outside the project's network.allow.
    const refused = await daemon.cli(['install', 'python', '--sandbox', 'ppb']);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('POLICY_DENIED');
    expect(refused.stderr).toContain('needs egress to pypi.org:443');
    const decision = /decision (dec_[0-9a-f]+)/.exec(refused.stderr)?.[1];
    expect(decision, refused.stderr).toBeDefined();
    const explained = await daemon.cli(['policy', 'explain', '--log-entry', decision!, '--json']);
    const why = JSON.parse(explained.stdout) as {
      outcome: string;
      layers: { layer: string; verdict: string }[];
    };
    expect(why.outcome).toBe('deny');
    expect(why.layers.find((l) => l.layer === 'project')?.verdict).toBe('deny');
    expect(existsSync(path.join(folder('ppb'), 'python'))).toBe(false);
    const r = await curl('ppb', 'pypi.org');
    expect(r.stdout).not.toContain('origin loopback');
    expect(`${r.stdout}${r.stderr}`).toMatch(/403|NXDOMAIN|Could not resolve|EGRESS_/);
  }, 600_000);

  it('fails the start (nothing left running) when a listed pack cannot be installed, naming the pack and the file', async () => {
    const unknown = await daemon.api<ApiError>('POST', '/v1/sandboxes', {
      path: await project('ppc', 'packs: [git-tools, nosuchpack]\n'),
      name: 'ppc',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('PACK_NOT_FOUND');
    expect(unknown.body.error.message).toContain('pack nosuchpack, listed in aibox/policy.yaml:1');
    expect(unknown.body.error.details).toMatchObject({ layer: 'packs', pack: 'nosuchpack' });

    const denied = await daemon.api<ApiError>('POST', '/v1/sandboxes', {
      path: await project('ppd', 'network:\n  allow: [files.pythonhosted.org]\npacks: [python]\n'),
      name: 'ppd',
    });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('POLICY_DENIED');
    expect(denied.body.error.message).toMatch(/pack python, listed in aibox\/policy\.yaml:3/);
    expect(denied.body.error.message).toContain('needs egress to pypi.org:443');
    const all = await daemon.api<{ name: string; state: string }[]>('GET', '/v1/sandboxes');
    const states = JSON.stringify(all.body);
    expect(states).not.toMatch(/"state":"running"[^}]*"name":"pp[cd]"|"name":"pp[cd]"[^}]*"state":"running"/);
  }, 300_000);
});
