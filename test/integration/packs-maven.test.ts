/**
 * The maven pack end to end, with a real aiboxd and a real gVisor sandbox: built from Debian (Maven, the plugins of
 * the default lifecycle and Debian's offline repository) with a class-data sharing archive of Maven's classes
 * trained in the builder sandbox, installed with the java pack into a running sandbox, and a small project packaged
 * there offline. `-Xshare:on` makes the JVM fail instead of silently ignoring an archive it cannot map, so the
 * archive is proven valid for the JDK and class path inside the sandbox. `mvn` is the pack's launcher (written over
 * Debian's script): it spawns nothing before the JVM (counted by the sandbox's sequential pids), and keeps the
 * script's semantics: a module folder finds the project's top `.mvn`, whose jvm.config (CRLF) comes before MAVEN_OPTS
 * and whose maven.config Maven reads; MAVEN_ARGS is honoured.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'packs-maven');

const POM =
  '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>demo</groupId>' +
  '<artifactId>demo</artifactId><version>1.0</version><properties><maven.compiler.source>17</maven.compiler.source>' +
  '<maven.compiler.target>17</maven.compiler.target><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>' +
  '</properties></project>';
// A project whose .mvn is one folder above the module built: jvm.config (CRLF, as from Windows) shows the JVM's
// properties and sets two, MAVEN_OPTS sets one of them again (the later flag wins), maven.config names the jar.
const MODULE_POM = POM.replace('</project>', '<build><finalName>${aibox.name}</finalName></build></project>');
const TOP_MVN = [
  `mkdir -p /tmp/mp/.mvn /tmp/mp/sub/src/main/java/demo && cd /tmp/mp`,
  `printf '%s\\r\\n' -XshowSettings:properties '-Dwho=jvm.config -Daibox.jvm.config=read' > .mvn/jvm.config`,
  `printf '%s\\n' -Daibox.name=from-maven-config > .mvn/maven.config`,
  `printf '%s\\n' '${MODULE_POM}' > sub/pom.xml`,
  `printf '%s\\n' 'package demo; public class Main { public static void main(String[] a) { } }' > sub/src/main/java/demo/Main.java`,
].join(' && ');
// A stand-in JDK whose java prints its first child's pid: inside gVisor pids are handed out one after the other, so
// the gap from a child started just before `mvn` counts every process started on the way to the JVM.
const PIDS = [
  'mkdir -p /tmp/fj/bin',
  `printf '%s\\n' '#!/bin/sh' 'echo "java $$"' 'sh -c '"'"'echo "child $$"'"'"'' > /tmp/fj/bin/java`,
  'chmod +x /tmp/fj/bin/java',
].join(' && ');

const PROJECT = [
  `mkdir -p /tmp/mb/src/main/java/demo && cd /tmp/mb && printf '%s\\n' '${POM}' > pom.xml`,
  `printf '%s\\n' 'package demo; public class Main { public static void main(String[] a) { System.out.println("packaged by maven"); } }' > src/main/java/demo/Main.java`,
].join(' && ');

describe.skipIf(!run)('the maven pack in a real gVisor sandbox', () => {
  let daemon: TestDaemon;
  let repo: string;
  let id = '';

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-packs-maven-'));
    await mkdir(path.join(repo, 'org'));
    const rego = (pkg: string, body: string) =>
      writeFile(
        path.join(repo, `org/${pkg}.rego`),
        `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
      );
    await rego('packs', 'allowed := ["java", "maven"]');
    await rego('egress', 'allow_domains := {"repo.maven.apache.org"}');
    await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
    daemon = await startTestDaemon({ name: 'packs-maven', config: { policy: { repo } } });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    const created = await daemon.api('POST', '/v1/sandboxes', {
      path: await makeProject('maven'),
      name: 'mvn1',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    id = (created.body as { id: string }).id;
  }, 300_000);

  afterAll(async () => {
    await daemon?.stop();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('ships a CDS archive trained in the builder, which the JVM maps inside the sandbox, and packages a project offline', async () => {
    const install = await daemon.cli(['install', 'maven', '--sandbox', 'mvn1']);
    expect(install.exitCode, install.stderr).toBe(0);
    const archive = path.join(daemon.stateDir, 'packs/sandboxes', id, 'maven/usr/share/maven/aibox-cds.jsa');
    expect(existsSync(archive)).toBe(true);
    const setup = await daemon.exec('mvn1', ['sh', '-c', PROJECT]);
    expect(setup.exitCode, setup.stderr).toBe(0);
    const build = await daemon.exec('mvn1', [
      'sh',
      '-c',
      'cd /tmp/mb && MAVEN_OPTS="$MAVEN_OPTS -Xshare:on" mvn -B -q package && java -cp target/demo-1.0.jar demo.Main',
    ]);
    expect(build.exitCode, build.stdout + build.stderr).toBe(0);
    expect(build.stdout).toContain('packaged by maven');
    // The archive is the one MAVEN_OPTS names, and the JVM maps it (a dynamic archive on top of the JDK's own).
    const mapped = await daemon.exec('mvn1', [
      'sh',
      '-c',
      'cd /tmp/mb && MAVEN_OPTS="$MAVEN_OPTS -Xshare:on -Xlog:cds=info" mvn -B -q -v',
    ]);
    expect(mapped.exitCode, mapped.stderr).toBe(0);
    expect(mapped.stdout).toMatch(/aibox-cds\.jsa/);
  }, 900_000);

  it("runs the pack's launcher: nothing spawned before the JVM, the project's .mvn found and honoured, MAVEN_OPTS last", async () => {
    // Installed by the test above (same sandbox).
    const which = await daemon.exec('mvn1', [
      'sh',
      '-c',
      'command -v mvn && grep -c "launcher in the aibox pack" "$(command -v mvn)"; grep -c "Apache Maven Startup Script" "$(command -v mvn)"',
    ]);
    expect(which.stdout.trim().split('\n')).toEqual([
      '/opt/aibox/packs/maven/usr/share/maven/bin/mvn',
      '1',
      '0',
    ]);

    const setup = await daemon.exec('mvn1', ['sh', '-c', `${PIDS} && ${TOP_MVN}`]);
    expect(setup.exitCode, setup.stderr).toBe(0);
    // A fresh reference pid (a child started right before `mvn`), the stand-in JVM's first child's, and the gap
    // between them: what was started on the way to the JVM. The exec agent refills its warm process in the
    // background (one or two pids) around a command's start: `sleep 1` lets that pass, and the least of three tries
    // is taken. A control with one subshell on the way shows that a spawn is counted.
    const gap = async (script: string) => {
      const gaps: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await daemon.exec('mvn1', [
          'sh',
          '-c',
          `cd /tmp/mp/sub && sleep 1 && sh -c 'echo "start $$"' && ${script}`,
        ]);
        expect(r.exitCode, r.stderr).toBe(0);
        const pid = (what: string) => Number(new RegExp(`^${what} (\\d+)$`, 'm').exec(r.stdout)?.[1]);
        gaps.push(pid('child') - pid('start') - 1);
      }
      return Math.min(...gaps);
    };
    expect(await gap('JAVA_HOME=/tmp/fj exec mvn -v')).toBe(0);
    expect(await gap('(:) && JAVA_HOME=/tmp/fj exec mvn -v')).toBe(1);

    // From the module folder: the top .mvn is the project's base, its jvm.config is read (CRLF lines), MAVEN_OPTS
    // comes after it, Maven reads its maven.config; -Xshare:on: the pack's archive still maps with this launcher.
    const build = await daemon.exec('mvn1', [
      'sh',
      '-c',
      'cd /tmp/mp/sub && MAVEN_OPTS="$MAVEN_OPTS -Xshare:on -Dwho=MAVEN_OPTS" mvn -B -q package && echo "jar: $(ls target/*.jar)"',
    ]);
    expect(build.exitCode, build.stdout + build.stderr).toBe(0);
    // (Maven's console prints colour resets without a newline, even with -B -q.)
    expect(build.stdout).toMatch(/jar: target\/from-maven-config\.jar$/m);
    expect(build.stderr).toMatch(/^\s*who = MAVEN_OPTS$/m);
    expect(build.stderr).toMatch(/^\s*aibox\.jvm\.config = read$/m);
    expect(build.stderr).toMatch(/^\s*maven\.multiModuleProjectDirectory = \/tmp\/mp$/m);

    // `mvn -v`, and the same through MAVEN_ARGS (Maven 3.9's variable, put before the arguments).
    const version = await daemon.exec('mvn1', ['sh', '-c', 'cd /tmp && mvn -v && MAVEN_ARGS=--version mvn']);
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stdout.match(/Apache Maven 3\.8\.7/g)).toHaveLength(2);
    expect(version.stdout).toContain('Maven home: /opt/aibox/packs/maven/usr/share/maven');
    const smoke = await daemon.api<{ checks: { name: string; ok: boolean; detail: string }[] }>(
      'POST',
      '/v1/sandboxes/mvn1/packs/smoke',
    );
    expect(smoke.body.checks.filter((c) => !c.ok)).toEqual([]);
  }, 600_000);
});
