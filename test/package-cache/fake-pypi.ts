/**
 * A loopback Python package index for tests: PEP 691 JSON project pages whose files (real wheels built here with
 * zipfile) are on a second "files host" path, sha256 declared per file, and a count of every request. `poison`
 * makes it serve other bytes than the page declares.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execa } from 'execa';

interface File {
  bytes: Buffer;
  served?: Buffer;
}

export class FakePypi {
  readonly requests: string[] = [];
  private readonly projects = new Map<string, Map<string, File>>();
  private server: Server | undefined;
  url = '';

  /** A minimal valid pure-Python wheel `<name>-<version>-py3-none-any.whl`. */
  async addWheel(name: string, version: string): Promise<string> {
    const script = `
import io, sys, zipfile, hashlib, base64
name, version = sys.argv[1], sys.argv[2]
dist = f"{name}-{version}.dist-info"
files = {
  f"{name}/__init__.py": f"VERSION = {version!r}\\n",
  f"{dist}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
  f"{dist}/WHEEL": "Wheel-Version: 1.0\\nGenerator: aibox-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
  for p, c in files.items():
    data = c.encode()
    z.writestr(zipfile.ZipInfo(p, (2020, 1, 1, 0, 0, 0)), data)
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{p},sha256={h},{len(data)}")
  record.append(f"{dist}/RECORD,,")
  z.writestr(zipfile.ZipInfo(f"{dist}/RECORD", (2020, 1, 1, 0, 0, 0)), "\\n".join(record) + "\\n")
sys.stdout.buffer.write(buf.getvalue())
`;
    const r = await execa('python3', ['-c', script, name, version], { encoding: 'buffer' });
    const filename = `${name}-${version}-py3-none-any.whl`;
    this.add(name, filename, Buffer.from(r.stdout));
    return filename;
  }

  add(project: string, filename: string, bytes: Buffer): void {
    if (!this.projects.has(project)) this.projects.set(project, new Map());
    this.projects.get(project)!.set(filename, { bytes });
  }

  poison(project: string, filename: string): void {
    const f = this.projects.get(project)!.get(filename)!;
    f.served = Buffer.concat([f.bytes, Buffer.from('injected')]);
  }

  fileHits(): number {
    return this.requests.filter((r) => r.startsWith('/files/')).length;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = (req.url ?? '/').replace(/\?.*$/, '');
      this.requests.push(url);
      const send = (status: number, type: string, body: Buffer | string) => {
        res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      const page = /^\/simple\/([^/]+)\/$/.exec(url);
      if (page) {
        const files = this.projects.get(page[1]!);
        if (!files) return send(404, 'text/plain', 'not found');
        return send(
          200,
          'application/vnd.pypi.simple.v1+json',
          JSON.stringify({
            meta: { 'api-version': '1.0' },
            name: page[1],
            files: [...files].map(([filename, f]) => ({
              filename,
              url: `${this.url}/files/${page[1]}/${filename}`,
              hashes: { sha256: createHash('sha256').update(f.bytes).digest('hex') },
            })),
          }),
        );
      }
      const file = /^\/files\/([^/]+)\/([^/]+)$/.exec(url);
      const f = file && this.projects.get(file[1]!)?.get(file[2]!);
      if (f) return send(200, 'application/octet-stream', f.served ?? f.bytes);
      send(404, 'text/plain', 'not found');
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
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
