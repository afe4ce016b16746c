import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { CredentialProvider, SecretRedactor } from '../credentials/index.js';
import { messageOf, newId, type Clock, type Logger } from '../shared/index.js';
import { dialectOf, type LlmConfig, type LlmDialect } from './config.js';
import { DIALECTS, STRIPPED_REQUEST_HEADERS, STRIPPED_RESPONSE_HEADERS, type Dialect } from './dialects.js';
import { llmProxyErrors, type LlmProxyErrorCode } from './errors.js';
import {
  LlmGate,
  type LlmBatchFacts,
  type LlmDecision,
  type LlmPolicy,
  type PayloadLogging,
} from './policy.js';
import { shapeOf } from './routes.js';
import type { LlmCallRecord, LlmCallSink } from './record.js';
import { StreamRedactor } from './stream-redact.js';
import { SseUsageReader, totalTokens, usageOf, type TokenUsage } from './usage.js';

export interface LlmProxyOptions {
  sandbox: { id: string; name: string };
  config: LlmConfig;
  policy: LlmPolicy;
  credentials: CredentialProvider;
  sink: LlmCallSink;
  logger: Logger;
  clock: Clock;
  redactor: SecretRedactor;
  /** Reuse after a daemon restart, so the sandbox's environment stays valid; otherwise random. */
  placeholder?: string;
  /** 0 (default) picks a free port; a restarted daemon passes the port the sandbox already knows. */
  port?: number;
  /** Project option; "metadata" wins over the daemon's default and the policy's. */
  payloadLogging?: PayloadLogging;
}

interface Upstream {
  name: string;
  dialectName: LlmDialect;
  dialect: Dialect;
  url: URL;
  credential: string;
  agent: http.Agent;
  timeout: number;
}

/** What is known about a call while it is handled; becomes its LlmCallRecord. */
interface Call {
  decisionId: string;
  provider: string;
  model: string | undefined;
  method: string;
  path: string;
  stream: boolean;
  startedAt: number;
  t0: number;
  ttfbMs?: number;
  request?: unknown;
  requestTruncated: boolean;
}

type BatchCall = LlmBatchFacts['calls'][number];

const MAX_PARSED_RESPONSE = 16 * 1024 * 1024;
const ENV_NAMES: Record<string, { base: string; key: string; suffix: string }> = {
  anthropic: { base: 'ANTHROPIC_BASE_URL', key: 'ANTHROPIC_API_KEY', suffix: '' },
  openai: { base: 'OPENAI_BASE_URL', key: 'OPENAI_API_KEY', suffix: '/v1' },
};

/**
 * The LLM sidecar of one sandbox: an HTTP listener on the host loopback that the sandbox reaches through its egress
 * rules. It checks the sandbox's placeholder key, asks the policy gate, swaps the placeholder for the real key from
 * the credential provider (fail closed: no key, no request), forwards to the configured upstream with TLS
 * verification, streams the answer back chunk by chunk, and records every call (payloads redacted) to the sink.
 */
export class LlmProxy {
  readonly placeholder: string;
  readonly #o: LlmProxyOptions;
  readonly #gate: LlmGate;
  readonly #log: Logger;
  readonly #upstreams = new Map<string, Upstream>();
  #server: http.Server | undefined;
  #port = 0;

  constructor(options: LlmProxyOptions) {
    this.#o = options;
    this.placeholder = options.placeholder ?? `aibox-placeholder-${randomBytes(18).toString('hex')}`;
    this.#gate = new LlmGate(options.policy, options.clock);
    this.#log = options.logger.child({ module: 'llm-proxy', sandbox: options.sandbox.name });
  }

  get port(): number {
    return this.#port;
  }

  get gate(): LlmGate {
    return this.#gate;
  }

  setPolicy(policy: LlmPolicy): void {
    this.#gate.setPolicy(policy);
  }

  async start(): Promise<number> {
    if (this.#server) return this.#port;
    for (const [name, p] of Object.entries(this.#o.config.providers)) {
      let ca: string | undefined;
      if (p.caFile) {
        try {
          ca = await readFile(p.caFile, 'utf8');
        } catch {
          throw llmProxyErrors.create(
            'LLM_CONFIG_INVALID',
            `llm.providers.${name}.caFile: cannot read ${p.caFile}`,
          );
        }
      }
      const url = new URL(p.upstream);
      const agentOptions = { keepAlive: true, ...(ca ? { ca } : {}), rejectUnauthorized: true };
      const dialectName = dialectOf(name, p);
      this.#upstreams.set(name, {
        name,
        dialectName,
        dialect: DIALECTS[dialectName],
        url,
        credential: p.credential,
        agent:
          url.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent({ keepAlive: true }),
        timeout: p.timeout,
      });
    }
    const server = http.createServer({ noDelay: true }, (req, res) => void this.#handle(req, res));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.#o.port ?? 0, this.#o.config.listenHost, () => resolve());
      });
    } catch (err) {
      throw llmProxyErrors.create(
        'LLM_PROXY_START_FAILED',
        `the LLM proxy for sandbox ${this.#o.sandbox.name} cannot listen on ${this.#o.config.listenHost}:${this.#o.port ?? 0}: ${messageOf(err)}`,
      );
    }
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
    this.#log.info({ port: this.#port, providers: [...this.#upstreams.keys()] }, 'LLM proxy listening');
    return this.#port;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const u of this.#upstreams.values()) u.agent.destroy();
    this.#upstreams.clear();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The base URL of a provider as seen from inside the sandbox. */
  baseUrl(provider: string, host = this.#o.config.sandboxHost): string {
    const suffix = ENV_NAMES[this.#upstreams.get(provider)?.dialectName ?? '']?.suffix ?? '';
    return `http://${host}:${this.#port}/${provider}${provider in ENV_NAMES ? suffix : ''}`;
  }

  /** Environment for the sandbox: base URLs and placeholder keys, never a real key. */
  sandboxEnv(host = this.#o.config.sandboxHost): Record<string, string> {
    const env: Record<string, string> = { AIBOX_LLM_PROXY: `http://${host}:${this.#port}` };
    for (const name of this.#upstreams.keys()) {
      const known = ENV_NAMES[name];
      const base = known?.base ?? `AIBOX_LLM_${name.toUpperCase().replace(/-/g, '_')}_BASE_URL`;
      env[base] = this.baseUrl(name, host);
      env[known?.key ?? `AIBOX_LLM_${name.toUpperCase().replace(/-/g, '_')}_API_KEY`] = this.placeholder;
    }
    return env;
  }

  get #payloadLogging(): PayloadLogging {
    const levels = [this.#o.config.payloadLogging, this.#gate.policy.payloadLogging, this.#o.payloadLogging];
    return levels.includes('metadata') ? 'metadata' : 'full';
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/([a-z0-9-]+)(\/[^#]*)?$/.exec(req.url ?? '');
    const call: Call = {
      decisionId: newId('dec'),
      provider: match?.[1] ?? '',
      model: undefined,
      method: req.method ?? 'GET',
      path: match?.[2] ?? '/',
      stream: false,
      startedAt: this.#o.clock.now(),
      t0: performance.now(),
      requestTruncated: false,
    };
    const upstream = this.#upstreams.get(call.provider);
    if (!upstream) {
      req.resume();
      return this.#refuse(
        res,
        call,
        DIALECTS.openai,
        'LLM_PROVIDER_UNKNOWN',
        'aibox.providers',
        `no LLM provider "${call.provider}" is configured`,
      );
    }
    const dialect = upstream.dialect;
    const pathOnly = call.path.split('?')[0] ?? '';
    if (pathOnly.split('/').some((seg) => seg === '..' || seg === '.' || /%2e/i.test(seg))) {
      req.resume();
      return this.#refuse(
        res,
        call,
        dialect,
        'LLM_REQUEST_INVALID',
        'aibox.path',
        'the request path must not contain dot segments',
      );
    }
    if (!this.#placeholderOk(dialect.presentedKey(req.headers))) {
      req.resume();
      return this.#refuse(
        res,
        call,
        dialect,
        'LLM_PLACEHOLDER_MISMATCH',
        'aibox.placeholder',
        "the request does not carry this sandbox's placeholder key",
      );
    }

    let body: Buffer;
    try {
      body = await readBody(req, this.#o.config.maxRequestBytes);
    } catch {
      return this.#refuse(
        res,
        call,
        dialect,
        'LLM_REQUEST_INVALID',
        'aibox.body',
        `the request body is larger than ${this.#o.config.maxRequestBytes} bytes or was cut off`,
      );
    }
    // Only API paths aibox can check go upstream; every model call in them is checked (batches included).
    const shape = shapeOf(upstream.dialectName, call.method, pathOnly, req.headers['content-type'], body);
    if (shape.kind === 'refuse') {
      return this.#refuse(res, call, dialect, shape.code, shape.rule, shape.reason);
    }
    const json = shape.json;
    call.stream = json?.['stream'] === true;
    let decision: LlmDecision;
    if (shape.kind === 'batch') {
      call.model = [...new Set(shape.calls.map((c) => c.model))].join(',');
      decision = this.#gate.decideBatch({ provider: call.provider, calls: shape.calls as BatchCall[] });
    } else {
      call.model = shape.kind === 'call' ? shape.call.model : undefined;
      decision = this.#gate.decide({
        provider: call.provider,
        model: call.model,
        maxTokens: shape.kind === 'call' ? shape.call.maxTokens : undefined,
        generates: shape.kind === 'call' && shape.generates,
      });
    }
    call.decisionId = decision.id;
    if (json && upstream.dialectName === 'openai' && call.stream && pathOnly.endsWith('/chat/completions')) {
      // Streamed usage is only sent when asked for; the token budget needs it.
      const opts = (json['stream_options'] ?? {}) as Record<string, unknown>;
      if (opts['include_usage'] === undefined) {
        json['stream_options'] = { ...opts, include_usage: true };
        body = Buffer.from(JSON.stringify(json));
      }
    }
    this.#capturePayload(call, json, body);
    if (!decision.allow) {
      return this.#refuse(
        res,
        call,
        dialect,
        decision.code ?? 'LLM_MODEL_DENIED',
        decision.rule,
        decision.reason,
      );
    }

    let key: string;
    try {
      const cred = await this.#o.credentials.get(upstream.credential, { kind: 'llm' });
      if (cred.expiresAt <= this.#o.clock.now()) throw new Error('the credential has expired');
      key = cred.value.reveal();
      if (!key) throw new Error('the credential is empty');
    } catch (err) {
      return this.#refuse(
        res,
        call,
        dialect,
        'LLM_CREDENTIAL_UNAVAILABLE',
        'aibox.credentials',
        `aibox could not obtain the key for ${call.provider} (${messageOf(err)}); nothing was sent upstream`,
        'failed',
      );
    }
    this.#forward(req, res, call, upstream, body, key);
  }

  #placeholderOk(presented: string | undefined): boolean {
    if (!presented) return false;
    const a = Buffer.from(presented);
    const b = Buffer.from(this.placeholder);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  #capturePayload(call: Call, json: Record<string, unknown> | undefined, body: Buffer): void {
    if (this.#payloadLogging === 'metadata' || body.length === 0) return;
    const max = this.#o.config.maxLoggedPayloadBytes;
    if (json && body.length <= max) {
      call.request = this.#o.redactor.redactValue(json);
    } else {
      call.request = this.#o.redactor.redact(body.subarray(0, max).toString('utf8'));
      call.requestTruncated = body.length > max;
    }
  }

  #forward(
    req: IncomingMessage,
    res: ServerResponse,
    call: Call,
    up: Upstream,
    body: Buffer,
    key: string,
  ): void {
    const headers: OutgoingHttpHeaders = {};
    const connectionListed = String(req.headers.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((s) => s.trim());
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || STRIPPED_REQUEST_HEADERS.has(name) || connectionListed.includes(name))
        continue;
      headers[name] = value;
    }
    headers['accept-encoding'] = 'identity';
    if (body.length > 0 || !['GET', 'HEAD', 'DELETE'].includes(call.method))
      headers['content-length'] = body.length;
    up.dialect.injectKey(headers, key);

    const base = up.url.pathname.replace(/\/$/, '');
    const client = up.url.protocol === 'https:' ? https : http;
    const upReq = client.request({
      protocol: up.url.protocol,
      hostname: up.url.hostname.replace(/^\[|\]$/g, ''),
      port: up.url.port || (up.url.protocol === 'https:' ? 443 : 80),
      path: `${base}${call.path}`,
      method: call.method,
      headers,
      agent: up.agent,
      timeout: up.timeout,
    });
    let finished = false;
    const finish = (record: Partial<LlmCallRecord> & Pick<LlmCallRecord, 'status' | 'outcome'>): void => {
      if (finished) return;
      finished = true;
      this.#emit(call, record);
    };

    upReq.on('timeout', () => upReq.destroy(new Error('upstream timed out')));
    upReq.on('error', (err) => {
      if (!res.headersSent) {
        this.#refuse(
          res,
          call,
          up.dialect,
          'LLM_UPSTREAM_FAILED',
          'aibox.upstream',
          `the ${call.provider} upstream failed: ${describeNetError(err)}`,
          'failed',
        );
        finished = true;
      } else {
        res.destroy();
        finish({
          status: res.statusCode,
          outcome: 'failed',
          reason: `upstream broke off: ${describeNetError(err)}`,
        });
      }
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        upReq.destroy();
        finish({ status: res.statusCode, outcome: 'failed', reason: 'the sandbox closed the connection' });
      }
    });

    upReq.on('response', (upRes) => {
      const status = upRes.statusCode ?? 502;
      const contentType = String(upRes.headers['content-type'] ?? '');
      const isSse = /text\/event-stream/i.test(contentType);
      // Line-delimited streams (SSE, NDJSON) are masked line by line, so no event waits for the next one.
      const lineStream = isSse || /ndjson|jsonl|json-seq/i.test(contentType);
      call.stream = call.stream || lineStream;
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(upRes.headers)) {
        // content-length goes too: masking an echoed key changes the length.
        if (value !== undefined && !STRIPPED_RESPONSE_HEADERS.has(name) && name !== 'content-length')
          out[name] = value;
      }
      out['x-aibox-decision-id'] = call.decisionId;
      res.writeHead(status, out);
      res.flushHeaders();

      const logPayload = this.#payloadLogging === 'full';
      const maxLogged = this.#o.config.maxLoggedPayloadBytes;
      const logged: Buffer[] = [];
      let loggedBytes = 0;
      let totalBytes = 0;
      const parsed: Buffer[] = [];
      const sse = isSse ? new SseUsageReader() : undefined;
      const masker = new StreamRedactor(this.#o.redactor, lineStream ? 'lines' : 'window');

      const pass = (chunk: Buffer): void => {
        if (chunk.length === 0) return;
        totalBytes += chunk.length;
        if (!res.write(chunk)) {
          upRes.pause();
          res.once('drain', () => upRes.resume());
        }
        if (sse) sse.push(chunk);
        else if (totalBytes <= MAX_PARSED_RESPONSE) parsed.push(chunk);
        if (logPayload && loggedBytes < maxLogged) {
          const part = chunk.subarray(0, maxLogged - loggedBytes);
          logged.push(part);
          loggedBytes += part.length;
        }
      };
      upRes.on('data', (chunk: Buffer) => {
        call.ttfbMs ??= performance.now() - call.t0;
        pass(masker.push(chunk));
      });
      upRes.on('error', (err) => {
        res.destroy();
        finish({ status, outcome: 'failed', reason: `upstream broke off: ${describeNetError(err)}` });
      });
      upRes.on('end', () => {
        pass(masker.end());
        res.end();
        let usage: TokenUsage | undefined;
        let doc: unknown;
        if (sse) usage = sse.end();
        else if (totalBytes <= MAX_PARSED_RESPONSE) {
          try {
            doc = JSON.parse(Buffer.concat(parsed).toString('utf8')) as unknown;
            usage = usageOf(doc);
          } catch {
            doc = undefined;
          }
        }
        this.#gate.consume(totalTokens(usage));
        const record: Partial<LlmCallRecord> & Pick<LlmCallRecord, 'status' | 'outcome'> = {
          status,
          outcome: 'forwarded',
          ...(usage ? { usage } : {}),
        };
        if (logPayload) {
          const truncated = totalBytes > loggedBytes;
          record.response =
            doc !== undefined && !truncated
              ? this.#o.redactor.redactValue(doc)
              : this.#o.redactor.redact(Buffer.concat(logged).toString('utf8'));
          record.truncated = { request: call.requestTruncated, response: truncated };
        }
        finish(record);
      });
    });
    upReq.end(body);
  }

  #refuse(
    res: ServerResponse,
    call: Call,
    dialect: Dialect,
    code: LlmProxyErrorCode,
    rule: string,
    reason: string,
    outcome: 'refused' | 'failed' = 'refused',
  ): void {
    const spec = llmProxyErrors.catalogue[code];
    const message = this.#o.redactor.redact(
      `aibox: ${reason} (rule ${rule}, decision ${call.decisionId}). ${spec.hint}`,
    );
    const text = JSON.stringify(dialect.errorBody(spec.status, code, message, call.decisionId));
    if (!res.headersSent) {
      res.writeHead(spec.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'x-aibox-decision-id': call.decisionId,
      });
    }
    res.end(text);
    this.#emit(call, { status: spec.status, outcome, rule, reason: this.#o.redactor.redact(reason) });
  }

  #emit(call: Call, result: Partial<LlmCallRecord> & Pick<LlmCallRecord, 'status' | 'outcome'>): void {
    const payloadLogging = this.#payloadLogging;
    const record: LlmCallRecord = {
      decisionId: call.decisionId,
      sandboxId: this.#o.sandbox.id,
      sandboxName: this.#o.sandbox.name,
      provider: call.provider,
      model: call.model,
      method: call.method,
      path: call.path,
      stream: call.stream,
      startedAt: new Date(call.startedAt).toISOString(),
      latencyMs: round(performance.now() - call.t0),
      ...(call.ttfbMs !== undefined ? { ttfbMs: round(call.ttfbMs) } : {}),
      payloadLogging,
      ...(payloadLogging === 'full' && call.request !== undefined ? { request: call.request } : {}),
      ...result,
    };
    if (payloadLogging === 'metadata') {
      delete record.request;
      delete record.response;
      delete record.truncated;
    }
    this.#log.info(
      {
        decisionId: record.decisionId,
        provider: record.provider,
        model: record.model,
        status: record.status,
        outcome: record.outcome,
        latencyMs: record.latencyMs,
        usage: record.usage,
      },
      'llm call',
    );
    Promise.resolve()
      .then(() => this.#o.sink.record(record))
      .catch((err: unknown) =>
        this.#log.error(
          { reason: messageOf(err), decisionId: record.decisionId },
          'llm call record not written',
        ),
      );
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function describeNetError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${messageOf(err)}` : messageOf(err);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        reject(new Error('too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('aborted')));
  });
}
