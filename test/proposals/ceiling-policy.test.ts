import { describe, expect, it } from 'vitest';
import { proposalPolicy } from '../../src/daemon/services/proposals.js';
import { MemorySource, newStore } from '../policy/helpers.js';

/** Learn mode's ceiling from a real policy store: org + team, without what the project file narrowed. */
describe('the learn-mode ceiling', () => {
  const files = {
    'org/egress.rego': [
      'package aibox.org.egress',
      '',
      'import rego.v1',
      '',
      'allow_domains := {"a.example", "b.example", "*.c.example", "gone.example"}',
      '',
      'allow_ports := {443, 8443}',
      '',
      'allow_tcp := {"db.example:5432", "cache.example:6379"}',
      '',
      'allow_http := [{"host": "b.example", "methods": ["GET", "HEAD"]}]',
      '',
    ].join('\n'),
    'teams/web/egress.rego': [
      'package aibox.team.web.egress',
      '',
      'import rego.v1',
      '',
      // The team removes gone.example: learning never reaches it.
      'allow_domains := {"a.example", "b.example", "*.c.example"}',
      '',
    ].join('\n'),
  };
  const project = [
    'network:',
    '  allow: [a.example]',
    '  ports: [443]',
    '  tcp: ["db.example:5432"]',
    '  http:',
    '    - {host: b.example, methods: [GET]}',
    '',
  ].join('\n');

  it('is the org/team egress with the project narrowing lifted, but the sandbox’s own raw TCP', async () => {
    const store = newStore(new MemorySource(files, { '/p': project }), [], 'web');
    expect(await store.reloadRepo()).toEqual({ ok: true });
    await store.attach({ id: 'sbx_1', name: 'p', path: '/p' });
    const policy = proposalPolicy({
      decide: (_door, request, sandbox) => store.decide('egress', request, sandbox),
      onChange: () => () => undefined,
      store,
    });
    // What the sandbox has normally.
    expect(store.policySet('p').effective.egress).toMatchObject({
      allowDomains: ['a.example'],
      allowPorts: [443],
      allowTcp: ['db.example:5432'],
    });
    const ceiling = policy.ceiling('p');
    expect([...ceiling.allowDomains].sort()).toEqual(['*.c.example', 'a.example', 'b.example']);
    expect([...ceiling.allowPorts].sort()).toEqual([443, 8443]);
    // Raw TCP is not seen by the proxy, so learning does not widen it.
    expect(ceiling.allowTcp).toEqual(['db.example:5432']);
    // The org's method rule stays; the project's narrower one is lifted.
    expect(ceiling.allowHttp.map((s) => [s.layer, s.rules.map((r) => r.methods)])).toEqual([
      ['org', [['GET', 'HEAD']]],
    ]);
  });
});
