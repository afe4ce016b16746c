import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FilePolicySource,
  PolicyWatcher,
  type PolicyChange,
  type PolicyStore,
} from '../../src/policy/index.js';
import { newStore, quiet } from './helpers.js';

const egress = (domains: string[]) =>
  `package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := ${JSON.stringify(domains).replace('[', '{').replace(/]$/, '}')}\n`;

let dir: string;
let repo: string;
let project: string;
let store: PolicyStore;
let watcher: PolicyWatcher;
let changes: PolicyChange[];

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for the reload');
    await new Promise((r) => setTimeout(r, 20));
  }
  await watcher.idle();
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-policy-'));
  repo = join(dir, 'repo');
  project = join(dir, 'project');
  await mkdir(join(repo, 'org'), { recursive: true });
  await mkdir(project, { recursive: true });
  await writeFile(join(repo, 'org/egress.rego'), egress(['a.example', 'b.example']));
  store = newStore(new FilePolicySource(repo));
  expect(await store.reloadRepo()).toEqual({ ok: true });
  await store.attach({ id: 'sbx_1', name: 'p', path: project });
  changes = [];
  store.onChange((c) => void changes.push(c));
  watcher = new PolicyWatcher({ store, repoDir: repo, logger: quiet, debounceMs: 20 });
  watcher.start();
  watcher.watchProject('p', project);
});

afterEach(async () => {
  watcher.close();
  await rm(dir, { recursive: true, force: true });
});

describe('hot reload', () => {
  it('applies an org rule edit to an attached sandbox and notifies listeners', async () => {
    await writeFile(join(repo, 'org/egress.rego'), egress(['a.example', 'c.example']));
    await until(() => changes.length > 0);
    expect(changes[0]).toMatchObject({ sandbox: 'p', sandboxId: 'sbx_1' });
    expect(changes[0]!.effective.egress.allowDomains).toEqual(['a.example', 'c.example']);
    expect(store.evaluate('egress', { host: 'c.example' }, 'p').outcome).toBe('allow');
    expect(store.evaluate('egress', { host: 'b.example' }, 'p').outcome).toBe('deny');
  });

  it('keeps the last good policy in force when an edit breaks the Rego, and reports the error', async () => {
    const before = store.revision;
    await writeFile(
      join(repo, 'org/egress.rego'),
      'package aibox.org.egress\n\nallow_domains := {"a.example"\n',
    );
    await until(() => store.problems().length > 0);
    expect(store.revision).toBe(before);
    expect(store.evaluate('egress', { host: 'b.example' }, 'p').outcome).toBe('allow');
    const show = store.show('p');
    expect(show.errors[0]).toMatchObject({
      scope: 'repo',
      code: 'POLICY_REGO_ERROR',
      details: { file: 'org/egress.rego' },
    });
    expect(changes).toEqual([]);
    // Fixing the file clears the error and applies the new policy.
    await writeFile(join(repo, 'org/egress.rego'), egress(['a.example']));
    await until(() => store.problems().length === 0 && changes.length > 0);
    expect(store.evaluate('egress', { host: 'b.example' }, 'p').outcome).toBe('deny');
  });

  it("applies the host user's edits of a project file present at start, and keeps the last good one when it loosens", async () => {
    await mkdir(join(project, 'aibox'));
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example, b.example]\n');
    await store.attach({ id: 'sbx_1', name: 'p', path: project });
    watcher.watchProject('p', project);
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example]\n');
    await until(() => changes.length > 0);
    expect(store.policySet('p').effective.egress.allowDomains).toEqual(['a.example']);
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example, z.example]\n');
    await until(() => store.problems().length > 0);
    expect(store.problems()[0]).toMatchObject({ scope: 'sandbox:p', code: 'POLICY_LOOSENING' });
    expect(store.policySet('p').effective.egress.allowDomains).toEqual(['a.example']);
  });

  it("does not apply a project folder that appears after start (it may be the agent's): it waits for the next start", async () => {
    await mkdir(join(project, 'aibox'));
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example]\n');
    await until(() => store.problems().length > 0);
    expect(store.problems()[0]).toMatchObject({ scope: 'sandbox:p', code: 'POLICY_PROJECT_PENDING' });
    expect(store.policySet('p').effective.egress.allowDomains).toEqual(['a.example', 'b.example']);
    expect(changes).toEqual([]);
  });
});
