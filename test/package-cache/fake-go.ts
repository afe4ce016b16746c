/**
 * A loopback Go module proxy and checksum database for tests — proxy.golang.org and sum.golang.org are not
 * reachable from this machine. Module zips are made with Python's zipfile, and their h1: hashes computed there too
 * (an implementation independent of the cache's). The database answers /lookup with the record lines only (no
 * signed tree: the cache does not check it, the go command does, so sandbox tests set GONOSUMDB for these modules).
 * `poison` serves other bytes than the database records. Every request is counted.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execa } from 'execa';

interface Version {
  mod: Buffer;
  zip: Buffer;
  modSum: string;
  zipSum: string;
  /** Served instead of the zip the database records (a valid zip of other code). */
  served?: Buffer;
}

const BUILD = `
import base64, hashlib, io, json, sys, zipfile
module, version, source = sys.argv[1], sys.argv[2], sys.argv[3]
mod = f"module {module}\\n\\ngo 1.19\\n".encode()
files = {f"{module}@{version}/go.mod": mod, f"{module}@{version}/hello.go": source.encode()}
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    for name, data in files.items():
        z.writestr(name, data)
def h1(entries):
    lines = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\\n" for n, d in sorted(entries.items()))
    return "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()
print(json.dumps({"mod": base64.b64encode(mod).decode(), "zip": base64.b64encode(buf.getvalue()).decode(),
    "modSum": h1({"go.mod": mod}), "zipSum": h1(files)}))
`;

export class FakeGoProxy {
  readonly requests: string[] = [];
  private readonly modules = new Map<string, Map<string, Version>>();
  /** module@version the database has no record of (a private module, or one withdrawn). */
  readonly unrecorded = new Set<string>();
  private server: Server | undefined;
  /** The proxy's base URL (GOPROXY protocol) and the database's. */
  url = '';
  sumdbUrl = '';

  /** A module (path in lower case: no ! escaping needed) with one package whose hello.go is `source`. */
  async add(module: string, version: string, source: string): Promise<Version> {
    const r = await execa('python3', ['-c', BUILD, module, version, source]);
    const j = JSON.parse(r.stdout) as { mod: string; zip: string; modSum: string; zipSum: string };
    const v: Version = {
      mod: Buffer.from(j.mod, 'base64'),
      zip: Buffer.from(j.zip, 'base64'),
      modSum: j.modSum,
      zipSum: j.zipSum,
    };
    if (!this.modules.has(module)) this.modules.set(module, new Map());
    this.modules.get(module)!.set(version, v);
    return v;
  }

  async poison(module: string, version: string): Promise<void> {
    const v = this.modules.get(module)!.get(version)!;
    const r = await execa('python3', ['-c', BUILD, module, version, 'package hello // planted\n']);
    v.served = Buffer.from((JSON.parse(r.stdout) as { zip: string }).zip, 'base64');
  }

  hits(suffix: string): number {
    return this.requests.filter((r) => r.startsWith('/proxy/') && r.endsWith(suffix)).length;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = (req.url ?? '/').replace(/\?.*$/, '');
      this.requests.push(url);
      const send = (status: number, body: Buffer | string) => {
        res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      const lookup = /^\/sumdb\/lookup\/(.+)@([^@/]+)$/.exec(url);
      if (lookup) {
        const v = this.modules.get(lookup[1]!)?.get(lookup[2]!);
        if (!v || this.unrecorded.has(`${lookup[1]}@${lookup[2]}`)) return send(404, 'not found');
        const [m, ver] = [lookup[1]!, lookup[2]!];
        return send(
          200,
          `1234\n${m} ${ver} ${v.zipSum}\n${m} ${ver}/go.mod ${v.modSum}\n\n— signed note —\n`,
        );
      }
      const p = /^\/proxy\/(.+)\/@v\/(list|(.+)\.(info|mod|zip))$/.exec(url);
      const versions = p && this.modules.get(p[1]!);
      if (!p || !versions) return send(404, 'not found');
      if (p[2] === 'list') return send(200, [...versions.keys()].join('\n') + '\n');
      const v = versions.get(p[3]!);
      if (!v) return send(404, 'not found');
      if (p[4] === 'info') return send(200, JSON.stringify({ Version: p[3], Time: '2024-01-01T00:00:00Z' }));
      const body = p[4] === 'mod' ? v.mod : v.zip;
      send(200, p[4] === 'zip' && v.served ? v.served : body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.url = `${base}/proxy`;
    this.sumdbUrl = `${base}/sumdb`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
