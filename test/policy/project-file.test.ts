import { execFileSync } from 'node:child_process';
import { chown, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../src/audit/index.js';
import type { DaemonConfig } from '../../src/config/index.js';
import { openAuditLog } from '../../src/daemon/services/audit.js';
import { PolicyService } from '../../src/daemon/services/policy.js';
import { FilePolicySource, type PolicyStore } from '../../src/policy/index.js';
import { MemorySource, newStore, quiet } from './helpers.js';

/** A strict team (one domain) and a loose one (three): the attacker wants the loose one. */
const REPO = {
  'org/egress.rego':
    'package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := {"a.example", "b.example", "c.example"}\n',
  'org/projects.rego':
    'package aibox.org.projects\n\nimport rego.v1\n\nteam := data.org.projects.teams[input.path]\n',
  'org/mounts.rego': 'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/", "mode": "rw"}]\n',
  'org/data.yaml': 'projects:\n  teams:\n    /srv/strict-project: strict\n',
  'teams/strict/egress.rego':
    'package aibox.team.strict.egress\n\nimport rego.v1\n\nallow_domains := {"a.example"}\n',
  'teams/loose/egress.rego':
    'package aibox.team.loose.egress\n\nimport rego.v1\n\nallow_domains := {"a.example", "b.example", "c.example"}\n',
};

async function writeRepo(dir: string): Promise<void> {
  for (const [file, text] of Object.entries(REPO)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  }
}

describe('the team comes from the org, never from the project file', () => {
  it('refuses a team: key in aibox/policy.yaml with a clear error, and the loose team never applies', async () => {
    const store = newStore(new MemorySource(REPO, { '/srv/strict-project': 'team: loose\n' }), [], 'strict');
    await store.reloadRepo();
    const err = await store
      .attach({ id: 'sbx_1', name: 'p', path: '/srv/strict-project' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'POLICY_PROJECT_TEAM', status: 400 });
    expect((err as Error).message).toContain('aibox/policy.yaml:1');
    expect((err as { hint: string }).hint).toMatch(/org/);
  });

  it('takes the team from the org mapping (data.aibox.org.projects.team), else the daemon default', async () => {
    const store = newStore(
      new MemorySource(REPO, { '/srv/strict-project': '', '/srv/other': '' }),
      [],
      'loose',
    );
    await store.reloadRepo();
    expect((await store.attach({ id: 'sbx_1', name: 'p', path: '/srv/strict-project' })).team).toBe('strict');
    expect(store.evaluate('egress', { host: 'b.example' }, 'p').outcome).toBe('deny');
    expect((await store.attach({ id: 'sbx_2', name: 'q', path: '/srv/other' })).team).toBe('loose');
  });
});

describe('reading aibox/policy.yaml (as root, from a folder the agent writes)', () => {
  let dir: string;
  let project: string;
  let source: FilePolicySource;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aibox-projfile-'));
    project = join(dir, 'project');
    await mkdir(join(project, 'aibox'), { recursive: true });
    await writeRepo(join(dir, 'repo'));
    source = new FilePolicySource(join(dir, 'repo'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const unsafe = async () => {
    const err = await source.readProject(project).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'POLICY_PROJECT_UNSAFE', status: 400 });
    return err as Error;
  };

  it('reads a regular file owned by the project owner', async () => {
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example]\n');
    expect(await source.readProject(project)).toMatchObject({ text: 'network:\n  allow: [a.example]\n' });
  });

  it('refuses policy.yaml as a symbolic link (to /dev/zero, to /etc/shadow)', async () => {
    await symlink('/dev/zero', join(project, 'aibox/policy.yaml'));
    expect((await unsafe()).message).not.toContain('root:');
    await rm(join(project, 'aibox/policy.yaml'));
    await symlink('/etc/shadow', join(project, 'aibox/policy.yaml'));
    await unsafe();
  });

  it('refuses aibox/ as a symbolic link to another folder', async () => {
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, 'policy.yaml'), 'network:\n  allow: []\n');
    await rm(join(project, 'aibox'), { recursive: true });
    await symlink(elsewhere, join(project, 'aibox'));
    await unsafe();
  });

  it('refuses a FIFO without blocking, and a file larger than the cap', async () => {
    execFileSync('mkfifo', [join(project, 'aibox/policy.yaml')]);
    await unsafe();
    await rm(join(project, 'aibox/policy.yaml'));
    await writeFile(join(project, 'aibox/policy.yaml'), `# ${'x'.repeat(200 * 1024)}\n`);
    expect((await unsafe()).message).toMatch(/KiB/);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'refuses a file or folder owned by someone else than the project owner',
    async () => {
      await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: []\n');
      await chown(join(project, 'aibox/policy.yaml'), 12345, 12345);
      await unsafe();
      await chown(join(project, 'aibox/policy.yaml'), 0, 0);
      await chown(join(project, 'aibox'), 12345, 12345);
      await unsafe();
    },
  );
});

describe('the project layer is read-only inside the sandbox, and only what the host user edits is reloaded', () => {
  let dir: string;
  let project: string;
  let audit: AuditLog;
  let service: PolicyService;
  let store: PolicyStore;
  const ctx = () => ({ id: 'sbx_1', name: 'p', path: project, profile: 'default', logger: quiet });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aibox-projhook-'));
    project = join(dir, 'project');
    await mkdir(project);
    await writeRepo(join(dir, 'repo'));
    audit = await openAuditLog(join(dir, 'state'), quiet);
    const config = {
      policy: { repo: join(dir, 'repo'), watch: false, debounceMs: 20, defaultTeam: 'loose' },
    } as unknown as DaemonConfig;
    service = await PolicyService.create({ config, audit, logger: quiet });
    store = service.store;
  });
  afterEach(async () => {
    service.close();
    await audit.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('mounts aibox/ read-only when it exists at start', async () => {
    await mkdir(join(project, 'aibox'));
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example]\n');
    const c = await service.hook().prepare!(ctx());
    expect(c.readOnlyPaths).toEqual(['aibox']);
  });

  it('refuses to start when aibox/ is a symbolic link (nothing is mounted)', async () => {
    await symlink('/etc', join(project, 'aibox'));
    await expect(service.hook().prepare!(ctx())).rejects.toMatchObject({ code: 'POLICY_PROJECT_UNSAFE' });
  });

  it('ignores an aibox/ that appears while the sandbox runs (it may be the agent’s), and says so', async () => {
    const c = await service.hook().prepare!(ctx());
    expect(c.readOnlyPaths ?? []).toEqual([]);
    await mkdir(join(project, 'aibox'));
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example]\n');
    const r = await store.reloadProject('p');
    expect(r.ok).toBe(false);
    expect(store.show('p').errors[0]).toMatchObject({ scope: 'sandbox:p', code: 'POLICY_PROJECT_PENDING' });
    expect(store.policySet('p').effective.egress.allowDomains).toEqual([
      'a.example',
      'b.example',
      'c.example',
    ]);
    // The agent writing again and again leaves one audit record, not one per write.
    for (let i = 0; i < 5; i++) {
      await writeFile(join(project, 'aibox/policy.yaml'), `network:\n  allow: [a.example]\n# ${i}\n`);
      await store.reloadProject('p');
    }
    const refused = (await audit.tail({ kind: 'policy', sandbox: 'p' })).filter(
      (r) => (r.data as { event?: string }).event === 'project-refused',
    );
    expect(refused.map((r) => r.data)).toEqual([
      expect.objectContaining({ event: 'project-refused', code: 'POLICY_PROJECT_PENDING' }),
    ]);
  });

  it('applies an edit the host user makes to a file present at start (hot reload still works)', async () => {
    await mkdir(join(project, 'aibox'));
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example, b.example]\n');
    await service.hook().prepare!(ctx());
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example]\n');
    expect(await store.reloadProject('p')).toEqual({ ok: true });
    expect(store.policySet('p').effective.egress.allowDomains).toEqual(['a.example']);
  });

  it('keeps the last good policy when aibox/ was swapped for another folder after start', async () => {
    await mkdir(join(project, 'aibox'));
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example]\n');
    await service.hook().prepare!(ctx());
    await rename(join(project, 'aibox'), join(project, 'aibox.old'));
    await mkdir(join(project, 'aibox'));
    await writeFile(join(project, 'aibox/policy.yaml'), 'network:\n  allow: [a.example, b.example]\n');
    expect((await store.reloadProject('p')).ok).toBe(false);
    expect(store.show('p').errors[0]).toMatchObject({ code: 'POLICY_PROJECT_UNSAFE' });
    expect(store.policySet('p').effective.egress.allowDomains).toEqual(['a.example']);
  });
});
