/**
 * Agent-proposed policy, end to end from inside a real gVisor sandbox: the agent proposes a destination on
 * AIBOX_PROPOSALS_URL (curl inside the sandbox), a person approves it with the CLI (aibox/policy.yaml is edited on
 * the host, comments kept) and the next egress decision allows it; a rejection's reason is read back from inside;
 * a destination the org does not allow is rejected at once naming the org layer; malformed input, unknown ids,
 * approving twice and a symlinked project file are refused with their codes; a host process without the
 * sandbox's submission token is refused (401) although it reaches the port. The origin listens on the host's
 * loopback only; the test names resolve to it through the daemon's static DNS records.
 */
import { chown, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { startOrigin, type Origin } from '../egress/support/servers.js';

const run = requireHost(sandboxHostSupport(), 'proposals-sandbox');

const PROJECT_FILE = `# the project's own egress (reviewed by people)
network:
  allow:
    - allowed.test # the service we test against
`;

describe.skipIf(!run)('agent-proposed policy from inside a gVisor sandbox', () => {
  let daemon: TestDaemon;
  let origin: Origin;
  let repo: string;
  let project: string;
  const name = 'propose';

  const inside = (script: string) => daemon.exec(name, ['sh', '-c', script]);
  /** curl's header carrying the sandbox's own submission token (expanded by the sandbox's shell). */
  const AUTH = `-H "authorization: Bearer $AIBOX_PROPOSALS_TOKEN"`;
  /** POSTs a proposal from inside; prints the body then the status on its own last line. */
  const propose = async (body: unknown) => {
    const json = JSON.stringify(body).replace(/'/g, "'\\''");
    const r = await inside(
      `curl -sS -w '\\n%{http_code}' -X POST ${AUTH} -H 'content-type: application/json' -d '${json}' "$AIBOX_PROPOSALS_URL"`,
    );
    const lines = r.stdout.trimEnd().split('\n');
    const status = Number(lines.pop());
    return { status, body: JSON.parse(lines.join('\n') || '{}') as Record<string, any>, stderr: r.stderr };
  };
  const reach = async (host: string) =>
    (await inside(`curl -sS -i --max-time 5 http://${host}:${origin.port}/`)).stdout;
  const untilReach = async (host: string) => {
    const end = Date.now() + 20_000;
    for (;;) {
      const out = await reach(host);
      if (out.includes('origin loopback')) return out;
      if (Date.now() > end) throw new Error(`${host} still unreachable: ${out}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  beforeAll(async () => {
    origin = await startOrigin('loopback', '127.0.0.1');
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-proposals-'));
    await mkdir(path.join(repo, 'org'));
    await writeFile(
      path.join(repo, 'org/egress.rego'),
      [
        'package aibox.org.egress',
        '',
        'import rego.v1',
        '',
        'allow_domains := {"allowed.test", "wanted.test", "other.test", "third.test"}',
        '',
        `allow_ports := {${origin.port}}`,
        '',
      ].join('\n'),
    );
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
    );
    const names = ['allowed.test', 'wanted.test', 'other.test', 'third.test', 'forbidden.test'];
    daemon = await startTestDaemon({
      name: 'proposals',
      config: {
        policy: { repo, debounceMs: 20 },
        egress: {
          dns: { hosts: Object.fromEntries(names.map((n) => [n, '127.0.0.1'])) },
          hostAccess: [{ address: '127.0.0.1', port: origin.port }],
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    project = await makeProject('propose');
    await mkdir(path.join(project, 'aibox'));
    await writeFile(path.join(project, 'aibox/policy.yaml'), PROJECT_FILE);
    // The project owner's, as a person's files are (aiboxd edits only a file owned like its folder).
    const { uid, gid } = await stat(project);
    for (const p of ['aibox', 'aibox/policy.yaml']) await chown(path.join(project, p), uid, gid);
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }, 180_000);

  afterAll(async () => {
    await daemon?.stop();
    await origin?.close();
    if (repo) await rm(repo, { recursive: true, force: true });
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('tells the sandbox where to propose, and the project file narrows egress to allowed.test', async () => {
    expect((await inside('echo "$AIBOX_PROPOSALS_URL"')).stdout).toMatch(
      /^http:\/\/10\.0\.2\.2:[0-9]+\/proposals\n$/,
    );
    expect(await untilReach('allowed.test')).toContain('origin loopback');
    expect(await reach('wanted.test')).not.toContain('origin loopback');
  });

  it('refuses malformed proposals with a code, from inside', async () => {
    const wildcard = await propose({ host: '*', reason: 'everything' });
    expect([wildcard.status, wildcard.body.error?.code]).toEqual([400, 'PROPOSAL_INVALID']);
    const noReason = await propose({ host: 'wanted.test' });
    expect([noReason.status, noReason.body.error?.code]).toEqual([400, 'PROPOSAL_INVALID']);
    const extra = await propose({ host: 'wanted.test', reason: 'x', sandbox: 'someone-else' });
    expect([extra.status, extra.body.error?.code]).toEqual([400, 'PROPOSAL_INVALID']);
    const big = await inside(
      `head -c 20000 /dev/zero | tr '\\0' a | curl -sS -o /dev/null -w '%{http_code}' -X POST ${AUTH} -H 'content-type: application/json' --data-binary @- "$AIBOX_PROPOSALS_URL"`,
    );
    expect(big.stdout).toBe('413');
  });

  it('approves a proposal into aibox/policy.yaml, after which the sandbox reaches the host', async () => {
    const p = await propose({
      host: 'wanted.test',
      port: origin.port,
      methods: ['GET'],
      reason: 'tests need it',
    });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    expect(p.body).toMatchObject({ state: 'pending', host: 'wanted.test', sandbox: name });
    expect(p.body.decisionId).toMatch(/^dec_/);

    const listed = await daemon.cli(['policy', 'proposals', '--sandbox', name, '--json']);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).proposals.map((x: { id: string }) => x.id)).toEqual([p.body.id]);

    const approved = await daemon.cli(['policy', 'proposals', 'approve', p.body.id, '--json']);
    expect(approved.exitCode, approved.stderr).toBe(0);
    const a = JSON.parse(approved.stdout);
    expect(a.state).toBe('approved');
    expect(a.resolution.changes).toEqual(['network.allow += wanted.test']);
    const text = await readFile(path.join(project, 'aibox/policy.yaml'), 'utf8');
    expect(text).toContain("# the project's own egress (reviewed by people)");
    expect(text).toContain('allowed.test # the service we test against');
    expect(text).toMatch(/- wanted\.test\n/);
    // The decision made after the change allows it, and so does the sandbox's egress.
    const after = await daemon.api('GET', `/v1/policy/decisions/${a.resolution.decisionId}`);
    expect(after.body.outcome).toBe('allow');
    await untilReach('wanted.test');

    const again = await daemon.cli(['policy', 'proposals', 'approve', p.body.id]);
    expect(again.exitCode).not.toBe(0);
    expect(again.stderr).toContain('PROPOSAL_ALREADY_DECIDED');
    const twice = await daemon.api('POST', `/v1/proposals/${p.body.id}/approve`, {});
    expect([twice.status, twice.body.error?.code]).toEqual([409, 'PROPOSAL_ALREADY_DECIDED']);
    const audit = await daemon.api('GET', '/v1/audit?kind=proposal&limit=50');
    expect(JSON.stringify(audit.body)).toContain(p.body.id);
  });

  it('gives the agent the reason of a rejection', async () => {
    const p = await propose({ host: 'other.test', port: origin.port, reason: 'maybe useful' });
    expect(p.body.state).toBe('pending');
    const rejected = await daemon.cli([
      'policy',
      'proposals',
      'reject',
      p.body.id,
      '--reason',
      'use the internal mirror instead',
    ]);
    expect(rejected.exitCode, rejected.stderr).toBe(0);
    const back = await inside(`curl -sS ${AUTH} "$AIBOX_PROPOSALS_URL/${p.body.id}"`);
    const seen = JSON.parse(back.stdout);
    expect(seen.state).toBe('rejected');
    expect(seen.resolution).toMatchObject({ by: 'human', reason: 'use the internal mirror instead' });
    expect(await reach('other.test')).not.toContain('origin loopback');
  });

  it('rejects at once what the org forbids, naming the org layer', async () => {
    const p = await propose({ host: 'forbidden.test', port: origin.port, reason: 'please' });
    expect(p.status).toBe(201);
    expect(p.body.state).toBe('rejected');
    expect(p.body.resolution).toMatchObject({ by: 'ceiling', layer: 'org' });
    expect(p.body.resolution.reason).toContain('forbidden.test');
    expect(p.body.resolution.rule).toMatch(/^org\/egress\.rego:/);
    const approve = await daemon.api('POST', `/v1/proposals/${p.body.id}/approve`, {});
    expect(approve.status).toBe(409);
  });

  it('answers 404 for unknown ids, inside and outside', async () => {
    const outside = await daemon.api('GET', '/v1/proposals/prp_000000000000');
    expect(outside.status).toBe(404);
    const fromInside = await inside(
      `curl -sS -o /dev/null -w '%{http_code}' ${AUTH} "$AIBOX_PROPOSALS_URL/prp_000000000000"`,
    );
    expect(fromInside.stdout).toBe('404');
  });

  it("refuses a host process that reaches the port without the sandbox's token (401 with a code)", async () => {
    const url = (await inside('echo "$AIBOX_PROPOSALS_URL"')).stdout.trim();
    const port = Number(/:([0-9]+)\/proposals$/.exec(url)?.[1]);
    const token = (await inside('printf %s "$AIBOX_PROPOSALS_TOKEN"')).stdout;
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const before = (await daemon.api('GET', `/v1/proposals?sandbox=${name}&state=pending`)).body;
    const body = JSON.stringify({ host: 'third.test', port: origin.port, reason: 'a stranger on the host' });
    for (const authorization of [undefined, 'Bearer not-the-token', `Bearer ${token.slice(0, -1)}`]) {
      const res = await fetch(`http://127.0.0.1:${port}/proposals`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body,
      });
      expect(res.status, authorization).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PROPOSAL_UNAUTHORIZED');
      const list = await fetch(`http://127.0.0.1:${port}/proposals`, {
        headers: authorization ? { authorization } : {},
      });
      expect(list.status).toBe(401);
    }
    // Nothing was filed in the sandbox's name.
    expect((await daemon.api('GET', `/v1/proposals?sandbox=${name}&state=pending`)).body).toEqual(before);
  });

  it("is not reachable from another sandbox (the port is the identity: only its own sandbox's rules open it)", async () => {
    const url = (await inside('echo "$AIBOX_PROPOSALS_URL"')).stdout.trim();
    const other = await makeProject('neighbour');
    try {
      const created = await daemon.api('POST', '/v1/sandboxes', { path: other, name: 'neighbour' });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const own = (await daemon.exec('neighbour', ['sh', '-c', 'echo "$AIBOX_PROPOSALS_URL"'])).stdout.trim();
      expect(own).not.toBe(url);
      const r = await daemon.exec('neighbour', [
        'curl',
        '-sS',
        '--noproxy',
        '*',
        '--max-time',
        '3',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        url,
      ]);
      expect(r.exitCode).not.toBe(0);
      expect(r.stdout).toBe('000');
    } finally {
      await daemon.api('DELETE', '/v1/sandboxes/neighbour');
      await rm(other, { recursive: true, force: true });
    }
  });

  it('refuses to approve into a project file that became a symbolic link', async () => {
    const p = await propose({ host: 'third.test', port: origin.port, reason: 'one more' });
    expect(p.body.state).toBe('pending');
    const file = path.join(project, 'aibox/policy.yaml');
    const moved = path.join(project, 'moved.yaml');
    await rename(file, moved);
    await symlink(moved, file);
    try {
      const r = await daemon.api('POST', `/v1/proposals/${p.body.id}/approve`, {});
      expect([r.status, r.body.error?.code]).toEqual([409, 'PROPOSAL_PROJECT_UNSAFE']);
      expect(await readFile(moved, 'utf8')).not.toContain('third.test');
    } finally {
      await rm(file);
      await rename(moved, file);
    }
  });
});
