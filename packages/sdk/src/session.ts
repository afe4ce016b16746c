import WebSocket from 'ws';
import { Readable } from 'node:stream';
import {
  FileList,
  FileRemovedReport,
  FileWrittenReport,
  SessionExecResult,
  SessionRemovedReport,
  SessionReport,
  SESSION_ROUTES as R,
  TarExtractedReport,
} from './schemas.js';
import type { FileEntry } from './schemas.js';
import { NotFoundError } from './errors.js';
import { ExecStream, type ExecStreamSpec } from './exec-stream.js';
import { fill, type BodyInit, type Transport } from './transport.js';
import type { z } from 'zod';

export interface ExecOptions {
  /** Seconds (default 60): the command is killed then, and the result says `timedOut`. */
  timeoutSeconds?: number;
  env?: Record<string, string>;
  workdir?: string;
}

export type ExecResult = z.infer<typeof SessionExecResult>;
export type SessionInfo = z.infer<typeof SessionReport>;

/** A sandbox with no host folder. `await using s = await client.createSession()` removes it at scope end. */
export class Session implements AsyncDisposable {
  private closed = false;

  constructor(
    private readonly t: Transport,
    public info: SessionInfo,
  ) {}

  get id(): string {
    return this.info.id;
  }

  private path(pattern: string): string {
    return fill(pattern, { id: this.id });
  }

  async refresh(): Promise<SessionInfo> {
    this.info = await this.t.json(SessionReport, 'GET', this.path(R.one));
    return this.info;
  }

  /** Runs a command (argv, or a string for /bin/sh -c) and returns its whole output. */
  async exec(cmd: string[] | string, options: ExecOptions = {}): Promise<ExecResult> {
    const timeoutSeconds = options.timeoutSeconds ?? 60;
    return this.t.json(SessionExecResult, 'POST', this.path(R.exec), {
      json: {
        cmd: typeof cmd === 'string' ? ['/bin/sh', '-c', cmd] : cmd,
        timeoutSeconds,
        env: options.env ?? {},
        ...(options.workdir ? { workdir: options.workdir } : {}),
      },
      timeoutMs: timeoutSeconds * 1000 + this.t.options.timeoutMs,
    });
  }

  /** Runs a command over a WebSocket: output as it comes, stdin, the exit code. */
  execStream(cmd: string[] | string, options: Omit<ExecStreamSpec, 'cmd'> = {}): ExecStream {
    const url = this.t.url(this.path(R.execWs));
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url, { headers: this.t.headers() });
    return new ExecStream(socket, {
      ...options,
      cmd: typeof cmd === 'string' ? ['/bin/sh', '-c', cmd] : cmd,
    });
  }

  /** Writes a file (missing folders are made); paths are relative to /workspace. */
  async writeFile(path: string, data: BodyInit, options: { mode?: number } = {}): Promise<number> {
    const report = await this.t.json(FileWrittenReport, 'PUT', this.path(R.files), {
      query: {
        path,
        mode: options.mode === undefined ? undefined : options.mode.toString(8).padStart(4, '0'),
      },
      body: data,
      contentType: 'application/octet-stream',
    });
    return report.bytes;
  }

  async readFile(path: string): Promise<Buffer> {
    const res = await this.t.send('GET', this.path(R.files), { query: { path } });
    return Buffer.from(await res.arrayBuffer());
  }

  async list(path = '.'): Promise<FileEntry[]> {
    return (await this.t.json(FileList, 'GET', this.path(R.filesList), { query: { path } })).entries;
  }

  async remove(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.t.json(FileRemovedReport, 'DELETE', this.path(R.files), {
      query: { path, recursive: options.recursive ? 'true' : undefined },
    });
  }

  /** Unpacks an uncompressed tar stream into the folder `dest`. Only files and folders are accepted. */
  async uploadTar(tar: BodyInit, dest = '.'): Promise<z.infer<typeof TarExtractedReport>> {
    return this.t.json(TarExtractedReport, 'PUT', this.path(R.filesTar), {
      query: { path: dest },
      body: tar,
      contentType: 'application/x-tar',
    });
  }

  /** A folder as a tar stream (files and folders; links are left out). */
  async downloadTar(path = '.'): Promise<Readable> {
    const res = await this.t.send('GET', this.path(R.filesTar), { query: { path } });
    if (!res.body) return Readable.from([]);
    return Readable.fromWeb(res.body);
  }

  /** Removes the session; one already gone (expired, removed) is not an error. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.t.json(SessionRemovedReport, 'DELETE', this.path(R.one));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
