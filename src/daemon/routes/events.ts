import type { FastifyPluginAsync } from 'fastify';
import { API_ROUTES as R } from '../../shared/index.js';
import type { AuditRecord } from '../../audit/index.js';
import type { DaemonServices } from '../services/index.js';
import { open } from '../http/access.js';
import { AuditFollower } from '../dashboard/audit-follower.js';
import { EgressFollower } from '../dashboard/egress-follower.js';

/** A comment line this often keeps proxies and the browser from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/**
 * GET /v1/events: server-sent events for live views (the dashboard). Each new audit record the caller may read is
 * sent as `event: audit` with the record as JSON and its seq as the event id: root sees every record, others the
 * records of their own sandboxes (by sandbox id when the record has one, so a later sandbox that took a name sees
 * nothing of the old one; by name otherwise, as GET /v1/audit?sandbox=NAME). Each new egress decision (DNS answer
 * or proxy request, allowed or refused) of those sandboxes is sent as `event: egress` with the decision and its
 * sandbox's name, as GET /v1/egress/decisions answers it.
 */
export function eventRoutes(services: DaemonServices): FastifyPluginAsync {
  return async (app) => {
    const follower = new AuditFollower(() => services.audit.path);
    const egress = new EgressFollower(() => services.egress.recentDecisions());
    app.addHook('onClose', async () => {
      follower.stop();
      egress.stop();
    });

    app.get(R.system.events, { config: { access: open } }, async (request, reply) => {
      const caller = request.caller;
      const visible = async (records: AuditRecord[]): Promise<AuditRecord[]> => {
        if (caller.uid === 0) return records;
        const mine = await app.visibleSandboxes(caller);
        const ids = new Set(mine.map((s) => s.id));
        const names = new Set(mine.map((s) => s.name));
        // By id when the record has one; by name otherwise, as GET /v1/audit?sandbox=NAME answers it.
        return records.filter((r) =>
          r.sandboxId !== undefined ? ids.has(r.sandboxId) : r.sandbox !== undefined && names.has(r.sandbox),
        );
      };
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let chain = Promise.resolve();
      const unsubscribe = await follower.subscribe((records) => {
        // In order, one batch after the other, however slow the visibility check is.
        chain = chain
          .then(() => visible(records))
          .then((mine) => {
            for (const r of mine) res.write(`event: audit\nid: ${r.seq}\ndata: ${JSON.stringify(r)}\n\n`);
          })
          .catch((err: unknown) => request.log.warn({ err }, 'live event delivery failed'));
      });
      const unfollowEgress = egress.subscribe((decisions) => {
        chain = chain
          .then(async () => {
            const sandboxes =
              caller.uid === 0 ? await services.sandboxes.list() : await app.visibleSandboxes(caller);
            const names = new Map(sandboxes.map((s) => [s.id, s.name]));
            for (const d of decisions) {
              const sandbox = names.get(d.sandboxId);
              if (caller.uid !== 0 && sandbox === undefined) continue;
              res.write(
                `event: egress\ndata: ${JSON.stringify({ ...d, ...(sandbox ? { sandbox } : {}) })}\n\n`,
              );
            }
          })
          .catch((err: unknown) => request.log.warn({ err }, 'live event delivery failed'));
      });
      // Written once both followers hold their starting point: what happens after a client saw it is sent.
      res.write('retry: 3000\n\n');
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      // The response closes when the client goes away (the request's own close may come earlier).
      res.once('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
        unfollowEgress();
      });
    });
  };
}
