import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CredentialsConfig,
  EmbeddedSecretStore,
  SecretValue,
  VaultConfig,
  VaultCredentialProvider,
  type CredentialProvider,
} from '../../src/credentials/index.js';
import {
  LlmConfig,
  LlmPolicy,
  LlmProxy,
  type LlmCallRecord,
  type LlmConfigInput,
  type LlmPolicyInput,
} from '../../src/llm-proxy/index.js';
import { captureLogs, ManualClock } from '../credentials/helpers.js';
import { FakeLlm } from '../support/fake-llm.js';
import { FakeVault } from '../support/fake-vault.js';
import { send } from './helpers.js';

const ANTHROPIC_KEY = 'sk-ant-api03-REAL-KEY-for-tests-0123456789';
const OPENAI_KEY = 'sk-proj-REAL-openai-key-for-tests-987654';
const PROMPT = 'Summarise the file src/index.ts for me, please';
const ALLOW_ALL: LlmPolicyInput = { providers: ['anthropic', 'openai'], models: ['claude-*', 'gpt-4o*'] };

describe('LlmProxy', () => {
  let clock: ManualClock;
  let log: ReturnType<typeof captureLogs>;
  let upstream: FakeLlm;
  let store: EmbeddedSecretStore;
  let records: LlmCallRecord[];
  const cleanups: (() => Promise<void>)[] = [];

  async function startProxy(
    opts: {
      policy?: LlmPolicyInput;
      config?: Partial<LlmConfigInput>;
      credentials?: CredentialProvider;
      upstreamUrl?: string;
      caFile?: string;
      payloadLogging?: 'full' | 'metadata';
    } = {},
  ): Promise<LlmProxy> {
    const url = opts.upstreamUrl ?? upstream.url;
    const proxy = new LlmProxy({
      sandbox: { id: 'sbx_test01', name: 'demo' },
      config: LlmConfig.parse({
        providers: {
          anthropic: {
            upstream: url,
            credential: 'anthropic-api-key',
            ...(opts.caFile ? { caFile: opts.caFile } : {}),
          },
          openai: {
            upstream: url,
            credential: 'openai-api-key',
            ...(opts.caFile ? { caFile: opts.caFile } : {}),
          },
        },
        ...opts.config,
      }),
      policy: LlmPolicy.parse(opts.policy ?? ALLOW_ALL),
      credentials: opts.credentials ?? store,
      sink: { record: (r) => void records.push(r) },
      logger: log.logger,
      clock,
      redactor: log.redactor,
      ...(opts.payloadLogging ? { payloadLogging: opts.payloadLogging } : {}),
    });
    await proxy.start();
    cleanups.push(() => proxy.stop());
    return proxy;
  }

  const anthropicHeaders = (p: LlmProxy) => ({
    'x-api-key': p.placeholder,
    'anthropic-version': '2023-06-01',
  });
  const message = (extra: Record<string, unknown> = {}) => ({
    model: 'claude-sonnet-4-5',
    max_tokens: 256,
    messages: [{ role: 'user', content: PROMPT }],
    ...extra,
  });

  beforeEach(async () => {
    clock = new ManualClock();
    log = captureLogs();
    records = [];
    upstream = new FakeLlm();
    await upstream.start();
    cleanups.push(() => upstream.stop());
    const secretsRoot = await mkdtemp(join(tmpdir(), 'aibox-llm-'));
    cleanups.push(() => rm(secretsRoot, { recursive: true, force: true }));
    store = new EmbeddedSecretStore({
      dir: join(secretsRoot, 'secrets'),
      ttl: CredentialsConfig.parse({}).ttl,
      kinds: {},
      logger: log.logger,
      clock,
      redactor: log.redactor,
    });
    await store.set('anthropic-api-key', new SecretValue(ANTHROPIC_KEY));
    await store.set('openai-api-key', new SecretValue(OPENAI_KEY));
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    const logs = log.lines.join('');
    for (const key of [ANTHROPIC_KEY, OPENAI_KEY]) {
      expect(logs).not.toContain(key);
      expect(JSON.stringify(records)).not.toContain(key);
    }
  });

  it('replaces the placeholder with the real key (x-api-key) and forwards to the upstream', async () => {
    const proxy = await startProxy();
    const reply = await send(proxy.port, '/anthropic/v1/messages', {
      headers: anthropicHeaders(proxy),
      body: message(),
    });
    expect(reply.status).toBe(200);
    expect((reply.json as { content: { text: string }[] }).content[0]!.text).toBe(
      'Hello from the fake model.',
    );
    const got = upstream.requests[0]!;
    expect(got.path).toBe('/v1/messages');
    expect(got.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(got.headers['anthropic-version']).toBe('2023-06-01');
    expect(JSON.stringify(got.headers)).not.toContain(proxy.placeholder);
    expect(JSON.parse(got.body).messages[0].content).toBe(PROMPT);
  });

  it('sends the OpenAI key as a Bearer token and counts streamed usage', async () => {
    const proxy = await startProxy();
    const reply = await send(proxy.port, '/openai/v1/chat/completions', {
      headers: { authorization: `Bearer ${proxy.placeholder}` },
      body: { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: PROMPT }] },
    });
    expect(reply.status).toBe(200);
    expect(upstream.requests[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(reply.text).toContain('[DONE]');
    await until(() => records.length === 1);
    expect(records[0]).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o-mini',
      stream: true,
      usage: { inputTokens: 12, outputTokens: 34 },
    });
  });

  it('records the call with prompt, answer, usage, latency and status, and never the key', async () => {
    const proxy = await startProxy();
    await send(proxy.port, '/anthropic/v1/messages', { headers: anthropicHeaders(proxy), body: message() });
    await until(() => records.length === 1);
    const r = records[0]!;
    expect(r).toMatchObject({
      sandboxId: 'sbx_test01',
      sandboxName: 'demo',
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
      outcome: 'forwarded',
      status: 200,
      payloadLogging: 'full',
      usage: { inputTokens: 12, outputTokens: 34 },
    });
    expect(r.decisionId).toMatch(/^dec_/);
    expect(r.latencyMs).toBeGreaterThan(0);
    expect(JSON.stringify(r.request)).toContain(PROMPT);
    expect(JSON.stringify(r.response)).toContain('Hello from the fake model.');
  });

  it('passes streamed chunks through as they are sent, without buffering', async () => {
    await upstream.stop();
    upstream = new FakeLlm({ chunkDelayMs: 60, chunks: 6 });
    await upstream.start();
    cleanups.push(() => upstream.stop());
    const proxy = await startProxy();
    const reply = await send(proxy.port, '/anthropic/v1/messages', {
      headers: anthropicHeaders(proxy),
      body: message({ stream: true }),
    });
    expect(reply.status).toBe(200);
    expect(upstream.sentAt.length).toBe(9);
    // Each event reached the client before the upstream sent the next one (60 ms later).
    expect(reply.chunks.length).toBeGreaterThanOrEqual(8);
    const firstArrival = reply.chunks[0]!.at;
    expect(firstArrival).toBeLessThan(upstream.sentAt[1]!);
    for (let i = 1; i < upstream.sentAt.length - 1; i++) {
      const arrived = reply.chunks.find((c) => c.at >= upstream.sentAt[i]!);
      expect(arrived!.at).toBeLessThan(upstream.sentAt[i + 1]!);
    }
    await until(() => records.length === 1);
    expect(records[0]!.usage).toEqual({ inputTokens: 12, outputTokens: 34 });
    expect(records[0]!.ttfbMs).toBeLessThan(records[0]!.latencyMs);
  });

  it('refuses a model the policy does not allow, in the provider error shape, with a decision id', async () => {
    const proxy = await startProxy({ policy: { providers: ['anthropic'], models: ['claude-haiku-*'] } });
    const reply = await send(proxy.port, '/anthropic/v1/messages', {
      headers: anthropicHeaders(proxy),
      body: message(),
    });
    expect(reply.status).toBe(403);
    const body = reply.json as {
      type: string;
      error: { type: string; message: string; decision_id: string; aibox_code: string };
    };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('permission_error');
    expect(body.error.aibox_code).toBe('LLM_MODEL_DENIED');
    expect(body.error.decision_id).toMatch(/^dec_/);
    expect(body.error.message).toContain('claude-sonnet-4-5 is not in llm.allowed_models');
    expect(body.error.message).toContain(body.error.decision_id);
    expect(reply.headers['x-aibox-decision-id']).toBe(body.error.decision_id);
    expect(upstream.requests).toHaveLength(0);
    await until(() => records.length === 1);
    expect(records[0]).toMatchObject({
      outcome: 'refused',
      rule: 'llm.allowed_models',
      decisionId: body.error.decision_id,
      status: 403,
    });
  });

  it('refuses a provider the policy does not allow in the OpenAI error shape', async () => {
    const proxy = await startProxy({ policy: { providers: ['anthropic'], models: ['*'] } });
    const reply = await send(proxy.port, '/openai/v1/chat/completions', {
      headers: { authorization: `Bearer ${proxy.placeholder}` },
      body: { model: 'gpt-4o', messages: [] },
    });
    expect(reply.status).toBe(403);
    expect(reply.json).toMatchObject({
      error: { code: 'llm_provider_denied', type: 'invalid_request_error' },
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it("refuses requests without this sandbox's placeholder key", async () => {
    const proxy = await startProxy();
    const attempts: Record<string, string>[] = [
      {},
      { 'x-api-key': 'sk-ant-my-own-key-123456' },
      { 'x-api-key': `${proxy.placeholder}x` },
    ];
    for (const headers of attempts) {
      const reply = await send(proxy.port, '/anthropic/v1/messages', { headers, body: message() });
      expect(reply.status).toBe(401);
      expect(reply.json).toMatchObject({
        error: { type: 'authentication_error', aibox_code: 'LLM_PLACEHOLDER_MISMATCH' },
      });
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('fails closed when the credential cannot be obtained: nothing goes upstream', async () => {
    await store.remove('anthropic-api-key');
    const proxy = await startProxy();
    const reply = await send(proxy.port, '/anthropic/v1/messages', {
      headers: anthropicHeaders(proxy),
      body: message(),
    });
    expect(reply.status).toBe(503);
    expect(reply.json).toMatchObject({ error: { aibox_code: 'LLM_CREDENTIAL_UNAVAILABLE' } });
    expect(upstream.requests).toHaveLength(0);
    await until(() => records.length === 1);
    expect(records[0]).toMatchObject({ outcome: 'failed', rule: 'aibox.credentials' });
  });

  it('keeps working on a cached Vault key during an outage until its TTL ends, then fails closed', async () => {
    const vault = new FakeVault(clock);
    await vault.start();
    cleanups.push(() => vault.stop());
    vault.addAppRole('role-1', 'secret-id-for-proxy-test', { tokenTtl: 3600 });
    vault.putKv('aibox/anthropic-api-key', { value: ANTHROPIC_KEY });
    const provider = new VaultCredentialProvider({
      config: VaultConfig.parse({
        address: vault.address,
        auth: { method: 'approle', roleId: 'role-1', secretIdFile: '/unused' },
      }),
      auth: {
        method: 'approle',
        roleId: 'role-1',
        secretId: new SecretValue('secret-id-for-proxy-test'),
        mount: 'approle',
      },
      ttl: CredentialsConfig.parse({}).ttl,
      kinds: {},
      logger: log.logger,
      clock,
      redactor: log.redactor,
    });
    cleanups.push(() => provider.close());
    const proxy = await startProxy({ credentials: provider });
    const call = () =>
      send(proxy.port, '/anthropic/v1/messages', { headers: anthropicHeaders(proxy), body: message() });

    expect((await call()).status).toBe(200);
    await vault.stop();
    clock.advance(7 * 3600_000);
    await provider.tick();
    expect((await call()).status).toBe(200); // cached key, still within its 8 h TTL
    expect(upstream.requests.at(-1)!.headers['x-api-key']).toBe(ANTHROPIC_KEY);

    clock.advance(3600_000);
    const refused = await call();
    expect(refused.status).toBe(503);
    expect(refused.json).toMatchObject({ error: { aibox_code: 'LLM_CREDENTIAL_UNAVAILABLE' } });
    expect((refused.json as { error: { message: string } }).error.message).toContain('Vault');
    expect(upstream.requests).toHaveLength(2);

    await vault.start();
    expect((await call()).status).toBe(200);
    expect(log.lines.join('')).not.toContain('secret-id-for-proxy-test');
  });

  it('logs metadata only when the project turns payload logging down', async () => {
    const proxy = await startProxy({ payloadLogging: 'metadata' });
    await send(proxy.port, '/anthropic/v1/messages', { headers: anthropicHeaders(proxy), body: message() });
    await until(() => records.length === 1);
    expect(records[0]!.payloadLogging).toBe('metadata');
    expect(records[0]!.usage).toEqual({ inputTokens: 12, outputTokens: 34 });
    expect(JSON.stringify(records[0])).not.toContain(PROMPT);
    expect(records[0]).not.toHaveProperty('response');
  });

  it('enforces the per-sandbox token budget, request rate and max_tokens limits', async () => {
    const proxy = await startProxy({
      policy: { ...ALLOW_ALL, limits: { tokens_per_day: 60, max_tokens_per_request: 1000 } },
    });
    const call = (extra = {}) =>
      send(proxy.port, '/anthropic/v1/messages', { headers: anthropicHeaders(proxy), body: message(extra) });
    expect((await call({ max_tokens: 4096 })).json).toMatchObject({
      error: { aibox_code: 'LLM_REQUEST_TOO_LARGE' },
    });
    expect((await call()).status).toBe(200); // 46 tokens used
    await until(() => records.length === 2);
    expect((await call()).status).toBe(200); // 46 < 60: allowed, now 92
    await until(() => records.length === 3);
    const over = await call();
    expect(over.status).toBe(429);
    expect(over.json).toMatchObject({
      error: { type: 'rate_limit_error', aibox_code: 'LLM_BUDGET_EXHAUSTED' },
    });
    clock.advance(24 * 3600_000 + 1);
    expect((await call()).status).toBe(200);

    proxy.setPolicy(LlmPolicy.parse({ ...ALLOW_ALL, limits: { requests_per_minute: 1 } }));
    clock.advance(61_000);
    expect((await call()).status).toBe(200);
    expect((await call()).json).toMatchObject({ error: { aibox_code: 'LLM_RATE_LIMITED' } });
  });

  it('masks a key that the upstream echoes back, in the reply and in the record', async () => {
    await upstream.stop();
    upstream = new FakeLlm({ echoKey: true });
    await upstream.start();
    cleanups.push(() => upstream.stop());
    const proxy = await startProxy();
    const reply = await send(proxy.port, '/anthropic/v1/messages', {
      headers: anthropicHeaders(proxy),
      body: message(),
    });
    expect(reply.text).not.toContain(ANTHROPIC_KEY);
    expect(reply.text).toContain('[REDACTED]');
    const streamed = await send(proxy.port, '/anthropic/v1/messages', {
      headers: anthropicHeaders(proxy),
      body: message({ stream: true }),
    });
    expect(streamed.text).not.toContain(ANTHROPIC_KEY);
  });

  it('refuses unknown providers and dot segments in paths', async () => {
    const proxy = await startProxy();
    expect((await send(proxy.port, '/gemini/v1/models', { headers: anthropicHeaders(proxy) })).status).toBe(
      404,
    );
    expect(
      (await send(proxy.port, '/anthropic/v1/../../admin', { headers: anthropicHeaders(proxy) })).status,
    ).toBe(400);
    expect(upstream.requests).toHaveLength(0);
  });

  describe('request shapes: every path is checked or refused', () => {
    const refusedWith = (r: { status: number; json: unknown }, status: number, code: string) => {
      expect(r.status).toBe(status);
      // Anthropic's error shape carries aibox_code; OpenAI's carries the code lower-cased.
      const e = (r.json as { error: { aibox_code?: string; code?: string } }).error;
      expect(e.aibox_code ?? e.code?.toUpperCase()).toBe(code);
    };
    const batch = (items: Record<string, unknown>[]) => ({
      requests: items.map((params, i) => ({ custom_id: `r${i}`, params })),
    });

    it('checks every model of an Anthropic message batch (requests[].params.model)', async () => {
      const proxy = await startProxy();
      const post = (items: Record<string, unknown>[]) =>
        send(proxy.port, '/anthropic/v1/messages/batches', {
          headers: anthropicHeaders(proxy),
          body: batch(items),
        });
      refusedWith(await post([message(), message({ model: 'o3-pro' }), message()]), 403, 'LLM_MODEL_DENIED');
      expect(upstream.requests).toHaveLength(0);
      await post([message(), message({ model: 'claude-haiku-4-5' })]);
      expect(upstream.requests.map((q) => q.path)).toEqual(['/v1/messages/batches']);
    });

    it('checks max_tokens of every batch item against the per-request limit', async () => {
      const proxy = await startProxy({ policy: { ...ALLOW_ALL, limits: { max_tokens_per_request: 1000 } } });
      const r = await send(proxy.port, '/anthropic/v1/messages/batches', {
        headers: anthropicHeaders(proxy),
        body: batch([message(), message({ max_tokens: 4096 })]),
      });
      refusedWith(r, 403, 'LLM_REQUEST_TOO_LARGE');
      expect(upstream.requests).toHaveLength(0);
    });

    it('charges a batch its declared max_tokens up front and refuses one the budget cannot cover', async () => {
      const proxy = await startProxy({ policy: { ...ALLOW_ALL, limits: { tokens_per_day: 1000 } } });
      const post = (n: number) =>
        send(proxy.port, '/anthropic/v1/messages/batches', {
          headers: anthropicHeaders(proxy),
          body: batch(Array.from({ length: n }, () => message({ max_tokens: 300 }))),
        });
      refusedWith(await post(4), 429, 'LLM_BUDGET_EXHAUSTED'); // 1200 > 1000
      expect(upstream.requests).toHaveLength(0);
      const ok = await post(3); // 900 <= 1000
      expect(upstream.requests).toHaveLength(1);
      expect(ok.status).not.toBe(429);
      refusedWith(await post(1), 429, 'LLM_BUDGET_EXHAUSTED'); // 900 + 300 > 1000
    });

    it('refuses a batch item without a model or max_tokens', async () => {
      const proxy = await startProxy();
      const r = await send(proxy.port, '/anthropic/v1/messages/batches', {
        headers: anthropicHeaders(proxy),
        body: { requests: [{ custom_id: 'a', params: { messages: [] } }] },
      });
      refusedWith(r, 400, 'LLM_REQUEST_INVALID');
      expect(upstream.requests).toHaveLength(0);
    });

    it('refuses unknown API paths with a structured error, before anything goes upstream', async () => {
      const proxy = await startProxy();
      for (const path of ['/anthropic/v1/complete', '/anthropic/v1/organizations/keys', '/anthropic/admin']) {
        const r = await send(proxy.port, path, {
          headers: anthropicHeaders(proxy),
          body: message({ model: 'o3-pro' }),
        });
        refusedWith(r, 403, 'LLM_ENDPOINT_NOT_ALLOWED');
        expect(r.headers['x-aibox-decision-id']).toMatch(/^dec_/);
      }
      const o = await send(proxy.port, '/openai/v1/fine_tuning/jobs', {
        headers: { authorization: `Bearer ${proxy.placeholder}` },
        body: { model: 'gpt-4o-mini', training_file: 'file-1' },
      });
      refusedWith(o, 403, 'LLM_ENDPOINT_NOT_ALLOWED');
      expect(upstream.requests).toHaveLength(0);
      await until(() => records.length === 4);
      expect(records.every((r) => r.outcome === 'refused')).toBe(true);
    });

    it('refuses OpenAI batches and file uploads: their requests live in files the proxy cannot check', async () => {
      const proxy = await startProxy();
      const auth = { authorization: `Bearer ${proxy.placeholder}` };
      refusedWith(
        await send(proxy.port, '/openai/v1/batches', {
          headers: auth,
          body: { input_file_id: 'file-abc', endpoint: '/v1/chat/completions', completion_window: '24h' },
        }),
        403,
        'LLM_ENDPOINT_NOT_ALLOWED',
      );
      refusedWith(
        await send(proxy.port, '/openai/v1/files', {
          headers: { ...auth, 'content-type': 'multipart/form-data; boundary=x' },
          body: '--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--x--\r\n',
        }),
        403,
        'LLM_ENDPOINT_NOT_ALLOWED',
      );
      expect(upstream.requests).toHaveLength(0);
    });

    it('refuses a body that is not a JSON object, whatever its content type says', async () => {
      const proxy = await startProxy();
      const denied = JSON.stringify(message({ model: 'o3-pro' }));
      for (const [type, body] of [
        ['text/plain', denied],
        ['application/x-www-form-urlencoded', `model=o3-pro&max_tokens=5`],
        ['application/json', JSON.stringify([message({ model: 'o3-pro' })])],
        ['application/json', JSON.stringify(message({ model: undefined }))],
      ] as const) {
        const r = await send(proxy.port, '/anthropic/v1/messages', {
          headers: { ...anthropicHeaders(proxy), 'content-type': type },
          body,
        });
        expect([400, 403], `${type} ${body}`).toContain(r.status);
      }
      expect(upstream.requests).toHaveLength(0);
    });

    it('applies max_tokens_per_request to what a request can produce: stated, and times n completions', async () => {
      const proxy = await startProxy({ policy: { ...ALLOW_ALL, limits: { max_tokens_per_request: 1000 } } });
      const auth = { authorization: `Bearer ${proxy.placeholder}` };
      const chat = (extra: Record<string, unknown>) =>
        send(proxy.port, '/openai/v1/chat/completions', {
          headers: auth,
          body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...extra },
        });
      refusedWith(await chat({}), 403, 'LLM_REQUEST_TOO_LARGE');
      refusedWith(await chat({ max_tokens: 600, n: 2 }), 403, 'LLM_REQUEST_TOO_LARGE');
      expect(upstream.requests).toHaveLength(0);
      expect((await chat({ max_completion_tokens: 500, n: 2 })).status).toBe(200);
    });

    it('still forwards the read-only paths (model list, batch status) and token counting for allowed models', async () => {
      const proxy = await startProxy();
      expect(
        (await send(proxy.port, '/anthropic/v1/models', { headers: anthropicHeaders(proxy) })).status,
      ).toBe(200);
      await send(proxy.port, '/anthropic/v1/messages/batches/msgbatch_01abc', {
        headers: anthropicHeaders(proxy),
      });
      refusedWith(
        await send(proxy.port, '/anthropic/v1/messages/count_tokens', {
          headers: anthropicHeaders(proxy),
          body: { model: 'o3-pro', messages: [] },
        }),
        403,
        'LLM_MODEL_DENIED',
      );
      expect(upstream.requests.map((q) => q.path)).toEqual([
        '/v1/models',
        '/v1/messages/batches/msgbatch_01abc',
      ]);
    });
  });

  it('gives the sandbox base URLs and placeholders, never a real key', async () => {
    const proxy = await startProxy();
    const env = proxy.sandboxEnv();
    expect(env['ANTHROPIC_BASE_URL']).toBe(`http://10.0.2.2:${proxy.port}/anthropic`);
    expect(env['OPENAI_BASE_URL']).toBe(`http://10.0.2.2:${proxy.port}/openai/v1`);
    expect(env['ANTHROPIC_API_KEY']).toBe(proxy.placeholder);
    expect(JSON.stringify(env)).not.toContain(ANTHROPIC_KEY);
  });

  describe('over TLS', () => {
    const dir = join(tmpdir(), `aibox-llm-tls-${process.pid}`);
    const haveOpenssl = existsSync('/usr/bin/openssl');

    it.skipIf(!haveOpenssl)(
      'verifies the upstream certificate against the configured CA and refuses an unknown one',
      async () => {
        execFileSync('mkdir', ['-p', dir]);
        cleanups.push(() => rm(dir, { recursive: true, force: true }));
        execFileSync(
          '/usr/bin/openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-days',
            '1',
            '-subj',
            '/CN=127.0.0.1',
            '-addext',
            'subjectAltName=IP:127.0.0.1',
            '-keyout',
            join(dir, 'key.pem'),
            '-out',
            join(dir, 'cert.pem'),
          ],
          { stdio: 'ignore' },
        );
        const tlsUpstream = new FakeLlm({
          tls: {
            key: await readFile(join(dir, 'key.pem'), 'utf8'),
            cert: await readFile(join(dir, 'cert.pem'), 'utf8'),
          },
        });
        await tlsUpstream.start();
        cleanups.push(() => tlsUpstream.stop());

        const trusting = await startProxy({ upstreamUrl: tlsUpstream.url, caFile: join(dir, 'cert.pem') });
        const ok = await send(trusting.port, '/anthropic/v1/messages', {
          headers: anthropicHeaders(trusting),
          body: message(),
        });
        expect(ok.status).toBe(200);
        expect(tlsUpstream.requests[0]!.headers['x-api-key']).toBe(ANTHROPIC_KEY);

        const strict = await startProxy({ upstreamUrl: tlsUpstream.url });
        const refused = await send(strict.port, '/anthropic/v1/messages', {
          headers: anthropicHeaders(strict),
          body: message(),
        });
        expect(refused.status).toBe(502);
        expect(refused.json).toMatchObject({ error: { aibox_code: 'LLM_UPSTREAM_FAILED' } });
        expect(tlsUpstream.requests).toHaveLength(1);
      },
    );
  });
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
