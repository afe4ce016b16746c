/**
 * Tool and MCP packs end to end, with a real aiboxd and real gVisor sandboxes: packs are built from Debian's
 * archive and the npm registry into the host's shared pack cache (once; later runs reuse it), installed into a
 * running sandbox without a restart, used there (a Java class compiled and run; an MCP server answering
 * `initialize` over stdio on the node pack), refused by policy, kept across a restart, installed again from the
 * cache in well under a second, and removed without a trace.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPack, parseManifest } from '../../src/packs/index.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'packs');

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2024-11-05',
    capabilities: {},
    clientInfo: { name: 'aibox-test', version: '1' },
  },
});

describe.skipIf(!run)('packs in real gVisor sandboxes', () => {
  let daemon: TestDaemon;
  let repo: string;
  const ids: Record<string, string> = {};

  const sh = (name: string, script: string) => daemon.exec(name, ['sh', '-c', script]);
  const folder = (name: string) => path.join(daemon.stateDir, 'packs/sandboxes', ids[name]!);

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-packs-repo-'));
    await mkdir(path.join(repo, 'org'));
    await writeFile(
      path.join(repo, 'org/packs.rego'),
      'package aibox.org.packs\n\nimport rego.v1\n\nallowed := ["java", "node", "mcp-*"]\n',
    );
    // The node pack's run-time need (the npm registry) passes the egress door only when the org allows it.
    await writeFile(
      path.join(repo, 'org/egress.rego'),
      'package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := {"registry.npmjs.org"}\n',
    );
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
    );
    daemon = await startTestDaemon({ name: 'packs', config: { policy: { repo } } });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    for (const name of ['packs1', 'packs2']) {
      const created = await daemon.api('POST', '/v1/sandboxes', { path: await makeProject(name), name });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      ids[name] = (created.body as { id: string }).id;
    }
  }, 300_000);

  afterAll(async () => {
    await daemon?.stop();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('refuses a pack the policy does not allow, with the decision id, and installs nothing', async () => {
    const r = await daemon.cli(['install', 'go', '--sandbox', 'packs1']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('POLICY_DENIED');
    expect(r.stderr).toMatch(/decision dec_[0-9a-f]+/);
    expect(existsSync(path.join(folder('packs1'), 'go'))).toBe(false);
    const listed = await daemon.api<{ packs: unknown[] }>('GET', '/v1/sandboxes/packs1/packs');
    expect(listed.body.packs).toEqual([]);
    const unknown = await daemon.api<{ error: { code: string } }>('POST', '/v1/sandboxes/packs1/packs', {
      ref: 'nope',
    });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'PACK_NOT_FOUND']);
    const version = await daemon.api<{ error: { code: string } }>('POST', '/v1/sandboxes/packs1/packs', {
      ref: 'java@99',
    });
    expect([version.status, version.body.error.code]).toEqual([404, 'PACK_VERSION_NOT_FOUND']);
  });

  it('builds java@17 from Debian packages and installs it into the running sandbox: javac and java work', async () => {
    const build = await daemon.cli(['pack', 'build', 'java@17', '--json']);
    expect(build.exitCode, build.stderr).toBe(0);
    const done = JSON.parse(build.stdout) as { built: { debs: string[]; dir: string } };
    expect(done.built.debs.some((d) => d.startsWith('openjdk-17-jdk-headless='))).toBe(true);
    // The closure leaves out what the base image has (libc, zlib …).
    expect(done.built.debs.some((d) => d.startsWith('libc6='))).toBe(false);

    const install = await daemon.cli(['install', 'java@17', '--sandbox', 'packs1', '--json']);
    expect(install.exitCode, install.stderr).toBe(0);
    const version = await daemon.exec('packs1', ['java', '-version']);
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stderr).toMatch(/openjdk version "17\./);
    const javac = await sh(
      'packs1',
      'cd /tmp && printf "public class Hello { public static void main(String[] a) { System.out.println(\\"hello from \\" + System.getProperty(\\"java.version\\")); } }\\n" > Hello.java && javac Hello.java && java -cp /tmp Hello',
    );
    expect(javac.exitCode, javac.stderr).toBe(0);
    expect(javac.stdout).toMatch(/^hello from 17\./);
    // Read-only inside, and owned by no one the sandbox is.
    const write = await sh('packs1', 'touch /opt/aibox/packs/java/x 2>&1; echo rc=$?');
    expect(write.stdout).toMatch(/rc=[1-9]/);
    const env = await daemon.exec('packs1', ['sh', '-c', 'echo $JAVA_HOME']);
    expect(env.stdout.trim()).toBe('/opt/aibox/packs/java/usr/lib/jvm/java-17-openjdk-amd64');
    const twice = await daemon.cli(['install', 'java', '--sandbox', 'packs1']);
    expect(twice.stderr).toContain('PACK_ALREADY_INSTALLED');
  }, 600_000);

  it('enables an npm MCP server on the node pack: it answers initialize over stdio, and clients find it', async () => {
    const enable = await daemon.cli(['mcp', 'enable', 'mcp-filesystem', '--sandbox', 'packs1', '--json']);
    expect(enable.exitCode, enable.stderr).toBe(0);
    expect((JSON.parse(enable.stdout) as { installed: string[] }).installed).toEqual([
      'node',
      'mcp-filesystem',
    ]);
    const answer = await sh(
      'packs1',
      `printf '%s\\n' '${INIT}' | timeout 30 /opt/aibox/packs/.aibox/bin/mcp-filesystem 2>/dev/null | head -n 1`,
    );
    expect(answer.exitCode, answer.stderr).toBe(0);
    const reply = JSON.parse(answer.stdout) as { id: number; result: { serverInfo: { name: string } } };
    expect(reply.id).toBe(1);
    expect(reply.result.serverInfo.name).toContain('filesystem');
    const index = await daemon.exec('packs1', ['cat', '/opt/aibox/packs/.aibox/mcp.json']);
    expect(JSON.parse(index.stdout)).toEqual({
      mcpServers: { 'mcp-filesystem': { command: '/opt/aibox/packs/.aibox/bin/mcp-filesystem', args: [] } },
    });
    const claude = await daemon.exec('packs1', ['cat', '/home/agent/.claude.json']);
    expect(claude.exitCode, claude.stderr).toBe(0);
    expect(JSON.parse(claude.stdout).mcpServers['mcp-filesystem'].command).toBe(
      '/opt/aibox/packs/.aibox/bin/mcp-filesystem',
    );
    const codex = await daemon.exec('packs1', ['cat', '/home/agent/.codex/config.toml']);
    expect(codex.stdout).toContain('[mcp_servers."mcp-filesystem"]');
    // node is in use by the enabled server: refused.
    const busy = await daemon.cli(['uninstall', 'node', '--sandbox', 'packs1']);
    expect(busy.stderr).toContain('PACK_IN_USE');
    const audit = await readFile(path.join(daemon.stateDir, 'audit/audit.jsonl'), 'utf8').catch(() => '');
    expect(audit).toContain('pack.install');
  }, 600_000);

  it('installs from the shared cache into a second sandbox in well under a second', async () => {
    const r = await daemon.api<{ ms: number }>('POST', '/v1/sandboxes/packs2/packs', { ref: 'java' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.ms).toBeLessThan(1000);
    const v = await daemon.exec('packs2', ['java', '-version']);
    expect(v.exitCode, v.stderr).toBe(0);
  });

  it('keeps installed packs across a sandbox restart and a daemon restart', async () => {
    expect((await daemon.api('POST', '/v1/sandboxes/packs2/stop')).status).toBe(200);
    expect((await daemon.api('POST', '/v1/sandboxes/packs2/start')).status).toBe(200);
    expect((await daemon.exec('packs2', ['java', '-version'])).exitCode).toBe(0);
    await daemon.crash();
    await daemon.restart();
    const v = await daemon.exec('packs2', ['javac', '-version']);
    expect(v.exitCode, v.stderr).toBe(0);
    const listed = await daemon.cli(['packs', '--sandbox', 'packs2', '--json']);
    expect((JSON.parse(listed.stdout) as { packs: { name: string }[] }).packs.map((p) => p.name)).toEqual([
      'java',
    ]);
  }, 120_000);

  it('uninstall leaves nothing: no files, no PATH entry, no record', async () => {
    const r = await daemon.cli(['uninstall', 'java', '--sandbox', 'packs2']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readdir(folder('packs2'))).toEqual(['.aibox']);
    const ls = await daemon.exec('packs2', ['ls', '-A', '/opt/aibox/packs']);
    expect(ls.stdout.trim()).toBe('.aibox');
    const which = await sh('packs2', 'command -v java; echo "$PATH"');
    expect(which.stdout).not.toContain('/opt/aibox/packs');
    const listed = await daemon.api<{ packs: unknown[] }>('GET', '/v1/sandboxes/packs2/packs');
    expect(listed.body.packs).toEqual([]);
    // The cache keeps the artifact for the next sandbox (packs1 still has it, so removing it is refused).
    const rmCache = await daemon.cli(['pack', 'rm', 'java']);
    expect(rmCache.stderr).toContain('PACK_CACHE_IN_USE');
    // A removed sandbox's packs folder and record go at the next start of any sandbox.
    const gone = folder('packs2');
    expect((await daemon.api('DELETE', '/v1/sandboxes/packs2')).status).toBe(200);
    expect((await daemon.api('POST', '/v1/sandboxes/packs1/stop')).status).toBe(200);
    expect((await daemon.api('POST', '/v1/sandboxes/packs1/start')).status).toBe(200);
    expect(existsSync(gone)).toBe(false);
    const state = JSON.parse(await readFile(path.join(daemon.stateDir, 'packs/installed.json'), 'utf8'));
    expect(Object.keys(state)).toEqual([ids['packs1']]);
  });

  it('fetches Debian sources in a throwaway gVisor builder behind a proxy allowed only the archive', async () => {
    const r = await daemon.cli(['pack', 'build', 'git-tools', '--force']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('starting the builder sandbox');
    expect(r.stdout).toMatch(/^git-tools@1 built in/);
    const up = (await daemon.log())
      .split('\n')
      .filter((l) => l.includes('pack builder sandbox up'))
      .map((l) => JSON.parse(l) as { id: string; hosts: string[] });
    expect(up.at(-1)?.hosts).toEqual(['deb.debian.org']);
    // Torn down: its folder, its proxy state and its container are gone.
    expect(await readdir(path.join(daemon.stateDir, 'packs/builders'))).toEqual([]);
    expect(existsSync(path.join(daemon.stateDir, 'egress', up.at(-1)!.id))).toBe(false);
    const jq = await daemon.api('POST', '/v1/sandboxes/packs1/packs', { ref: 'git-tools' });
    expect(jq.status).toBe(403); // git-tools is not in the org's packs.allowed
  }, 300_000);

  it('refuses to uninstall a pack a running process uses, and allows it once the process is gone', async () => {
    const started = await sh(
      'packs1',
      'cd /tmp && printf "public class Wait { public static void main(String[] a) throws Exception { Thread.sleep(120000); } }\\n" > Wait.java && javac Wait.java && (nohup java -cp /tmp Wait >/dev/null 2>&1 &) && sleep 2 && echo ok',
    );
    expect(started.stdout.trim(), started.stderr).toBe('ok');
    const busy = await daemon.cli(['uninstall', 'java', '--sandbox', 'packs1']);
    expect(busy.exitCode).not.toBe(0);
    expect(busy.stderr).toContain('PACK_IN_USE');
    expect(busy.stderr).toMatch(/in use by process\(es\) \d+/);
    await sh('packs1', 'pkill -f "java -cp /tmp Wait"; sleep 1; true');
    const r = await daemon.cli(['uninstall', 'java', '--sandbox', 'packs1']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(existsSync(path.join(folder('packs1'), 'java'))).toBe(false);
  }, 120_000);

  it('a failed build (a package the registry does not have) keeps nothing in the cache', async () => {
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'aibox-packs-cache-'));
    try {
      const { manifest, problems } = parseManifest(
        'ghost.yaml',
        'name: ghost\ndescription: x\ndefault: "1"\nversions:\n  "1":\n    sources:\n      npm:\n        packages: ["@aibox-test-nonexistent/ghost-pack@1.0.0"]\n    smoke: ["true"]\n',
      );
      expect(problems).toEqual([]);
      const failed = await buildPack(manifest!, '1', manifest!.versions['1']!, {
        cacheDir,
        baseStatus: '/dev/null',
        uid: 65534,
        gid: 65534,
      }).catch((e: unknown) => e as { code: string; message: string });
      expect((failed as { code: string }).code).toBe('PACK_BUILD_FAILED');
      expect((failed as { message: string }).message).toContain('npm install');
      expect(await readdir(cacheDir)).toEqual([]);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  }, 120_000);
});
