import { describe, expect, it } from 'vitest';
import { MemorySource, newStore } from '../policy/helpers.js';

const rego = (layer: string, body: string) =>
  `package aibox.${layer}.containers\n\nimport rego.v1\n\n${body}\n`;

async function storeWith(files: Record<string, string>, team?: string) {
  const store = newStore(new MemorySource(files), [], team);
  const loaded = await store.reloadRepo();
  return { store, loaded };
}

describe('the containers door', () => {
  it('is off when the org says nothing (deny by default)', async () => {
    const { store } = await storeWith({});
    await store.attach({ id: 'sbx_1', name: 'p', path: '/p' });
    const d = await store.decide('containers', { action: 'engine' }, 'p');
    expect(d.outcome).toBe('deny');
    expect(d.reason).toContain('layer org defines no containers.engine');
    expect(store.policySet('p').effective.containers).toEqual({ engine: false });
  });

  it('is on when the org turns it on, with the rule located', async () => {
    const { store } = await storeWith({ 'org/containers.rego': rego('org', 'engine := true') });
    await store.attach({ id: 'sbx_1', name: 'p', path: '/p' });
    const d = await store.decide('containers', {}, 'p');
    expect(d.outcome).toBe('allow');
    expect(d.layers[0]?.rules[0]?.at).toBe('org/containers.rego:5');
    expect(store.policySet('p').effective.containers).toEqual({ engine: true });
  });

  it('lets a team turn it off, and is off when the org says false', async () => {
    const { store } = await storeWith(
      {
        'org/containers.rego': rego('org', 'engine := true'),
        'teams/web/containers.rego': rego('team.web', 'engine := false'),
      },
      'web',
    );
    await store.attach({ id: 'sbx_1', name: 'p', path: '/p' });
    const d = await store.decide('containers', {}, 'p');
    expect(d.outcome).toBe('deny');
    expect(d.reason).toContain("the container engine is off in team:web's containers.engine");
    expect(store.policySet('p').effective.containers).toEqual({ engine: false });

    const off = await storeWith({ 'org/containers.rego': rego('org', 'engine := false') });
    await off.store.attach({ id: 'sbx_1', name: 'p', path: '/p' });
    expect((await off.store.decide('containers', {}, 'p')).outcome).toBe('deny');
  });

  it('refuses a team that turns it on below an org that left it off (tighten-only)', async () => {
    const orgs: Record<string, string>[] = [{}, { 'org/containers.rego': rego('org', 'engine := false') }];
    for (const org of orgs) {
      const { loaded } = await storeWith(
        { ...org, 'teams/web/containers.rego': rego('team.web', 'engine := true') },
        'web',
      );
      expect(loaded.ok).toBe(false);
      expect(loaded.error?.code).toBe('POLICY_LOOSENING');
    }
  });

  it('refuses a rule of the wrong shape and a malformed request', async () => {
    const { loaded } = await storeWith({ 'org/containers.rego': rego('org', 'engine := "yes"') });
    expect(loaded.ok).toBe(false);
    expect(loaded.error?.code).toBe('POLICY_BAD_VALUE');
    const { store } = await storeWith({ 'org/containers.rego': rego('org', 'engine := true') });
    await store.attach({ id: 'sbx_1', name: 'p', path: '/p' });
    expect(() => store.evaluate('containers', { action: 'run' }, 'p')).toThrow(/bad containers request/);
  });
});
