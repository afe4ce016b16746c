/**
 * bench/build, Maven rows: `mvn -B -q package` of a small real project (four classes, one dependency:
 * commons-lang3 3.12.0) on the host and inside a gVisor sandbox, cold and warm, interleaved in one run.
 * Upstream is a loopback Maven repository (test/package-cache/fake-maven.ts) serving the maven pack's own Debian
 * offline repository, where Maven finds its plugins and the dependency: nothing leaves the host.
 *   host cold      an empty local repository (user.home in a fresh temp folder), everything from the loopback repo
 *   host warm      the same local repository again (no download)
 *   sandbox cold   the shared package cache emptied first and ~/.m2/repository empty: every file fetched, verified
 *                  and stored by aiboxd
 *   sandbox warm   the shared cache warm, ~/.m2/repository empty (a second sandbox's first build)
 *   sandbox warm+  both warm (the same sandbox building again)
 * Both sides run the same pack files: the host binds the sandbox's own /opt/aibox/packs folder at the same place in
 * a private mount namespace (where the packs' links point), and both use the pack's JVM options (C1 and its CDS
 * archive) without its -Dmaven.repo.local (the read-only offline repository), so Maven uses ~/.m2 and, through the
 * settings aiboxd wrote at start (or the host's copy pointing at the loopback repo), the cache.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { FakeMavenRepo } from '../test/package-cache/fake-maven.js';
import type { TestDaemon } from '../test/support/daemon.js';
import { printTable, summarize, timeIt } from './stats.js';

const PACKS = '/opt/aibox/packs';
const JAVA_HOME = `${PACKS}/java/usr/lib/jvm/java-17-openjdk-amd64`;
const MAVEN_HOME = `${PACKS}/maven/usr/share/maven`;
// The pack's MAVEN_OPTS minus -Dmaven.repo.local (which would point Maven at the offline repository, not ~/.m2).
const PACK_OPTS = `-XX:TieredStopAtLevel=1 -XX:SharedArchiveFile=${MAVEN_HOME}/aibox-cds.jsa`;
const LANG3 = 'org/apache/commons/commons-lang3/3.12.0/commons-lang3-3.12.0.jar';
const SANDBOX = 'bench-build-mvn';

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>demo</groupId><artifactId>demo</artifactId><version>1.0</version>
  <properties>
    <maven.compiler.source>17</maven.compiler.source><maven.compiler.target>17</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency><groupId>org.apache.commons</groupId><artifactId>commons-lang3</artifactId><version>3.12.0</version></dependency>
  </dependencies>
</project>
`;
const SOURCES: Record<string, string> = {
  'Main.java':
    'package demo;\n\npublic class Main {\n  public static void main(String[] args) {\n' +
    '    Inventory inv = new Inventory();\n    inv.add(new Item("green tea", 3));\n    inv.add(new Item("rye bread", 2));\n' +
    '    System.out.println(Report.render(inv));\n  }\n}\n',
  'Item.java': 'package demo;\n\npublic record Item(String name, int count) {}\n',
  'Inventory.java':
    'package demo;\n\nimport java.util.ArrayList;\nimport java.util.List;\n\npublic class Inventory {\n' +
    '  private final List<Item> items = new ArrayList<>();\n\n  public void add(Item item) {\n    items.add(item);\n  }\n\n' +
    '  public List<Item> items() {\n    return List.copyOf(items);\n  }\n\n' +
    '  public int total() {\n    return items.stream().mapToInt(Item::count).sum();\n  }\n}\n',
  'Report.java':
    'package demo;\n\nimport org.apache.commons.lang3.StringUtils;\n\npublic class Report {\n' +
    '  public static String render(Inventory inv) {\n    StringBuilder out = new StringBuilder();\n' +
    '    for (Item i : inv.items())\n' +
    '      out.append(StringUtils.rightPad(StringUtils.capitalize(i.name()), 12)).append(i.count()).append("\\n");\n' +
    '    return out.append("total ").append(inv.total()).toString();\n  }\n}\n',
};

async function writeProject(dir: string): Promise<void> {
  const src = path.join(dir, 'src/main/java/demo');
  await mkdir(src, { recursive: true });
  await writeFile(path.join(dir, 'pom.xml'), POM);
  for (const [name, text] of Object.entries(SOURCES)) await writeFile(path.join(src, name), text);
}

/** The loopback upstream; its URL goes into the daemon's packageCache.maven before the daemon starts. */
export async function startMavenUpstream(): Promise<FakeMavenRepo> {
  const repo = new FakeMavenRepo();
  await repo.start();
  return repo;
}

export interface MavenBenchOptions {
  daemon: TestDaemon;
  repo: FakeMavenRepo;
  runs: number;
  /** Empties the shared package cache's store (blobs and metadata). */
  emptyStore: () => Promise<void>;
  /** Makes a project folder (a git repository) that the caller removes after the daemon. */
  newProject: (name: string) => Promise<string>;
}

/** Creates its own sandbox (removed with the daemon), times the rows, prints the table and the ratios. */
export async function benchMaven({
  daemon,
  repo,
  runs,
  emptyStore,
  newProject,
}: MavenBenchOptions): Promise<void> {
  const hostDir = await mkdtemp(path.join(tmpdir(), 'aibox-bench-mvn-host-'));
  try {
    const project = await newProject(SANDBOX);
    await writeProject(project);
    await execa('chown', ['-R', 'aibox:aibox', project]);
    await writeProject(path.join(hostDir, 'app'));
    const created = await daemon.api<{ id: string }>('POST', '/v1/sandboxes', {
      path: project,
      name: SANDBOX,
    });
    if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`);
    const install = await daemon.cli(['install', 'maven', '--sandbox', SANDBOX]);
    if (install.exitCode !== 0) throw new Error(`install maven: ${install.stderr}`);
    // The sandbox's own packs folder: served as the upstream (the pack's offline repository), bound on the host.
    const packs = path.join(daemon.stateDir, 'packs/sandboxes', created.body.id);
    repo.serveDir(path.join(packs, 'maven/usr/share/maven-repo'));

    const sh = async (script: string) => {
      const r = await daemon.exec(SANDBOX, ['sh', '-c', script]);
      if (r.exitCode !== 0) throw new Error(`${script}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    const settings = await sh('cat "$HOME/.m2/settings.xml"');
    if (!settings.includes('<mirrorOf>*</mirrorOf>'))
      throw new Error(`no cache mirror in ~/.m2: ${settings}`);
    const build = `rm -rf target && MAVEN_OPTS="${PACK_OPTS}" mvn -B -q package && test -f target/demo-1.0.jar`;
    const sandboxBuild = () => sh(`cd /workspace && ${build}`);
    const emptyLocal = () => sh('rm -rf "$HOME/.m2/repository"');

    // The host: user.home is a temp folder holding .m2/settings.xml (a mirror of everything to the loopback repo)
    // and .m2/repository, as the sandbox's home does; the pack files at the same place as inside.
    const hostHome = (name: string) => path.join(hostDir, name);
    const hostSettings = settings.replace(/<url>[^<]*<\/url>/, `<url>${repo.url}</url>`);
    const hostBuild = async (home: string) => {
      await mkdir(path.join(home, '.m2'), { recursive: true });
      await writeFile(path.join(home, '.m2/settings.xml'), hostSettings);
      const script =
        `mount -t tmpfs none /opt/aibox && mkdir -p ${PACKS} && mount --bind ${packs} ${PACKS} && ` +
        `export JAVA_HOME=${JAVA_HOME} MAVEN_HOME=${MAVEN_HOME} PATH=${MAVEN_HOME}/bin:${JAVA_HOME}/bin:$PATH && ` +
        `cd ${path.join(hostDir, 'app')} && ${build.replace(PACK_OPTS, `-Duser.home=${home} ${PACK_OPTS}`)}`;
      await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script]);
    };

    // Warm-up, not counted (page cache, the packs, the JVM's first start), and a check that the build is real.
    await hostBuild(hostHome('warmup'));
    await emptyStore();
    await emptyLocal();
    await sandboxBuild();
    const ran = await sh(
      `cd /workspace && java -cp "target/classes:$HOME/.m2/repository/${LANG3}" demo.Main`,
    );
    if (!ran.includes('Green tea') || !ran.includes('total 5'))
      throw new Error(`the built app printed: ${ran}`);

    // Each row checks where its files came from: the loopback repo's requests around it.
    const timed = async (work: () => Promise<unknown>, upstream: 'some' | 'none', row: string) => {
      const before = repo.requests.length;
      const files = repo.fileHits();
      const ms = await timeIt(work);
      if (upstream === 'some' && repo.fileHits() === files)
        throw new Error(`${row}: fetched nothing upstream`);
      if (upstream === 'none' && repo.requests.length !== before)
        throw new Error(`${row} went upstream: ${repo.requests.slice(before, before + 5).join(' ')}`);
      return ms;
    };
    const t = {
      hostCold: [] as number[],
      hostWarm: [] as number[],
      cold: [] as number[],
      warm: [] as number[],
      warmPlus: [] as number[],
    };
    let coldFiles = 0;
    const loadBefore = load();
    for (let i = 0; i < runs; i++) {
      const home = hostHome(`run-${i}`);
      t.hostCold.push(await timed(() => hostBuild(home), 'some', 'host cold'));
      t.hostWarm.push(await timed(() => hostBuild(home), 'none', 'host warm'));
      await emptyStore();
      await emptyLocal();
      const filesBefore = repo.fileHits();
      t.cold.push(await timed(sandboxBuild, 'some', 'sandbox cold'));
      coldFiles = repo.fileHits() - filesBefore;
      await emptyLocal();
      t.warm.push(await timed(sandboxBuild, 'none', 'sandbox warm'));
      t.warmPlus.push(await timed(sandboxBuild, 'none', 'sandbox warm+'));
    }
    const loadAfter = load();
    const s = {
      hostCold: summarize(t.hostCold),
      hostWarm: summarize(t.hostWarm),
      cold: summarize(t.cold),
      warm: summarize(t.warm),
      warmPlus: summarize(t.warmPlus),
    };
    printTable(
      `bench/build: mvn -B -q package (4 classes, commons-lang3; ${repo.fileHits()} upstream file fetches in all), ms`,
      [
        ['host: mvn package, empty local repo (loopback repo)', s.hostCold],
        ['host: mvn package, local repo warm', s.hostWarm],
        ['sandbox: mvn package, shared cache cold (fetch + verify + store)', s.cold],
        ['sandbox: mvn package, shared cache warm, ~/.m2/repository empty', s.warm],
        ['sandbox: mvn package, shared cache and ~/.m2/repository warm', s.warmPlus],
      ],
    );
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    console.log(
      `\nsandbox warm+ / host warm:                ${ratio(s.warmPlus.median, s.hostWarm.median)} (goal ≤ 1.5×)`,
    );
    console.log(
      `sandbox warm / host (empty local repo):   ${ratio(s.warm.median, s.hostCold.median)} (goal ≤ 1.5×)`,
    );
    console.log(`sandbox cold / host cold:                 ${ratio(s.cold.median, s.hostCold.median)}`);
    // What filling an empty local repository costs per file (the same files on both sides).
    const perFile = (a: number, b: number) => `${((a - b) / coldFiles).toFixed(1)} ms`;
    console.log(
      `${coldFiles} files per cold build; filling ~/.m2/repository per file: sandbox from the warm cache ` +
        `${perFile(s.warm.median, s.warmPlus.median)}, host from the loopback repo ${perFile(s.hostCold.median, s.hostWarm.median)}`,
    );
    console.log(`load average (1, 5, 15 min) before the Maven rows: ${loadBefore}; after: ${loadAfter}`);
  } finally {
    await rm(hostDir, { recursive: true, force: true });
  }
}
