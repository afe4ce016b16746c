import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_BODY_BYTES,
  ProposalEndpoint,
  proposalErrors,
  RateLimit,
  type ProposalHandler,
  type ProposalReport,
} from '../../src/proposals/index.js';
import { pino } from 'pino';

const logger = pino({ level: 'silent' });
const TOKEN = 'sandbox-token-0123456789abcdef';

const REPORT: ProposalReport = {
  id: 'prp_0123456789ab',
  sandbox: 'sb',
  host: 'a.example',
  port: 443,
  reason: 'r',
  state: 'pending',
  createdAt: 't',
  updatedAt: 't',
  decisionId: 'dec_1',
};

function call(
  port: number,
  method: string,
  path: string,
  body?: string,
  type = 'application/json',
  authorization: string | null = `Bearer ${TOKEN}`,
): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      method,
      path,
      headers: {
        ...(body ? { 'content-type': type } : {}),
        ...(authorization !== null ? { authorization } : {}),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: text ? JSON.parse(text) : undefined,
          headers: res.headers,
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the proposal endpoint', () => {
  let endpoint: ProposalEndpoint | undefined;
  afterEach(async () => endpoint?.close());

  const listen = async (
    handler: Partial<ProposalHandler>,
    limit = new RateLimit(10, 1000, { now: () => 0 }),
  ) => {
    const seen: { sandboxId: string; body: unknown }[] = [];
    endpoint = await ProposalEndpoint.listen({
      sandboxId: 'sbx_listener',
      limit,
      logger,
      token: TOKEN,
      handler: {
        submit: async (sandboxId, body) => {
          seen.push({ sandboxId, body });
          return { created: true, proposal: REPORT };
        },
        get: () => REPORT,
        list: () => [REPORT],
        ...handler,
      },
    });
    return { port: endpoint.port, seen };
  };

  it('hands a submission to the daemon under the listener’s sandbox id, whatever the body says', async () => {
    const { port, seen } = await listen({});
    const r = await call(
      port,
      'POST',
      '/proposals',
      JSON.stringify({ host: 'a.example', sandboxId: 'sbx_other' }),
    );
    expect(r.status).toBe(201);
    expect(seen).toEqual([
      { sandboxId: 'sbx_listener', body: { host: 'a.example', sandboxId: 'sbx_other' } },
    ]);
  });

  it('refuses a request without this sandbox’s token (another host process) before reading it: 401', async () => {
    const taken = { n: 0 };
    const limit = new RateLimit(10, 1000, { now: () => 0 });
    const take = limit.take.bind(limit);
    limit.take = () => (taken.n++, take());
    const { port, seen } = await listen({}, limit);
    const body = JSON.stringify({ host: 'a.example', reason: 'r' });
    for (const authorization of [null, 'Bearer nope', `Bearer ${TOKEN}x`, TOKEN, `Basic ${TOKEN}`]) {
      for (const [method, path] of [
        ['POST', '/proposals'],
        ['GET', '/proposals'],
        ['GET', '/proposals/prp_0123456789ab'],
      ] as const) {
        const r = await call(
          port,
          method,
          path,
          method === 'POST' ? body : undefined,
          undefined,
          authorization,
        );
        expect([r.status, r.body?.error?.code], `${authorization} ${method} ${path}`).toEqual([
          401,
          'PROPOSAL_UNAUTHORIZED',
        ]);
        expect(JSON.stringify(r.body)).not.toContain(TOKEN);
        expect(r.headers['www-authenticate']).toBe('Bearer realm="aibox-proposals"');
      }
    }
    // Refused before the rate limit: a stranger cannot use up the sandbox's allowance.
    expect([seen, taken.n]).toEqual([[], 0]);
    expect((await call(port, 'POST', '/proposals', body)).status).toBe(201);
  });

  it('refuses what is not JSON, too large, or not a route, with codes', async () => {
    const { port, seen } = await listen({});
    expect(await call(port, 'POST', '/proposals', '{nope')).toMatchObject({
      status: 400,
      body: { error: { code: 'PROPOSAL_INVALID' } },
    });
    expect(await call(port, 'POST', '/proposals', '{}', 'text/plain')).toMatchObject({
      status: 400,
      body: { error: { code: 'PROPOSAL_INVALID' } },
    });
    const big = JSON.stringify({ reason: 'x'.repeat(MAX_BODY_BYTES) });
    expect(await call(port, 'POST', '/proposals', big)).toMatchObject({
      status: 413,
      body: { error: { code: 'PROPOSAL_TOO_LARGE' } },
    });
    expect((await call(port, 'DELETE', '/proposals')).status).toBe(404);
    expect(await call(port, 'GET', '/proposals/../etc')).toMatchObject({ status: 404 });
    expect(await call(port, 'GET', '/proposals/nope')).toMatchObject({
      status: 400,
      body: { error: { code: 'PROPOSAL_INVALID' } },
    });
    expect(seen).toEqual([]);
  });

  it('passes the daemon’s refusals through with their status', async () => {
    const { port } = await listen({
      get: () => {
        throw proposalErrors.create('PROPOSAL_NOT_FOUND', 'no');
      },
    });
    expect(await call(port, 'GET', '/proposals/prp_000000000000')).toMatchObject({
      status: 404,
      body: { error: { code: 'PROPOSAL_NOT_FOUND' } },
    });
    expect(await call(port, 'GET', '/proposals')).toMatchObject({
      status: 200,
      body: { proposals: [REPORT] },
    });
  });

  it('rate-limits submissions per sandbox', async () => {
    let now = 0;
    const { port } = await listen({}, new RateLimit(2, 1000, { now: () => now }));
    const post = () => call(port, 'POST', '/proposals', '{}');
    expect((await post()).status).toBe(201);
    expect((await post()).status).toBe(201);
    expect(await post()).toMatchObject({ status: 429, body: { error: { code: 'PROPOSAL_RATE_LIMITED' } } });
    now += 1000;
    expect((await post()).status).toBe(201);
  });
});
