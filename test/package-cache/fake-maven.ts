/**
 * A loopback Maven repository (Maven 2 layout) for tests — Maven Central is not reachable from this machine. Files
 * come from memory (`add`) or from a folder (`serveDir`: e.g. Debian's offline repository of the maven pack, so a
 * real `mvn package` resolves its plugins here); every file has a .sha256 and a .sha1 next to it unless
 * `withoutChecksums`, `poison` serves other bytes than its checksums declare, and `truncate` breaks a download off. Every request is counted.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export class FakeMavenRepo {
  readonly requests: string[] = [];
  private readonly files = new Map<string, Buffer>();
  private readonly poisoned = new Set<string>();
  private readonly unsummed = new Set<string>();
  private readonly truncated = new Set<string>();
  private dir: string | undefined;
  private server: Server | undefined;
  url = '';

  add(file: string, bytes: Buffer | string): void {
    this.files.set(file, Buffer.from(bytes));
  }

  /** A jar-shaped artifact (and its pom) at group/artifact/version. */
  addArtifact(group: string, artifact: string, version: string, jar: Buffer, pom?: string): string {
    const base = `${group.replace(/\./g, '/')}/${artifact}/${version}/${artifact}-${version}`;
    this.add(`${base}.jar`, jar);
    this.add(
      `${base}.pom`,
      pom ??
        `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version></project>\n`,
    );
    return base;
  }

  serveDir(dir: string): void {
    this.dir = dir;
  }

  poison(file: string): void {
    this.poisoned.add(file);
  }

  /** The next downloads of `file` break off half way (the connection is reset after half of the body). */
  truncate(file: string, on = true): void {
    if (on) this.truncated.add(file);
    else this.truncated.delete(file);
  }

  withoutChecksums(file: string): void {
    this.unsummed.add(file);
  }

  /** Requests for files other than checksums (what the cache had to fetch). */
  fileHits(prefix = ''): number {
    return this.requests.filter((r) => r.startsWith(`/maven2/${prefix}`) && !/\.(sha1|sha256|md5)$/.test(r))
      .length;
  }

  private async content(file: string): Promise<Buffer | undefined> {
    const mem = this.files.get(file);
    if (mem) return mem;
    if (!this.dir) return undefined;
    const full = path.join(this.dir, file);
    if (!full.startsWith(this.dir + path.sep)) return undefined;
    const st = await stat(full).catch(() => undefined);
    return st?.isFile() ? readFile(full) : undefined;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = decodeURIComponent((req.url ?? '/').replace(/\?.*$/, ''));
      this.requests.push(url);
      const send = (status: number, body: Buffer | string) => {
        res.writeHead(status, {
          'content-type': 'application/octet-stream',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      };
      void (async () => {
        if (!url.startsWith('/maven2/')) return send(404, 'not found');
        const file = url.slice('/maven2/'.length);
        const sum = /\.(sha1|sha256)$/.exec(file);
        if (sum) {
          const of = file.slice(0, -sum[0].length);
          const bytes = this.unsummed.has(of) ? undefined : await this.content(of);
          if (!bytes) return send(404, 'not found');
          // sha1sum's format (digest, two spaces, name), as some repositories publish it.
          return send(200, `${createHash(sum[1]!).update(bytes).digest('hex')}  ${path.basename(of)}\n`);
        }
        const bytes = await this.content(file);
        if (!bytes) return send(404, 'not found');
        if (this.truncated.has(file)) {
          res.writeHead(200, { 'content-length': bytes.length });
          res.write(bytes.subarray(0, bytes.length >> 1));
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        send(200, this.poisoned.has(file) ? Buffer.concat([bytes, Buffer.from('injected')]) : bytes);
      })().catch(() => send(500, 'error'));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/maven2`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
