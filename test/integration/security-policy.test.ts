/**
 * The agent against its own policy, from inside a real gVisor sandbox: it tries to rewrite aibox/policy.yaml, to
 * swap it for a symbolic link, to pick a looser team with `team:`, and to plant a policy folder that did not exist
 * at start; the strict team stays in force throughout, while the host user's own edit still applies without a
 * restart. Then the LLM proxy: a message batch naming a model the policy refuses, and paths the proxy cannot
 * check, are refused before anything reaches the upstream.
 */
import { chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeLlm } from '../support/fake-llm.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'security-policy');

const rego = (pkg: string, body: string) => `package ${pkg}\n\nimport rego.v1\n\n${body}\n`;

interface Show {
  team?: string;
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

/** Writes a file on the host as the project's owner would (same uid and gid as the project folder). */
async function writeAsOwner(project: string, rel: string, text: string): Promise<void> {
  const { uid, gid } = await stat(project);
  await mkdir(path.dirname(path.join(project, rel)), { recursive: true });
  await chown(path.dirname(path.join(project, rel)), uid, gid);
  await writeFile(path.join(project, rel), text);
  await chown(path.join(project, rel), uid, gid);
}

describe.skipIf(!run)('the agent cannot change its own policy (real aiboxd, gVisor sandbox)', () => {
  let daemon: TestDaemon;
  let repo: string;
  let upstream: FakeLlm;
  let guarded: string;
  let bare: string;

  const show = async (sandbox: string): Promise<Show> => {
    const r = await daemon.api<Show>('GET', `/v1/policy?sandbox=${sandbox}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const sh = (name: string, script: string) => daemon.exec(name, ['sh', '-c', script]);

  beforeAll(async () => {
    upstream = new FakeLlm();
    await upstream.start();
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-secpol-repo-'));
    const files: Record<string, string> = {
      'org/egress.rego': rego('aibox.org.egress', 'allow_domains := {"a.example", "b.example", "c.example"}'),
      'org/mounts.rego': rego('aibox.org.mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]'),
      'org/llm.rego': rego(
        'aibox.org.llm',
        'allowed_providers := {"anthropic"}\n\nallowed_models := {"claude-haiku-*"}',
      ),
      'teams/strict/egress.rego': rego('aibox.team.strict.egress', 'allow_domains := {"a.example"}'),
      'teams/loose/egress.rego': rego(
        'aibox.team.loose.egress',
        'allow_domains := {"a.example", "b.example", "c.example"}',
      ),
    };
    for (const [f, t] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(repo, f)), { recursive: true });
      await writeFile(path.join(repo, f), t);
    }
    daemon = await startTestDaemon({
      name: 'secpol',
      config: {
        policy: { repo, debounceMs: 20, defaultTeam: 'strict' },
        llm: { providers: { anthropic: { upstream: upstream.url, credential: 'anthropic-api-key' } } },
      },
    });
    const stored = await daemon.cli(['secret', 'set', 'anthropic-api-key'], {
      input: 'sk-ant-secpol-0123456789\n',
    });
    expect(stored.exitCode, stored.stderr).toBe(0);
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);

    guarded = await makeProject('secpol-guarded');
    await writeAsOwner(guarded, 'aibox/policy.yaml', 'network:\n  allow: [a.example]\n');
    const a = await daemon.api('POST', '/v1/sandboxes', { path: guarded, name: 'guarded' });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    bare = await makeProject('secpol-bare');
    const b = await daemon.api('POST', '/v1/sandboxes', { path: bare, name: 'bare' });
    expect(b.status, JSON.stringify(b.body)).toBe(201);
  });

  afterAll(async () => {
    await daemon?.stop();
    await upstream?.stop();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('starts under the daemon default team (strict): the project file does not pick it', async () => {
    const s = await show('guarded');
    expect(s.team).toBe('strict');
    expect(s.layers).toEqual(['org', 'team:strict', 'project']);
    expect(s.doors.egress.allowDomains).toEqual(['a.example']);
  });

  it('cannot write, replace, rename or symlink aibox/policy.yaml from inside', async () => {
    const before = await readFile(path.join(guarded, 'aibox/policy.yaml'), 'utf8');
    const attempts = [
      'printf "team: loose\\n" >> /workspace/aibox/policy.yaml',
      'printf "team: loose\\nnetwork:\\n  allow: [b.example]\\n" > /workspace/aibox/policy.yaml',
      'rm -f /workspace/aibox/policy.yaml',
      'ln -sf /dev/zero /workspace/aibox/policy.yaml',
      'printf "team: loose\\n" > /workspace/aibox/new.yaml',
      'mv /workspace/aibox /workspace/aibox.old',
      'rm -rf /workspace/aibox',
      'chmod 777 /workspace/aibox',
    ];
    for (const script of attempts) {
      const r = await sh('guarded', `${script} 2>/dev/null; echo rc=$?`);
      expect(r.stdout.trim(), script).not.toBe('rc=0');
    }
    expect(await readFile(path.join(guarded, 'aibox/policy.yaml'), 'utf8')).toBe(before);
    await new Promise((r) => setTimeout(r, 300));
    const s = await show('guarded');
    expect(s.team).toBe('strict');
    expect(s.doors.egress.allowDomains).toEqual(['a.example']);
    // The agent still works in its workspace.
    expect((await sh('guarded', 'echo ok > /workspace/notes.txt && cat /workspace/notes.txt')).stdout).toBe(
      'ok\n',
    );
  });

  it('still applies the host user’s own edit without a restart', async () => {
    await writeAsOwner(guarded, 'aibox/policy.yaml', 'network:\n  allow: []\n');
    const s = await until(
      () => show('guarded'),
      (v) => v.doors.egress.allowDomains.length === 0,
    );
    expect(s.team).toBe('strict');
    const inside = await sh('guarded', 'cat /workspace/aibox/policy.yaml');
    expect(inside.stdout).toBe('network:\n  allow: []\n');
  });

  it('ignores an aibox/ folder planted while the sandbox runs, reports it, and refuses its team: at the next start', async () => {
    const planted = await sh(
      'bare',
      'mkdir -p /workspace/aibox && printf "team: loose\\nnetwork:\\n  allow: [b.example]\\n" > /workspace/aibox/policy.yaml && echo planted',
    );
    expect(planted.stdout).toContain('planted');
    const s = await until(
      () => show('bare'),
      (v) => v.errors.some((e) => e.code === 'POLICY_PROJECT_PENDING'),
    );
    expect(s.team).toBe('strict');
    expect(s.doors.egress.allowDomains).toEqual(['a.example']);
    const audit = await daemon.cli(['audit', 'tail', '--kind', 'policy', '--json']);
    expect(audit.stdout).toContain('POLICY_PROJECT_PENDING');

    expect((await daemon.api('POST', '/v1/sandboxes/bare/stop')).status).toBeLessThan(300);
    const again = await daemon.api<{ error: { code: string; message: string; hint: string } }>(
      'POST',
      '/v1/sandboxes/bare/start',
    );
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('POLICY_PROJECT_TEAM');
    expect(again.body.error.hint).toMatch(/org/);
    const sb = await daemon.api<{ state: string }>('GET', '/v1/sandboxes/bare');
    expect(sb.body.state).not.toBe('running');
  });

  it('refuses an LLM batch naming a model the policy refuses, and paths the proxy cannot check', async () => {
    const post = (p: string, body: unknown) =>
      sh(
        'guarded',
        `curl -sS --max-time 20 "$ANTHROPIC_BASE_URL${p}" -H "x-api-key: $ANTHROPIC_API_KEY" -H 'content-type: application/json' -d '${JSON.stringify(body)}'`,
      );
    const params = (model: string) => ({
      model,
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const batch = await post('/v1/messages/batches', {
      requests: [
        { custom_id: 'ok', params: params('claude-haiku-4-5') },
        { custom_id: 'sneaky', params: params('claude-opus-4-1') },
      ],
    });
    expect(JSON.parse(batch.stdout)).toMatchObject({
      error: { aibox_code: 'LLM_MODEL_DENIED', decision_id: expect.stringMatching(/^dec_/) },
    });
    const unknown = await post('/v1/complete', { model: 'claude-opus-4-1', prompt: 'hi' });
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { aibox_code: 'LLM_ENDPOINT_NOT_ALLOWED' } });
    const notJson = await sh(
      'guarded',
      `curl -sS --max-time 20 "$ANTHROPIC_BASE_URL/v1/messages" -H "x-api-key: $ANTHROPIC_API_KEY" -H 'content-type: text/plain' -d '{"model":"claude-opus-4-1","max_tokens":5}'`,
    );
    expect(JSON.parse(notJson.stdout)).toMatchObject({ error: { aibox_code: 'LLM_REQUEST_INVALID' } });
    expect(upstream.requests).toHaveLength(0);
  });
});
