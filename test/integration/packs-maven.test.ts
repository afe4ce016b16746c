/**
 * The maven pack end to end, with a real aiboxd and a real gVisor sandbox: built from Debian (Maven, the plugins of
 * the default lifecycle and Debian's offline repository) with a class-data sharing archive of Maven's classes
 * trained in the builder sandbox, installed with the java pack into a running sandbox, and a small project packaged
 * there offline. `-Xshare:on` makes the JVM fail instead of silently ignoring an archive it cannot map, so the
 * archive is proven valid for the JDK and class path inside the sandbox.
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
});
