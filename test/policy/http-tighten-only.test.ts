import { describe, expect, it } from 'vitest';
import { MemorySource, newStore } from './helpers.js';

/** An org that allows GET/HEAD anywhere on the registry and read-only issue paths on the API. */
const ORG = {
  'org/egress.rego': [
    'package aibox.org.egress',
    '',
    'import rego.v1',
    '',
    'allow_domains := {"registry.example", "*.api.example", "free.example"}',
    '',
    'allow_http := [',
    '  {"host": "registry.example", "methods": ["GET", "HEAD"]},',
    '  {"host": "*.api.example", "methods": ["GET"], "paths": ["/repos/*/issues/**"]},',
    ']',
    '',
  ].join('\n'),
};

const attach = async (project: string, files: Record<string, string> = ORG, team?: string) => {
  const store = newStore(new MemorySource(files, { '/p': project }), [], team);
  const loaded = await store.reloadRepo();
  return {
    loaded,
    attached: await store.attach({ id: 'sbx_1', name: 'p', path: '/p' }).catch((e: unknown) => e),
  };
};

describe('egress.allow_http is tighten-only at load', () => {
  it('refuses a project rule with a method the org does not allow, naming file, line, rule and the org rule', async () => {
    const { attached } = await attach(
      'network:\n  allow: [registry.example]\n  http:\n    - {host: registry.example, methods: [GET]}\n    - {host: registry.example, methods: [PUT], paths: ["/-/**"]}\n',
    );
    expect(attached).toMatchObject({
      code: 'POLICY_LOOSENING',
      details: {
        file: 'aibox/policy.yaml',
        key: 'egress.allow_http',
        policyLayer: 'project',
        conflictsWith: 'org',
      },
    });
    const msg = (attached as Error).message;
    expect(msg).toContain('aibox/policy.yaml:4');
    expect(msg).toContain('rule 2');
    expect(msg).toContain('allows PUT /- on registry.example');
    expect(msg).toContain("org's egress.allow_http (org/egress.rego:7)");
    expect((attached as { hint?: string }).hint ?? '').toMatch(/narrow/);
  });

  it('refuses a path glob that is not inside the org’s (** where the org has *, a wider segment)', async () => {
    for (const glob of ['/repos/**', '/repos/*/issues*', '/repos/*/*/x']) {
      const { attached } = await attach(
        `network:\n  http:\n    - {host: x.api.example, methods: [GET], paths: ["${glob}"]}\n`,
      );
      expect(attached, glob).toMatchObject({ code: 'POLICY_LOOSENING' });
      expect((attached as Error).message, glob).toContain('on x.api.example');
    }
  });

  it('refuses a wildcard rule wider than the org’s rule for a host under it', async () => {
    const { attached } = await attach(
      'network:\n  http:\n    - {host: "*.api.example", methods: [GET, POST]}\n',
    );
    expect(attached).toMatchObject({ code: 'POLICY_LOOSENING' });
    expect((attached as Error).message).toContain('allows GET / on *.api.example');
  });

  it('accepts rules inside the org’s: fewer methods, narrower globs, a trailing slash, a host the org has no rule for', async () => {
    const { attached } = await attach(
      [
        'network:',
        '  http:',
        '    - {host: registry.example, methods: [GET], paths: ["/pkg/**"]}',
        '    - {host: registry.example, methods: [HEAD]}',
        '    - {host: a.api.example, methods: [GET], paths: ["/repos/x/issues/", "/repos/*/issues", "/repos/*/issues/*/comments"]}',
        '    - {host: free.example, methods: [POST]}',
        '',
      ].join('\n'),
    );
    expect(attached).not.toBeInstanceOf(Error);
  });

  it('refuses a team rule wider than the org’s at repo load, naming the team file', async () => {
    const { loaded } = await attach(
      '',
      {
        ...ORG,
        'teams/web/egress.rego':
          'package aibox.team.web.egress\n\nimport rego.v1\n\nallow_http := [{"host": "registry.example"}]\n',
      },
      'web',
    );
    expect(loaded.ok).toBe(false);
    expect(loaded.error).toMatchObject({
      code: 'POLICY_LOOSENING',
      details: { key: 'egress.allow_http', policyLayer: 'team:web', conflictsWith: 'org' },
    });
    expect(loaded.error!.message).toContain('teams/web/egress.rego:5');
  });

  it('checks the project against the org even when the team between them has no rule', async () => {
    const { attached } = await attach(
      'network:\n  http:\n    - {host: registry.example, methods: [DELETE]}\n',
      {
        ...ORG,
        'teams/web/egress.rego': 'package aibox.team.web.egress\n\nimport rego.v1\n\nallow_ports := {443}\n',
      },
      'web',
    );
    expect(attached).toMatchObject({ code: 'POLICY_LOOSENING', details: { conflictsWith: 'org' } });
  });
});
