/**
 * What the CLI and the typed client add on top of the daemon, measured against the contract stand-in
 * (test/support/fake-daemon.ts) on a temporary unix socket, baselines interleaved in the same run:
 *   1. a typed API call (AiboxClient.version: request + zod validation) vs a raw http.request on the same socket;
 *   2. streaming exec of `true` over the WebSocket vs buffered exec vs spawning `true` directly (the stand-in runs
 *      commands as host processes, so the difference is the exec protocol, not gVisor; bench/start has the real one);
 *   3. the cold start of the CLI process (`aibox version --json`, compiled JS) vs a bare `node -e ''`.
 * Prints median and p99 in ms.   npx tsx bench/cli.ts [iterations]
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { AiboxClient } from '../src/client/index.js';
import { FakeDaemon } from '../test/support/fake-daemon.js';

const N = Number(process.argv[2] ?? 200);
const COLD_N = Math.max(5, Math.floor(N / 10));

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return `median ${at(0.5).toFixed(2)} ms  p99 ${at(0.99).toFixed(2)} ms  (n=${s.length})`;
}

async function time(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function rawGet(socketPath: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
}

const sink = () =>
  new Writable({
    write(_c, _e, done) {
      done();
    },
  });

const daemon = await new FakeDaemon().start();
const project = await mkdtemp(join(tmpdir(), 'aibox-bench-cli-'));
const client = new AiboxClient(daemon.socketPath);
await client.createSandbox({ path: project, name: 'bench' });

const typed: number[] = [];
const raw: number[] = [];
for (let i = 0; i < N; i++) {
  raw.push(await time(() => rawGet(daemon.socketPath, '/v1/version')));
  typed.push(await time(() => client.version()));
}
console.log('API call GET /v1/version');
console.log(`  raw http.request     ${stats(raw)}`);
console.log(`  AiboxClient.version  ${stats(typed)}`);

const streamed: number[] = [];
const buffered: number[] = [];
const direct: number[] = [];
for (let i = 0; i < N; i++) {
  direct.push(await time(() => spawnSync('true')));
  buffered.push(await time(() => client.exec('bench', { cmd: ['true'] })));
  streamed.push(
    await time(() => client.execStream('bench', { cmd: ['true'] }, { stdout: sink(), stderr: sink() })),
  );
}
console.log('exec `true` (stand-in runs it on the host)');
console.log(`  spawn true directly  ${stats(direct)}`);
console.log(`  buffered POST exec   ${stats(buffered)}`);
console.log(`  WebSocket exec       ${stats(streamed)}`);

// Compile the CLI once (only its own import graph) so the cold start measures node, not tsx.
// Inside node_modules/.cache so the compiled files resolve zod, commander, … from the repository's node_modules.
const out = join(process.cwd(), 'node_modules/.cache/aibox-bench-cli');
await rm(out, { recursive: true, force: true });
try {
  execFileSync(
    'npx',
    [
      'tsc',
      'src/bin/aibox.ts',
      '--outDir',
      out,
      '--rootDir',
      'src',
      '--module',
      'nodenext',
      '--target',
      'es2022',
      '--skipLibCheck',
    ],
    { stdio: 'ignore' },
  );
} catch {
  // tsc emits even when some file of the graph does not type-check (work in progress elsewhere); keep going.
}
// Async runs: the stand-in daemon lives in this process and must keep answering while the CLI runs.
const runNode = (args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    execFile(process.execPath, args, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(new Error(err.message));
      else resolve({ status: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
const cliArgs = [join(out, 'bin/aibox.js'), '--socket', daemon.socketPath, 'version', '--json'];
const probe = await runNode(cliArgs);
if (probe.status !== 0 || !probe.stdout.includes('"daemon": {'))
  throw new Error(`the compiled CLI does not run: ${probe.stdout} ${probe.stderr.slice(0, 500)}`);
const cold: number[] = [];
const bare: number[] = [];
for (let i = 0; i < COLD_N; i++) {
  bare.push(await time(() => runNode(['-e', ''])));
  cold.push(await time(() => runNode(cliArgs)));
}
console.log('process start');
console.log(`  node -e ''                ${stats(bare)}`);
console.log(`  aibox version --json      ${stats(cold)}`);

await daemon.stop();
await rm(project, { recursive: true, force: true });
await rm(out, { recursive: true, force: true });
