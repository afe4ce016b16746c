/**
 * The CLI's and client's tests run against the REAL aiboxd composition root (test/support/test-daemon.ts over the
 * fake runtime), seen through a recording proxy socket: `requests` lists what reached the daemon (so a test can
 * show the CLI refused something without asking), `execs` what each exec asked of the runtime.
 */
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExecOptions, ExecSession } from '../../src/runtime/index.js';
import { FakeRuntime } from '../support/fake-runtime.js';
import { startTestDaemon } from '../support/test-daemon.js';
import type { TestDaemon, TestDaemonOptions } from '../support/test-daemon.js';

export interface RecordedRequest {
  method: string;
  url: string;
  body: unknown;
}

export interface RecordedExec {
  options: ExecOptions;
  resizes: { cols: number; rows: number }[];
}

export interface ImageScript {
  /** Progress lines each build reports before it ends. */
  progress: { phase: string; percent: number; message: string }[];
  /** Thrown at the end of the build instead of finishing it. */
  fail?: Error;
}

/** The fake runtime, also keeping each exec's options and terminal resizes, with a scriptable base image build. */
export class RecordingRuntime extends FakeRuntime {
  readonly execs: RecordedExec[] = [];
  /** The `force` flag of each base image build asked for. */
  readonly imageBuilds: boolean[] = [];
  imageScript: ImageScript = { progress: [] };

  override readonly image = {
    reference: () => Promise.resolve('localhost/aibox-base:fake'),
    present: () => Promise.resolve(this.imagePresent),
    build: async (force = false, onProgress?: (p: ImageScript['progress'][number]) => void) => {
      this.imageBuilds.push(force);
      for (const p of this.imageScript.progress) onProgress?.(p);
      await new Promise((resolve) => setImmediate(resolve));
      if (this.imageScript.fail) throw this.imageScript.fail;
      const cached = this.imagePresent && !force;
      this.imagePresent = true;
      return { image: 'localhost/aibox-base:fake', cached };
    },
  };

  /** A recognisable log per container, so `aibox logs` shows it passes the daemon's text through. */
  override logs(containerId: string): Promise<string> {
    const name = this.containers.get(containerId)?.spec.name ?? containerId;
    return Promise.resolve(`log of ${name}\nsecond line\n`);
  }

  override async exec(containerId: string, options: ExecOptions): Promise<ExecSession> {
    const record: RecordedExec = { options, resizes: [] };
    this.execs.push(record);
    const session = await super.exec(containerId, options);
    return {
      ...session,
      resize: (cols, rows) => {
        record.resizes.push({ cols, rows });
        return session.resize(cols, rows);
      },
    };
  }
}

export interface CliTestDaemon {
  /** The proxy socket: point the CLI or an AiboxClient here. */
  socket: string;
  requests: RecordedRequest[];
  execs: RecordedExec[];
  runtime: RecordingRuntime;
  daemon: TestDaemon;
  makeProject: TestDaemon['makeProject'];
  close(): Promise<void>;
}

export async function startCliTestDaemon(
  options: Omit<TestDaemonOptions, 'runtime'> = {},
): Promise<CliTestDaemon> {
  // The runtime's id derives from this path only; the daemon's state directory is the test daemon's own.
  const runtime = new RecordingRuntime(path.join(tmpdir(), `aibox-cli-runtime-${process.pid}`));
  const daemon = await startTestDaemon({ ...options, runtime });
  const requests: RecordedRequest[] = [];
  const tunnels = new Set<net.Socket>();
  const socket = path.join(daemon.dir, 'proxy.sock');
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', body: parse(raw) });
      const upstream = http.request(
        { socketPath: daemon.socket, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(raw);
    });
  });
  // WebSocket upgrades (exec) go through as raw bytes once recorded.
  proxy.on('upgrade', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', body: undefined });
    const upstream = net.connect(daemon.socket, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      tunnels.add(s);
      s.on('close', () => tunnels.delete(s));
    }
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(socket, resolve));
  return {
    socket,
    requests,
    execs: runtime.execs,
    runtime,
    daemon,
    makeProject: (name, files) => daemon.makeProject(name, files),
    async close() {
      proxy.closeAllConnections();
      for (const s of tunnels) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await daemon.close();
    },
  };
}

function parse(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    return raw.toString('utf8');
  }
}

/**
 * Canned answers on a unix socket, for tests of how the CLI renders reports the real daemon's answers depend on the
 * host for (doctor): `'GET /v1/doctor': [200, report]`. Any other route answers 404 API_ROUTE_NOT_FOUND, as aiboxd.
 */
export async function startCannedAnswers(
  dir: string,
  answers: Record<string, [status: number, body: unknown]>,
): Promise<{ socket: string; close(): Promise<void> }> {
  const socket = path.join(dir, `canned-${Object.keys(answers).length}-${Date.now()}.sock`);
  const server = http.createServer((req, res) => {
    req.resume();
    const [status, body] = answers[`${req.method} ${req.url}`] ?? [
      404,
      { error: { code: 'API_ROUTE_NOT_FOUND', message: `no route ${req.url}`, hint: 'check versions' } },
    ];
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { socket, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
