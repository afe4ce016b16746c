import { describe, expect, it } from 'vitest';
import type { PolicyDecision } from '../../src/shared/index.js';
import { MemorySource, newStore } from './helpers.js';

const rego = (layer: string, body: string) =>
  `package aibox.${layer}.credentials\n\nimport rego.v1\n\n${body}\n`;

const maven = { secret: 'maven-mirror-token', host: 'repo.maven.apache.org', env: 'MAVEN_MIRROR_TOKEN' };
const fromPack = { ...maven, source: 'pack', pack: 'maven' } as const;
const fromConfig = {
  secret: 'gh-token',
  host: 'api.github.com',
  env: 'GITHUB_TOKEN',
  source: 'config',
} as const;

async function storeWith(files: Record<string, string>, project?: string, team?: string) {
  const decisions: PolicyDecision[] = [];
  const store = newStore(
    new MemorySource(files, project !== undefined ? { '/p': project } : {}),
    decisions,
    team,
  );
  expect(await store.reloadRepo()).toEqual({ ok: true });
  await store.attach({ id: 'sbx_1', name: 'p', path: '/p' });
  return { store, decisions };
}

describe('the credentials door', () => {
  it("gives the daemon config's bindings when the org says nothing, and never a pack's (deny by default)", async () => {
    const { store } = await storeWith({});
    expect((await store.decide('credentials', fromConfig, 'p')).outcome).toBe('allow');
    const pack = await store.decide('credentials', fromPack, 'p');
    expect(pack.outcome).toBe('deny');
    expect(pack.reason).toContain('layer org defines no credentials.allowed_secrets');
  });

  it('allows a pack binding whose secret the org lists, and narrows config bindings to the list too', async () => {
    const { store } = await storeWith({
      'org/credentials.rego': rego('org', 'allowed_secrets := ["maven-*"]'),
    });
    expect((await store.decide('credentials', fromPack, 'p')).outcome).toBe('allow');
    const config = await store.decide('credentials', fromConfig, 'p');
    expect(config.outcome).toBe('deny');
    expect(config.reason).toContain("is not in org's credentials.allowed_secrets");
    expect(config.layers[0]?.rules[0]?.at).toBe('org/credentials.rego:5');
  });

  it('narrows by host, and by a deny rule with its own message', async () => {
    const { store } = await storeWith({
      'org/credentials.rego': rego(
        'org',
        [
          'allowed_secrets := ["*"]',
          '',
          'allowed_hosts := ["*.apache.org"]',
          '',
          'deny contains "no tokens for the build team" if input.pack == "gradle"',
        ].join('\n'),
      ),
    });
    expect((await store.decide('credentials', fromPack, 'p')).outcome).toBe('allow');
    const gh = await store.decide('credentials', { ...fromPack, host: 'api.github.com' }, 'p');
    expect(gh.outcome).toBe('deny');
    expect(gh.reason).toContain("host not in org's credentials.allowed_hosts");
    const gradle = await store.decide('credentials', { ...fromPack, pack: 'gradle' }, 'p');
    expect(gradle.outcome).toBe('deny');
    expect(gradle.reason).toContain('no tokens for the build team');
  });

  it('lets a team only narrow the org (a wider team list is a load conflict)', async () => {
    const org = { 'org/credentials.rego': rego('org', 'allowed_secrets := ["maven-*"]') };
    const { store } = await storeWith(
      { ...org, 'teams/web/credentials.rego': rego('team.web', 'allowed_secrets := []') },
      undefined,
      'web',
    );
    const d = await store.decide('credentials', fromPack, 'p');
    expect(d.outcome).toBe('deny');
    expect(d.reason).toContain("team:web's credentials.allowed_secrets");

    const wider = newStore(
      new MemorySource({
        ...org,
        'teams/web/credentials.rego': rego('team.web', 'allowed_secrets := ["*"]'),
      }),
      [],
      'web',
    );
    const loaded = await wider.reloadRepo();
    expect(loaded.ok).toBe(false);
    expect(loaded.error?.code).toBe('POLICY_LOOSENING');
  });

  it("lets the project narrow by placeholder variable only, with the key's line in the decision", async () => {
    const org = { 'org/credentials.rego': rego('org', 'allowed_secrets := ["*"]') };
    const { store } = await storeWith(org, '# the project file\ncredentials: [GITHUB_TOKEN]\n');
    const d = await store.decide('credentials', fromPack, 'p');
    expect(d.outcome).toBe('deny');
    const project = d.layers.find((l) => l.layer === 'project');
    expect(project).toMatchObject({ verdict: 'deny', rules: [{ at: 'aibox/policy.yaml:2' }] });
    expect(d.reason).toContain("MAVEN_MIRROR_TOKEN is not in project's credentials");
    expect((await store.decide('credentials', fromConfig, 'p')).outcome).toBe('allow');
    expect(store.policySet('p').effective.credentials).toEqual({
      allowedSecrets: ['*'],
      allowedEnv: ['GITHUB_TOKEN'],
    });
  });

  it('refuses a project file that tries to name a secret or a host for one', async () => {
    const store = newStore(
      new MemorySource({}, { '/p': 'credentials:\n  - secret: gh-token\n    host: evil.example\n' }),
    );
    await store.reloadRepo();
    const err = await store.attach({ id: 'sbx_1', name: 'p', path: '/p' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'POLICY_PROJECT_INVALID' });
    expect((err as Error).message).toContain('aibox/policy.yaml:2');
  });

  it('refuses a malformed request (a secret name is required)', async () => {
    const { store } = await storeWith({});
    expect(() => store.evaluate('credentials', { host: 'x.example', env: 'X', source: 'pack' }, 'p')).toThrow(
      /bad credentials request: secret/,
    );
  });
});
