/**
 * bench/companions: what watching companion services costs while idle. One sandbox with two companions (Redis,
 * PostgreSQL); the CPU time of the daemon's processes and of the companions' gVisor processes over 60 s idle, first
 * with the health check every 3 s (the default, `companions.checkSeconds`), then after a daemon restart with it every
 * 300 s (in effect off), in the same run.
 * Needs root and a built base image (starts real gVisor sandboxes: run it alone, through flock).
 * Usage: npx tsx bench/companions.ts [--seconds 60]
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { makeProject, startTestDaemon } from '../test/support/daemon.js';

const i = process.argv.indexOf('--seconds');
const seconds = i > 0 ? Number(process.argv[i + 1]) : 60;
if (!(seconds > 0)) throw new Error('--seconds wants a positive number');

const SERVICES = `services:
  - name: cache
    pack: redis
    port: 6379
  - name: db
    pack: postgresql
    port: 5432
    data: { sizeMiB: 128 }
`;

/** CPU seconds (user + system) of these processes now. */
async function cpuOf(pids: string[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11] ?? 0) + Number(f[12] ?? 0);
  }
  return ticks / 100;
}

async function measure(companionIds: string[], configFile: string) {
  const sample = async () => {
    const daemonPids = (await execa('pgrep', ['-f', configFile], { reject: false })).stdout
      .split('\n')
      .filter(Boolean);
    // The companions' gVisor processes, from their cpu cgroups (cpuacct is not co-mounted on every host).
    const companionPids: string[] = [];
    for (const id of companionIds)
      companionPids.push(
        ...(await readFile(`/sys/fs/cgroup/cpu/aibox/${id}/cgroup.procs`, 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean),
      );
    return { daemon: await cpuOf(daemonPids), companions: await cpuOf(companionPids) };
  };
  await new Promise((r) => setTimeout(r, 5_000)); // past start or re-adoption
  const a = await sample();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = await sample();
  return { daemon: b.daemon - a.daemon, companions: b.companions - a.companions };
}

const repo = await mkdtemp(path.join(tmpdir(), 'aibox-bench-companions-'));
await mkdir(path.join(repo, 'org'));
await writeFile(
  path.join(repo, 'org/packs.rego'),
  'package aibox.org.packs\n\nimport rego.v1\n\nallowed := ["postgresql", "redis"]\n',
);
await writeFile(
  path.join(repo, 'org/mounts.rego'),
  'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
);
const daemon = await startTestDaemon({ name: 'bench-companions', config: { policy: { repo } } });
let project = '';
try {
  const setup = await daemon.cli(['setup', '--json']);
  if (setup.exitCode !== 0) throw new Error(`aibox setup failed: ${setup.stderr}`);
  for (const pack of ['postgresql', 'redis']) {
    const b = await daemon.cli(['pack', 'build', pack, '--json']);
    if (b.exitCode !== 0) throw new Error(`pack build ${pack}: ${b.stderr}${b.stdout}`);
  }
  project = await makeProject('bench-companions');
  await mkdir(path.join(project, 'aibox'));
  await writeFile(path.join(project, 'aibox/services.yaml'), SERVICES);
  await execa('chown', ['-R', 'aibox:aibox', project]);
  const created = await daemon.api<{ id: string }>('POST', '/v1/sandboxes', { path: project, name: 'box' });
  if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`);
  const state = JSON.parse(
    await readFile(path.join(daemon.stateDir, 'companions', created.body.id, 'state.json'), 'utf8'),
  ) as { companions: { id: string }[] };
  const ids = state.companions.map((c) => c.id);
  const configFile = path.join(path.dirname(daemon.stateDir), 'aiboxd.yaml');
  const original = await readFile(configFile, 'utf8');

  const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  console.log(`load before: ${await load()}`);
  const on = await measure(ids, configFile);
  await daemon.crash();
  await writeFile(
    configFile,
    stringify({ ...(parse(original) as object), companions: { checkSeconds: 300 } }),
  );
  await daemon.restart();
  const off = await measure(ids, configFile);
  await daemon.crash();
  await writeFile(configFile, original);
  await daemon.restart();
  console.log(`load after: ${await load()}`);
  console.log(`\nbench/companions: CPU seconds over ${seconds} s idle, one sandbox with two companions`);
  console.log(`                         daemon   companions (gVisor)`);
  const row = (label: string, d: { daemon: number; companions: number }) =>
    console.log(
      `${label.padEnd(24)} ${d.daemon.toFixed(2).padStart(6)}   ${d.companions.toFixed(2).padStart(6)}`,
    );
  row('check every 3 s', on);
  row('check every 300 s', off);
} finally {
  await daemon.stop();
  if (project) await rm(project, { recursive: true, force: true });
  await rm(repo, { recursive: true, force: true });
}
