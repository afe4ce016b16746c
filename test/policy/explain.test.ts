import { describe, expect, it } from 'vitest';
import { renderExplain } from '../../src/cli/commands/policy-explain.js';
import { MemorySource, newStore } from './helpers.js';

const REPO = {
  'org/egress.rego':
    'package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := {"registry.npmjs.org", "github.com"}\n',
  'org/exec.rego': `package aibox.org.exec

import rego.v1

deny contains msg if {
	input.argv[0] == "nsenter"
	msg := "nsenter is a namespace tool and is not allowed in sandboxes"
}
`,
  'teams/web/egress.rego':
    'package aibox.team.web.egress\n\nimport rego.v1\n\nallow_domains := {"registry.npmjs.org"}\n',
};

describe('explain', () => {
  it('explains an egress denial: request, outcome, each layer with rule and file:line, effective value', async () => {
    const store = newStore(new MemorySource(REPO, { '/p': '' }), [], 'web');
    await store.reloadRepo();
    await store.attach({ id: 'sbx_1', name: 'web1', path: '/p' });
    const d = await store.decide('egress', { host: 'github.com', port: 443, method: 'CONNECT' }, 'web1');
    const text = renderExplain(d);
    expect(text).toContain(`decision ${d.id}`);
    expect(text).toContain('door egress  sandbox web1');
    expect(text).toContain('request   {"host":"github.com","port":443,"method":"CONNECT"}');
    expect(text).toContain("outcome   DENY: team:web: github.com is not in team:web's egress.allow_domains");
    expect(text).toMatch(
      /org\s+allow\s+allowed by this layer\n\s+data\.aibox\.org\.egress\.allow_domains {2}\(org\/egress\.rego:5\)/,
    );
    expect(text).toMatch(
      /team:web\s+deny\s+.*\n\s+data\.aibox\.team\.web\.egress\.allow_domains {2}\(teams\/web\/egress\.rego:5\)/,
    );
    expect(text).toMatch(/project\s+abstain/);
    expect(text).toContain(
      'effective {"allowDomains":["registry.npmjs.org"],"allowPorts":[443],"allowTcp":[],"allowHttp":[]}',
    );
  });

  it('explains a command denial with the deny rule that fired', async () => {
    const store = newStore(new MemorySource(REPO));
    await store.reloadRepo();
    const d = await store.decide('exec', { argv: ['nsenter', '-t', '1'], via: 'ssh' });
    expect(d.outcome).toBe('deny');
    expect(d.layers[0]).toMatchObject({
      layer: 'org',
      verdict: 'deny',
      reason: 'nsenter is a namespace tool and is not allowed in sandboxes',
      rules: [{ rule: 'data.aibox.org.exec.deny', at: 'org/exec.rego:5' }],
    });
    const text = renderExplain(d);
    expect(text).toContain(
      'outcome   DENY: org: nsenter is a namespace tool and is not allowed in sandboxes',
    );
    expect(text).toContain('data.aibox.org.exec.deny  (org/exec.rego:5)');
  });

  it('allows a command no rule denies', async () => {
    const store = newStore(new MemorySource(REPO));
    await store.reloadRepo();
    expect(store.evaluate('exec', { argv: ['npm', 'test'] }).outcome).toBe('allow');
  });
});

describe('the exec door is advisory', () => {
  it('says so in every exec decision (and so in explain): it sees the command sent, not what that command runs', async () => {
    const store = newStore(new MemorySource(REPO));
    await store.reloadRepo();
    const allowed = await store.decide('exec', { argv: ['bash', '-c', 'nsenter -t 1'] });
    // The denied tool runs anyway through a shell: the door cannot see it, and says so.
    expect(allowed.outcome).toBe('allow');
    for (const d of [allowed, await store.decide('exec', { argv: ['nsenter', '-t', '1'] })]) {
      expect(renderExplain(d)).toMatch(/advisory.*argv\[0\]/);
    }
    expect((await store.decide('egress', { host: 'github.com' })).reason).not.toMatch(/advisory/);
  });
});
