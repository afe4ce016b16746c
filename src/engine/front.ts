import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { engineErrors, type EngineErrorCode } from './errors.js';
import { decideCreate, decideRequest } from './filter.js';
import { dockerInfo, libpodInfo, type EngineInfoFacts } from './info.js';
import { socketJson } from './socket-json.js';

/** A create body larger than this is refused unread (the refusal does not need more). */
const MAX_CREATE_BODY = 1024 * 1024;
/** What the front reads from the engine to answer `info` (its version and image list): never more than this. */
const MAX_FACT_BODY = 16 * 1024 * 1024;
const FACT_TIMEOUT_MS = 30_000;

/** One request the front decided, for the audit log. */
export interface EngineRequestRecord {
  endpoint: string;
  allowed: boolean;
  code?: EngineErrorCode;
  reason?: string;
}

export interface EngineFrontOptions {
  /** The engine sandbox's Podman API socket (a host path: gVisor creates it in a folder aiboxd mounted). */
  socketPath: string;
  host: string;
  port?: number;
  /** Called for every request before it is answered or forwarded; a failing record refuses the request. */
  record(r: EngineRequestRecord): Promise<void>;
  /** What `info` reports besides the engine's own version and image count (info.ts). */
  facts(): Promise<EngineInfoFacts>;
}

/**
 * The filtering front of one sandbox's engine: an HTTP listener of aiboxd on the sandbox's own gateway port,
 * forwarding only what filter.ts allows to the engine's unix socket, which nothing else can reach. Refusals answer
 * in the shape both Podman's and Docker's clients print (`message`, `cause`, `response`), plus the aibox code.
 */
export class EngineFront {
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly opts: EngineFrontOptions) {}

  async listen(): Promise<number> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    // Attach and other upgrades are how a client would reach a running container: never offered.
    server.on('upgrade', (_req, socket) => socket.destroy());
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  get port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const decision = decideRequest(req.method ?? 'GET', req.url ?? '/');
      if (decision.allow) {
        await this.opts.record({ endpoint: decision.endpoint, allowed: true });
        if (decision.answer) await this.answerInfo(res, decision.answer);
        else this.forward(req, res, decision.path, decision.endpoint === 'POST /build');
        return;
      }
      const refusal =
        'inspectCreate' in decision
          ? decideCreate(await readJson(req))
          : { code: decision.code, reason: decision.reason };
      await this.opts.record({ endpoint: decision.endpoint, allowed: false, ...refusal });
      refuse(res, refusal.code, `${refusal.reason} (${decision.endpoint})`);
    } catch {
      if (!res.headersSent) refuse(res, 'ENGINE_ENDPOINT_REFUSED', 'the request could not be decided');
      else res.destroy();
    }
  }

  /** `info`, composed by the front (info.ts): the engine is asked only what it answers inside gVisor. */
  private async answerInfo(res: http.ServerResponse, kind: 'docker-info' | 'libpod-info'): Promise<void> {
    let version: unknown;
    let images: unknown;
    try {
      [version, images] = await Promise.all([this.getJson('/version'), this.getJson('/images/json')]);
    } catch {
      refuse(res, 'ENGINE_START_FAILED', 'the engine does not answer', 502);
      return;
    }
    const facts = await this.opts.facts();
    const live = {
      version: typeof version === 'object' && version !== null ? (version as Record<string, unknown>) : {},
      images: Array.isArray(images) ? images.length : 0,
    };
    const doc = kind === 'libpod-info' ? libpodInfo(facts, live) : dockerInfo(facts, live);
    const body = JSON.stringify(doc);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** One GET to the engine's API socket, its JSON body (bounded). */
  private async getJson(path: string): Promise<unknown> {
    const answer = await socketJson(this.opts.socketPath, {
      method: 'GET',
      path,
      timeoutMs: FACT_TIMEOUT_MS,
      maxBytes: MAX_FACT_BODY,
    });
    if (answer.status !== 200 || answer.body === undefined) throw new Error(`status ${answer.status}`);
    return answer.body;
  }

  /** `build`: the answer (a stream of JSON lines) gets ENGINE_DISK_FULL on an error that says the disk is full. */
  private forward(req: http.IncomingMessage, res: http.ServerResponse, path: string, build = false): void {
    const headers = { ...req.headers };
    // Hop-by-hop headers stay with this hop; the engine sees a plain request.
    for (const h of ['connection', 'upgrade', 'proxy-connection', 'keep-alive']) delete headers[h];
    const upstream = http.request(
      { socketPath: this.opts.socketPath, method: req.method, path, headers },
      (answer) => {
        if (!build) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const headers = { ...answer.headers };
        delete headers['content-length'];
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(diskFullLines()).pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) refuse(res, 'ENGINE_START_FAILED', 'the engine does not answer', 502);
      else res.destroy();
    });
    req.on('aborted', () => upstream.destroy());
    req.pipe(upstream);
  }
}

const DISK_FULL = /no space left on device/i;

/**
 * Rewrites the error lines of a build's answer (newline-separated JSON, Docker's and libpod's) when the build ran out
 * of room: the error itself says so (the store could not write), or an earlier line of the same build did (a RUN
 * step's own ENOSPC, after which the error only says `exit status 1`). The client then prints ENGINE_DISK_FULL and its
 * hint instead of a bare ENOSPC.
 */
export function diskFullLines(): Transform {
  let rest = '';
  const decoder = new StringDecoder('utf8');
  let full = false;
  const rewrite = (line: string): string => {
    full ||= DISK_FULL.test(line);
    if (!full) return line;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      return line;
    }
    if (typeof doc !== 'object' || doc === null || !('error' in doc)) return line;
    const d = doc as { error?: unknown; errorDetail?: { message?: unknown } };
    const message = `ENGINE_DISK_FULL: the build ran out of room on the engine's disk (${String(d.error)}). ${engineErrors.catalogue.ENGINE_DISK_FULL.hint}`;
    return JSON.stringify({
      ...d,
      error: message,
      ...(d.errorDetail ? { errorDetail: { ...d.errorDetail, message } } : {}),
    });
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const lines = (rest + decoder.write(chunk)).split('\n');
      rest = lines.pop()!;
      done(null, lines.map((l) => `${rewrite(l)}\n`).join(''));
    },
    flush(done) {
      rest += decoder.end();
      done(null, rest ? rewrite(rest) : '');
    },
  });
}

function refuse(res: http.ServerResponse, code: EngineErrorCode, reason: string, status?: number): void {
  const hint = engineErrors.catalogue[code].hint;
  const httpStatus = status ?? engineErrors.catalogue[code].status;
  const message = `${code}: ${reason}. ${hint}`;
  const body = JSON.stringify({ cause: code, message, response: httpStatus, code, hint });
  res.writeHead(httpStatus, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CREATE_BODY) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
