/**
 * A loopback Debian archive for tests (tests reach no real archive): one suite, one component, amd64; a Packages
 * index (plain, .gz, .xz, and by-hash copies) listing the .debs added, and an InRelease clear-signed by a key made
 * here with gpg (its public keyring is what the cache and apt are given). `poison` serves other bytes for a file;
 * `resign` signs with another key. Every request is counted.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export class FakeDebian {
  readonly requests: string[] = [];
  readonly suite = 'bookworm';
  private readonly files = new Map<string, Buffer>();
  private readonly debs = new Map<string, { name: string; version: string; bytes: Buffer }>();
  private readonly poisoned = new Set<string>();
  private server: Server | undefined;
  private home = '';
  url = '';
  /** The public keyring of the key InRelease is signed with. */
  keyring = '';

  async init(): Promise<void> {
    this.home = await mkdtemp(path.join(tmpdir(), 'aibox-fake-debian-'));
    for (const who of ['archive', 'other']) {
      await mkdir(this.gnupg(who), { mode: 0o700 });
      const r = await execa(
        'gpg',
        [
          '--batch',
          '--passphrase',
          '',
          '--quick-gen-key',
          `${who} <${who}@example.test>`,
          'ed25519',
          'sign',
          'never',
        ],
        { env: { GNUPGHOME: this.gnupg(who) }, reject: false },
      );
      if (r.exitCode !== 0) throw new Error(r.stderr);
    }
    this.keyring = path.join(this.home, 'keyring.gpg');
    const pub = await execa('gpg', ['--export'], {
      env: { GNUPGHOME: this.gnupg('archive') },
      encoding: 'buffer',
    });
    await writeFile(this.keyring, pub.stdout);
  }

  private gnupg(who: string): string {
    return path.join(this.home, who);
  }

  /** A .deb-shaped file (the cache and `apt-get download` check its hash, not its content). */
  addDeb(name: string, version: string, bytes: Buffer): string {
    const file = `pool/main/${name[0]}/${name}/${name}_${version}_amd64.deb`;
    this.debs.set(file, { name, version, bytes });
    this.files.set(file, bytes);
    return file;
  }

  poison(file: string): void {
    this.poisoned.add(file);
  }

  /** Writes Packages (all forms) and a freshly signed InRelease (by `signer`). */
  async publish(signer: 'archive' | 'other' = 'archive'): Promise<void> {
    const stanzas = [...this.debs].map(([file, d]) =>
      [
        `Package: ${d.name}`,
        `Version: ${d.version}`,
        'Architecture: amd64',
        'Maintainer: aibox tests <t@example.test>',
        'Installed-Size: 1',
        `Filename: ${file}`,
        `Size: ${d.bytes.length}`,
        `SHA256: ${sha256(d.bytes)}`,
        'Description: a test package',
        '',
      ].join('\n'),
    );
    const plain = Buffer.from(stanzas.join('\n'));
    const xz = await execa('xz', ['-c'], { input: plain, encoding: 'buffer' });
    const dir = 'main/binary-amd64';
    const indexes: [string, Buffer][] = [
      [`${dir}/Packages`, plain],
      [`${dir}/Packages.gz`, gzipSync(plain)],
      [`${dir}/Packages.xz`, Buffer.from(xz.stdout)],
    ];
    for (const [p, b] of indexes) {
      this.files.set(`dists/${this.suite}/${p}`, b);
      this.files.set(`dists/${this.suite}/${dir}/by-hash/SHA256/${sha256(b)}`, b);
    }
    const release = [
      'Origin: aibox-test',
      `Suite: ${this.suite}`,
      `Codename: ${this.suite}`,
      'Date: Sat, 01 Jan 2000 00:00:00 UTC',
      'Acquire-By-Hash: yes',
      'Architectures: amd64',
      'Components: main',
      'SHA256:',
      ...indexes.map(([p, b]) => ` ${sha256(b)} ${b.length} ${p}`),
      '',
    ].join('\n');
    const src = path.join(this.home, 'Release');
    await writeFile(src, release);
    await rm(`${src}.asc`, { force: true });
    const signed = await execa('gpg', ['--batch', '--yes', '--clearsign', '-o', `${src}.asc`, src], {
      env: { GNUPGHOME: this.gnupg(signer) },
      reject: false,
    });
    if (signed.exitCode !== 0) throw new Error(signed.stderr);
    this.files.set(`dists/${this.suite}/InRelease`, await readFile(`${src}.asc`));
  }

  hits(prefix: string): number {
    return this.requests.filter((r) => r.startsWith(`/debian/${prefix}`)).length;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = decodeURIComponent((req.url ?? '/').replace(/\?.*$/, ''));
      this.requests.push(url);
      const file = url.startsWith('/debian/') ? url.slice('/debian/'.length) : '';
      const bytes = this.files.get(file);
      const body = !bytes
        ? Buffer.from('not found')
        : this.poisoned.has(file)
          ? Buffer.concat([bytes, Buffer.from('injected')])
          : bytes;
      res.writeHead(bytes ? 200 : 404, { 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/debian`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if (this.home) await rm(this.home, { recursive: true, force: true });
  }
}
