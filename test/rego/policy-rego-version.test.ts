/**
 * The policy repo's org/team Rego honours an OPA bundle `.manifest` `rego_version` (repo root or layer folder),
 * so an org policy written in Rego v0 loads unchanged.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FilePolicySource } from '../../src/policy/index.js';
import { newStore } from '../policy/helpers.js';

// v0: `p = x { ... }` heads, `deny[msg] { ... }`, `in` as a plain name; refused by a v1 parser
const V0_EGRESS = `package aibox.org.egress

allow_domains = {"a.example", "b.example"} { true }
`;

let repo: string;

beforeEach(async () => {
  repo = await mkdtemp(join(tmpdir(), 'aibox-regover-'));
  await mkdir(join(repo, 'org'), { recursive: true });
  await writeFile(join(repo, 'org/egress.rego'), V0_EGRESS);
});

afterEach(async () => {
  await rm(repo, { recursive: true, force: true });
});

describe('policy repo rego_version', () => {
  it('a v0 org policy is refused without a manifest (v1 is the default)', async () => {
    const store = newStore(new FilePolicySource(repo));
    const r = await store.reloadRepo();
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('POLICY_REGO_ERROR');
  });

  it('loads unchanged with "rego_version": 0 in the repo .manifest', async () => {
    await writeFile(join(repo, '.manifest'), JSON.stringify({ rego_version: 0 }));
    const store = newStore(new FilePolicySource(repo));
    expect(await store.reloadRepo()).toEqual({ ok: true });
    expect(store.policySet().effective.egress.allowDomains).toEqual(['a.example', 'b.example']);
  });

  it('a layer .manifest wins over the repo one', async () => {
    await writeFile(join(repo, '.manifest'), JSON.stringify({ rego_version: 1 }));
    await writeFile(join(repo, 'org/.manifest'), JSON.stringify({ rego_version: 0 }));
    const store = newStore(new FilePolicySource(repo));
    expect(await store.reloadRepo()).toEqual({ ok: true });
  });

  it('refuses a manifest with another rego_version', async () => {
    await writeFile(join(repo, '.manifest'), JSON.stringify({ rego_version: 2 }));
    const r = await newStore(new FilePolicySource(repo)).reloadRepo();
    expect(r.error?.code).toBe('POLICY_REGO_ERROR');
    expect(r.error?.message).toMatch(/rego_version must be 0 or 1/);
  });
});
