import { chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addDestination, editProjectPolicy } from '../../src/proposals/index.js';
import { isAiboxError } from '../../src/shared/index.js';

const FILE = `# our project's egress
network:
  # registries we use
  allow:
    - registry.npmjs.org # npm
    - "*.github.com"
  ports: [443]
`;

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: unknown) => (isAiboxError(err) ? err.code : String(err)),
  );

describe('addDestination', () => {
  it('adds the host to network.allow and keeps every comment', () => {
    const out = addDestination(FILE, { host: 'pypi.org', port: 443 });
    expect(out.changes).toEqual(['network.allow += pypi.org']);
    expect(out.text).toContain("# our project's egress");
    expect(out.text).toContain('# registries we use');
    expect(out.text).toContain('registry.npmjs.org # npm');
    expect(out.text).toMatch(/- pypi\.org\n/);
  });

  it('adds a port missing from network.ports', () => {
    const out = addDestination(FILE, { host: 'api.github.com', port: 8443 });
    // api.github.com is covered by *.github.com: only the port changes.
    expect(out.changes).toEqual(['network.ports += 8443']);
    expect(out.text).toMatch(/ports: \[443, 8443\]/);
  });

  it('changes nothing when the file already allows it', () => {
    const out = addDestination(FILE, { host: 'registry.npmjs.org', port: 443 });
    expect(out.changes).toEqual([]);
    expect(out.text).toBe(FILE);
  });

  it('never creates network.allow (that would narrow egress to one host)', () => {
    const text = 'commands:\n  deny: [rm]\n';
    const out = addDestination(text, { host: 'pypi.org', port: 443 });
    expect(out.changes).toEqual([]);
    expect(out.text).toBe(text);
  });

  it('adds a method/path rule beside the rules network.http has for the host, and none where it has none', () => {
    const text = `network:
  allow: [api.example.com, other.example]
  http:
    - {host: api.example.com, methods: [GET], paths: [/repos/**]}
`;
    const out = addDestination(text, {
      host: 'api.example.com',
      port: 443,
      methods: ['POST'],
      paths: ['/repos/*/issues'],
    });
    expect(out.changes).toEqual([
      'network.http += {"host":"api.example.com","methods":["POST"],"paths":["/repos/*/issues"]}',
    ]);
    expect(out.text).toContain('- {host: api.example.com, methods: [GET], paths: [/repos/**]}');
    expect(out.text).toContain('- {host: api.example.com, methods: [POST], paths: [/repos/*/issues]}');
    // other.example has no rules: every method and path is already allowed there.
    expect(addDestination(text, { host: 'other.example', port: 443, methods: ['PUT'] }).changes).toEqual([]);
  });

  it('refuses a method/path rule the project schema would not load', () => {
    const text =
      'network:\n  allow: [api.example.com]\n  http:\n    - {host: api.example.com, methods: [GET]}\n';
    expect(() => addDestination(text, { host: 'api.example.com', port: 443, paths: ['/a/../b'] })).toThrow(
      expect.objectContaining({ code: 'PROPOSAL_PROJECT_INVALID' }),
    );
  });

  it('refuses a file that does not load', () => {
    expect(() => addDestination('network: [', { host: 'a.example', port: 443 })).toThrow(
      expect.objectContaining({ code: 'PROPOSAL_PROJECT_INVALID' }),
    );
    expect(() => addDestination('team: x\n', { host: 'a.example', port: 443 })).toThrow(
      expect.objectContaining({ code: 'PROPOSAL_PROJECT_INVALID' }),
    );
  });
});

describe.skipIf(process.getuid?.() !== 0)('editProjectPolicy (as root, like aiboxd)', () => {
  let project: string;
  const owner = { uid: 4242, gid: 4243 };
  const policyFile = () => path.join(project, 'aibox/policy.yaml');

  beforeEach(async () => {
    project = await mkdtemp(path.join(tmpdir(), 'aibox-proposal-file-'));
    await mkdir(path.join(project, 'aibox'));
    await writeFile(policyFile(), FILE, { mode: 0o640 });
    for (const p of [project, path.join(project, 'aibox'), policyFile()])
      await chown(p, owner.uid, owner.gid);
  });
  afterEach(async () => rm(project, { recursive: true, force: true }));

  it('replaces the file atomically, keeping its owner and mode', async () => {
    const before = await stat(policyFile());
    const change = await editProjectPolicy(project, (t) =>
      addDestination(t, { host: 'pypi.org', port: 443 }),
    );
    expect(change?.changes).toEqual(['network.allow += pypi.org']);
    const after = await stat(policyFile());
    expect(after.ino).not.toBe(before.ino);
    expect([after.uid, after.gid, after.mode & 0o777]).toEqual([owner.uid, owner.gid, 0o640]);
    expect(await readFile(policyFile(), 'utf8')).toContain('- pypi.org');
  });

  it('refuses aibox/policy.yaml when it is a symbolic link', async () => {
    const elsewhere = path.join(project, 'elsewhere.yaml');
    await writeFile(elsewhere, FILE);
    await chown(elsewhere, owner.uid, owner.gid);
    await rm(policyFile());
    await symlink(elsewhere, policyFile());
    expect(
      await codeOf(editProjectPolicy(project, (t) => addDestination(t, { host: 'x.example', port: 443 }))),
    ).toBe('PROPOSAL_PROJECT_UNSAFE');
    expect(await readFile(elsewhere, 'utf8')).toBe(FILE);
    expect((await lstat(policyFile())).isSymbolicLink()).toBe(true);
  });

  it('refuses aibox/ when it is a symbolic link', async () => {
    const real = path.join(project, 'real');
    await rm(path.join(project, 'aibox'), { recursive: true });
    await mkdir(real);
    await writeFile(path.join(real, 'policy.yaml'), FILE);
    await symlink(real, path.join(project, 'aibox'));
    expect(
      await codeOf(editProjectPolicy(project, (t) => addDestination(t, { host: 'x.example', port: 443 }))),
    ).toBe('PROPOSAL_PROJECT_UNSAFE');
  });

  it("refuses a policy file that is not the project owner's", async () => {
    await chown(policyFile(), 4244, 4244);
    expect(
      await codeOf(editProjectPolicy(project, (t) => addDestination(t, { host: 'x.example', port: 443 }))),
    ).toBe('PROPOSAL_PROJECT_UNSAFE');
    expect(await readFile(policyFile(), 'utf8')).toBe(FILE);
  });

  it('says there is no project file when aibox/policy.yaml is missing', async () => {
    await rm(policyFile());
    expect(
      await codeOf(editProjectPolicy(project, (t) => addDestination(t, { host: 'x.example', port: 443 }))),
    ).toBe('PROPOSAL_NO_PROJECT');
  });

  it('leaves the file alone when nothing changes', async () => {
    const before = await stat(policyFile());
    await editProjectPolicy(project, (t) => addDestination(t, { host: 'registry.npmjs.org', port: 443 }));
    expect((await stat(policyFile())).ino).toBe(before.ino);
  });
});
