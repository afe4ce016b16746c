/**
 * Policy hot reload cannot miss an edit: the policy repo is edited every way editors and tools do (in-place write,
 * write-then-rename, `sed -i`, `git checkout`, a deleted file, a new file) and each time the new policy must be in
 * force within the reload bound — at the policy-service level for each way, and end to end once: a running gVisor
 * sandbox is refused a domain within the bound after a tightening edit (run through flock: it starts a sandbox).
 */
import { cp, mkdir, mkdtemp, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../src/audit/index.js';
import type { DaemonConfig } from '../../src/config/index.js';
import { openAuditLog } from '../../src/daemon/services/audit.js';
import { PolicyService } from '../../src/daemon/services/policy.js';
import { POLICY_CHECK_INTERVAL_MS, projectFingerprint } from '../../src/policy/watcher.js';
import { FilePolicySource, PolicyWatcher } from '../../src/policy/index.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { startOrigin, type Origin } from '../egress/support/servers.js';
import { newStore, quiet } from '../policy/helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The documented reload bound: the periodic check interval, plus the debounce and a compile. */
const RELOAD_BOUND_MS = POLICY_CHECK_INTERVAL_MS + 1000;

const git = (cwd: string, args: string[]) =>
  execa('git', ['-c', 'user.email=t@example.invalid', '-c', 'user.name=t', ...args], { cwd });

/** A copy of the shipped policy repo, as a git repository, with the test file removed that pins the mirror list. */
async function policyRepo(): Promise<string> {
  const repo = await mkdtemp(path.join(tmpdir(), 'aibox-reload-repo-'));
  await cp(path.join(ROOT, 'policies'), repo, { recursive: true });
  await git(repo, ['init', '-q', '-b', 'main']);
  await git(repo, ['add', '-A']);
  await git(repo, ['commit', '-q', '-m', 'shipped']);
  return repo;
}

/** org/data.yaml with `host` added to (or removed from) the mirrors list, as text. */
function withMirror(text: string, host: string, present: boolean): string {
  const lines = text.split('\n').filter((l) => l.trim() !== `- ${host}`);
  if (!present) return lines.join('\n');
  const at = lines.findIndex((l) => l.trim() === 'mirrors:');
  lines.splice(at + 1, 0, `    - ${host}`);
  return lines.join('\n');
}

describe('policy reload at the service level: every way a file changes', () => {
  let repo: string;
  let auditDir: string;
  let audit: AuditLog;
  let service: PolicyService;
  const data = () => path.join(repo, 'org', 'data.yaml');
  const domains = () =>
    ((service.show().doors as { egress?: { allowDomains?: string[] } }).egress?.allowDomains ?? []).slice();

  /** Waits until `check` holds; returns how long it took from the edit. */
  async function inForce(check: () => boolean, editedAt: number): Promise<number> {
    while (!check()) {
      if (Date.now() - editedAt > RELOAD_BOUND_MS * 3) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const took = Date.now() - editedAt;
    expect(check(), `policy not in force ${took} ms after the edit`).toBe(true);
    expect(took).toBeLessThanOrEqual(RELOAD_BOUND_MS);
    return took;
  }

  beforeAll(async () => {
    repo = await policyRepo();
    auditDir = await mkdtemp(path.join(tmpdir(), 'aibox-reload-audit-'));
    audit = await openAuditLog(auditDir, quiet);
    const config = { policy: { repo, watch: true, debounceMs: 50 } } as unknown as DaemonConfig;
    service = await PolicyService.create({ config, audit, logger: quiet });
    expect(domains()).toContain('deb.debian.org');
  }, 60_000);

  afterAll(async () => {
    service?.close();
    await audit?.close();
    for (const d of [repo, auditDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('an in-place write (same inode, truncated and rewritten)', async () => {
    const before = service.show();
    await writeFile(data(), withMirror(await readFile(data(), 'utf8'), 'inplace.test', true));
    await inForce(() => domains().includes('inplace.test'), Date.now());
    const after = service.show();
    expect(after.revision).not.toBe(before.revision);
    expect(after.loadedAt).not.toBe(before.loadedAt);
  }, 30_000);

  it('a write-then-rename (a new inode replaces the file)', async () => {
    const tmp = `${data()}.tmp`;
    await writeFile(tmp, withMirror(await readFile(data(), 'utf8'), 'renamed.test', true));
    await rename(tmp, data());
    await inForce(() => domains().includes('renamed.test'), Date.now());
  }, 30_000);

  it('sed -i removing a domain (a tightening)', async () => {
    await execa('sed', ['-i', '/- inplace.test$/d', data()]);
    await inForce(() => !domains().includes('inplace.test'), Date.now());
    expect(domains()).toContain('renamed.test');
  }, 30_000);

  it('git checkout of another branch', async () => {
    await git(repo, ['commit', '-q', '-am', 'renamed.test']);
    await git(repo, ['branch', 'before']);
    await writeFile(data(), withMirror(await readFile(data(), 'utf8'), 'git.test', true));
    await git(repo, ['commit', '-q', '-am', 'git.test']);
    await inForce(() => domains().includes('git.test'), Date.now());
    await git(repo, ['checkout', '-q', 'before']);
    await inForce(() => !domains().includes('git.test'), Date.now());
    expect(domains()).toContain('renamed.test');
  }, 30_000);

  it('a deleted file, then a new one', async () => {
    const text = await readFile(data(), 'utf8');
    await unlink(data());
    await inForce(() => !domains().includes('deb.debian.org'), Date.now());
    await writeFile(data(), withMirror(text, 'new.test', true));
    await inForce(() => domains().includes('new.test') && domains().includes('deb.debian.org'), Date.now());
  }, 30_000);

  it('a new folder and a file in it are seen, and the new folder is watched', async () => {
    const store = newStore(new FilePolicySource(repo));
    await store.reloadRepo();
    const watcher = new PolicyWatcher({ store, repoDir: repo, logger: quiet });
    watcher.start();
    try {
      await inForce(() => watcher.status().repoFingerprint !== undefined, Date.now());
      const first = watcher.status().repoFingerprint;
      await mkdir(path.join(repo, 'teams', 'newteam'), { recursive: true });
      const file = path.join(repo, 'teams', 'newteam', 'egress.rego');
      await writeFile(
        file,
        'package aibox.teams.newteam.egress\n\nimport rego.v1\n\nallow_domains := {"a.test"}\n',
      );
      await inForce(() => watcher.status().repoFingerprint !== first, Date.now());
      const second = watcher.status();
      expect(second.reloadBoundMs).toBeLessThanOrEqual(RELOAD_BOUND_MS);
      expect(Date.parse(second.repoAppliedAt!)).toBeGreaterThan(0);
      await writeFile(
        file,
        'package aibox.teams.newteam.egress\n\nimport rego.v1\n\nallow_domains := {"b.test"}\n',
      );
      await inForce(() => watcher.status().repoFingerprint !== second.repoFingerprint, Date.now());
      // a touch that changes no content reloads nothing
      const applied = watcher.status().repoAppliedAt;
      await execa('touch', [file]);
      await new Promise((r) => setTimeout(r, RELOAD_BOUND_MS));
      expect(watcher.status().repoAppliedAt).toBe(applied);
      expect(Date.parse(watcher.status().repoCheckedAt!)).toBeGreaterThan(Date.parse(applied!));
    } finally {
      watcher.close();
    }
  }, 30_000);
});

describe('project files are checked without opening them', () => {
  it('notices a change by lstat only: a FIFO or a link at aibox/policy.yaml never blocks or is followed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'aibox-reload-project-'));
    try {
      const empty = await projectFingerprint(dir);
      await mkdir(path.join(dir, 'aibox'));
      const folder = await projectFingerprint(dir);
      expect(folder).not.toBe(empty);
      await execa('mkfifo', [path.join(dir, 'aibox', 'policy.yaml')]);
      const fifo = await projectFingerprint(dir);
      expect(fifo).not.toBe(folder);
      await unlink(path.join(dir, 'aibox', 'policy.yaml'));
      await symlink('/etc/shadow', path.join(dir, 'aibox', 'policy.yaml'));
      expect(await projectFingerprint(dir)).not.toBe(fifo);
      // files the agent writes next to aibox/ do not count
      const before = await projectFingerprint(dir);
      await writeFile(path.join(dir, 'notes.txt'), 'x');
      expect(await projectFingerprint(dir)).toBe(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const run = requireHost(sandboxHostSupport(), 'reliability/reload');

describe.skipIf(!run)(
  'policy reload end to end: a running sandbox is refused after a tightening edit',
  () => {
    let daemon: TestDaemon;
    let origin: Origin;
    let repo: string;
    let project: string;
    const curl = (url: string) =>
      daemon.exec('reload-a', ['curl', '-sS', '-i', '--max-time', '3', url]).catch((e: Error) => ({
        exitCode: 1,
        stdout: '',
        stderr: e.message,
      }));

    beforeAll(async () => {
      origin = await startOrigin('loopback', '127.0.0.1');
      repo = await policyRepo();
      const rego = path.join(repo, 'org', 'egress.rego');
      await writeFile(
        rego,
        (await readFile(rego, 'utf8')).replace(
          'allow_ports := {443}',
          `allow_ports := {443, ${origin.port}}`,
        ),
      );
      await writeFile(
        path.join(repo, 'org', 'data.yaml'),
        withMirror(await readFile(path.join(repo, 'org', 'data.yaml'), 'utf8'), 'allowed.test', true),
      );
      daemon = await startTestDaemon({
        name: 'reload',
        config: {
          policy: { repo },
          egress: {
            dns: { hosts: { 'allowed.test': '127.0.0.1' } },
            hostAccess: [{ address: '127.0.0.1', port: origin.port }],
          },
        },
      });
      project = await makeProject('reload-a');
      await mkdir(path.join(project, 'aibox'), { recursive: true });
      await writeFile(path.join(project, 'aibox', 'policy.yaml'), 'network:\n  allow:\n    - allowed.test\n');
      const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name: 'reload-a' });
      if (created.status !== 201) throw new Error(`sandbox: ${JSON.stringify(created.body)}`);
    }, 300_000);

    afterAll(async () => {
      await daemon?.stop();
      await origin?.close();
      for (const d of [repo, project]) if (d) await rm(d, { recursive: true, force: true });
    }, 120_000);

    it('refuses the removed domain within the bound', async () => {
      const url = `http://allowed.test:${origin.port}/`;
      expect((await curl(url)).stdout).toContain('origin loopback');
      const editedAt = Date.now();
      await execa('sed', ['-i', '/- allowed.test$/d', path.join(repo, 'org', 'data.yaml')]);
      let last = '';
      let took = 0;
      // Enforcement follows the policy: the service reload bound, plus Squid's reconfigure.
      const bound = RELOAD_BOUND_MS + 3000;
      while (Date.now() - editedAt < bound * 2) {
        last = (await curl(url)).stdout;
        took = Date.now() - editedAt;
        if (last.includes('EGRESS_DOMAIN_NOT_ALLOWED')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(last).toContain('EGRESS_DOMAIN_NOT_ALLOWED');
      console.info(`tightening edit enforced in the sandbox after ${took} ms`);
      expect(took).toBeLessThanOrEqual(bound);
      const show = await daemon.cli(['policy', 'show', '--sandbox', 'reload-a', '--json']);
      const report = JSON.parse(show.stdout) as { revision?: string; loadedAt?: string };
      expect(report.revision).toBeDefined();
      expect(Date.parse(report.loadedAt!)).toBeGreaterThanOrEqual(editedAt - 1000);
    }, 120_000);
  },
);
