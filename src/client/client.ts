import { z } from 'zod';
import {
  DoctorCheck,
  DoctorReport,
  ExecResult,
  ImageBuildEvent,
  SandboxReport,
  StatusReport,
  VersionReport,
} from '../shared/index.js';
import type { BuildImageRequest, CreateSandboxRequest, ExecRequest } from '../shared/index.js';
import { ClientError } from './errors.js';
import { execStream } from './exec-stream.js';
import type { ExecRequestInput, ExecStreamIo } from './exec-stream.js';
import { readNdjson } from './ndjson.js';
import { UnixSocketTransport, errorFromAnswer, parseJson } from './transport.js';

export const BaseImageReport = z.object({ image: z.string(), present: z.boolean() });
export type BaseImageReport = z.infer<typeof BaseImageReport>;

export const SandboxList = z.object({ sandboxes: z.array(SandboxReport) });
export const RemovedReport = z.object({ removed: z.string() });
export type RemovedReport = z.infer<typeof RemovedReport>;

/**
 * The egress self-test answer (POST /v1/sandboxes/:name/egress/selftest). Its contract belongs to the egress
 * module; the client reads only the doctor-like shape it needs and keeps the rest.
 */
export const EgressSelftestReport = z.looseObject({
  ok: z.boolean(),
  checks: z.array(DoctorCheck).default([]),
});
export type EgressSelftestReport = z.infer<typeof EgressSelftestReport>;

export type ImageBuildDone = Extract<ImageBuildEvent, { type: 'done' }>;
export type CreateSandboxInput = z.input<typeof CreateSandboxRequest>;

/** Typed client for aiboxd's API over its unix socket. Every answer is validated against the wire contract. */
export class AiboxClient {
  private readonly transport: UnixSocketTransport;

  constructor(readonly socketPath: string) {
    this.transport = new UnixSocketTransport(socketPath);
  }

  version(): Promise<VersionReport> {
    return this.json('GET', '/v1/version', VersionReport);
  }

  status(): Promise<StatusReport> {
    return this.json('GET', '/v1/status', StatusReport);
  }

  doctor(): Promise<DoctorReport> {
    return this.json('GET', '/v1/doctor', DoctorReport);
  }

  baseImage(): Promise<BaseImageReport> {
    return this.json('GET', '/v1/images/base', BaseImageReport);
  }

  /**
   * Builds (or reuses) the base image, calling onEvent for every progress line; resolves with the done event and
   * rejects with the build's own error code when the stream reports an error.
   */
  async buildBaseImage(
    request: z.input<typeof BuildImageRequest>,
    onEvent: (event: ImageBuildEvent) => void,
  ): Promise<ImageBuildDone> {
    const stream = await this.transport.stream('POST', '/v1/images/base', request);
    for await (const raw of readNdjson(stream)) {
      const event = ImageBuildEvent.safeParse(raw);
      if (!event.success) throw badResponse('POST /v1/images/base', 'an image build event');
      onEvent(event.data);
      if (event.data.type === 'done') return event.data;
      if (event.data.type === 'error') {
        const { code, message, hint } = event.data.error;
        throw new ClientError(code, message, { status: 0, hint });
      }
    }
    throw ClientError.local(
      'DAEMON_CONNECTION_LOST',
      'the image build stream ended before the build finished',
    );
  }

  createSandbox(request: CreateSandboxInput | CreateSandboxRequest): Promise<SandboxReport> {
    return this.json('POST', '/v1/sandboxes', SandboxReport, request);
  }

  async listSandboxes(): Promise<SandboxReport[]> {
    return (await this.json('GET', '/v1/sandboxes', SandboxList)).sandboxes;
  }

  getSandbox(name: string): Promise<SandboxReport> {
    return this.json('GET', sandboxPath(name), SandboxReport);
  }

  stopSandbox(name: string): Promise<SandboxReport> {
    return this.json('POST', `${sandboxPath(name)}/stop`, SandboxReport);
  }

  startSandbox(name: string): Promise<SandboxReport> {
    return this.json('POST', `${sandboxPath(name)}/start`, SandboxReport);
  }

  removeSandbox(name: string): Promise<RemovedReport> {
    return this.json('DELETE', sandboxPath(name), RemovedReport);
  }

  /** Buffered exec for programs: no tty, no stdin. */
  exec(name: string, request: ExecRequestInput | ExecRequest): Promise<ExecResult> {
    return this.json('POST', `${sandboxPath(name)}/exec`, ExecResult, {
      ...request,
      tty: false,
      stdin: false,
    });
  }

  /** Streaming exec over a WebSocket; resolves with the command's exit code. */
  execStream(name: string, spec: ExecRequestInput, io: ExecStreamIo): Promise<number> {
    return execStream(this.socketPath, name, spec, io);
  }

  async logs(name: string): Promise<string> {
    const res = await this.transport.request('GET', `${sandboxPath(name)}/logs`);
    if (res.status < 200 || res.status >= 300) throw errorFromAnswer(res.status, res.body);
    return res.body.toString('utf8');
  }

  egressSelftest(name: string): Promise<EgressSelftestReport> {
    return this.json('POST', `${sandboxPath(name)}/egress/selftest`, EgressSelftestReport, {});
  }

  /**
   * A typed call for routes without a named method here (secrets, pushes, policy, …): sends `body` as JSON,
   * turns a non-2xx answer into the daemon's ClientError and validates a 2xx answer against `schema`.
   */
  async json<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.output<S>> {
    const res = await this.transport.request(method, path, body);
    if (res.status < 200 || res.status >= 300) throw errorFromAnswer(res.status, res.body);
    const parsed = schema.safeParse(parseJson(res.body));
    if (!parsed.success) throw badResponse(`${method} ${path}`, 'the documented answer');
    return parsed.data;
  }
}

function sandboxPath(name: string): string {
  return `/v1/sandboxes/${encodeURIComponent(name)}`;
}

function badResponse(route: string, expected: string): ClientError {
  return ClientError.local('DAEMON_BAD_RESPONSE', `aiboxd's answer to ${route} is not ${expected}`, {
    route,
  });
}
