/**
 * The gradle pack end to end, with a real aiboxd and a real gVisor sandbox: built from Debian's Gradle 4.4.1 (whose
 * Debian patches hard-code /usr/share/java and /usr/share/gradle, relocated into the pack at build time), installed
 * with the java pack it requires into a running sandbox, and a small Java project built there offline (no network
 * at all: the project has no external dependencies), its jar then run.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'packs-gradle');

const PROJECT = [
  'mkdir -p /tmp/demo/src/main/java/demo && cd /tmp/demo',
  `printf '%s\\n' "apply plugin: 'java'" "sourceCompatibility = 1.8" "targetCompatibility = 1.8" "jar { manifest { attributes 'Main-Class': 'demo.Hello' } }" > build.gradle`,
  `printf '%s\\n' "rootProject.name = 'demo'" > settings.gradle`,
  `printf '%s\\n' 'package demo;' 'public class Hello { public static void main(String[] a) { System.out.println("built by gradle " + System.getProperty("java.version")); } }' > src/main/java/demo/Hello.java`,
].join(' && ');

describe.skipIf(!run)('the gradle pack in a real gVisor sandbox', () => {
  let daemon: TestDaemon;
  let repo: string;
  let id = '';

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-packs-gradle-'));
    await mkdir(path.join(repo, 'org'));
    const rego = (pkg: string, body: string) =>
      writeFile(
        path.join(repo, `org/${pkg}.rego`),
        `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
      );
    await rego('packs', 'allowed := ["java", "gradle"]');
    // Gradle's declared run-time needs pass the egress door; the build below uses none of them (--offline).
    await rego(
      'egress',
      'allow_domains := {"repo.maven.apache.org", "plugins.gradle.org", "services.gradle.org"}',
    );
    await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
    daemon = await startTestDaemon({ name: 'packs-gradle', config: { policy: { repo } } });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    const created = await daemon.api('POST', '/v1/sandboxes', {
      path: await makeProject('gradle'),
      name: 'gradle1',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    id = (created.body as { id: string }).id;
  }, 300_000);

  afterAll(async () => {
    await daemon?.stop();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('builds the pack with its Debian paths relocated, and builds a small project offline inside the sandbox', async () => {
    const install = await daemon.cli(['install', 'gradle', '--sandbox', 'gradle1', '--json']);
    expect(install.exitCode, install.stderr).toBe(0);
    const names = (JSON.parse(install.stdout) as { installed: { name: string }[] }).installed.map(
      (p) => p.name,
    );
    expect(names.sort()).toEqual(['gradle', 'java']);
    expect(existsSync(path.join(daemon.stateDir, 'packs/sandboxes', id, 'gradle/usr/share/java'))).toBe(true);
    // The system paths Debian's Gradle was patched for do not exist in the sandbox: only the relocation makes it run.
    const none = await daemon.exec('gradle1', [
      'sh',
      '-c',
      'test -e /usr/share/java || test -e /usr/share/gradle; echo $?',
    ]);
    expect(none.stdout.trim()).toBe('1');
    const version = await daemon.exec('gradle1', ['gradle', '--version']);
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stdout).toContain('Gradle 4.4.1');
    // The pack's launcher, not Debian's: no `java -version` probe before the client JVM (it printed to stderr).
    expect(version.stdout + version.stderr).not.toMatch(/^openjdk version/im);
    const archive = path.join(
      daemon.stateDir,
      'packs/sandboxes',
      id,
      'gradle/usr/share/gradle/aibox-cds.jsa',
    );
    expect(existsSync(archive)).toBe(true);

    const setup = await daemon.exec('gradle1', ['sh', '-c', PROJECT]);
    expect(setup.exitCode, setup.stderr).toBe(0);
    // -Xshare:on: the JVM must map the pack's CDS archive (trained in the builder) or fail.
    const build = await daemon.exec('gradle1', [
      'sh',
      '-c',
      'cd /tmp/demo && GRADLE_OPTS=-Xshare:on gradle --offline --no-daemon -q build && ls build/libs',
    ]);
    expect(build.exitCode, build.stdout + build.stderr).toBe(0);
    expect(build.stdout.trim(), build.stdout + build.stderr).toBe('demo.jar');
    const ran = await daemon.exec('gradle1', ['java', '-jar', '/tmp/demo/build/libs/demo.jar']);
    expect(ran.exitCode, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^built by gradle 17\./);
    // A warm daemon: the client JVM (C1, the pack's archive, mapped or failing) connects to it; one daemon serves both.
    const warm = await daemon.exec('gradle1', [
      'sh',
      '-c',
      'cd /tmp/demo && gradle --offline -q build && GRADLE_OPTS="-Xshare:on -Xlog:cds=info" gradle --offline -q help; ' +
        'rc=$?; gradle --status | grep -c IDLE; gradle -q --stop; exit $rc',
    ]);
    expect(warm.exitCode, warm.stdout + warm.stderr).toBe(0);
    expect(warm.stdout).toMatch(/aibox-cds\.jsa/);
    expect(warm.stdout.trim().split('\n').at(-1)).toBe('1');
    // The smoke test doctor runs passes too.
    const smoke = await daemon.api<{ checks: { name: string; ok: boolean; detail: string }[] }>(
      'POST',
      '/v1/sandboxes/gradle1/packs/smoke',
    );
    expect(smoke.body.checks.filter((c) => !c.ok)).toEqual([]);
  }, 900_000);
});
