/**
 * bench/packs: pack build time (first — forced, fresh download — and cached), install into a running sandbox
 * (p50 over install/uninstall cycles), and a Java build (javac of a small generated project, then running it)
 * inside the sandbox next to the same JDK artifact run on the host in the same run. (A Maven build needs
 * repo.maven.apache.org, which these machines cannot reach; javac stands in for it.)
 * Needs root and a built base image. Usage: npx tsx bench/packs.ts [--runs N]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { makeProject, startTestDaemon } from '../test/support/daemon.js';
import { printTable, summarize, timeIt } from './stats.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 7);
const repo = await mkdtemp(path.join(tmpdir(), 'aibox-bench-packs-repo-'));
await mkdir(path.join(repo, 'org'));
await writeFile(
  path.join(repo, 'org/packs.rego'),
  'package aibox.org.packs\n\nimport rego.v1\n\nallowed := ["java"]\n',
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
  const build = async (force: boolean) => {
    const r = await daemon.cli(['pack', 'build', 'java@17', '--json', ...(force ? ['--force'] : [])]);
    if (r.exitCode !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as { ms: number; cached: boolean; built: { dir: string } };
  };
  const first = await build(true);
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
  for (let i = 0; i < Math.min(runs, 5); i++) {
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
  printTable('packs (ms)', [
    ['build java@17, first (forced, fresh download)', summarize([first.ms])],
    ['build java@17, cached', summarize(cached)],
    ['install java into a running sandbox', summarize(installs)],
    ['javac 41 classes + run, inside gVisor', summarize(inside)],
    ['javac 41 classes + run, host (same JDK)', summarize(onHost)],
  ]);
  console.log(
    `\ninside / host (median): ${(summarize(inside).median / summarize(onHost).median).toFixed(2)}x`,
  );
} finally {
  await daemon.stop();
  await rm(repo, { recursive: true, force: true });
  await rm(hostDir, { recursive: true, force: true });
}
