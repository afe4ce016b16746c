/**
 * End to end, with a real aiboxd and a real gVisor sandbox: the key is stored with `aibox secret set` (stdin), the
 * sandbox calls its LLM proxy with curl through the host loopback (10.0.2.2 from inside), the fake upstream on
 * 127.0.0.1 receives the real key, and the key is nowhere in the sandbox: not in its environment, its files, or
 * any /proc entry it can read. The daemon log and the call records hold the prompt, never the key.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeLlm } from '../support/fake-llm.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const KEY = 'sk-ant-api03-E2E-real-key-never-in-sandbox-7f3a9c';
const PROMPT = 'please refactor the parser in src/parse.ts';
const SEARCH = `
import os, sys, base64
needle = base64.b64decode(sys.argv[1])
hits = []
for root, dirs, files in os.walk('/'):
    if root == '/':
        dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'dev')]
    for f in files:
        p = os.path.join(root, f)
        try:
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, 'rb') as fh:
                if needle in fh.read():
                    hits.append(p)
        except OSError:
            pass
for pid in [d for d in os.listdir('/proc') if d.isdigit()]:
    for name in ('environ', 'cmdline', 'status', 'maps', 'mountinfo'):
        try:
            with open(f'/proc/{pid}/{name}', 'rb') as fh:
                if needle in fh.read():
                    hits.append(f'/proc/{pid}/{name}')
        except OSError:
            pass
print('\\n'.join(hits + ['searched']))
`;
const run = requireHost(sandboxHostSupport(), 'llm-proxy-sandbox');

describe.skipIf(!run)('LLM proxy seen from inside a gVisor sandbox', () => {
  let upstream: FakeLlm;
  let daemon: TestDaemon;
  const name = 'llmbox';

  beforeAll(async () => {
    upstream = new FakeLlm({ chunks: 4, chunkDelayMs: 20 });
    await upstream.start();
    daemon = await startTestDaemon({
      name: 'llm',
      config: {
        llm: {
          providers: { anthropic: { upstream: upstream.url, credential: 'anthropic-api-key' } },
        },
      },
    });
    const stored = await daemon.cli(['secret', 'set', 'anthropic-api-key'], { input: `${KEY}\n` });
    expect(stored.exitCode, stored.stderr).toBe(0);
    expect(stored.stdout + stored.stderr).not.toContain(KEY);
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    // The project tightens the org's LLM policy (claude-*) to the haiku models: the proxy enforces the composed result.
    const project = await makeProject('llm');
    await mkdir(path.join(project, 'aibox'), { recursive: true });
    await writeFile(path.join(project, 'aibox', 'policy.yaml'), 'llm:\n  models: ["claude-haiku-*"]\n');
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  afterAll(async () => {
    await daemon?.stop();
    await upstream?.stop();
  });

  it('lists the secret by name only, and refuses a value on the command line', async () => {
    const list = await daemon.cli(['secret', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toMatchObject({
      backend: 'embedded',
      secrets: [{ name: 'anthropic-api-key' }],
    });
    expect(list.stdout).not.toContain(KEY);
    const argv = await daemon.cli(['secret', 'set', 'other-key', 'sk-ant-typed-into-argv-123456']);
    expect(argv.exitCode).not.toBe(0);
    expect((await daemon.cli(['secret', 'list'])).stdout).not.toContain('other-key');
  });

  it('forwards a call made with curl inside the sandbox, swapping the placeholder for the real key', async () => {
    const body = JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: PROMPT }],
    });
    const r = await daemon.exec(name, [
      'sh',
      '-c',
      `curl -sS --max-time 20 "$ANTHROPIC_BASE_URL/v1/messages" -H "x-api-key: $ANTHROPIC_API_KEY" -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' -d '${body}'`,
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ content: [{ text: 'Hello from the fake model.' }] });
    const got = upstream.requests.at(-1)!;
    expect(got.headers['x-api-key']).toBe(KEY);
    expect(JSON.parse(got.body).messages[0].content).toBe(PROMPT);
  });

  it('reaches the upstream only through its proxy: the upstream port itself is closed to the sandbox', async () => {
    const port = new URL(upstream.url).port;
    const before = upstream.requests.length;
    const r = await daemon.exec(name, [
      'sh',
      '-c',
      `curl -sS --max-time 5 -o /dev/null http://10.0.2.2:${port}/v1/models; echo rc=$?`,
    ]);
    expect(r.stdout).not.toContain('rc=0');
    expect(upstream.requests.length).toBe(before);
  });

  it('streams server-sent events through to the sandbox', async () => {
    const body = JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const r = await daemon.exec(name, [
      'sh',
      '-c',
      `curl -sSN --max-time 20 "$ANTHROPIC_BASE_URL/v1/messages" -H "x-api-key: $ANTHROPIC_API_KEY" -H 'content-type: application/json' -d '${body}'`,
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('event: message_start');
    expect(r.stdout).toContain('event: message_stop');
  });

  it('refuses a model the policy does not allow, with a decision id the agent can read', async () => {
    const body = JSON.stringify({
      model: 'claude-opus-4-1',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const before = upstream.requests.length;
    const r = await daemon.exec(name, [
      'sh',
      '-c',
      `curl -sS --max-time 20 -w '\\n%{http_code}' "$ANTHROPIC_BASE_URL/v1/messages" -H "x-api-key: $ANTHROPIC_API_KEY" -H 'content-type: application/json' -d '${body}'`,
    ]);
    const [json, code] = r.stdout.trim().split('\n');
    expect(code).toBe('403');
    expect(JSON.parse(json!)).toMatchObject({
      error: {
        type: 'permission_error',
        aibox_code: 'LLM_MODEL_DENIED',
        decision_id: expect.stringMatching(/^dec_/),
      },
    });
    expect(upstream.requests.length).toBe(before);
  });

  it('leaves no trace of the key in the sandbox environment, files or /proc', async () => {
    const env = await daemon.exec(name, ['env']);
    expect(env.stdout).toContain('ANTHROPIC_BASE_URL=http://10.0.2.2:');
    expect(env.stdout).toMatch(/ANTHROPIC_API_KEY=aibox-placeholder-/);
    expect(env.stdout).not.toContain(KEY);
    // The whole filesystem except the pseudo-filesystems, then the readable /proc files of every process. The key
    // travels base64-encoded in argv, so the search itself does not plant it in a /proc/*/cmdline.
    const search = await daemon.exec(name, ['python3', '-c', SEARCH, Buffer.from(KEY).toString('base64')]);
    expect(search.stderr).toBe('');
    expect(search.stdout.trim()).toBe('searched');
    // Control: the same search does find what is there, the placeholder in the processes' environment.
    const control = await daemon.exec(name, [
      'python3',
      '-c',
      SEARCH,
      Buffer.from('aibox-placeholder-').toString('base64'),
    ]);
    expect(control.stdout).toMatch(/\/proc\/\d+\/environ/);
  });

  it('records every call in the audit log with the prompt and never the key, nor in the daemon log', async () => {
    const log = await daemon.log();
    expect(log).not.toContain(KEY);
    const audit = await readFile(path.join(daemon.stateDir, 'audit', 'audit.jsonl'), 'utf8');
    const calls = audit
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { kind: string; sandbox?: string; data: Record<string, unknown> })
      .filter((r) => r.kind === 'llm-call');
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(calls.every((c) => c.sandbox === name)).toBe(true);
    expect(calls.map((c) => c.data['outcome'])).toEqual(expect.arrayContaining(['forwarded', 'refused']));
    expect(calls.find((c) => c.data['stream'] === true)?.data['usage']).toEqual({
      inputTokens: 12,
      outputTokens: 34,
    });
    expect(audit).toContain(PROMPT);
    expect(audit).not.toContain(KEY);
  });
});
