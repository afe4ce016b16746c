/**
 * A loopback npm registry for tests and the build benchmark: real tarballs made with `npm pack`, served with a
 * packument whose dist.integrity/shasum are computed from them, and a count of every request it got. `poison`
 * makes it serve other bytes than its packument declares (what a compromised registry or mirror would do).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

interface Version {
  tarball: Buffer;
  integrity: string;
  shasum: string;
  dependencies: Record<string, string>;
  served?: Buffer;
}

export class FakeNpmRegistry {
  readonly requests: string[] = [];
  private readonly packages = new Map<string, Map<string, Version>>();
  private server: Server | undefined;
  url = '';

  /** Makes a real package (package.json and an index.js) with `npm pack` and publishes it here. */
  async publish(name: string, version: string, dependencies: Record<string, string> = {}): Promise<void> {
    const dir = await mkdtemp(path.join(tmpdir(), 'aibox-fake-npm-'));
    try {
      await writeFile(
        path.join(dir, 'package.json'),
        JSON.stringify({ name, version, main: 'index.js', dependencies }, null, 2),
      );
      await writeFile(
        path.join(dir, 'index.js'),
        `module.exports = ${JSON.stringify(`${name}@${version}`)};\n`,
      );
      const r = await execa('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: dir,
        env: { npm_config_update_notifier: 'false' },
      });
      const [packed] = JSON.parse(r.stdout) as { filename: string }[];
      this.add(name, version, await readFile(path.join(dir, packed!.filename)), dependencies);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Publishes any bytes as a version's tarball (its digests computed from them). */
  add(name: string, version: string, tarball: Buffer, dependencies: Record<string, string> = {}): void {
    const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
    const shasum = createHash('sha1').update(tarball).digest('hex');
    if (!this.packages.has(name)) this.packages.set(name, new Map());
    this.packages.get(name)!.set(version, { tarball, integrity, shasum, dependencies });
  }

  /** From now on the tarball's bytes differ from what the packument declares. */
  poison(name: string, version: string): void {
    const v = this.packages.get(name)!.get(version)!;
    v.served = Buffer.concat([v.tarball, Buffer.from('\n// injected\n')]);
  }

  /** Requests whose path starts with `prefix` (after the leading /), e.g. tarballs: hits('left-pad/-/'). */
  hits(prefix = ''): number {
    return this.requests.filter((r) => r.startsWith(`/${prefix}`)).length;
  }

  tarballHits(): number {
    return this.requests.filter((r) => r.endsWith('.tgz')).length;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = (req.url ?? '/').replace(/\?.*$/, '');
      this.requests.push(url);
      const send = (status: number, type: string, body: Buffer | string) => {
        res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      const decoded = decodeURIComponent(url.slice(1));
      const dash = decoded.indexOf('/-/');
      if (dash >= 0) {
        const name = decoded.slice(0, dash);
        const file = decoded.slice(dash + 3);
        for (const [version, v] of this.packages.get(name) ?? []) {
          if (file === `${baseName(name)}-${version}.tgz`)
            return send(200, 'application/octet-stream', v.served ?? v.tarball);
        }
        return send(404, 'application/json', '{"error":"not found"}');
      }
      const versions = this.packages.get(decoded);
      if (!versions) return send(404, 'application/json', '{"error":"not found"}');
      send(200, 'application/json', JSON.stringify(this.packument(decoded, versions)));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  private packument(name: string, versions: Map<string, Version>) {
    const all = [...versions.keys()];
    return {
      name,
      'dist-tags': { latest: all.at(-1) },
      versions: Object.fromEntries(
        [...versions].map(([version, v]) => [
          version,
          {
            name,
            version,
            dependencies: v.dependencies,
            dist: {
              tarball: `${this.url}/${name}/-/${baseName(name)}-${version}.tgz`,
              integrity: v.integrity,
              shasum: v.shasum,
            },
          },
        ]),
      ),
    };
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** A small real dependency tree: app → web, util; web → util, @acme/log; plus a few leaves. */
export async function publishTree(registry: FakeNpmRegistry, width = 0): Promise<Record<string, string>> {
  await registry.publish('aibox-util', '1.0.0');
  await registry.publish('aibox-util', '1.1.0');
  await registry.publish('@acme/log', '2.0.0', { 'aibox-util': '^1.0.0' });
  await registry.publish('aibox-web', '3.0.0', { 'aibox-util': '^1.1.0', '@acme/log': '^2.0.0' });
  const deps: Record<string, string> = { 'aibox-web': '^3.0.0', 'aibox-util': '^1.0.0' };
  for (let i = 0; i < width; i++) {
    await registry.publish(`aibox-leaf-${i}`, '1.0.0', { 'aibox-util': '^1.0.0' });
    deps[`aibox-leaf-${i}`] = '^1.0.0';
  }
  return deps;
}
