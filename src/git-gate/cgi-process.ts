import type { IncomingMessage, ServerResponse } from 'node:http';
import { execa } from 'execa';
import type { Logger } from '../shared/index.js';

export interface CgiRequest {
  readonly projectRoot: string;
  /** `/<repo>.git/<service path>` */
  readonly pathInfo: string;
  readonly query: string;
  readonly remoteUser: string;
  /** Extra environment for http-backend and the hooks it runs (never secrets). */
  readonly env: Record<string, string>;
  readonly gitBinary?: string;
}

/**
 * Runs `git http-backend` as a CGI for one request, streaming the request body into it and its answer back, so pushes
 * and clones of any size pass without buffering. Only a minimal environment reaches git and its hooks.
 */
export async function runHttpBackend(
  req: IncomingMessage,
  res: ServerResponse,
  cgi: CgiRequest,
  logger: Logger,
): Promise<void> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: '/nonexistent',
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_PROJECT_ROOT: cgi.projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: cgi.pathInfo,
    QUERY_STRING: cgi.query,
    REMOTE_USER: cgi.remoteUser,
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    ...cgi.env,
  };
  if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
  const enc = req.headers['content-encoding'];
  if (typeof enc === 'string') env.HTTP_CONTENT_ENCODING = enc;
  const proto = req.headers['git-protocol'];
  if (typeof proto === 'string') env.GIT_PROTOCOL = proto;

  const child = execa(cgi.gitBinary ?? 'git', ['http-backend'], {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    encoding: 'buffer',
    buffer: { stdout: false, stderr: true },
    cwd: cgi.projectRoot,
  });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);

  const stdout = child.stdout;
  let head = Buffer.alloc(0);
  let headersDone = false;
  stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      if (!res.write(chunk)) {
        stdout.pause();
        res.once('drain', () => stdout.resume());
      }
      return;
    }
    head = Buffer.concat([head, chunk]);
    const split = findHeaderEnd(head);
    if (!split) return;
    headersDone = true;
    writeCgiHeaders(res, head.subarray(0, split.at).toString('latin1'));
    const rest = head.subarray(split.at + split.len);
    if (rest.length > 0) res.write(rest);
  });

  const result = await child;
  if (!headersDone) {
    const stderr = Buffer.from(result.stderr ?? '')
      .toString()
      .trim();
    logger.warn({ path: cgi.pathInfo, exit: result.exitCode, stderr }, 'git http-backend gave no answer');
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('aibox git gateway: git http-backend failed\n');
    } else res.end();
    return;
  }
  const stderr = Buffer.from(result.stderr ?? '')
    .toString()
    .trim();
  if (stderr) logger.debug({ path: cgi.pathInfo, stderr }, 'git http-backend stderr');
  res.end();
}

function findHeaderEnd(buf: Buffer): { at: number; len: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { at: crlf, len: 4 };
  if (lf >= 0) return { at: lf, len: 2 };
  return undefined;
}

function writeCgiHeaders(res: ServerResponse, block: string): void {
  let status = 200;
  for (const line of block.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else res.setHeader(name, value);
  }
  res.statusCode = status;
}
