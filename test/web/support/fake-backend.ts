/**
 * A stand-in aiboxd for browser tests of the dashboard's screens: the real dashboard server (src/daemon/dashboard:
 * static files, token login, session cookie, CSRF) in front of scripted /v1 answers, an SSE stream the test can
 * push records into, and an exec WebSocket that speaks the real protocol (a tiny line-echo shell).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { fileURLToPath } from 'node:url';
import { AiboxError } from '../../../src/shared/errors.js';
import { installDashboard } from '../../../src/daemon/dashboard/index.js';

export const WEB_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));
export const FAKE_TOKEN = 'aibox_tok_fake_0123456789abcdef';

const now = Date.now();
const iso = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();

const sandboxes = [
  {
    id: 'sbx_alpha',
    name: 'alpha',
    path: '/home/dev/widgets',
    profile: 'default',
    state: 'running',
    image: 'localhost/aibox-base:2026.12',
    runtime: 'runsc',
    mode: 'rootless',
    createdAt: iso(42),
    protections: [
      { layer: 'runtime', state: 'on', detail: 'gVisor (systrap), rootless Podman' },
      { layer: 'egress', state: 'on', detail: 'allowlist proxy + DNS, nftables' },
      { layer: 'credentials', state: 'on', detail: 'LLM proxy: anthropic' },
      { layer: 'git', state: 'on', detail: 'staged pushes to acme/widgets' },
    ],
    endpoints: {
      git: 'http://10.0.2.2:40123/',
      llm: 'http://10.0.2.2:40124/',
      ssh: 'ssh alpha@127.0.0.1 -p 2222',
    },
    owner: 'dev',
  },
  {
    id: 'sbx_beta',
    name: 'beta',
    path: '/home/dev/docs',
    profile: 'strict',
    state: 'stopped',
    image: 'localhost/aibox-base:2026.12',
    runtime: 'runsc',
    mode: 'rootless',
    createdAt: iso(60 * 26),
    protections: [
      { layer: 'runtime', state: 'on', detail: 'gVisor' },
      { layer: 'egress', state: 'off', detail: 'stopped' },
    ],
    endpoints: {},
    owner: 'token ci-bot',
  },
];

const diff = `diff --git a/src/greet.ts b/src/greet.ts
index 3b18e51..a7c2f10 100644
--- a/src/greet.ts
+++ b/src/greet.ts
@@ -1,5 +1,9 @@
-export function greet(name: string): string {
-  return 'Hello ' + name;
+/** Greets someone, politely. */
+export function greet(name: string, excited = false): string {
+  const text = \`Hello, \${name}\`;
+  // Agents like exclamation marks.
+  return excited ? text + '!' : text;
 }
+
+export const DEFAULT_NAME = 'world';
diff --git a/README.md b/README.md
index 1111111..2222222 100644
--- a/README.md
+++ b/README.md
@@ -1,3 +1,4 @@
 # widgets
+Call \`greet(name, true)\` for enthusiasm.
`;

export interface FakeBackend {
  url: string;
  app: FastifyInstance;
  /** Sends one audit record to every open /v1/events stream. */
  emit(record: Record<string, unknown>): void;
  approvals: unknown[];
  close(): Promise<void>;
}

export async function startFakeBackend(): Promise<FakeBackend> {
  const app = Fastify();
  const approvals: unknown[] = [];
  const streams = new Set<NodeJS.WritableStream>();
  let seq = 100;
  const records: Record<string, unknown>[] = [];
  const rec = (
    minutesAgo: number,
    kind: string,
    sandbox: string | undefined,
    data: Record<string, unknown>,
    id?: string,
  ) => {
    const r = {
      seq: ++seq,
      ts: iso(minutesAgo),
      kind,
      ...(id ? { id } : {}),
      ...(sandbox ? { sandbox } : {}),
      data,
      prev: '0'.repeat(64),
      hash: 'a'.repeat(64),
    };
    records.push(r);
    return r;
  };
  rec(40, 'sandbox.created', 'alpha', { profile: 'default' });
  for (let i = 0; i < 24; i++)
    rec(38 - i * 1.5, 'llm-call', i % 3 === 0 ? 'beta' : 'alpha', {
      provider: i % 4 === 0 ? 'openai' : 'anthropic',
      model: 'claude',
      outcome: i === 7 ? 'refused' : 'forwarded',
      status: i === 7 ? 403 : 200,
      usage: { inputTokens: 800 + ((i * 137) % 900), outputTokens: 120 + ((i * 53) % 400) },
    });
  rec(
    30,
    'decision',
    'alpha',
    {
      id: 'dec_0e1f2a3b',
      door: 'egress',
      outcome: 'deny',
      reason: 'pastebin.com is not in the egress allowlist',
    },
    'dec_0e1f2a3b',
  );
  rec(
    29,
    'decision',
    'alpha',
    { id: 'dec_1111aaaa', door: 'egress', outcome: 'allow', reason: 'registry.npmjs.org is allowlisted' },
    'dec_1111aaaa',
  );
  rec(
    25,
    'decision',
    'alpha',
    { id: 'dec_2222bbbb', door: 'exec', outcome: 'deny', reason: 'nc is not allowed in this profile' },
    'dec_2222bbbb',
  );
  rec(
    20,
    'decision',
    'alpha',
    { id: 'dec_3333cccc', door: 'push', outcome: 'approve', reason: 'refs/heads/main needs a review' },
    'dec_3333cccc',
  );
  rec(15, 'push.pending', 'alpha', { ref: 'refs/heads/main' }, 'push_0a1b2c3d4e5f');
  rec(10, 'api.refused', 'alpha', { reason: 'SANDBOX_FORBIDDEN for uid 1001' });

  const push = {
    id: 'push_0a1b2c3d4e5f',
    sandbox: 'alpha',
    repo: 'acme/widgets',
    ref: 'refs/heads/main',
    stagingRef: 'refs/aibox/staging/alpha/push_0a1b2c3d4e5f',
    commit: '9f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b',
    state: 'pending',
    decisionId: 'dec_3333cccc',
    rule: 'project: protected main',
    createdAt: iso(15),
    updatedAt: iso(15),
  };

  app.setErrorHandler((err, _req, reply) => {
    const e = err as AiboxError;
    return reply
      .status(e.status ?? 500)
      .send({ error: { code: e.code ?? 'X', message: e.message, hint: e.hint ?? '' } });
  });
  const authenticate = (token: string) => {
    if (token !== FAKE_TOKEN)
      throw new AiboxError('TOKEN_INVALID', 'the bearer token is not valid', {
        status: 401,
        hint: 'Ask an operator for a token.',
      });
    return { subject: 'reviewer' };
  };
  await installDashboard(app, {
    webDir: WEB_DIR,
    secure: false,
    login: (token) => ({ ...authenticate(token), tokenId: 'tok_fake' }),
    // The stand-in API below checks a bearer header: the session's token stands in for the daemon's principal.
    resume: (_tokenId, request) => {
      request.headers.authorization = `Bearer ${FAKE_TOKEN}`;
      return { subject: 'reviewer' };
    },
  });
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/')) return;
    const auth = request.headers.authorization;
    if (!auth) throw new AiboxError('TOKEN_MISSING', 'no bearer token', { status: 401, hint: 'log in' });
    authenticate(auth.replace(/^Bearer /, ''));
  });
  await app.register(websocket);

  app.get('/v1/sandboxes', async () => ({ sandboxes }));
  app.get('/v1/sessions', async () => ({
    sessions: [
      {
        id: 'ses_7f3a9c21',
        state: 'running',
        profile: 'session',
        owner: 'tok_4be1c0de',
        createdAt: iso(12),
        lastActivityAt: iso(1),
        expiresAt: new Date(now + 48 * 60_000).toISOString(),
        idleExpiresAt: new Date(now + 9 * 60_000).toISOString(),
        warm: true,
      },
    ],
  }));
  app.get<{ Params: { name: string } }>('/v1/sandboxes/:name', async (req) => {
    const s = sandboxes.find((x) => x.name === req.params.name);
    if (!s)
      throw new AiboxError('SANDBOX_NOT_FOUND', `no sandbox ${req.params.name}`, {
        status: 404,
        hint: 'aibox list',
      });
    return s;
  });
  app.get('/v1/sandboxes/:name/packs', async () => ({
    sandbox: 'alpha',
    packs: [
      {
        name: 'node-22',
        version: '22.11.0',
        key: 'k',
        kind: 'tool',
        installedAt: iso(40),
        mcpEnabled: false,
        path: '/opt/packs/node',
      },
      {
        name: 'github-mcp',
        version: '1.4.0',
        key: 'k2',
        kind: 'mcp',
        installedAt: iso(39),
        mcpEnabled: true,
        path: '/opt/packs/gh',
      },
    ],
  }));
  app.get('/v1/policy', async () => ({
    sandbox: 'alpha',
    revision: 'c0ffee00c0ffee00c0ffee00c0ffee00',
    layers: ['org', 'team:platform', 'project'],
    doors: {
      egress: { allowDomains: ['registry.npmjs.org', 'api.anthropic.com', 'github.com'], allowPorts: [443] },
      exec: { deny: ['nc', 'nmap'] },
      push: { requireApproval: ['refs/heads/main'], deny: ['refs/heads/release/**'] },
      llm: { providers: ['anthropic'], maxTokensPerDay: 2000000 },
    },
    errors: [],
  }));
  app.get<{ Querystring: { state?: string } }>('/v1/pushes', async (req) => ({
    pushes: !req.query.state || req.query.state === push.state ? [push] : [],
  }));
  app.post('/v1/pushes/:id/show', async () => ({
    push,
    target: '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b',
    commits: [
      { sha: push.commit, author: 'Agent <agent@example.invalid>', subject: 'greet: optional excitement' },
      {
        sha: '8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d',
        author: 'Agent <agent@example.invalid>',
        subject: 'README: mention greet',
      },
    ],
    stat: ' README.md    | 1 +\n src/greet.ts | 8 ++++++--\n 2 files changed, 7 insertions(+), 2 deletions(-)',
    diff,
    diffTruncated: false,
  }));
  app.post<{ Body: { commit?: string } }>('/v1/pushes/:id/approve', async (req) => {
    approvals.push(req.body);
    if (req.body?.commit !== push.commit)
      throw new AiboxError('PUSH_MOVED', 'the staging ref moved', { status: 409, hint: 'show it again' });
    Object.assign(push, {
      state: 'approved',
      reviewedCommit: push.commit,
      updatedAt: new Date().toISOString(),
    });
    return push;
  });
  app.get<{ Querystring: { sandbox?: string; kind?: string; limit?: string } }>('/v1/audit', async (req) => ({
    records: records
      .filter(
        (r) =>
          (!req.query.sandbox || r['sandbox'] === req.query.sandbox) &&
          (!req.query.kind || r['kind'] === req.query.kind),
      )
      .slice(-Number(req.query.limit ?? 50)),
  }));
  app.get('/v1/egress/decisions', async () => {
    const at = (minutesAgo: number) => now - minutesAgo * 60_000;
    const req = (
      id: string,
      minutesAgo: number,
      layer: 'dns' | 'proxy',
      verdict: 'allow' | 'deny',
      kind: string,
      target: string,
      reason: string,
    ) => ({
      id,
      sandboxId: 'sbx_alpha',
      sandbox: 'alpha',
      time: at(minutesAgo),
      layer,
      verdict,
      reason,
      target,
      kind,
    });
    const decisions = [
      req('dec_0e1f2a3b', 30, 'proxy', 'deny', 'CONNECT', 'pastebin.com:443', 'EGRESS_DOMAIN_NOT_ALLOWED'),
      req('dec_5a5a5a5a', 31, 'dns', 'deny', 'A', 'pastebin.com', 'DNS_NOT_ALLOWED'),
      req(
        'dec_4b4b4b4b',
        33,
        'proxy',
        'allow',
        'GET',
        'https://registry.npmjs.org/left-pad',
        'EGRESS_ALLOWED',
      ),
      req('dec_3c3c3c3c', 33, 'dns', 'allow', 'A', 'registry.npmjs.org', 'DNS_ALLOWED'),
      req('dec_2d2d2d2d', 35, 'proxy', 'allow', 'CONNECT', 'api.anthropic.com:443', 'EGRESS_ALLOWED'),
    ];
    return { decisions, matched: decisions.length };
  });
  app.get('/v1/audit/verify', async () => ({
    ok: true,
    records: seq,
    lastSeq: seq,
    lastHash: 'a'.repeat(64),
  }));
  app.get('/v1/policy/decisions/:id', async () => ({
    id: 'dec_0e1f2a3b',
    ts: iso(30),
    door: 'egress',
    sandbox: 'alpha',
    request: { host: 'pastebin.com', port: 443, method: 'CONNECT' },
    outcome: 'deny',
    reason: 'pastebin.com is not in the egress allowlist',
    layers: [
      {
        layer: 'org',
        verdict: 'deny',
        reason: 'paste sites are blocked org-wide',
        rules: [{ rule: 'data.aibox.org.egress.deny_domains', at: 'org/egress.rego:18' }],
      },
      { layer: 'team:platform', verdict: 'abstain', reason: 'no rule for this host', rules: [] },
      {
        layer: 'project',
        verdict: 'abstain',
        reason: 'not in aibox/policy.yaml',
        rules: [{ rule: 'egress.allow', at: 'aibox/policy.yaml:4' }],
      },
    ],
    effective: { allowDomains: ['registry.npmjs.org', 'api.anthropic.com', 'github.com'] },
    revision: 'c0ffee00c0ffee00c0ffee00c0ffee00',
  }));
  app.get('/v1/events', async (request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    reply.raw.write('retry: 1000\n\n');
    streams.add(reply.raw);
    request.raw.once('close', () => streams.delete(reply.raw));
  });
  app.get('/v1/sandboxes/:name/exec/ws', { websocket: true }, (socket) => {
    let line = '';
    const out = (text: string) => socket.send(Buffer.concat([Buffer.from([1]), Buffer.from(text)]));
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        const m = JSON.parse(data.toString()) as { type: string };
        if (m.type === 'start') out('agent@alpha:/workspace$ ');
        return;
      }
      for (const ch of data.subarray(1).toString()) {
        if (ch === '\r') {
          out(
            '\r\n' +
              (line.startsWith('echo ') ? line.slice(5) + '\r\n' : `ran: ${line}\r\n`) +
              'agent@alpha:/workspace$ ',
          );
          line = '';
        } else {
          line += ch;
          out(ch);
        }
      }
    });
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    approvals,
    emit(record) {
      for (const s of streams)
        s.write(
          `event: audit\ndata: ${JSON.stringify({ seq: ++seq, ts: new Date().toISOString(), prev: '0'.repeat(64), hash: 'a'.repeat(64), data: {}, ...record })}\n\n`,
        );
    },
    close: async () => {
      for (const s of streams) s.end();
      await app.close();
    },
  };
}
