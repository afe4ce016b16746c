import type {
  AuditRecordJson,
  PolicyDecision,
  PushReport,
  PushShowReport,
  SandboxReport,
} from '../lib/types.js';

export const sandbox = (name: string, state: SandboxReport['state'] = 'running'): SandboxReport => ({
  id: `sbx_${name}`,
  name,
  path: `/home/dev/${name}`,
  profile: 'default',
  state,
  image: 'localhost/aibox-base:1',
  runtime: 'runsc',
  mode: 'rootless',
  createdAt: new Date(Date.now() - 5 * 60_000).toISOString(),
  protections: [
    { layer: 'egress', state: 'on', detail: 'allowlist proxy' },
    { layer: 'git', state: 'off', detail: 'no remote' },
  ],
  endpoints: { ssh: 'ssh://dev@127.0.0.1:2222' },
  owner: 'dev',
});

export const push = (over: Partial<PushReport> = {}): PushReport => ({
  id: 'push_0123456789ab',
  sandbox: 'alpha',
  repo: 'origin',
  ref: 'refs/heads/main',
  stagingRef: 'refs/aibox/staging/alpha/push_0123456789ab',
  commit: 'a'.repeat(40),
  state: 'pending',
  decisionId: 'dec_abcd1234',
  rule: 'data.aibox.org.push.require_approval',
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
  ...over,
});

export const shown = (p: PushReport = push()): PushShowReport => ({
  push: p,
  target: 'b'.repeat(40),
  commits: [{ sha: p.commit, author: 'Agent <agent@example.com>', subject: 'Add greeting' }],
  stat: ' src/hello.ts | 2 +-',
  diff: [
    'diff --git a/src/hello.ts b/src/hello.ts',
    'index 1111111..2222222 100644',
    '--- a/src/hello.ts',
    '+++ b/src/hello.ts',
    '@@ -1 +1 @@',
    "-export const hello = 'hi';",
    "+export const hello = '<img src=x onerror=alert(1)>';",
  ].join('\n'),
  diffTruncated: false,
});

let seq = 0;
export const record = (over: Partial<AuditRecordJson> & { kind: string }): AuditRecordJson => ({
  seq: ++seq,
  ts: new Date().toISOString(),
  data: {},
  prev: '0'.repeat(64),
  hash: '1'.repeat(64),
  ...over,
});

export const decision = (over: Partial<PolicyDecision> = {}): PolicyDecision => ({
  id: 'dec_0badc0de',
  ts: new Date().toISOString(),
  door: 'egress',
  sandbox: 'alpha',
  request: { host: 'evil.example', port: 443 },
  outcome: 'deny',
  reason: 'evil.example is not in the egress allowlist',
  layers: [
    {
      layer: 'org',
      verdict: 'deny',
      reason: 'not allowlisted',
      rules: [{ rule: 'data.aibox.org.egress.allow_domains', at: 'org/egress.rego:12' }],
    },
    { layer: 'project', verdict: 'abstain', reason: 'no opinion', rules: [] },
  ],
  effective: { allowDomains: ['registry.npmjs.org'] },
  revision: 'f'.repeat(64),
  ...over,
});
