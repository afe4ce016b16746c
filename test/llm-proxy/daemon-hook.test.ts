import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDaemonConfig } from '../../src/config/index.js';
import { buildApp } from '../../src/daemon/app.js';
import type { DaemonServices } from '../../src/daemon/services/index.js';
import { CredentialsService } from '../../src/daemon/services/credentials.js';
import { LlmProxyHook, type LlmPolicySource } from '../../src/daemon/services/llm-proxy.js';
import type { RuntimePort } from '../../src/daemon/services/runtime-port.js';
import { LlmPolicy } from '../../src/llm-proxy/index.js';
import { systemClock } from '../../src/shared/index.js';
import { captureLogs } from '../credentials/helpers.js';
import { FakeLlm } from '../support/fake-llm.js';
import { send } from './helpers.js';

const KEY = 'sk-ant-api03-daemon-wiring-test-key-42';
/** The sandbox's llm door in these tests (the policy layer's decision, given by the test). */
const ANTHROPIC_CLAUDE = LlmPolicy.parse({ providers: ['anthropic'], models: ['claude-*'] });

describe('the daemon side: /v1/secrets and the llm-proxy sandbox hook', () => {
  let stateDir: string;
  let upstream: FakeLlm;
  let log: ReturnType<typeof captureLogs>;
  const cleanups: (() => Promise<unknown>)[] = [];
  const credentialsOf = new Map<LlmProxyHook, CredentialsService>();
  /** What the hook wrote to the audit log. */
  const audited: { kind: string; data: Record<string, unknown> }[] = [];

  async function hook(policy: Partial<LlmPolicySource> = {}): Promise<LlmProxyHook> {
    const base = await loadDaemonConfig(undefined, { stateDir, socket: join(stateDir, 'sock') });
    const config = {
      ...base,
      llm: {
        ...base.llm,
        providers: {
          anthropic: { upstream: upstream.url, credential: 'anthropic-api-key', timeout: 60_000 },
        },
      },
    };
    const credentials = await CredentialsService.create({
      config: config.credentials,
      stateDir: config.stateDir,
      logger: log.logger,
      clock: systemClock,
      redactor: log.redactor,
    });
    cleanups.push(() => credentials.close());
    const h = await LlmProxyHook.create({
      config,
      logger: log.logger,
      runtime: {} as RuntimePort,
      daemonId: 'test',
      credentials,
      audit: {
        append: async (entry) => {
          audited.push(entry);
        },
      },
      policy: {
        llmPolicyFor: () => Promise.resolve(ANTHROPIC_CLAUDE),
        onLlmPolicyChange: () => () => undefined,
        ...policy,
      },
    });
    credentialsOf.set(h, credentials);
    return h;
  }

  async function app(h: LlmProxyHook) {
    const services = {
      hooks: [h],
      credentials: credentialsOf.get(h),
      config: { sessions: { listener: { enabled: false } } },
      httpLogger: log.logger as unknown as FastifyBaseLogger,
    } as unknown as DaemonServices;
    const a = await buildApp(services);
    cleanups.push(() => a.close());
    return a;
  }

  beforeEach(async () => {
    audited.length = 0;
    stateDir = await mkdtemp(join(tmpdir(), 'aibox-hook-'));
    log = captureLogs();
    upstream = new FakeLlm();
    await upstream.start();
    cleanups.push(() => upstream.stop());
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    expect(log.lines.join('')).not.toContain(KEY);
  });

  it('stores, lists and removes secrets through the API without ever returning a value', async () => {
    const a = await app(await hook());
    const put = await a.inject({
      method: 'PUT',
      url: '/v1/secrets/anthropic-api-key',
      payload: { value: KEY },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ name: 'anthropic-api-key', backend: 'embedded' });
    const list = await a.inject({ method: 'GET', url: '/v1/secrets' });
    expect(list.json()).toMatchObject({ backend: 'embedded', secrets: [{ name: 'anthropic-api-key' }] });
    expect(list.body).not.toContain(KEY);
    expect((await stat(join(stateDir, 'secrets', 'store.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(stateDir, 'secrets', 'secrets.json'), 'utf8')).not.toContain(KEY);
    expect((await a.inject({ method: 'DELETE', url: '/v1/secrets/anthropic-api-key' })).json()).toEqual({
      removed: 'anthropic-api-key',
    });
    const again = await a.inject({ method: 'DELETE', url: '/v1/secrets/anthropic-api-key' });
    expect(again.statusCode).toBe(404);
    expect(again.json()).toMatchObject({ error: { code: 'CREDENTIAL_NOT_FOUND' } });
  });

  it('answers bad names and values with 4xx codes that do not echo the value', async () => {
    const a = await app(await hook());
    const badName = await a.inject({ method: 'PUT', url: '/v1/secrets/..%2Fkey', payload: { value: KEY } });
    expect(badName.statusCode).toBe(400);
    expect(badName.body).not.toContain(KEY);
    const empty = await a.inject({ method: 'PUT', url: '/v1/secrets/k1', payload: { value: '' } });
    expect(empty.statusCode).toBe(400);
    const huge = await a.inject({
      method: 'PUT',
      url: '/v1/secrets/k1',
      payload: { value: `${KEY}${'x'.repeat(70_000)}` },
    });
    expect(huge.statusCode).toBe(400);
    expect(huge.body).not.toContain(KEY);
  });

  it('gives a sandbox base URLs, a placeholder and its endpoint, and re-attaches on the same port after a restart', async () => {
    const h = await hook();
    await (
      await app(h)
    ).inject({ method: 'PUT', url: '/v1/secrets/anthropic-api-key', payload: { value: KEY } });
    const ctx = { id: 'sbx_hook01', name: 'hooked', path: '/tmp', profile: 'default', logger: log.logger };
    const contribution = await h.prepare(ctx);
    const port = h.proxyOf(ctx.id)!.port;
    expect(contribution.network).toBe(true);
    expect(contribution.endpoints).toEqual({ 'llm-proxy': `http://10.0.2.2:${port}` });
    expect(contribution.env!['ANTHROPIC_BASE_URL']).toBe(`http://10.0.2.2:${port}/anthropic`);
    const placeholder = contribution.env!['ANTHROPIC_API_KEY']!;
    expect(placeholder).toMatch(/^aibox-placeholder-/);
    expect(JSON.stringify(contribution)).not.toContain(KEY);

    const call = () =>
      send(port, '/anthropic/v1/messages', {
        headers: { 'x-api-key': placeholder },
        body: { model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
      });
    expect((await call()).status).toBe(200);
    expect(upstream.requests.at(-1)!.headers['x-api-key']).toBe(KEY);

    // A daemon restart: a new hook instance adopts the running sandbox on the port its environment names.
    await h.proxyOf(ctx.id)!.stop();
    const restarted = await hook();
    await restarted.adopt({ ...ctx, pid: 1, containerId: 'c' });
    expect(restarted.proxyOf(ctx.id)!.port).toBe(port);
    expect((await call()).status).toBe(200);
    // Every call is recorded in the audit log (kind llm-call), never with the key.
    const calls = () => audited.filter((e) => e.kind === 'llm-call');
    for (let i = 0; i < 200 && calls().length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(calls()).toHaveLength(2);
    expect(JSON.stringify(calls())).not.toContain(KEY);

    await restarted.stop(ctx);
    await expect(call()).rejects.toThrow();
    await expect(restarted.adopt({ ...ctx, pid: 1, containerId: 'c' })).rejects.toMatchObject({
      code: 'SANDBOX_LAYER_FAILED',
    });
  });

  it('applies a policy change to a running sandbox without a restart', async () => {
    let notify: ((sandboxId: string, policy: LlmPolicy) => void) | undefined;
    const h = await hook({
      llmPolicyFor: () =>
        Promise.resolve(LlmPolicy.parse({ providers: ['anthropic'], models: ['claude-*'] })),
      onLlmPolicyChange: (listener) => {
        notify = listener;
        return () => undefined;
      },
    });
    await (
      await app(h)
    ).inject({ method: 'PUT', url: '/v1/secrets/anthropic-api-key', payload: { value: KEY } });
    const ctx = { id: 'sbx_hot01', name: 'hot', path: '/tmp', profile: 'default', logger: log.logger };
    const env = (await h.prepare(ctx)).env!;
    cleanups.push(() => h.stop(ctx));
    const call = () =>
      send(h.proxyOf(ctx.id)!.port, '/anthropic/v1/messages', {
        headers: { 'x-api-key': env['ANTHROPIC_API_KEY']! },
        body: { model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
      });
    expect((await call()).status).toBe(200);
    notify!(ctx.id, LlmPolicy.parse({ providers: ['anthropic'], models: ['claude-haiku-*'] }));
    const refused = await call();
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: { aibox_code: 'LLM_MODEL_DENIED' } });
  });
});
