/**
 * bench/packs: pack build time (first — forced, fresh download — and cached), install into a running sandbox
 * (p50 over install/uninstall cycles), and builds of a small generated Java project inside the sandbox next to the
 * same pack artifacts run on the host in the same run (bound at /opt/aibox/packs in a private mount namespace, where
 * their links point): javac + run, and `mvn package` (Debian's Maven with its offline repository from the maven
 * pack: Maven Central is unreachable here), with default JVM flags, with -XX:TieredStopAtLevel=1 and with the
 * pack's own options (C1 and its class-data sharing archive); `java
 * -version` and `mvn -v` on both sides show what JVM and Maven start-up cost. Then `gradle build` of the same
 * classes (Debian's Gradle 4.4 from the gradle pack, offline, `java` plugin) the two ways Gradle is used: cold
 * (`--no-daemon`: JVM and Gradle start every build) and with Gradle's daemon (started by a first build, timed on its
 * own, then `build --rerun-tasks` timed against the warm daemon); the host and the sandbox each run their own daemon
 * (own Gradle user home, own network namespace), and both are stopped with `gradle --stop` at the end. `gradle` is
 * the pack's launcher on both sides (one client JVM with C1 and the pack's CDS archive); the load average is printed
 * before and after the Gradle builds.
 * `--only maven` times the maven pack's `mvn` only, with the pack's own options on both sides: `mvn -v`, `mvn package`,
 * and the launcher alone (`mvn -v` with a stand-in `java` that exits at once, next to that stand-in run directly),
 * with the load average before and after, then Debian's script against the pack's launcher interleaved in the sandbox
 * (where this host has Debian's maven package); the gradle pack is not built.
 * Needs root and a built base image. Usage: npx tsx bench/packs.ts [--runs N] [--only gradle|maven]
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { makeProject, startTestDaemon } from '../test/support/daemon.js';
import { printTable, summarize, timeIt } from './stats.js';

// Without --runs, indexOf is -1 and argv[0] (node's path) is no number: default explicitly.
const runsAt = process.argv.indexOf('--runs');
const runs = runsAt > 0 ? Number(process.argv[runsAt + 1]) : 7;
if (!(runs >= 1)) throw new Error('--runs takes a positive number');
// --only gradle: skip the javac and Maven timings (the packs are still built and installed). --only maven: skip the
// javac and Gradle timings and the gradle pack, and time Maven's start and launcher (see above).
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only !== undefined && only !== 'gradle' && only !== 'maven')
  throw new Error('--only takes: gradle, maven');
// This machine is shared: a ratio means little without the load it was measured at.
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
// Debian's own `mvn` script, where this host has Debian's maven package (--only maven compares it, see below).
const DEBIAN_MVN = '/usr/share/maven/bin/mvn';
const repo = await mkdtemp(path.join(tmpdir(), 'aibox-bench-packs-repo-'));
await mkdir(path.join(repo, 'org'));
await writeFile(
  path.join(repo, 'org/packs.rego'),
  'package aibox.org.packs\n\nimport rego.v1\n\nallowed := ["java", "maven", "gradle"]\n',
);
// The maven and gradle packs' run-time needs must pass the egress door for them to install; nothing reaches them here.
await writeFile(
  path.join(repo, 'org/egress.rego'),
  'package aibox.org.egress\n\nimport rego.v1\n\nallow_domains := {"repo.maven.apache.org", "plugins.gradle.org", "services.gradle.org"}\n',
);
await writeFile(
  path.join(repo, 'org/mounts.rego'),
  'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
);
const daemon = await startTestDaemon({ name: 'bench-packs', config: { policy: { repo } } });
const hostDir = await mkdtemp(path.join(tmpdir(), 'aibox-bench-javac-'));
try {
  const setup = await daemon.cli(['setup', '--json']);
  if (setup.exitCode !== 0) throw new Error(`aibox setup failed: ${setup.stderr}`);
  const build = async (force: boolean, ref = 'java@17') => {
    const r = await daemon.cli(['pack', 'build', ref, '--json', ...(force ? ['--force'] : [])]);
    if (r.exitCode !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as { ms: number; cached: boolean; built: { dir: string } };
  };
  const first = await build(true);
  const maven = await build(false, 'maven@3.8');
  const gradle = only === 'maven' ? undefined : await build(false, 'gradle@4.4');
  const cached: number[] = [];
  for (let i = 0; i < runs; i++) cached.push((await build(false)).ms);

  const created = await daemon.api('POST', '/v1/sandboxes', {
    path: await makeProject('bench-packs'),
    name: 'bp',
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  const installs: number[] = [];
  for (let i = 0; i < runs; i++) {
    installs.push(await timeIt(() => daemon.api('POST', '/v1/sandboxes/bp/packs', { ref: 'java' })));
    if (i < runs - 1) await daemon.api('DELETE', '/v1/sandboxes/bp/packs/java');
  }

  // The same small project, compiled and run inside the sandbox and on the host with the same JDK artifact
  // (bound at /opt/aibox/packs/java in a private mount namespace, where its links point).
  const gen = [
    'mkdir -p $D/src && cd $D/src',
    'for i in $(seq 1 40); do printf "public class C$i { public static int f(int x) { return x * $i + 1; } }\\n" > C$i.java; done',
    'printf "public class Main { public static void main(String[] a) { int s = 0; for (int i = 0; i < 1000000; i++) s += C1.f(i) %% 7; System.out.println(s); } }\\n" > Main.java',
  ].join(' && ');
  const compile = 'cd $D/src && rm -rf ../out && javac -d ../out *.java && java -cp ../out Main';
  const jdk = '/opt/aibox/packs/java/usr/lib/jvm/java-17-openjdk-amd64/bin';
  const inside: number[] = [];
  const onHost: number[] = [];
  await daemon.exec('bp', ['sh', '-c', `D=/tmp/jb; ${gen}`]);
  await execa('sh', ['-c', `D=${hostDir}; ${gen}`]);
  const hostScript = `mount -t tmpfs none /opt/aibox && mkdir -p /opt/aibox/packs/java && mount --bind ${first.built.dir} /opt/aibox/packs/java && export PATH=${jdk}:$PATH && D=${hostDir} && ${compile}`;
  for (let i = 0; i < (only ? 0 : Math.min(runs, 5)); i++) {
    inside.push(
      await timeIt(async () => {
        const r = await daemon.exec('bp', ['sh', '-c', `D=/tmp/jb; ${compile}`]);
        if (r.exitCode !== 0) throw new Error(r.stderr);
      }),
    );
    onHost.push(
      await timeIt(() => execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', hostScript])),
    );
  }
  const installMaven = await daemon.api('POST', '/v1/sandboxes/bp/packs', { ref: 'maven' });
  if (installMaven.status !== 200) throw new Error(JSON.stringify(installMaven.body));

  // A Maven project: the same 41 classes under src/main/java/demo, no plugin versions (the super POM's, which
  // Debian's repository maps onto the plugins it ships).
  const pom =
    '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>demo</groupId>' +
    '<artifactId>demo</artifactId><version>1.0</version><properties><maven.compiler.source>17</maven.compiler.source>' +
    '<maven.compiler.target>17</maven.compiler.target><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>' +
    '</properties></project>';
  const genMaven = [
    // A stand-in JDK whose java exits at once: `mvn -v` with it times the launcher script alone.
    `mkdir -p $D/fj/bin && printf '#!/bin/sh\\n' > $D/fj/bin/java && chmod +x $D/fj/bin/java`,
    `mkdir -p $D/src/main/java/demo && cd $D && printf '%s\\n' '${pom}' > pom.xml && cd src/main/java/demo`,
    'for i in $(seq 1 40); do printf "package demo; public class C$i { public static int f(int x) { return x * $i + 1; } }\\n" > C$i.java; done',
    'printf "package demo; public class Main { public static void main(String[] a) { System.out.println(C1.f(2)); } }\\n" > Main.java',
  ].join(' && ');
  const mavenHome = '/opt/aibox/packs/maven';
  // The same MAVEN_OPTS on both sides, set here (the pack's own default adds -XX:TieredStopAtLevel=1).
  const mvnPackage = (opts: string) =>
    `cd $D && rm -rf target && MAVEN_OPTS="-Dmaven.repo.local=${mavenHome}/usr/share/maven-repo ${opts}" mvn -B -q package && test -f target/demo-1.0.jar`;
  const hostMaven = await mkdtemp(path.join(tmpdir(), 'aibox-bench-mvn-'));
  await daemon.exec('bp', ['sh', '-c', `D=/tmp/mb; ${genMaven}`]);
  await execa('sh', ['-c', `D=${hostMaven}; ${genMaven}`]);
  const hostEnv =
    `mount -t tmpfs none /opt/aibox && mkdir -p /opt/aibox/packs/java ${mavenHome} && ` +
    `mount --bind ${first.built.dir} /opt/aibox/packs/java && mount --bind ${maven.built.dir} ${mavenHome} && ` +
    `export JAVA_HOME=${path.dirname(jdk)} PATH=${mavenHome}/usr/share/maven/bin:${jdk}:$PATH ` +
    `MAVEN_HOME=${mavenHome}/usr/share/maven MAVEN_OPTS=-Dmaven.repo.local=${mavenHome}/usr/share/maven-repo && D=${hostMaven}`;
  const pair = async (script: string) => {
    const inSandbox = await timeIt(async () => {
      const r = await daemon.exec('bp', ['sh', '-c', `D=/tmp/mb; ${script}`]);
      if (r.exitCode !== 0) throw new Error(`${script}: ${r.stdout}${r.stderr}`);
    });
    const host = await timeIt(() =>
      execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `${hostEnv} && ${script}`]),
    );
    return [inSandbox, host] as const;
  };
  const cases = {
    'java -version': 'java -version 2>/dev/null',
    'mvn -v': 'mvn -v >/dev/null',
    'mvn package (default JVM flags)': mvnPackage(''),
    'mvn package (-XX:TieredStopAtLevel=1)': mvnPackage('-XX:TieredStopAtLevel=1'),
    // The pack's own MAVEN_OPTS: C1 and the CDS archive of Maven's classes trained at pack build time.
    "mvn package (C1 + the pack's CDS archive)": mvnPackage(
      `-XX:TieredStopAtLevel=1 -XX:SharedArchiveFile=${mavenHome}/usr/share/maven/aibox-cds.jsa`,
    ),
  };
  // The launcher alone: what `mvn` costs before the JVM (Debian's script: helper processes; the pack's: none).
  const launcherCases = {
    'launcher only: mvn -v with a stand-in java that exits at once': 'JAVA_HOME=$D/fj mvn -v',
    'the stand-in java alone': 'JAVA_HOME=$D/fj $D/fj/bin/java',
  };
  // --only maven: the pack's own options (its default MAVEN_OPTS inside) on both sides, for every command.
  const packOpts = `-XX:TieredStopAtLevel=1 -XX:SharedArchiveFile=${mavenHome}/usr/share/maven/aibox-cds.jsa`;
  const mavenOnly = {
    "mvn -v (the pack's options)": `MAVEN_OPTS="-Dmaven.repo.local=${mavenHome}/usr/share/maven-repo ${packOpts}" mvn -v >/dev/null`,
    "mvn package (the pack's options: C1 + its CDS archive)": mvnPackage(packOpts),
    ...launcherCases,
  };
  const mvnRows: [string, ReturnType<typeof summarize>][] = [];
  const ratios: string[] = [];
  const notes: string[] = [];
  try {
    if (only !== 'gradle') await pair(mvnPackage(packOpts)); // warm both sides' page caches once
    if (only === 'maven') notes.push(`load average (1, 5, 15 min) before the Maven timings: ${load()}`);
    const timed: Record<string, string> =
      only === 'gradle' ? {} : only === 'maven' ? mavenOnly : { ...cases, ...launcherCases };
    for (const [label, script] of Object.entries(timed)) {
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < Math.min(runs, 5); i++) {
        const [x, y] = await pair(script);
        a.push(x);
        b.push(y);
      }
      mvnRows.push([`${label}, inside gVisor`, summarize(a)], [`${label}, host (same packs)`, summarize(b)]);
      ratios.push(`${label}: ${(summarize(a).median / summarize(b).median).toFixed(2)}x`);
    }
    if (only === 'maven') notes.push(`load average (1, 5, 15 min) after the Maven timings: ${load()}`);
    // Debian's script against the pack's launcher in the same sandbox, interleaved, where this host has Debian's
    // maven package: a copy of its script whose MAVEN_HOME is the pack's (still found with its `dirname`), so the
    // class path, and with it the pack's CDS archive, are the same for both.
    if (only === 'maven' && existsSync(DEBIAN_MVN)) {
      const debian = (await readFile(DEBIAN_MVN, 'utf8')).replace(
        'MAVEN_HOME=`dirname "$PRG"`/..',
        `MAVEN_HOME=\`dirname "${mavenHome}/usr/share/maven/bin/mvn"\`/..`,
      );
      const put = await daemon.exec('bp', [
        'sh',
        '-c',
        `printf '%s' '${Buffer.from(debian).toString('base64')}' | base64 -d > /tmp/debian-mvn && chmod +x /tmp/debian-mvn`,
      ]);
      if (put.exitCode !== 0) throw new Error(put.stderr);
      const ab = {
        'mvn -v': `MAVEN_OPTS="-Dmaven.repo.local=${mavenHome}/usr/share/maven-repo ${packOpts}" MVN -v >/dev/null`,
        'mvn package': mvnPackage(packOpts).replace(' mvn ', ' MVN '),
        'launcher only (stand-in java)': 'JAVA_HOME=$D/fj MVN -v',
      };
      for (const [label, script] of Object.entries(ab)) {
        const a: number[] = [];
        const b: number[] = [];
        for (let i = 0; i < Math.min(runs, 7); i++) {
          for (const [times, mvn] of [
            [a, '/tmp/debian-mvn'],
            [b, 'mvn'],
          ] as const)
            times.push(
              await timeIt(async () => {
                const r = await daemon.exec('bp', ['sh', '-c', `D=/tmp/mb; ${script.replace('MVN', mvn)}`]);
                if (r.exitCode !== 0) throw new Error(`${script}: ${r.stdout}${r.stderr}`);
              }),
            );
        }
        mvnRows.push(
          [`${label}, Debian's script, inside gVisor (interleaved)`, summarize(a)],
          [`${label}, the pack's launcher, inside gVisor (interleaved)`, summarize(b)],
        );
      }
      notes.push(`load average (1, 5, 15 min) after the interleaved launcher runs: ${load()}`);
    }
    // Where the time goes inside: the same build with Maven and its repository copied (links resolved) into the
    // sandbox's /tmp, which gVisor keeps in its own memory, instead of read from the packs mount through the gofer.
    const copied = await daemon.exec('bp', [
      'sh',
      '-c',
      only
        ? 'true'
        : // The pack's launcher names the pack's Maven home: the copy's names the copy.
          `mkdir -p /tmp/mc && cp -rL ${mavenHome}/usr/share/maven /tmp/mc/maven && cp -rL ${mavenHome}/usr/share/maven-repo /tmp/mc/repo && ` +
          `sed -i 's|^MAVEN_HOME=.*|MAVEN_HOME=/tmp/mc/maven|' /tmp/mc/maven/bin/mvn`,
    ]);
    if (copied.exitCode !== 0) throw new Error(copied.stderr);
    const fromPack = mvnPackage('-XX:TieredStopAtLevel=1');
    const fromTmp = `cd $D && rm -rf target && MAVEN_HOME=/tmp/mc/maven MAVEN_OPTS="-Dmaven.repo.local=/tmp/mc/repo -XX:TieredStopAtLevel=1" /tmp/mc/maven/bin/mvn -B -q package && test -f target/demo-1.0.jar`;
    for (const [label, script] of only
      ? []
      : ([
          ['mvn package (C1), Maven + repository from the packs mount, inside gVisor', fromPack],
          ['mvn package (C1), Maven + repository copied to /tmp (tmpfs), inside gVisor', fromTmp],
        ] as const)) {
      const a: number[] = [];
      for (let i = 0; i < Math.min(runs, 5); i++)
        a.push(
          await timeIt(async () => {
            const r = await daemon.exec('bp', ['sh', '-c', `D=/tmp/mb; ${script}`]);
            if (r.exitCode !== 0) throw new Error(`${script}: ${r.stdout}${r.stderr}`);
          }),
        );
      mvnRows.push([label, summarize(a)]);
    }
  } finally {
    await rm(hostMaven, { recursive: true, force: true });
  }

  const gradleRows: [string, ReturnType<typeof summarize>][] = [];
  const daemons: string[] = [];
  if (gradle) {
    // Gradle: the same 41 classes with a build.gradle applying the `java` plugin, built offline (no dependencies).
    const installGradle = await daemon.api('POST', '/v1/sandboxes/bp/packs', { ref: 'gradle' });
    if (installGradle.status !== 200) throw new Error(JSON.stringify(installGradle.body));
    const gradleHome = '/opt/aibox/packs/gradle';
    const genGradle = [
      `mkdir -p $D/src/main/java/demo && cd $D && printf "apply plugin: 'java'\\nsourceCompatibility = 17\\ntargetCompatibility = 17\\n" > build.gradle`,
      `echo "rootProject.name = 'demo'" > settings.gradle && cd src/main/java/demo`,
      'for i in $(seq 1 40); do printf "package demo; public class C$i { public static int f(int x) { return x * $i + 1; } }\\n" > C$i.java; done',
      'printf "package demo; public class Main { public static void main(String[] a) { System.out.println(C1.f(2)); } }\\n" > Main.java',
    ].join(' && ');
    // Each side's own Gradle user home (caches, daemon registry) next to its project: the host's daemon and the
    // sandbox's never see each other (the sandbox also has its own network namespace, where its daemon listens).
    const gradleCmd = (args: string) =>
      `cd $D && GRADLE_USER_HOME=$D/.gradle-user gradle --offline -q ${args}`;
    const hostGradle = await mkdtemp(path.join(tmpdir(), 'aibox-bench-gradle-'));
    await daemon.exec('bp', ['sh', '-c', `D=/tmp/gb; ${genGradle}`]);
    await execa('sh', ['-c', `D=${hostGradle}; ${genGradle}`]);
    const gradleHostEnv =
      `mount -t tmpfs none /opt/aibox && mkdir -p /opt/aibox/packs/java ${gradleHome} && ` +
      `mount --bind ${first.built.dir} /opt/aibox/packs/java && mount --bind ${gradle.built.dir} ${gradleHome} && ` +
      `export JAVA_HOME=${path.dirname(jdk)} GRADLE_HOME=${gradleHome}/usr/share/gradle ` +
      `PATH=${gradleHome}/usr/share/gradle/bin:${jdk}:$PATH && D=${hostGradle}`;
    const inGradleSandbox = async (script: string) => {
      const r = await daemon.exec('bp', ['sh', '-c', `D=/tmp/gb; ${script}`]);
      if (r.exitCode !== 0) throw new Error(`${script}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    // The host's daemon outlives this shell, in the private mount namespace where the packs are bound.
    const onGradleHost = async (script: string) =>
      (
        await execa('unshare', [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          `${gradleHostEnv} && ${script}`,
        ])
      ).stdout;
    const gradlePair = async (script: string) =>
      [await timeIt(() => inGradleSandbox(script)), await timeIt(() => onGradleHost(script))] as const;
    const built = ' && test -f build/libs/demo.jar';
    const timedPairs = async (label: string, script: string) => {
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < Math.min(runs, 5); i++) {
        const [x, y] = await gradlePair(script);
        a.push(x);
        b.push(y);
      }
      gradleRows.push(
        [`${label}, inside gVisor`, summarize(a)],
        [`${label}, host (same packs)`, summarize(b)],
      );
      ratios.push(`${label}: ${(summarize(a).median / summarize(b).median).toFixed(2)}x`);
    };
    daemons.push(`load average (1, 5, 15 min) before the Gradle builds: ${load()}`);
    try {
      // Cold: a JVM and Gradle start for every build (in the client's JVM: no org.gradle.jvmargs to honour).
      await gradlePair(gradleCmd('--no-daemon build') + built); // fills both sides' Gradle caches once
      await timedPairs(
        'gradle --no-daemon build (cold)',
        `rm -rf build && ${gradleCmd('--no-daemon build')}${built}`,
      );
      // Warm: the first build starts each side's daemon (one sample each), later builds reuse it.
      const [firstIn, firstHost] = await gradlePair(`rm -rf build && ${gradleCmd('build')}${built}`);
      gradleRows.push(
        ['gradle build, first (starts the daemon), inside gVisor', summarize([firstIn])],
        ['gradle build, first (starts the daemon), host (same packs)', summarize([firstHost])],
      );
      await timedPairs('gradle build --rerun-tasks (warm daemon)', gradleCmd('build --rerun-tasks') + built);
      // What of it is not the build's work: Debian's launcher probes the JVM (`java -version`), then the client JVM
      // starts, connects to the daemon and configures the project; `help` compiles nothing.
      await timedPairs('gradle help (warm daemon: launcher + client JVM + configure)', gradleCmd('help'));
      // One daemon per side, reused by every warm build.
      const status = gradleCmd('--status');
      const busyOrIdle = (out: string) => out.split('\n').filter((l) => /\b(IDLE|BUSY)\b/.test(l)).length;
      daemons.push(
        `gradle daemons after the warm builds: inside ${busyOrIdle(await inGradleSandbox(status))}, ` +
          `host ${busyOrIdle(await onGradleHost(status))}`,
      );
      daemons.push(`load average (1, 5, 15 min) after the Gradle builds: ${load()}`);
    } finally {
      await stopGradleDaemons(
        hostGradle,
        () => inGradleSandbox(gradleCmd('--stop')),
        () => onGradleHost(gradleCmd('--stop')),
      );
      await rm(hostGradle, { recursive: true, force: true });
    }
  }

  printTable('packs (ms)', [
    ['build java@17, first (forced, fresh download)', summarize([first.ms])],
    ['build java@17, cached', summarize(cached)],
    ['install java into a running sandbox', summarize(installs)],
    ['javac 41 classes + run, inside gVisor', summarize(inside)],
    ['javac 41 classes + run, host (same JDK)', summarize(onHost)],
    ['build maven@3.8 (cached unless this is the first run)', summarize([maven.ms])],
    ...mvnRows,
    ...(gradle
      ? [
          ['build gradle@4.4 (cached unless this is the first run)', summarize([gradle.ms])] as [
            string,
            ReturnType<typeof summarize>,
          ],
        ]
      : []),
    ...gradleRows,
  ]);
  console.log(
    `\ninside / host (median): javac + run: ${(summarize(inside).median / summarize(onHost).median).toFixed(2)}x`,
  );
  for (const r of ratios) console.log(`inside / host (median): ${r}`);
  for (const d of daemons) console.log(d);
  for (const n of notes) console.log(n);
} finally {
  await daemon.stop();
  await rm(repo, { recursive: true, force: true });
  await rm(hostDir, { recursive: true, force: true });
}

/**
 * Stops both sides' Gradle daemons (`gradle --stop`), then makes sure of the host's: a daemon whose log is in this
 * run's Gradle user home and still runs is killed by its pid (the sandbox's die with the sandbox in any case).
 */
async function stopGradleDaemons(
  hostGradle: string,
  stopInside: () => Promise<unknown>,
  stopOnHost: () => Promise<unknown>,
): Promise<void> {
  await stopInside().catch((e: unknown) => console.error(`gradle --stop inside: ${String(e)}`));
  await stopOnHost().catch((e: unknown) => console.error(`gradle --stop on the host: ${String(e)}`));
  const logs = await readdir(path.join(hostGradle, '.gradle-user/daemon/4.4.1')).catch(() => [] as string[]);
  for (const log of logs) {
    const pid = Number(/^daemon-(\d+)\.out\.log$/.exec(log)?.[1]);
    if (!pid) continue;
    const running = async () =>
      (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('GradleDaemon');
    // `gradle --stop` returns once the daemon has been asked; it exits a moment later.
    for (let i = 0; i < 50 && (await running()); i++) await new Promise((r) => setTimeout(r, 200));
    if (!(await running())) continue;
    console.error(`gradle daemon ${pid} still ran after gradle --stop: killed`);
    process.kill(pid, 'SIGKILL');
  }
}
