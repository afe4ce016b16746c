import { describe, expect, it } from 'vitest';
import { MemorySource, newStore } from './helpers.js';

const ORG = {
  'org/egress.rego': `package aibox.org.egress

import rego.v1

allow_domains := {"a.example", "b.example"}
`,
  'org/push.rego': `package aibox.org.push

import rego.v1

default decision := "allow"

decision := "approve" if input.branch == "main"
`,
};
const TEAM = {
  'teams/web/egress.rego': `package aibox.team.web.egress

import rego.v1

allow_domains := {"a.example"}
`,
};

describe('layering', () => {
  it('refuses a project that asks for a domain the team does not allow, naming file, key, value and layer', async () => {
    const store = newStore(
      new MemorySource({ ...ORG, ...TEAM }, { '/p': 'network:\n  allow:\n    - c.example\n' }),
      [],
      'web',
    );
    expect(await store.reloadRepo()).toEqual({ ok: true });
    const err = await store.attach({ id: 'sbx_1', name: 'p', path: '/p' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'POLICY_LOOSENING' });
    const msg = (err as Error).message;
    expect(msg).toContain('aibox/policy.yaml:3');
    expect(msg).toContain('egress.allow_domains');
    expect(msg).toContain('"c.example"');
    expect(msg).toContain('layer team:web (teams/web/egress.rego:5)');
    expect((err as { details: Record<string, unknown> }).details).toMatchObject({
      file: 'aibox/policy.yaml',
      key: 'egress.allow_domains',
      value: 'c.example',
      policyLayer: 'project',
      conflictsWith: 'team:web',
    });
  });

  it('intersects allowlists: org allows A and B, the team only A, so B is denied by the team', async () => {
    const decisions: unknown[] = [];
    const store = newStore(new MemorySource({ ...ORG, ...TEAM }, { '/p': '' }), decisions as never, 'web');
    await store.reloadRepo();
    const set = await store.attach({ id: 'sbx_1', name: 'p', path: '/p' });
    expect(set.effective.egress.allowDomains).toEqual(['a.example']);
    const a = await store.decide('egress', { host: 'a.example' }, 'p');
    expect(a.outcome).toBe('allow');
    const b = await store.decide('egress', { host: 'b.example', port: 443 }, 'p');
    expect(b.outcome).toBe('deny');
    expect(b.id).toMatch(/^dec_/);
    expect(b.reason).toContain("team:web: b.example is not in team:web's egress.allow_domains");
    expect(b.layers.map((l) => [l.layer, l.verdict])).toEqual([
      ['org', 'allow'],
      ['team:web', 'deny'],
      ['project', 'abstain'],
    ]);
    expect(b.layers[1]!.rules[0]).toEqual({
      rule: 'data.aibox.team.web.egress.allow_domains',
      at: 'teams/web/egress.rego:5',
    });
    expect(decisions).toHaveLength(2);
  });

  it('a project that narrows egress to nothing gets no egress at all', async () => {
    const store = newStore(new MemorySource(ORG, { '/p': 'network:\n  allow: []\n' }));
    await store.reloadRepo();
    const set = await store.attach({ id: 'sbx_1', name: 'p', path: '/p' });
    expect(set.effective.egress.allowDomains).toEqual([]);
    const d = store.evaluate('egress', { host: 'a.example' }, 'p');
    expect(d.outcome).toBe('deny');
    expect(d.layers[1]).toMatchObject({
      layer: 'project',
      verdict: 'deny',
      rules: [{ rule: 'network.allow', at: 'aibox/policy.yaml:2' }],
    });
  });

  it('rejects a team that loosens the org at load and keeps nothing half-loaded', async () => {
    const store = newStore(
      new MemorySource({
        ...ORG,
        'teams/web/egress.rego':
          'package aibox.team.web.egress\n\nimport rego.v1\n\nallow_domains := {"a.example", "evil.example"}\n',
      }),
    );
    const r = await store.reloadRepo();
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({
      code: 'POLICY_LOOSENING',
      details: { value: 'evil.example', policyLayer: 'team:web', conflictsWith: 'org' },
    });
    expect(r.error!.message).toContain('teams/web/egress.rego:5');
    expect(r.error!.message).toContain('org/egress.rego:5');
    expect(store.revision).toBeUndefined();
    await expect(store.attach({ id: 's', name: 'p', path: '/p' })).rejects.toMatchObject({
      code: 'POLICY_NOT_LOADED',
    });
  });

  it('rejects a team module that declares a package of another layer', async () => {
    const store = newStore(
      new MemorySource({
        ...ORG,
        'teams/web/sneaky.rego': 'package aibox.org.egress\n\nallow_domains contains "evil.example"\n',
      }),
    );
    const r = await store.reloadRepo();
    expect(r.error).toMatchObject({
      code: 'POLICY_WRONG_PACKAGE',
      details: { file: 'teams/web/sneaky.rego' },
    });
  });

  it('names a missing team', async () => {
    const mapping = {
      'org/projects.rego':
        'package aibox.org.projects\n\nimport rego.v1\n\nteam := "nope" if input.path == "/p"\n',
    };
    const store = newStore(new MemorySource({ ...ORG, ...mapping }, { '/p': '' }));
    await store.reloadRepo();
    await expect(store.attach({ id: 's', name: 'p', path: '/p' })).rejects.toMatchObject({
      code: 'POLICY_TEAM_MISSING',
      message: expect.stringContaining('teams/nope/'),
    });
  });

  it('reports an invalid project file with its line and key', async () => {
    const store = newStore(new MemorySource(ORG, { '/p': 'network:\n  allow: [a.example]\n  alow: []\n' }));
    await store.reloadRepo();
    await expect(store.attach({ id: 's', name: 'p', path: '/p' })).rejects.toMatchObject({
      code: 'POLICY_PROJECT_INVALID',
      message: expect.stringMatching(/aibox\/policy.yaml:3: network.alow: Unrecognized key/),
    });
  });

  it('reports Rego that does not parse with file, line and a caret', async () => {
    const store = newStore(
      new MemorySource({ ...ORG, 'org/bad.rego': 'package aibox.org.exec\n\ndeny contains msg if {\n' }),
    );
    const r = await store.reloadRepo();
    expect(r.error).toMatchObject({ code: 'POLICY_REGO_ERROR', details: { file: 'org/bad.rego' } });
    expect(r.error!.message).toContain('org/bad.rego:');
  });

  it('takes the strictest push verdict: org approval, project deny', async () => {
    const store = newStore(
      new MemorySource(ORG, { '/p': 'push:\n  deny: ["gh-pages"]\n  approve: ["release/*"]\n' }),
    );
    await store.reloadRepo();
    await store.attach({ id: 's', name: 'p', path: '/p' });
    expect(store.evaluate('push', { ref: 'refs/heads/main' }, 'p').outcome).toBe('approve');
    expect(store.evaluate('push', { ref: 'refs/heads/feature' }, 'p').outcome).toBe('allow');
    expect(store.evaluate('push', { ref: 'refs/heads/release/2' }, 'p').outcome).toBe('approve');
    const d = store.evaluate('push', { ref: 'refs/heads/gh-pages' }, 'p');
    expect(d.outcome).toBe('deny');
    expect(d.layers[1]!.rules[0]).toEqual({ rule: 'push.deny', at: 'aibox/policy.yaml:2' });
  });

  it('denies what the org says nothing about (deny by default)', async () => {
    const store = newStore(new MemorySource(ORG));
    await store.reloadRepo();
    const d = store.evaluate('llm', { provider: 'anthropic', model: 'claude-x' });
    expect(d.outcome).toBe('deny');
    expect(d.reason).toContain('deny by default');
  });

  it('refuses a malformed request with a 400 code', async () => {
    const store = newStore(new MemorySource(ORG));
    await store.reloadRepo();
    expect(() => store.evaluate('egress', { port: 'x' })).toThrow(
      expect.objectContaining({ code: 'POLICY_BAD_REQUEST', status: 400 }),
    );
  });
});

describe('tightening from above', () => {
  it('applies an org tightening even where a team still lists the removed value, and reports the team', async () => {
    const source = new MemorySource({ ...ORG, ...TEAM }, { '/p': 'network:\n  allow: [a.example]\n' });
    const store = newStore(source, [], 'web');
    await store.reloadRepo();
    await store.attach({ id: 's', name: 'p', path: '/p' });
    source.files['org/egress.rego'] =
      'package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := {"b.example"}\n';
    expect(await store.reloadRepo()).toEqual({ ok: true });
    expect(store.policySet('p').effective.egress.allowDomains).toEqual([]);
    expect(store.evaluate('egress', { host: 'a.example' }, 'p').outcome).toBe('deny');
    const scopes = store.problems().map((e) => [e.scope, e.code]);
    expect(scopes).toContainEqual(['team:web', 'POLICY_LOOSENING']);
    expect(scopes).toContainEqual(['sandbox:p', 'POLICY_LOOSENING']);
  });

  it('still refuses a team edit that loosens, keeping the last good policy', async () => {
    const source = new MemorySource({ ...ORG, ...TEAM });
    const store = newStore(source);
    await store.reloadRepo();
    const before = store.revision;
    source.files['teams/web/egress.rego'] =
      'package aibox.team.web.egress\n\nimport rego.v1\n\nallow_domains := {"z.example"}\n';
    const r = await store.reloadRepo();
    expect(r.error).toMatchObject({ code: 'POLICY_LOOSENING', details: { policyLayer: 'team:web' } });
    expect(store.revision).toBe(before);
  });
});

describe('host patterns are validated once, at policy load, with the rules egress enforces', () => {
  it.each([
    ['*.github.io', 'anyone can create a subdomain'],
    ['localhost', 'localhost'],
    ['10.0.0.1', 'IP literals'],
    ['*', 'bare wildcard'],
  ])('refuses %s in an org allowlist at load (%s)', async (pattern, why) => {
    const store = newStore(
      new MemorySource({
        'org/egress.rego': `package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := {${JSON.stringify(pattern)}}\n`,
      }),
    );
    const r = await store.reloadRepo();
    expect(r.ok).toBe(false);
    expect(r.error?.message).toContain(why);
  });
});
