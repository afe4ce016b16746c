/**
 * devcontainer.json end to end, with a real aiboxd and real gVisor sandboxes: a project's devcontainer.json (with
 * comments, a trailing comma and an unknown key) is applied by `aibox start`: its feature becomes a pack installed
 * through the packs door, its containerEnv is in every command, its postCreateCommand runs once through the exec
 * door (using the pack's tool), its postStartCommand at every start, its forwarded port printed as an `ssh -L` line;
 * `--no-devcontainer` leaves it alone; a malformed file or a root remoteUser refuses the start with its code, leaving
 * no container behind. Uses the git-tools pack (the host cache may hold it; it is built otherwise).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'devcontainer');

const DEVCONTAINER = `{
  // A team's existing file: comments, a trailing comma and a key aibox does not know.
  "name": "demo",
  "image": "mcr.microsoft.com/devcontainers/base:bookworm",
  "features": { "ghcr.io/devcontainers/features/git-lfs:1": {} },
  "containerEnv": { "GREETING": "hello from \${containerWorkspaceFolder}" },
  "remoteUser": "vscode",
  "postCreateCommand": "jq -n '{made: 1}' > /workspace/created.json && printenv GREETING >> /workspace/created.json",
  "postStartCommand": ["sh", "-c", "echo start >> /workspace/started.txt"],
  "forwardPorts": [3000,],
  "someToolSetting": true,
}
`;

interface Started {
  name: string;
  devcontainer?: {
    file: string;
    packs: string[];
    warnings: string[];
    forwardPorts: number[];
    keys: { key: string; status: string }[];
    commands: { from: string; exitCode?: number; output?: string }[];
  };
}

describe.skipIf(!run)('devcontainer.json applied by aibox start', () => {
  let daemon: TestDaemon;
  let repo: string;
  const projects: string[] = [];

  const project = async (name: string, devcontainer?: string) => {
    const dir = await makeProject(name);
    projects.push(dir);
    if (devcontainer !== undefined) {
      await mkdir(path.join(dir, '.devcontainer'));
      await writeFile(path.join(dir, '.devcontainer/devcontainer.json'), devcontainer);
    }
    return dir;
  };

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-devcontainer-policy-'));
    await mkdir(path.join(repo, 'org'));
    await writeFile(
      path.join(repo, 'org/packs.rego'),
      'package aibox.org.packs\n\nimport rego.v1\n\nallowed := ["*"]\n',
    );
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
    );
    daemon = await startTestDaemon({ name: 'devcontainer', config: { policy: { repo, debounceMs: 20 } } });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await daemon?.stop();
    for (const p of projects) await rm(p, { recursive: true, force: true });
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('installs the feature as a pack, sets containerEnv, runs postCreate then postStart through exec, prints the forwarded port', async () => {
    const dir = await project('dc', DEVCONTAINER);
    const started = await daemon.cli(['start', dir, '--name', 'dc', '--json']);
    expect(started.exitCode, started.stderr + started.stdout).toBe(0);
    const report = JSON.parse(started.stdout) as Started;
    const dc = report.devcontainer!;
    expect(dc.file).toBe('.devcontainer/devcontainer.json');
    expect(dc.packs).toEqual(['git-tools']);
    expect(dc.forwardPorts).toEqual([3000]);
    expect(dc.warnings.join('\n')).toMatch(/comments are not JSON/);
    expect(dc.warnings.join('\n')).toMatch(/trailing comma/);
    expect(dc.warnings.join('\n')).toMatch(/unknown key "someToolSetting"/);
    const status = Object.fromEntries(dc.keys.map((k) => [k.key, k.status]));
    expect(status).toMatchObject({ image: 'mapped', remoteUser: 'mapped', containerEnv: 'honoured' });
    expect(dc.commands.map((c) => [c.from, c.exitCode])).toEqual([
      ['postCreateCommand', 0],
      ['postStartCommand', 0],
    ]);

    // The command ran inside, as the sandbox user, with the pack's jq and the file's environment.
    const created = await readFile(path.join(dir, 'created.json'), 'utf8');
    expect(created).toContain('"made": 1');
    expect(created).toContain('hello from /workspace');
    expect((await daemon.exec('dc', ['printenv', 'GREETING'])).stdout).toBe('hello from /workspace\n');
    expect((await daemon.exec('dc', ['id', '-un'])).stdout).toBe('agent\n');
    const packs = await daemon.cli(['packs', '--sandbox', 'dc', '--json']);
    expect(packs.stdout).toContain('git-tools');

    // The human output prints the forwarded port as an ssh -L line.
    const human = await daemon.cli(['stop', 'dc']);
    expect(human.exitCode, human.stderr).toBe(0);
    const again = await daemon.cli(['start', '--name', 'dc']);
    expect(again.exitCode, again.stderr + again.stdout).toBe(0);
    expect(again.stdout).toContain('ssh -N -L 3000:localhost:3000 aibox-dc');
    expect(again.stdout).toContain('postStartCommand: exit 0');
    expect(again.stdout).not.toContain('postCreateCommand');
    // postCreate once, postStart at each start.
    expect(await readFile(path.join(dir, 'started.txt'), 'utf8')).toBe('start\nstart\n');
  }, 600_000);

  it('`aibox devcontainer check` shows each key, and --no-devcontainer leaves the file alone', async () => {
    const dir = await project('dcskip', DEVCONTAINER);
    const check = await daemon.cli(['devcontainer', 'check', dir]);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stdout).toMatch(
      /features\["ghcr\.io\/devcontainers\/features\/git-lfs:1"\]\s+mapped\s+pack git-tools/,
    );
    expect(check.stdout).toMatch(/postCreateCommand\s+honoured/);
    expect(check.stdout).toMatch(/someToolSetting\s+ignored/);

    const started = await daemon.cli(['start', dir, '--name', 'dcskip', '--no-devcontainer', '--json']);
    expect(started.exitCode, started.stderr).toBe(0);
    expect((JSON.parse(started.stdout) as Started).devcontainer).toBeUndefined();
    expect((await daemon.exec('dcskip', ['printenv', 'GREETING'])).exitCode).toBe(1);
    await expect(readFile(path.join(dir, 'created.json'))).rejects.toThrow();
  }, 300_000);

  it('refuses a malformed file with its line and column, and a root remoteUser, leaving nothing running', async () => {
    const bad = await project('dcbad', '{\n  "name": "x"\n  "image": "y"\n}\n');
    const a = await daemon.api<{ error: { code: string; message: string } }>('POST', '/v1/sandboxes', {
      path: bad,
      name: 'dcbad',
    });
    expect(a.status).toBe(400);
    expect(a.body.error.code).toBe('DEVCONTAINER_INVALID');
    expect(a.body.error.message).toContain('.devcontainer/devcontainer.json:3:3');

    const root = await project('dcroot', '{ "remoteUser": "root" }');
    const b = await daemon.api<{ error: { code: string } }>('POST', '/v1/sandboxes', {
      path: root,
      name: 'dcroot',
    });
    expect(b.status).toBe(400);
    expect(b.body.error.code).toBe('DEVCONTAINER_REMOTE_USER');

    const list = await daemon.api<{ sandboxes: { name: string }[] }>('GET', '/v1/sandboxes');
    expect(list.body.sandboxes.map((s) => s.name).sort()).toEqual(['dc', 'dcskip']);
  }, 300_000);
});
