/**
 * What the `aibox` command costs a person at the shell: the compiled CLI (`node dist/bin/aibox.js`) running
 * `version`, `list` and `exec NAME -- true`, each next to a bare `node -e 0` measured in the same run, interleaved
 * (so machine load hits every column alike). Also one typed API call against a raw http.request on the same socket.
 *
 *   npx tsx bench/cli.ts [iterations] [--no-build] [--unbundled] [--bin FILE] [--socket PATH --sandbox NAME]
 *
 * The build is `npm run build`, then scripts/bundle-cli.ts (our modules and commander in one file plus a chunk per
 * lazily loaded command) into dist/bench-cli/bin; --unbundled measures tsc's dist/bin/aibox.js as it is, --bin any
 * other compiled CLI (an older build, to compare).
 * Each row also gives the CPU time (user + system) the process used, which a loaded machine does not inflate.
 *
 * By default the daemon is aiboxd's composition root over the fake runtime (test/support/test-daemon.ts, in this
 * process: its exec runs `true` as a host process, so the exec column is the CLI's start, the daemon's exec path
 * and the protocol, not gVisor). With --socket and --sandbox it measures a running aiboxd and a real sandbox.
 * Goals (issue 14): version ≤ 40 ms and exec ≤ 60 ms above `node -e 0`, p50.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { AiboxClient } from '../src/client/index.js';
import { startTestDaemon } from '../test/support/test-daemon.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'no-build': { type: 'boolean', default: false },
    unbundled: { type: 'boolean', default: false },
    bin: { type: 'string' },
    socket: { type: 'string' },
    sandbox: { type: 'string' },
  },
});
const N = Number(positionals[0] ?? 30);
const ROOT = join(import.meta.dirname, '..');

// The measured copy is bundled into a folder of its own, so a concurrent `npm run build` cannot swap it mid-run.
const BUNDLE = 'dist/bench-cli/bin';
if (!values['no-build']) {
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  } catch {
    // tsc still emits when some file elsewhere does not type-check (work in progress); the bundle needs no tsc.
    console.error('note: `npm run build` reported errors; measuring what it emitted');
  }
  if (!values.unbundled)
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/bundle-cli.ts', BUNDLE], { cwd: ROOT });
}
const bundled = !values.unbundled && values.bin === undefined;
const BIN = values.bin ?? join(ROOT, bundled ? BUNDLE : 'dist/bin', 'aibox.js');
if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\``);

let stopDaemon = async () => {};
let socket = values.socket;
let sandbox = values.sandbox;
if (socket === undefined) {
  const daemon = await startTestDaemon();
  socket = daemon.socket;
  sandbox = 'bench';
  await new AiboxClient(socket).sandboxes.create({ path: await daemon.makeProject(), name: sandbox });
  stopDaemon = () => daemon.close();
} else if (sandbox === undefined) throw new Error('--socket needs --sandbox NAME (a running sandbox)');

const client = new AiboxClient(socket);

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

function row(label: string, xs: readonly number[], baseline?: readonly number[], goal?: number): string {
  const p50 = quantile(xs, 0.5);
  const head = `  ${label.padEnd(28)} p50 ${p50.toFixed(1).padStart(6)} ms  p99 ${quantile(xs, 0.99).toFixed(1).padStart(6)} ms`;
  if (!baseline) return head;
  const above = p50 - quantile(baseline, 0.5);
  const verdict =
    goal === undefined ? '' : above <= goal ? `  (goal ≤ ${goal}: met)` : `  (goal ≤ ${goal}: NOT met)`;
  return `${head}  ${above >= 0 ? '+' : ''}${above.toFixed(1)} ms over node${verdict}`;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

// Loaded into every measured process (node -e 0 included): prints the CPU time it used as its last stderr line.
const CPU = `data:text/javascript,${encodeURIComponent(
  "process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('\\n__cpu '+(u.user+u.system)/1000+'\\n')})",
)}`;

/** Runs one process to its end; resolves with its wall time and CPU time (ms). */
function run(args: readonly string[]): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now();
  // Async: the stand-in daemon lives in this process and must keep answering while the CLI runs.
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', CPU, ...args],
      { env: { ...process.env, AIBOX_SOCKET: socket } },
      (err, _stdout, stderr) => {
        const wall = performance.now() - t0;
        const cpu = Number(/__cpu ([\d.]+)\s*$/.exec(stderr)?.[1]);
        if (err || Number.isNaN(cpu)) reject(new Error(`node ${args.join(' ')}: ${stderr.slice(0, 400)}`));
        else resolve({ wall, cpu });
      },
    );
  });
}

function rawGet(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
}

const raw: number[] = [];
const typed: number[] = [];
const listed: number[] = [];
for (let i = 0; i < N * 5; i++) {
  raw.push(await time(() => rawGet('/v1/version')));
  typed.push(await time(() => client.system.version()));
  listed.push(await time(() => client.sandboxes.list()));
}
console.log(`API calls over the socket (n=${raw.length})`);
console.log(row('raw http.request version', raw));
console.log(row('client.system.version()', typed));
console.log(row('client.sandboxes.list()', listed));

const columns = {
  node: ['-e', '0'],
  version: [BIN, 'version'],
  list: [BIN, 'list'],
  exec: [BIN, 'exec', sandbox, '--', 'true'],
};
// One warm-up round (disk cache), then interleaved rounds.
for (const args of Object.values(columns)) await run(args);
type Column = keyof typeof columns;
const wall: Record<Column, number[]> = { node: [], version: [], list: [], exec: [] };
const cpu: Record<Column, number[]> = { node: [], version: [], list: [], exec: [] };
for (let i = 0; i < N; i++) {
  for (const [name, args] of Object.entries(columns) as [Column, string[]][]) {
    const r = await run(args);
    wall[name].push(r.wall);
    cpu[name].push(r.cpu);
  }
}
const build =
  values.bin !== undefined
    ? 'given'
    : bundled
      ? 'bundled by scripts/bundle-cli.ts'
      : "tsc's output, unbundled";
const shown = values.bin ?? (bundled ? `${BUNDLE}/aibox.js` : 'dist/bin/aibox.js');
for (const [what, t] of [
  ['wall time, start to exit', wall],
  ['CPU time (user + system)', cpu],
] as const) {
  console.log(`\n${what}: node ${shown} (${build}), n=${N}`);
  console.log(row('node -e 0', t.node));
  console.log(row('aibox version', t.version, t.node, 40));
  console.log(row('aibox list', t.list, t.node));
  console.log(row(`aibox exec ${sandbox} -- true`, t.exec, t.node, 60));
}

await stopDaemon();
