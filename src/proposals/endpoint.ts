import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock, Logger } from '../shared/index.js';
import { isAiboxError, messageOf } from '../shared/index.js';
import { proposalErrors } from './errors.js';
import { PROPOSAL_ID_PATTERN, type ProposalReport } from './schema.js';

/** Largest request body read: a proposal is a few fields. */
export const MAX_BODY_BYTES = 8 * 1024;

/** What one sandbox's endpoint asks the daemon. The sandbox id is the listener's, never from the request. */
export interface ProposalHandler {
  submit(sandboxId: string, body: unknown): Promise<{ created: boolean; proposal: ProposalReport }>;
  get(sandboxId: string, id: string): ProposalReport;
  list(sandboxId: string): ProposalReport[];
}

/** A token bucket: `burst` submissions at once, then one every `everyMs`. */
export class RateLimit {
  private tokens: number;
  private last: number;

  constructor(
    private readonly burst: number,
    private readonly everyMs: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / this.everyMs);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * One sandbox's proposal endpoint: a plain HTTP listener on the host loopback, on its own port, which only that
 * sandbox's nftables rules open among sandboxes (the egress layer opens the ports of the endpoints a sandbox's hooks
 * contribute). A host process can reach any loopback port, and on rootless slirp4netns the sandbox's own traffic
 * arrives from loopback too, so the source address tells nothing: every request must also carry the sandbox's
 * submission token (`Authorization: Bearer …`, from AIBOX_PROPOSALS_TOKEN), which only that sandbox was given. It is
 * a binding, not a secret of value: it can only submit and read this sandbox's proposals, never approve one.
 *   POST /proposals        {host, port?, methods?, paths?, reason} → 201 (or 200 with the same pending one)
 *   GET  /proposals        this sandbox's proposals
 *   GET  /proposals/:id    one of them, with the reviewer's reason once decided
 */
export class ProposalEndpoint {
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async listen(options: {
    sandboxId: string;
    handler: ProposalHandler;
    limit: RateLimit;
    logger: Logger;
    /** The sandbox's submission token (given to it alone, in its environment). */
    token: string;
    host?: string;
    /** The port a previous daemon gave this sandbox (adopt); 0 or absent: any free one. */
    port?: number;
  }): Promise<ProposalEndpoint> {
    const { sandboxId, handler, limit, logger } = options;
    const expected = digest(options.token);
    const server = createServer((req, res) => {
      serve(req, res, sandboxId, handler, limit, expected).catch((err: unknown) => {
        logger.warn({ sandboxId, err: messageOf(err) }, 'proposal endpoint failed');
        if (!res.headersSent)
          send(res, 500, { error: { code: 'DAEMON_INTERNAL', message: 'internal error' } });
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    server.maxHeadersCount = 50;
    // One sandbox's own listener: a handful of connections is plenty.
    server.maxConnections = 32;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new ProposalEndpoint(server, (server.address() as AddressInfo).port);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  sandboxId: string,
  handler: ProposalHandler,
  limit: RateLimit,
  expected: Buffer,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://proposals');
  const route = url.pathname.replace(/\/+$/, '') || '/';
  try {
    // Before anything else (rate limit, body): a request without this sandbox's token is not the sandbox's.
    const presented = /^Bearer ([A-Za-z0-9_-]{1,128})$/.exec(req.headers.authorization ?? '')?.[1];
    if (presented === undefined || !timingSafeEqual(digest(presented), expected))
      throw proposalErrors.create(
        'PROPOSAL_UNAUTHORIZED',
        presented === undefined
          ? 'no submission token: send Authorization: Bearer $AIBOX_PROPOSALS_TOKEN'
          : 'this is not the submission token of the sandbox this endpoint serves',
      );
    if (route === '/proposals' && req.method === 'POST') {
      if (!limit.take())
        throw proposalErrors.create('PROPOSAL_RATE_LIMITED', 'too many proposals from this sandbox');
      const body = await readJsonBody(req);
      const { created, proposal } = await handler.submit(sandboxId, body);
      return send(res, created ? 201 : 200, proposal);
    }
    if (route === '/proposals' && req.method === 'GET')
      return send(res, 200, { proposals: handler.list(sandboxId) });
    const one = /^\/proposals\/([^/]+)$/.exec(route);
    if (one && req.method === 'GET') {
      const id = decodeURIComponent(one[1]!);
      if (!PROPOSAL_ID_PATTERN.test(id))
        throw proposalErrors.create('PROPOSAL_INVALID', 'not a proposal id (prp_ and 12 hex digits)');
      return send(res, 200, handler.get(sandboxId, id));
    }
    req.resume();
    return send(res, 404, {
      error: {
        code: 'PROPOSAL_NOT_FOUND',
        message: `no route ${req.method ?? ''} ${route}`,
        hint: 'POST /proposals {host, port?, methods?, paths?, reason}; GET /proposals; GET /proposals/ID',
      },
    });
  } catch (err) {
    req.resume();
    if (isAiboxError(err))
      return send(
        res,
        err.status,
        { error: err.toJSON() },
        err.status === 401 ? { 'www-authenticate': 'Bearer realm="aibox-proposals"' } : {},
      );
    throw err;
  }
}

/** Fixed-length digests, so the comparison takes the same time whatever is presented. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Reads at most MAX_BODY_BYTES of JSON; more is refused before it is buffered. */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type))
    throw proposalErrors.create('PROPOSAL_INVALID', 'send the proposal as Content-Type: application/json');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES)
    throw proposalErrors.create('PROPOSAL_TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // The rest is drained (bounded by the server's request timeout) so the 413 reaches the client.
    if (size > MAX_BODY_BYTES)
      throw proposalErrors.create('PROPOSAL_TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw proposalErrors.create('PROPOSAL_INVALID', 'the body is not valid JSON');
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
