import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { FilePolicySource, ProjectLayer } from '../../src/policy/index.js';
import { Engine } from '../../src/rego/index.js';
import { newStore } from './helpers.js';

const ROOT = join(import.meta.dirname, '../../policies');

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

/** Loads policies/ the way `opa test policies/` does: every module, data.yaml at its folder's path. */
async function shippedEngine(): Promise<{ engine: Engine; tests: string[] }> {
  const engine = new Engine();
  const data: Record<string, unknown> = {};
  const tests: string[] = [];
  for (const file of (await walk(ROOT)).sort()) {
    const rel = relative(ROOT, file);
    const text = await readFile(file, 'utf8');
    if (file.endsWith('.rego')) {
      engine.addModule(rel, text);
      const pkg = /^package\s+([\w.]+)/m.exec(text)![1]!;
      for (const m of text.matchAll(/^(test_\w+)\s+if\b/gm)) tests.push(`data.${pkg}.${m[1]}`);
    } else if (file.endsWith('/data.yaml')) {
      let target = data;
      for (const seg of rel.split('/').slice(0, -1)) target = (target[seg] ??= {}) as Record<string, unknown>;
      Object.assign(target, parseYaml(text));
    }
  }
  engine.setData(data);
  return { engine, tests };
}

describe('shipped policies', () => {
  it('pass their own Rego unit tests (*_test.rego)', async () => {
    const { engine, tests } = await shippedEngine();
    expect(tests.length).toBeGreaterThan(15);
    const failed = tests.filter((t) => engine.evalRule(t).value !== true);
    expect(failed).toEqual([]);
  });

  it('load as a consistent org baseline with both example teams', async () => {
    const store = newStore(new FilePolicySource(ROOT));
    expect(await store.reloadRepo()).toEqual({ ok: true });
    const base = store.show();
    expect(base.errors).toEqual([]);
    expect(base.doors['egress']).toMatchObject({ allowPorts: [443] });
    expect((base.doors['egress'] as { allowDomains: string[] }).allowDomains).toContain('registry.npmjs.org');
    expect(store.evaluate('egress', { host: 'example.com' }).outcome).toBe('deny');
    expect(store.evaluate('egress', { host: '140.82.112.3' }).outcome).toBe('deny');
    expect(store.evaluate('push', { ref: 'refs/heads/main' }).outcome).toBe('approve');
    expect(store.evaluate('push', { ref: 'refs/heads/main', force: true }).outcome).toBe('deny');
    expect(store.evaluate('push', { ref: 'refs/heads/feat/x' }).outcome).toBe('allow');
    expect(store.evaluate('mounts', { source: '/home/me/.ssh', mode: 'ro' }).outcome).toBe('deny');
    expect(store.evaluate('mounts', { source: '/etc', mode: 'ro' }).outcome).toBe('deny');
    expect(store.evaluate('mounts', { source: '/home/me/src', mode: 'rw' }).outcome).toBe('allow');
    expect(store.evaluate('llm', { provider: 'anthropic', model: 'claude-sonnet-4' }).outcome).toBe('allow');
    expect(store.evaluate('llm', { provider: 'mistral', model: 'x' }).outcome).toBe('deny');
    expect(store.evaluate('limits', { cpus: 8 }).outcome).toBe('deny');
  });

  it('accept the example project file under team frontend (the daemon default team)', async () => {
    const text = await readFile(join(ROOT, 'examples/policy.yaml'), 'utf8');
    const source = new FilePolicySource(ROOT);
    const store = newStore(
      {
        readRepo: () => source.readRepo(),
        readProject: () => Promise.resolve({ file: 'aibox/policy.yaml', text }),
      },
      [],
      'frontend',
    );
    await store.reloadRepo();
    expect(ProjectLayer.parse(text).policy).not.toHaveProperty('team');
    const set = await store.attach({ id: 'sbx_1', name: 'ex', path: '/x' });
    expect(set.effective.egress.allowDomains.sort()).toEqual(['github.com', 'registry.npmjs.org']);
    expect(set.effective.limits).toEqual({
      cpus: 2,
      memory_mb: 2048,
      pids: 1024,
      disk_mb: 20480,
      timeout_minutes: 720,
    });
    expect(store.evaluate('push', { ref: 'refs/heads/gh-pages' }, 'ex').outcome).toBe('deny');
    expect(store.evaluate('push', { ref: 'refs/heads/develop' }, 'ex').outcome).toBe('approve');
    expect(store.evaluate('exec', { argv: ['ssh', 'host'] }, 'ex').outcome).toBe('deny');
    expect(store.evaluate('llm', { provider: 'openai', model: 'gpt-4o' }, 'ex').outcome).toBe('deny');
  });
});
