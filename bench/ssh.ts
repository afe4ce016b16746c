/**
 * The SSH gateway's cost, against `aibox exec` on the same sandbox in the same run (real aiboxd, real gVisor
 * sandbox, real OpenSSH client; needs root and scripts/setup-host.sh):
 *   1. round trip of `true`: a fresh `ssh … true` (TCP + key exchange + auth + exec), the same over a reused
 *      connection (ControlMaster, as IDEs keep one connection open), `aibox exec NAME true` (CLI process) and the
 *      buffered exec API call (POST /v1/sandboxes/NAME/exec) alone;
 *   2. throughput of a file into /workspace: `sftp put` vs `aibox exec -i NAME sh -c 'cat > FILE'`, and back out:
 *      `sftp get` vs `aibox exec NAME cat FILE`.
 * Prints median and p99.   npx tsx bench/ssh.ts [iterations] [MiB]
 */
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeProject, startTestDaemon } from '../test/support/daemon.js';
import { SshClientKit } from '../test/support/ssh-client.js';

const N = Number(process.argv[2] ?? 15);
const MIB = Number(process.argv[3] ?? 16);
const ROOT = path.resolve(import.meta.dirname, '..');

function stats(xs: number[], unit = 'ms'): string {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return `median ${at(0.5).toFixed(1).padStart(7)} ${unit}  p99 ${at(0.99).toFixed(1).padStart(7)} ${unit}  (n=${s.length})`;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function ok(
  p: Promise<{ exitCode?: number | undefined; stderr?: unknown }>,
  what: string,
): Promise<void> {
  const r = await p;
  if (r.exitCode !== 0) throw new Error(`${what} failed: ${String(r.stderr)}`);
}

const daemon = await startTestDaemon({ name: 'bench-ssh', config: { sshGateway: { port: 0 } } });
const project = await makeProject('bench-ssh');
const work = await mkdtemp(path.join(tmpdir(), 'aibox-bench-ssh-'));
try {
  const name = 'benchssh';
  if ((await daemon.api('POST', '/v1/images/base', {})).status !== 200)
    throw new Error('base image build failed');
  const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
  if (created.status !== 201) throw new Error(`sandbox: ${JSON.stringify(created.body)}`);
  const kit = await SshClientKit.create();
  await daemon.api('POST', '/v1/ssh-keys', { publicKey: await kit.publicKey() });
  const gw = (
    await daemon.api<{ port: number; knownHostsFile: string; hostKeyAlias: string }>('GET', '/v1/ssh/gateway')
  ).body;
  const target = { port: gw.port, knownHostsFile: gw.knownHostsFile, hostKeyAlias: gw.hostKeyAlias };
  const control = path.join(work, 'cm.sock');
  const shared = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${control}`, '-o', 'ControlPersist=120'];
  const ssh = (extra: string[], cmd: string[]) =>
    execa('ssh', [...kit.options(target, extra), `${name}@127.0.0.1`, ...cmd], { reject: false });
  const cli = (args: string[], inputFile?: string) =>
    execa(process.execPath, [path.join(ROOT, 'dist/bin/aibox.js'), ...args], {
      env: { AIBOX_SOCKET: daemon.socket },
      reject: false,
      ...(inputFile ? { inputFile } : {}),
    });

  await ok(ssh(shared, ['true']), 'ssh warm-up');
  await ok(cli(['exec', name, 'true']), 'aibox exec warm-up (needs `npm run build`)');

  const fresh: number[] = [];
  const reused: number[] = [];
  const aiboxExec: number[] = [];
  const api: number[] = [];
  for (let i = 0; i < N; i++) {
    fresh.push(await time(() => ok(ssh([], ['true']), 'ssh true')));
    reused.push(await time(() => ok(ssh(shared, ['true']), 'ssh (reused) true')));
    aiboxExec.push(await time(() => ok(cli(['exec', name, 'true']), 'aibox exec true')));
    api.push(await time(() => daemon.exec(name, ['true'])));
  }
  console.log(`round trip of \`true\` in sandbox ${name} (gVisor)`);
  console.log(`  ssh … true (new connection)     ${stats(fresh)}`);
  console.log(`  ssh … true (reused connection)  ${stats(reused)}`);
  console.log(`  aibox exec NAME true (CLI)      ${stats(aiboxExec)}`);
  console.log(`  POST …/exec true (API only)     ${stats(api)}`);

  const file = path.join(work, 'blob');
  await writeFile(file, randomBytes(MIB * 1024 * 1024));
  const rate = (ms: number) => MIB / (ms / 1000);
  const sftpPut: number[] = [];
  const execPut: number[] = [];
  const sftpGet: number[] = [];
  const execGet: number[] = [];
  const rounds = Math.max(3, Math.floor(N / 3));
  const sftpOpts = kit.options(target, shared).map((o) => (o === '-p' ? '-P' : o));
  const sftp = (batch: string) =>
    execa('sftp', [...sftpOpts, '-b', '-', `${name}@127.0.0.1`], { input: batch, reject: false });
  for (let i = 0; i < rounds; i++) {
    sftpPut.push(rate(await time(() => ok(sftp(`put ${file} /workspace/blob-sftp\n`), 'sftp put'))));
    execPut.push(
      rate(
        await time(() =>
          ok(
            cli(['exec', '-i', name, '--', 'sh', '-c', 'cat > /workspace/blob-exec'], file),
            'aibox exec -i',
          ),
        ),
      ),
    );
    sftpGet.push(rate(await time(() => ok(sftp(`get /workspace/blob-sftp ${file}.back\n`), 'sftp get'))));
    execGet.push(
      rate(
        await time(async () => {
          const r = await execa(
            process.execPath,
            [path.join(ROOT, 'dist/bin/aibox.js'), 'exec', name, 'cat', '/workspace/blob-exec'],
            {
              env: { AIBOX_SOCKET: daemon.socket },
              stdout: { file: `${file}.exec-back` },
              reject: false,
            },
          );
          if (r.exitCode !== 0) throw new Error(`aibox exec cat failed: ${r.stderr}`);
        }),
      ),
    );
  }
  console.log(`throughput of a ${MIB} MiB file (higher is better)`);
  console.log(`  into /workspace: sftp put            ${stats(sftpPut, 'MiB/s')}`);
  console.log(`  into /workspace: aibox exec -i cat   ${stats(execPut, 'MiB/s')}`);
  console.log(`  out of /workspace: sftp get          ${stats(sftpGet, 'MiB/s')}`);
  console.log(`  out of /workspace: aibox exec cat    ${stats(execGet, 'MiB/s')}`);
  await execa('ssh', [...kit.options(target, [...shared, '-O', 'exit']), `${name}@127.0.0.1`], {
    reject: false,
  });
} finally {
  await daemon.stop();
  await rm(project, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
}
