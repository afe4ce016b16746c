/**
 * What the git gateway adds to git operations, against the same real upstream (git http-backend behind basic auth on
 * 127.0.0.1) reached directly, interleaved in the same run:
 *   1. `git ls-remote` (one advertisement: the gateway refreshes its mirror from the upstream first);
 *   2. `git fetch` of one new commit into an existing clone;
 *   3. `git push` of one commit to an allowed branch (the gateway receives it, the update hook asks the gate,
 *      which forwards it upstream) and to a gated branch (staged upstream and recorded instead);
 * Prints median and p99 in ms.   npx tsx bench/git-gate.ts [iterations]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createGitGate,
  credentialsFrom,
  gatewayAuthConfig,
  GitGateConfig,
  GitPolicy,
  decideRef,
  newGatewayKey,
} from '../src/git-gate/index.js';
import { systemClock } from '../src/shared/index.js';
import { git, silentLogger, startUpstream } from '../test/git-gate/helpers/upstream.js';
import { printTable, summarize, timeIt } from './stats.js';

const N = Number(process.argv[2] ?? 15);
const TOKEN = 'bench-token-0123456789';

const upstream = await startUpstream(TOKEN);
await upstream.create('acme/bench');
const state = await mkdtemp(path.join(tmpdir(), 'aibox-bench-git-'));
const gate = createGitGate({
  config: GitGateConfig.parse({
    repos: [{ name: 'acme/bench', upstream: upstream.url('acme/bench'), credential: 'tok' }],
  }),
  stateDir: state,
  credentials: credentialsFrom(() => TOKEN),
  audit: { record: () => undefined },
  logger: silentLogger,
  clock: systemClock,
});
const policy = GitPolicy.parse({
  repos: [{ pattern: 'acme/bench' }],
  refs: [
    { pattern: 'refs/heads/main', action: 'require-approval' },
    { pattern: 'refs/heads/**', action: 'allow' },
  ],
});
const key = newGatewayKey();
const listener = await gate.gateway.openFor({
  sandboxId: 'sbx_bench',
  sandbox: 'bench',
  key,
  policy: () => policy,
  decide: async (ref, op) => decideRef(policy, ref, op),
});
const viaGate = `${listener.hostUrl}/acme/bench.git`;
// What a sandbox's git carries: its gateway key as an extra header.
const [[gateKey, gateValue]] = Object.entries(gatewayAuthConfig(listener.hostUrl, key)) as [[string, string]];
const gateEnv = { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: gateKey, GIT_CONFIG_VALUE_0: gateValue };
const auth = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
const direct = upstream.url('acme/bench');
const directEnv = {
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'http.extraHeader',
  GIT_CONFIG_VALUE_0: `Authorization: Basic ${auth}`,
};

const work = await mkdtemp(path.join(tmpdir(), 'aibox-bench-work-'));
const gClone = path.join(work, 'gate');
const dClone = path.join(work, 'direct');
await git(work, ['clone', '-q', viaGate, gClone], { env: gateEnv });
await git(work, ['clone', '-q', direct, dClone], { env: directEnv });

const samples: Record<string, number[]> = {};
const add = (k: string, v: number) => (samples[k] ??= []).push(v);
let n = 0;
const commit = async (dir: string) => {
  await writeFile(path.join(dir, `f${n++}.txt`), `${n}\n`);
  await git(dir, ['add', '.']);
  await git(dir, ['commit', '-qm', `c${n}`]);
};
for (let i = 0; i < N; i++) {
  add(
    'ls-remote direct (baseline)',
    await timeIt(() => git(work, ['ls-remote', direct], { env: directEnv })),
  );
  add('ls-remote via gateway', await timeIt(() => git(work, ['ls-remote', viaGate], { env: gateEnv })));
  await upstream.advance('acme/bench', 'main', `up${i}.txt`);
  add(
    'fetch 1 commit direct (baseline)',
    await timeIt(() => git(dClone, ['fetch', '-q', 'origin'], { env: directEnv })),
  );
  add(
    'fetch 1 commit via gateway',
    await timeIt(() => git(gClone, ['fetch', '-q', 'origin'], { env: gateEnv })),
  );
  await commit(dClone);
  add(
    'push allowed branch direct (baseline)',
    await timeIt(() => git(dClone, ['push', '-q', 'origin', `HEAD:refs/heads/d${i}`], { env: directEnv })),
  );
  await commit(gClone);
  add(
    'push allowed branch via gateway',
    await timeIt(() => git(gClone, ['push', '-q', 'origin', `HEAD:refs/heads/g${i}`], { env: gateEnv })),
  );
  await git(gClone, ['reset', '-q', '--hard', 'origin/main']);
  await commit(gClone);
  add(
    'push gated main via gateway (staged)',
    await timeIt(() => git(gClone, ['push', '-q', 'origin', 'HEAD:main'], { env: gateEnv })),
  );
}
printTable(
  `git through the aibox gateway vs direct to the same upstream (n=${N}, ms)`,
  Object.entries(samples).map(([k, v]) => [k, summarize(v)]),
);
await gate.gateway.close();
await upstream.close();
await rm(state, { recursive: true, force: true });
await rm(work, { recursive: true, force: true });
