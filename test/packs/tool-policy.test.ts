import { describe, expect, it } from 'vitest';
import type { PolicyDecision } from '../../src/shared/index.js';
import { MemorySource, newStore } from '../policy/helpers.js';

const ORG = {
  'org/packs.rego': `package aibox.org.packs

import rego.v1

allowed := ["mcp-*", "node"]

tools := ["mcp-filesystem/*", "mcp-git/git_status", "mcp-git/git_log"]

deny contains msg if {
  input.tool == "write_file"
  msg := "writing files through MCP is not allowed"
}
`,
};
const TEAM = {
  'teams/web/packs.rego': `package aibox.team.web.packs

import rego.v1

tools := ["mcp-filesystem/read_*", "mcp-git/git_status"]
`,
};

async function storeWith(files: Record<string, string>, team?: string) {
  const decisions: PolicyDecision[] = [];
  const store = newStore(new MemorySource(files, { '/p': '' }), decisions, team);
  expect(await store.reloadRepo()).toEqual({ ok: true });
  await store.attach({ id: 'sbx_1', name: 'p', path: '/p' });
  return { store, decisions };
}

const call = (name: string, tool: string) => ({ name, kind: 'mcp', tool });

describe('the packs door decides MCP tool calls by name', () => {
  it('allows a listed tool and denies an unlisted one, or one a deny rule names, with the reason', async () => {
    const { store, decisions } = await storeWith(ORG);
    expect((await store.decide('packs', call('mcp-git', 'git_status'), 'p')).outcome).toBe('allow');
    expect((await store.decide('packs', call('mcp-filesystem', 'list_directory'), 'p')).outcome).toBe(
      'allow',
    );
    const unlisted = await store.decide('packs', call('mcp-git', 'git_push'), 'p');
    expect(unlisted.outcome).toBe('deny');
    expect(unlisted.reason).toContain('mcp-git/git_push is not in org');
    const ruled = await store.decide('packs', call('mcp-filesystem', 'write_file'), 'p');
    expect(ruled.outcome).toBe('deny');
    expect(ruled.reason).toContain('writing files through MCP is not allowed');
    // A server the org does not allow is refused whatever the tool.
    expect((await store.decide('packs', call('other', 'x'), 'p')).outcome).toBe('deny');
    // Every call is a recorded decision under its own id.
    expect(decisions.map((d) => d.id)).toContain(ruled.id);
    // Installing (no tool) is not affected by the tools list or the tool rule.
    expect((await store.decide('packs', { name: 'mcp-git', kind: 'mcp' }, 'p')).outcome).toBe('allow');
  });

  it('is tighten-only: a team narrows the org list, and cannot widen it', async () => {
    const { store } = await storeWith({ ...ORG, ...TEAM }, 'web');
    expect((await store.decide('packs', call('mcp-filesystem', 'read_file'), 'p')).outcome).toBe('allow');
    const narrowed = await store.decide('packs', call('mcp-filesystem', 'list_directory'), 'p');
    expect(narrowed.outcome).toBe('deny');
    expect(narrowed.reason).toContain("team:web's packs.tools");
    expect((await store.decide('packs', call('mcp-git', 'git_log'), 'p')).outcome).toBe('deny');
  });

  it('leaves tools open when no layer lists any (the server itself must still be allowed)', async () => {
    const { store } = await storeWith({
      'org/packs.rego': 'package aibox.org.packs\n\nimport rego.v1\n\nallowed := ["mcp-git"]\n',
    });
    expect((await store.decide('packs', call('mcp-git', 'git_push'), 'p')).outcome).toBe('allow');
    expect((await store.decide('packs', call('mcp-filesystem', 'read_file'), 'p')).outcome).toBe('deny');
  });
});
