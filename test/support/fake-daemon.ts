/**
 * STAND-IN for contract tests of the CLI and the client: NOT aiboxd. It serves the wire contract of
 * src/shared/api (validated with the same zod schemas) on a temporary unix socket, keeps sandboxes in memory and
 * runs `exec` commands as plain host processes in the sandbox's folder, with no isolation whatsoever. The real
 * daemon, with real gVisor sandboxes, is exercised end to end by the integration tests in test/integration/.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import {
  BuildImageRequest,
  CreateSandboxRequest,
  EXEC_STREAM,
  ExecControlMessage,
  ExecRequest,
  ExecStartMessage,
} from '../../src/shared/index.js';
import type {
  ApiErrorBody,
  DoctorReport,
  ExecResult,
  ImageBuildEvent,
  SandboxReport,
  StatusReport,
} from '../../src/shared/index.js';

export interface FakeDaemonOptions {
  doctor?: DoctorReport;
  buildEvents?: ImageBuildEvent[];
  /** Serve POST /v1/sandboxes/:name/egress/selftest with this answer; absent = 404 API_ROUTE_NOT_FOUND. */
  egressSelftest?: { ok: boolean; checks: DoctorReport['checks'] };
  /**
   * How exec refusals (unknown or stopped sandbox, bad spec) reach the client: 'after-upgrade' (as aiboxd does:
   * upgrade, send an `error` control message, close) or 'http' (refuse the upgrade with a JSON error answer).
   */
  execRefusals?: 'after-upgrade' | 'http';
}

export interface RecordedRequest {
  method: string;
  url: string;
  body: unknown;
}

export interface RecordedExec {
  sandbox: string;
  spec: ExecRequest;
  resizes: { cols: number; rows: number }[];
  /** The upgrade request's URL (streamed execs only): it must carry no part of the spec. */
  url?: string;
}

const PROTECTIONS: SandboxReport['protections'] = [
  { layer: 'runtime', state: 'on', detail: 'gVisor (runsc)' },
  { layer: 'read-only root', state: 'on', detail: 'root filesystem mounted read-only' },
  { layer: 'capabilities', state: 'on', detail: 'all dropped' },
  { layer: 'no-new-privileges', state: 'on', detail: 'set' },
  { layer: 'seccomp', state: 'on', detail: 'profiles/default seccomp' },
  { layer: 'user', state: 'on', detail: 'uid 1001, no sudo' },
  { layer: 'network', state: 'on', detail: 'none' },
  { layer: 'limits', state: 'on', detail: 'pids 512, memory 4 GiB, 2 CPUs' },
];

export class FakeDaemon {
  readonly requests: RecordedRequest[] = [];
  readonly execs: RecordedExec[] = [];
  readonly sandboxes = new Map<string, SandboxReport>();
  socketPath = '';
  private dir = '';
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly children = new Set<ChildProcess>();
  private imagePresent = false;

  constructor(private readonly options: FakeDaemonOptions = {}) {
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
  }

  async start(): Promise<this> {
    this.dir = await mkdtemp(path.join(os.tmpdir(), 'aibox-fake-daemon-'));
    this.socketPath = path.join(this.dir, 'aiboxd.sock');
    await new Promise<void>((resolve) => this.server.listen(this.socketPath, resolve));
    return this;
  }

  async stop(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL');
    for (const client of this.wss.clients) client.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      return this.fail(res, 400, 'API_BAD_REQUEST', 'body is not JSON', 'send JSON');
    }
    const url = new URL(req.url ?? '/', 'http://aiboxd');
    this.requests.push({ method: req.method ?? '', url: url.pathname, body });
    try {
      await this.route(req.method ?? '', url.pathname, body, res);
    } catch (err) {
      this.fail(res, 500, 'DAEMON_INTERNAL', String(err), 'fake daemon fault');
    }
  }

  private async route(method: string, pathname: string, body: unknown, res: ServerResponse): Promise<void> {
    const key = `${method} ${pathname}`;
    if (key === 'GET /v1/version') return this.send(res, 200, { version: '0.1.0-fake', api: 'v1' });
    if (key === 'GET /v1/status') return this.send(res, 200, this.status());
    if (key === 'GET /v1/doctor') return this.send(res, 200, this.options.doctor ?? defaultDoctor());
    if (key === 'GET /v1/images/base')
      return this.send(res, 200, { image: 'localhost/aibox-base:0.1.0', present: this.imagePresent });
    if (key === 'POST /v1/images/base') return this.build(body ?? {}, res);
    if (key === 'GET /v1/sandboxes') return this.send(res, 200, { sandboxes: [...this.sandboxes.values()] });
    if (key === 'POST /v1/sandboxes') return this.create(body, res);
    const match = /^\/v1\/sandboxes\/([^/]+)(\/[a-z/]+)?$/.exec(pathname);
    if (match) {
      const name = decodeURIComponent(match[1]!);
      const sub = match[2] ?? '';
      const sandbox = this.sandboxes.get(name);
      if (!sandbox && `${method} ${sub}` !== 'POST /egress/selftest')
        return this.fail(
          res,
          404,
          'SANDBOX_NOT_FOUND',
          `no sandbox named ${name}`,
          'list them with `aibox list`',
        );
      switch (`${method} ${sub}`) {
        case 'GET ':
          return this.send(res, 200, sandbox);
        case 'DELETE ':
          this.sandboxes.delete(name);
          return this.send(res, 200, { removed: name });
        case 'POST /stop':
          sandbox!.state = 'stopped';
          return this.send(res, 200, sandbox);
        case 'POST /start':
          sandbox!.state = 'running';
          return this.send(res, 200, sandbox);
        case 'GET /logs':
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
          return void res.end(`log of ${name}\nsecond line\n`);
        case 'POST /exec':
          return this.execBuffered(sandbox!, body, res);
        case 'POST /egress/selftest':
          if (!this.options.egressSelftest) break;
          if (!sandbox)
            return this.fail(res, 404, 'SANDBOX_NOT_FOUND', `no sandbox named ${name}`, 'aibox list');
          return this.send(res, 200, {
            sandbox: name,
            proxy: 'http://10.88.0.1:3128',
            ...this.options.egressSelftest,
          });
        default:
          break;
      }
    }
    this.fail(
      res,
      404,
      'API_ROUTE_NOT_FOUND',
      `no route ${method} ${pathname}`,
      'check versions (`aibox version`)',
    );
  }

  private status(): StatusReport {
    const all = [...this.sandboxes.values()];
    return {
      version: '0.1.0-fake',
      pid: process.pid,
      socket: this.socketPath,
      stateDir: this.dir,
      mode: 'rootless',
      startedAt: '2026-01-01T00:00:00.000Z',
      sandboxes: { total: all.length, running: all.filter((s) => s.state === 'running').length },
      baseImage: { name: 'localhost/aibox-base:0.1.0', present: this.imagePresent },
    };
  }

  private build(body: unknown, res: ServerResponse): void {
    const request = BuildImageRequest.safeParse(body);
    if (!request.success)
      return this.fail(res, 400, 'API_INVALID_REQUEST', 'invalid build request', 'see contract');
    const cached = this.imagePresent && !request.data.force;
    const progress: ImageBuildEvent[] = cached
      ? []
      : [
          { type: 'progress', phase: 'debootstrap', percent: 10, message: 'fetching packages' },
          { type: 'progress', phase: 'debootstrap', percent: 60, message: 'installing' },
          { type: 'progress', phase: 'import', percent: 95, message: 'podman import' },
        ];
    const events: ImageBuildEvent[] = this.options.buildEvents ?? [
      ...progress,
      { type: 'done', image: 'localhost/aibox-base:0.1.0', cached, seconds: cached ? 0 : 1.5 },
    ];
    if (events.some((e) => e.type === 'done')) this.imagePresent = true;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    // Events in separate writes, split mid-line once, so the client's line reassembly is exercised.
    const text = events.map((e) => `${JSON.stringify(e)}\n`).join('');
    const cut = Math.floor(text.length / 2);
    res.write(text.slice(0, cut));
    setTimeout(() => res.end(text.slice(cut)), 5);
  }

  private create(body: unknown, res: ServerResponse): void {
    const request = CreateSandboxRequest.safeParse(body);
    if (!request.success)
      return this.fail(
        res,
        400,
        'API_INVALID_REQUEST',
        `invalid request: ${request.error.issues[0]?.message}`,
        'fix it',
      );
    const { path: folder, profile } = request.data;
    const name =
      request.data.name ??
      path
        .basename(folder)
        .toLowerCase()
        .replace(/[^a-z0-9_.-]/g, '-');
    if (this.sandboxes.has(name))
      return this.fail(res, 409, 'SANDBOX_EXISTS', `a sandbox named ${name} exists`, 'pick another --name');
    if (!['default', 'session'].includes(profile))
      return this.fail(res, 400, 'PROFILE_NOT_FOUND', `no profile ${profile}`, 'use default or session');
    const sandbox: SandboxReport = {
      id: `sbx_${this.sandboxes.size.toString(16).padStart(12, '0')}`,
      name,
      path: folder,
      profile,
      state: 'running',
      image: 'localhost/aibox-base:0.1.0',
      runtime: 'runsc',
      mode: 'rootless',
      createdAt: '2026-01-01T00:00:00.000Z',
      protections: PROTECTIONS,
      endpoints: {},
    };
    this.sandboxes.set(name, sandbox);
    this.send(res, 201, sandbox);
  }

  private async execBuffered(sandbox: SandboxReport, body: unknown, res: ServerResponse): Promise<void> {
    const spec = ExecRequest.safeParse(body);
    if (!spec.success)
      return this.fail(res, 400, 'API_INVALID_REQUEST', 'invalid exec request', 'see contract');
    this.execs.push({ sandbox: sandbox.name, spec: spec.data, resizes: [] });
    const child = this.spawn(sandbox, spec.data, false);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.process?.stdout?.on('data', (c: Buffer) => out.push(c));
    child.process?.stderr?.on('data', (c: Buffer) => err.push(c));
    const exitCode = await child.exit;
    const result: ExecResult = {
      exitCode,
      stdout: Buffer.concat(out).toString(),
      stderr: Buffer.concat(err).toString(),
      truncated: false,
    };
    this.send(res, 200, result);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://aiboxd');
    const match = /^\/v1\/sandboxes\/([^/]+)\/exec\/ws$/.exec(url.pathname);
    const reject = (status: number, body: ApiErrorBody) => {
      if (
        (this.options.execRefusals ?? 'after-upgrade') === 'after-upgrade' &&
        body.error.code !== 'API_ROUTE_NOT_FOUND'
      ) {
        return this.wss.handleUpgrade(req, socket, head, (ws) => {
          ws.send(JSON.stringify({ type: 'error', error: body.error } satisfies ExecControlMessage));
          ws.close(1000);
        });
      }
      const text = JSON.stringify(body);
      socket.end(
        `HTTP/1.1 ${status} Refused\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
    };
    if (!match)
      return reject(404, apiError('API_ROUTE_NOT_FOUND', `no route ${url.pathname}`, 'check versions'));
    const sandbox = this.sandboxes.get(decodeURIComponent(match[1]!));
    if (!sandbox)
      return reject(
        404,
        apiError('SANDBOX_NOT_FOUND', `no sandbox named ${match[1]}`, 'list them with `aibox list`'),
      );
    if (sandbox.state !== 'running')
      return reject(
        409,
        apiError('SANDBOX_NOT_RUNNING', `sandbox ${sandbox.name} is ${sandbox.state}`, 'aibox start'),
      );
    // As aiboxd: the spec is the first message ({"type":"start","spec":…}), never in the URL.
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once('message', (data: Buffer, isBinary: boolean) => {
        const start = isBinary ? undefined : ExecStartMessage.safeParse(safeJson(data.toString()));
        const spec = start?.success ? ExecRequest.safeParse(start.data.spec) : undefined;
        if (!spec?.success) {
          const error = apiError('API_INVALID_REQUEST', 'invalid exec start message', 'see contract').error;
          ws.send(JSON.stringify({ type: 'error', error } satisfies ExecControlMessage));
          ws.close(1000);
          return;
        }
        this.streamExec(ws, sandbox, spec.data, req.url ?? '');
      });
    });
  }

  private streamExec(ws: WebSocket, sandbox: SandboxReport, spec: ExecRequest, url: string): void {
    const record: RecordedExec = { sandbox: sandbox.name, spec, resizes: [], url };
    this.execs.push(record);
    const child = this.spawn(sandbox, spec, spec.stdin);
    const frame = (stream: number, data: Buffer) => ws.send(Buffer.concat([Buffer.from([stream]), data]));
    child.process?.stdout?.on('data', (c: Buffer) => frame(EXEC_STREAM.stdout, c));
    child.process?.stderr?.on('data', (c: Buffer) => frame(EXEC_STREAM.stderr, c));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (data[0] === EXEC_STREAM.stdin) child.process?.stdin?.write(data.subarray(1));
        return;
      }
      const msg = ExecControlMessage.safeParse(JSON.parse(data.toString()));
      if (!msg.success) return;
      if (msg.data.type === 'stdin-eof') child.process?.stdin?.end();
      if (msg.data.type === 'resize') record.resizes.push({ cols: msg.data.cols, rows: msg.data.rows });
    });
    // The client went away (e.g. its output was closed): do not leave the command running.
    ws.on('close', () => child.process?.kill('SIGKILL'));
    void child.exit.then((exitCode) => {
      ws.send(JSON.stringify({ type: 'exit', exitCode } satisfies ExecControlMessage));
      ws.close();
    });
  }

  /** Runs argv on the host in the sandbox folder; 127/126 when it cannot be found/run, as podman answers. */
  private spawn(sandbox: SandboxReport, spec: ExecRequest, stdin: boolean) {
    const [file, ...args] = spec.cmd;
    const child = spawn(file!, args, {
      cwd: spec.workdir ?? sandbox.path,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...spec.env },
      stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.stdin?.on('error', () => {});
    const exit = new Promise<number>((resolve) => {
      child.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT' ? 127 : 126));
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + 9 : 1)));
    }).finally(() => this.children.delete(child));
    return { process: child, exit };
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private fail(res: ServerResponse, status: number, code: string, message: string, hint: string): void {
    this.send(res, status, apiError(code, message, hint));
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function apiError(code: string, message: string, hint: string): ApiErrorBody {
  return { error: { code, message, hint } };
}

function defaultDoctor(): DoctorReport {
  return {
    ok: true,
    mode: 'rootless',
    modeReason: 'the aibox user has subuids',
    checks: [
      { name: 'runsc', layer: 'runtime', ok: true, detail: 'runsc release-20250101 found' },
      { name: 'podman service', layer: 'runtime', ok: true, detail: 'listening' },
    ],
  };
}
