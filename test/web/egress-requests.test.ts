/** GET /v1/egress/decisions: the per-request egress decisions in memory, filtered, newest first, per caller. */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { egressRequestRoutes } from '../../src/daemon/routes/egress-requests.js';
import type { DaemonServices } from '../../src/daemon/services/index.js';
import type { EgressDecision } from '../../src/egress/index.js';
import type { Caller } from '../../src/shared/index.js';
import { toErrorAnswer } from '../../src/daemon/http/contract.js';

let app: FastifyInstance;
const d = (id: string, sandboxId: string, verdict: 'allow' | 'deny', layer: 'dns' | 'proxy' = 'proxy') =>
  ({
    id,
    sandboxId,
    time: 1,
    layer,
    verdict,
    reason: verdict === 'allow' ? 'EGRESS_ALLOWED' : 'EGRESS_DOMAIN_NOT_ALLOWED',
    target: `https://${id}/`,
    kind: 'GET',
  }) as EgressDecision;
const kept = [
  d('dec_1', 'sbx_mine', 'allow'),
  d('dec_2', 'sbx_theirs', 'allow'),
  d('dec_3', 'sbx_mine', 'deny'),
  d('dec_4', 'sbx_mine', 'allow', 'dns'),
  d('dec_5', 'sbx_removed', 'deny'),
];

async function start(uid: number) {
  app = Fastify();
  app.setErrorHandler((err, _request, reply) => {
    const answer = toErrorAnswer(err);
    return reply.status(answer.status).send(answer.payload);
  });
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (request) => {
    request.caller = { uid, gid: uid, pid: 1 };
  });
  app.decorate('visibleSandboxes', async () => [{ id: 'sbx_mine', name: 'mine' }] as never);
  const services = {
    egress: { recentDecisions: () => kept },
    sandboxes: {
      list: async () => [
        { id: 'sbx_mine', name: 'mine' },
        { id: 'sbx_theirs', name: 'theirs' },
      ],
    },
  };
  await app.register(egressRequestRoutes(services as unknown as DaemonServices));
  await app.ready();
}
const get = async (url: string) => (await app.inject({ url })).json();

afterEach(async () => app?.close());

describe('GET /v1/egress/decisions', () => {
  it('lists allowed and refused requests, newest first, with sandbox names, to root', async () => {
    await start(0);
    const all = await get('/v1/egress/decisions');
    expect(all.matched).toBe(5);
    expect(all.decisions.map((x: { id: string; sandbox?: string }) => [x.id, x.sandbox])).toEqual([
      ['dec_5', undefined],
      ['dec_4', 'mine'],
      ['dec_3', 'mine'],
      ['dec_2', 'theirs'],
      ['dec_1', 'mine'],
    ]);
    const filtered = await get('/v1/egress/decisions?sandbox=mine&verdict=allow&layer=proxy');
    expect(filtered.decisions.map((x: { id: string }) => x.id)).toEqual(['dec_1']);
    const limited = await get('/v1/egress/decisions?limit=2');
    expect(limited).toMatchObject({ matched: 5, decisions: [{ id: 'dec_5' }, { id: 'dec_4' }] });
  });

  it("shows other users their own sandboxes' decisions only", async () => {
    await start(1000);
    const mine = await get('/v1/egress/decisions');
    expect(mine.decisions.map((x: { id: string }) => x.id)).toEqual(['dec_4', 'dec_3', 'dec_1']);
    expect((await get('/v1/egress/decisions?sandbox=theirs')).decisions).toEqual([]);
  });

  it('refuses bad filters with 400', async () => {
    await start(0);
    const r = await app.inject({ url: '/v1/egress/decisions?verdict=maybe' });
    expect(r.statusCode).toBe(400);
    expect((await app.inject({ url: '/v1/egress/decisions?limit=0' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/v1/egress/decisions?token=x' })).statusCode).toBe(400);
  });
});
