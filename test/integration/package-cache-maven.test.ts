/**
 * The shared package cache's Maven side with a real aiboxd and real gVisor sandboxes (the java and maven packs).
 * Maven Central is not reachable from this machine: the upstream is a loopback Maven repository (the fake serves the
 * maven pack's own Debian offline repository, so Maven resolves its plugins there, plus a small dependency made
 * here). Each sandbox finds ~/.m2/settings.xml (written at start) mirroring every repository to its cache endpoint:
 * `mvn package` with an empty local repository in one sandbox fetches everything through the cache; the same build
 * in a second sandbox is served without a single upstream request; an artifact whose bytes do not match the
 * repository's checksum is refused, and neither stored in the cache nor in the sandbox's local repository.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { FakeMavenRepo } from '../package-cache/fake-maven.js';

const run = requireHost(sandboxHostSupport(), 'package-cache-maven');

const pom = (dep: string) =>
  '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>demo</groupId>' +
  '<artifactId>demo</artifactId><version>1.0</version><properties><maven.compiler.source>17</maven.compiler.source>' +
  '<maven.compiler.target>17</maven.compiler.target><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>' +
  `</properties><dependencies><dependency><groupId>demo.lib</groupId><artifactId>${dep}</artifactId>` +
  '<version>1.0</version></dependency></dependencies></project>';
const MAIN =
  'package demo; public class Main { public static void main(String[] a) throws Exception { ' +
  'System.out.println(new String(Main.class.getResourceAsStream("/greeting.txt").readAllBytes()).trim()); } }';
const project = (dir: string, dep: string) =>
  [
    `mkdir -p ${dir}/src/main/java/demo && cd ${dir}`,
    `printf '%s\\n' '${pom(dep)}' > pom.xml`,
    `printf '%s\\n' '${MAIN}' > src/main/java/demo/Main.java`,
  ].join(' && ');
// The pack's MAVEN_OPTS points at its read-only offline repository: without it Maven uses ~/.m2/repository.
const MVN = 'MAVEN_OPTS=-XX:TieredStopAtLevel=1 mvn -B -q';
const GREETER = '$HOME/.m2/repository/demo/lib/greeter/1.0/greeter-1.0.jar';

/** A jar holding one resource (a zip; no JDK needed on the host). */
async function resourceJar(text: string): Promise<Buffer> {
  const script =
    'import io,sys,zipfile\nb=io.BytesIO()\nz=zipfile.ZipFile(b,"w")\n' +
    'z.writestr("META-INF/MANIFEST.MF","Manifest-Version: 1.0\\n")\nz.writestr("greeting.txt",sys.argv[1])\n' +
    'z.close()\nsys.stdout.buffer.write(b.getvalue())';
  const r = await execa('python3', ['-c', script, text], { encoding: 'buffer' });
  return Buffer.from(r.stdout);
}

describe.skipIf(!run)('the shared package cache serving Maven to gVisor sandboxes', () => {
  const repo = new FakeMavenRepo();
  let daemon: TestDaemon;
  let policyRepo: string;
  const ids: Record<string, string> = {};
  const sh = (name: string, script: string) => daemon.exec(name, ['sh', '-c', script]);
  const timings: Record<string, number> = {};
  let evilJar: Buffer = Buffer.alloc(0);

  beforeAll(async () => {
    await repo.start();
    repo.addArtifact('demo.lib', 'greeter', '1.0', await resourceJar('hello from the cache'));
    evilJar = await resourceJar('what the checksum declares');
    repo.addArtifact('demo.lib', 'evil', '1.0', evilJar);
    repo.poison('demo/lib/evil/1.0/evil-1.0.jar');
    policyRepo = await mkdtemp(path.join(tmpdir(), 'aibox-pkgcache-maven-'));
    await mkdir(path.join(policyRepo, 'org'));
    const rego = (pkg: string, body: string) =>
      writeFile(
        path.join(policyRepo, `org/${pkg}.rego`),
        `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
      );
    await rego('packs', 'allowed := ["java", "maven"]');
    await rego('egress', 'allow_domains := {"repo.maven.apache.org"}');
    // The test projects live under /tmp.
    await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
    daemon = await startTestDaemon({
      name: 'pkgcache-maven',
      config: {
        policy: { repo: policyRepo },
        packageCache: {
          enabled: true,
          maven: { upstream: repo.url, policyHost: 'repo.maven.apache.org' },
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    for (const name of ['mvn1', 'mvn2']) {
      const created = await daemon.api('POST', '/v1/sandboxes', { path: await makeProject(name), name });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      ids[name] = (created.body as { id: string }).id;
      const install = await daemon.cli(['install', 'maven', '--sandbox', name]);
      expect(install.exitCode, install.stderr).toBe(0);
    }
    // Maven's plugins come from the upstream too: the Debian offline repository the maven pack ships.
    repo.serveDir(path.join(daemon.stateDir, 'packs/sandboxes', ids['mvn1']!, 'maven/usr/share/maven-repo'));
  }, 900_000);

  afterAll(async () => {
    await daemon?.stop();
    await repo.stop();
    if (policyRepo) await rm(policyRepo, { recursive: true, force: true });
    if (Object.keys(timings).length)
      console.log('package-cache-maven timings (ms):', JSON.stringify(timings));
  });

  it("finds Maven's user settings written at start, mirroring every repository to the sandbox's own endpoint", async () => {
    const r = await sh('mvn1', 'cat "$HOME/.m2/settings.xml"; echo "$AIBOX_PACKAGE_CACHE"');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('<mirrorOf>*</mirrorOf>');
    expect(r.stdout).toContain('${env.AIBOX_PACKAGE_CACHE}/-/maven2');
    expect(r.stdout).toMatch(/http:\/\/10\.0\.2\.2:\d+\n$/);
  });

  it('builds with a dependency fetched through the cache, then serves a second sandbox without upstream requests', async () => {
    let t = Date.now();
    const first = await sh(
      'mvn1',
      `${project('/tmp/app', 'greeter')} && ${MVN} package 2>&1 && java -cp target/classes:${GREETER} demo.Main`,
    );
    timings['mvn package, cache cold'] = Date.now() - t;
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('hello from the cache');
    expect(repo.requests).toContain('/maven2/demo/lib/greeter/1.0/greeter-1.0.jar');
    expect(repo.fileHits('org/apache/maven/plugins/')).toBeGreaterThan(0);
    const upstream = repo.requests.length;

    t = Date.now();
    const second = await sh(
      'mvn2',
      `${project('/tmp/app', 'greeter')} && ${MVN} package 2>&1 && java -cp target/classes:${GREETER} demo.Main`,
    );
    timings['mvn package, cache warm (second sandbox)'] = Date.now() - t;
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toContain('hello from the cache');
    expect(repo.requests.length).toBe(upstream);
  }, 600_000);

  it('refuses an artifact whose bytes do not match the checksum the repository publishes, and keeps nothing of it', async () => {
    const blobs = path.join(daemon.stateDir, 'package-cache', 'blobs');
    const before = await readdir(blobs);
    const curl = await sh(
      'mvn2',
      `curl -sS --max-time 30 -w '\\n%{http_code}' "$AIBOX_PACKAGE_CACHE/-/maven2/demo/lib/evil/1.0/evil-1.0.jar"`,
    );
    const [body, code] = curl.stdout.trim().split('\n');
    expect(code).toBe('502');
    expect(JSON.parse(body!)).toMatchObject({ code: 'PACKAGE_CACHE_INTEGRITY_MISMATCH' });
    const build = await sh('mvn2', `${project('/tmp/evil', 'evil')} && ${MVN} package 2>&1`);
    expect(build.exitCode).not.toBe(0);
    expect(build.stdout).toMatch(/evil-1\.0\.jar|demo\.lib:evil/);
    // Neither the bytes served nor the ones the checksum names are in the store (the pom, which matched, may be).
    const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
    const after = await readdir(blobs);
    expect(after).not.toContain(sha512(Buffer.concat([evilJar, Buffer.from('injected')])));
    expect(after).not.toContain(sha512(evilJar));
    expect(after.filter((b) => !before.includes(b)).length).toBeLessThanOrEqual(1);
    const jar = await sh('mvn2', 'test -e $HOME/.m2/repository/demo/lib/evil/1.0/evil-1.0.jar; echo $?');
    expect(jar.stdout).toBe('1\n');
    expect(await readdir(path.join(daemon.stateDir, 'package-cache', 'tmp'))).toEqual([]);
  }, 300_000);
});
