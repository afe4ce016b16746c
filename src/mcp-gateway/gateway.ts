import { randomBytes, timingSafeEqual } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../shared/index.js';
import { redactArguments } from './redact.js';

/** Largest JSON-RPC message (one line) the gateway buffers; a longer one closes the connection. */
const MAX_LINE = 8 * 1024 * 1024;
/** The launcher's first line must come this fast. */
const HELLO_TIMEOUT_MS = 10_000;
/** After the client hung up, how long the server may take to exit on its closed stdin before it is killed. */
const EXIT_GRACE_MS = 5_000;
/** JSON-RPC error code of a call the policy refused (implementation-defined server error range). */
export const MCP_DENIED = -32001;

/** A server process started inside the sandbox with its stdio piped to the gateway. */
export interface ServerProcess {
  stdin: Writable;
  stdout: Readable;
  stderr?: Readable;
  exit: Promise<number>;
  signal?(name: string): Promise<void>;
}

export interface ToolDecision {
  allowed: boolean;
  /** The policy decision id (for `aibox policy explain --log-entry`). */
  id: string;
  reason: string;
}

export interface McpGatewayDeps {
  bindHost: string;
  logger: Logger;
  /** The argv of an MCP server enabled in that sandbox; undefined: not enabled (the connection is refused). */
  serverArgv(sandboxId: string, server: string): Promise<string[] | undefined>;
  /** Starts the server inside the sandbox, as its user, stdin and stdout piped. */
  spawn(sandbox: string, argv: string[]): Promise<ServerProcess>;
  decide(sandbox: string, server: string, tool: string): Promise<ToolDecision>;
  audit(entry: { sandbox: string; sandboxId: string; data: Record<string, unknown> }): Promise<void>;
}

interface Listener {
  server: net.Server;
  port: number;
  key: string;
  sandbox: string;
  sockets: Set<Socket>;
}

export function newGatewayKey(): string {
  return randomBytes(24).toString('hex');
}

/**
 * The MCP gateway: one loopback listener per sandbox (its port is opened to that sandbox alone by the egress
 * rules; the key it sends tells it from other host processes). A connection names an MCP server enabled in that
 * sandbox; the gateway starts the server inside the sandbox itself and relays JSON-RPC between the two, deciding
 * every `tools/call` by tool name through policy: an allowed call is forwarded, a refused one answered with a
 * JSON-RPC error carrying the decision id; both are audited with the arguments redacted.
 */
export class McpGateway {
  private readonly listeners = new Map<string, Listener>();

  constructor(private readonly deps: McpGatewayDeps) {}

  /** Opens (or re-opens, after a daemon restart: same port and key) the listener of a sandbox. */
  async openFor(opts: { sandboxId: string; sandbox: string; key: string; port?: number }): Promise<number> {
    await this.closeFor(opts.sandboxId);
    const sockets = new Set<Socket>();
    // Half-open: the client may close its side (end of its stdin) and still read the answers still to come.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      this.serve(socket, opts.sandboxId, opts.sandbox, opts.key).catch((err: unknown) => {
        this.deps.logger.warn({ sandbox: opts.sandbox, err: String(err) }, 'MCP gateway connection failed');
        socket.destroy();
      });
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, this.deps.bindHost, () =>
        resolve((server.address() as AddressInfo).port),
      );
    });
    this.listeners.set(opts.sandboxId, { server, port, key: opts.key, sandbox: opts.sandbox, sockets });
    return port;
  }

  portOf(sandboxId: string): number | undefined {
    return this.listeners.get(sandboxId)?.port;
  }

  async closeFor(sandboxId: string): Promise<void> {
    const l = this.listeners.get(sandboxId);
    if (!l) return;
    this.listeners.delete(sandboxId);
    for (const s of l.sockets) s.destroy();
    await new Promise<void>((resolve) => l.server.close(() => resolve()));
  }

  async close(): Promise<void> {
    for (const id of [...this.listeners.keys()]) await this.closeFor(id);
  }

  private async serve(socket: Socket, sandboxId: string, sandbox: string, key: string): Promise<void> {
    const lines = lineReader(socket);
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    const first = await lines.next();
    clearTimeout(timer);
    if (first === undefined) return void socket.destroy();
    const hello = parseJson(first) as { key?: unknown; server?: unknown } | undefined;
    const given = Buffer.from(typeof hello?.key === 'string' ? hello.key : '');
    const want = Buffer.from(key);
    if (given.length !== want.length || !timingSafeEqual(given, want)) {
      this.deps.logger.warn({ sandbox }, 'MCP gateway: a connection without the sandbox key');
      return void socket.destroy();
    }
    const name = typeof hello?.server === 'string' ? hello.server : '';
    const argv = /^[a-z0-9][a-z0-9.-]{0,62}$/.test(name)
      ? await this.deps.serverArgv(sandboxId, name)
      : undefined;
    if (!argv) {
      socket.end(
        `${rpcError(null, -32601, `MCP server "${name.slice(0, 64)}" is not enabled in sandbox "${sandbox}" (aibox mcp enable NAME)`)}\n`,
      );
      return;
    }
    const proc = await this.deps.spawn(sandbox, argv);
    this.deps.logger.info({ sandbox, server: name }, 'MCP server started through the gateway');
    // Server to client: passed through as it comes (answers, notifications, the server's own requests).
    proc.stdout.pipe(socket, { end: false });
    proc.stderr?.resume();
    let clientGone = false;
    void proc.exit.then(async () => {
      if (!proc.stdout.readableEnded) await new Promise((r) => proc.stdout.once('end', r));
      socket.end();
    });
    socket.on('close', () => {
      if (clientGone) return;
      clientGone = true;
      proc.stdin.end();
      const kill = setTimeout(() => void proc.signal?.('KILL').catch(() => undefined), EXIT_GRACE_MS);
      kill.unref();
      void proc.exit.finally(() => clearTimeout(kill));
    });
    const send = (line: string) => socket.writable && socket.write(`${line}\n`);
    // Client to server: one message at a time, in order (a decision is awaited before the next line is read).
    for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
      if (line.trim() === '') continue;
      const msg = parseJson(line);
      if (msg === undefined) {
        send(rpcError(null, -32700, 'parse error: the gateway forwards JSON-RPC messages only'));
        continue;
      }
      const out = await this.filter(msg, { sandbox, sandboxId, server: name });
      if (out.reply) send(out.reply);
      // Forwarded re-serialized: the server parses exactly what the gateway decided on.
      if (out.forward !== undefined) proc.stdin.write(`${JSON.stringify(out.forward)}\n`);
    }
    if (!clientGone) {
      clientGone = true;
      proc.stdin.end();
      const kill = setTimeout(() => void proc.signal?.('KILL').catch(() => undefined), EXIT_GRACE_MS);
      kill.unref();
      void proc.exit.finally(() => clearTimeout(kill));
    }
  }

  /** What to forward to the server and what to answer the client, for one client message. */
  private async filter(
    msg: unknown,
    ctx: { sandbox: string; sandboxId: string; server: string },
  ): Promise<{ forward?: unknown; reply?: string }> {
    if (Array.isArray(msg)) {
      // A batch holding a tool call is refused whole: each call must be decided and answered on its own.
      if (msg.some((m) => isToolCall(m))) {
        const errors = msg
          .filter((m) => isRequest(m))
          .map(
            (m) =>
              JSON.parse(
                rpcError(idOf(m), -32600, 'batches with tools/call are not relayed by the gateway'),
              ) as unknown,
          );
        return { reply: JSON.stringify(errors) };
      }
      return { forward: msg };
    }
    if (!isToolCall(msg)) return { forward: msg };
    const m = msg as { id?: unknown; params?: { name?: unknown; arguments?: unknown } };
    const tool = m.params?.name;
    if (typeof tool !== 'string' || tool.length === 0 || tool.length > 256) {
      return { reply: rpcError(idOf(m), -32602, 'tools/call needs params.name (a tool name)') };
    }
    const d = await this.deps.decide(ctx.sandbox, ctx.server, tool).catch((err: unknown): ToolDecision => ({
      allowed: false,
      id: '',
      reason: `policy error: ${String(err)} (fail closed)`,
    }));
    await this.deps.audit({
      sandbox: ctx.sandbox,
      sandboxId: ctx.sandboxId,
      data: {
        server: ctx.server,
        tool,
        outcome: d.allowed ? 'allow' : 'deny',
        decision: d.id,
        arguments: redactArguments(m.params?.arguments ?? {}),
      },
    });
    if (d.allowed) return { forward: msg };
    const why = `${d.reason}${d.id ? ` (decision ${d.id}: aibox policy explain --log-entry ${d.id})` : ''}`;
    return {
      reply: rpcError(
        idOf(m),
        MCP_DENIED,
        `tool ${tool} of MCP server ${ctx.server} is denied by policy: ${why}`,
        {
          decision: d.id,
          door: 'packs',
        },
      ),
    };
  }
}

function isRequest(m: unknown): boolean {
  return typeof m === 'object' && m !== null && 'method' in m && 'id' in m;
}

function isToolCall(m: unknown): boolean {
  return typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'tools/call';
}

function idOf(m: unknown): string | number | null {
  const id = (m as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

function rpcError(
  id: string | number | null,
  code: number,
  message: string,
  data?: Record<string, unknown>,
): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code, message, ...(data ? { data } : {}) } });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Newline-framed lines of a socket; undefined at the end. A line over MAX_LINE destroys the socket. */
function lineReader(socket: Socket): { next(): Promise<string | undefined> } {
  let buf = '';
  let ended = false;
  const ready: string[] = [];
  let wake: (() => void) | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      ready.push(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
    if (buf.length > MAX_LINE) socket.destroy();
    if (ready.length > 0) socket.pause();
    wake?.();
  });
  const finish = () => {
    ended = true;
    wake?.();
  };
  socket.on('end', finish);
  socket.on('close', finish);
  return {
    async next() {
      while (ready.length === 0 && !ended) {
        socket.resume();
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      if (ready.length > 0) return ready.shift();
      // A last line without its newline still counts.
      if (buf.trim() !== '') {
        const last = buf;
        buf = '';
        return last;
      }
      return undefined;
    },
  };
}
