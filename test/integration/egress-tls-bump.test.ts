/**
 * How the per-sandbox Squid terminates TLS for inspected hosts, against its real process on the host (no sandbox):
 * inspected hosts are bumped client-first, so the checks that the peek made for them (SNI = CONNECT host) move to
 * each request inside: its Host must be the SNI and an inspected host. Clients here are hostile on purpose (they
 * skip certificate checks where a fronting attempt needs it). The upstream is an HTTPS server on loopback with its
 * own test CA, trusted by the proxy only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressConfig, EgressManager, buildEgressPolicy } from '../../src/egress/index.js';
import { silent } from '../egress/support/manager.js';
import { requireHost } from '../support/host.js';

const support =
  process.getuid?.() !== 0
    ? { ok: false, reason: 'needs root (Squid drops to its user, the resolver binds port 53)' }
    : !existsSync('/usr/sbin/squid') || !existsSync('/usr/lib/squid/security_file_certgen')
      ? { ok: false, reason: 'squid-openssl is not installed (scripts/setup-host.sh)' }
      : { ok: true, reason: '' };
const run = requireHost(support, 'egress-tls-bump');

interface Answer {
  /** The proxy's answer to CONNECT. */
  connect: string;
  /** The first line and body of the answer inside the tunnel ('' when the tunnel was cut). */
  text: string;
  cert?: PeerCertificate;
}

describe.skipIf(!run)('egress: client-first TLS inspection in the real proxy', () => {
  let dir: string;
  let manager: EgressManager;
  let upstream: https.Server;
  let port = 0;
  let proxyPort = 0;
  /** An upstream whose certificate no CA the proxy trusts has signed (self-signed). */
  let rogue: https.Server;
  let roguePort = 0;
  let rogueHits = 0;
  let ca: Buffer[] = [];
  const seen: { host: string; sni: string | false; url: string }[] = [];
  let handshakes = 0;
  const ID = 'sbx_tlsbump';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aibox-tls-bump-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=test upstream CA', '-keyout', 'up-ca.key', '-out', 'up-ca.pem',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'); // prettier-ignore
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=api.test',
      '-keyout', 'srv.key', '-out', 'srv.csr'); // prettier-ignore
    await writeFile(
      join(dir, 'ext.cnf'),
      'subjectAltName=DNS:api.test,DNS:other.test,DNS:secret-name.test\n',
    );
    ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'up-ca.pem', '-CAkey', 'up-ca.key', '-CAcreateserial',
      '-days', '1', '-out', 'srv.pem', '-extfile', 'ext.cnf'); // prettier-ignore
    upstream = https.createServer(
      { key: await readFile(join(dir, 'srv.key')), cert: await readFile(join(dir, 'srv.pem')) },
      (req, res) => {
        const sni = (req.socket as { servername?: string | false }).servername ?? false;
        seen.push({ host: req.headers.host ?? '', sni, url: req.url ?? '' });
        res.end(`upstream ${req.url}`);
      },
    );
    upstream.on('secureConnection', () => handshakes++);
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    port = (upstream.address() as AddressInfo).port;
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=rogue.test', '-addext', 'subjectAltName=DNS:rogue.test', '-keyout', 'rogue.key',
      '-out', 'rogue.pem'); // prettier-ignore
    rogue = https.createServer(
      { key: await readFile(join(dir, 'rogue.key')), cert: await readFile(join(dir, 'rogue.pem')) },
      (_req, res) => {
        rogueHits++;
        res.end('rogue upstream');
      },
    );
    await new Promise<void>((r) => rogue.listen(0, '127.0.0.1', () => r()));
    roguePort = (rogue.address() as AddressInfo).port;
    manager = new EgressManager({
      config: EgressConfig.parse({ tls: { upstreamCaFiles: [join(dir, 'up-ca.pem')] } }),
      stateDir: dir,
      logger: silent,
      clock: { now: () => Date.now() },
      sink: () => {},
      upstreamDns: [],
    });
    await manager.prepare(
      ID,
      buildEgressPolicy({
        allow: [
          { host: 'api.test', ports: [port] },
          { host: 'other.test', ports: [port] },
          { host: 'rogue.test', ports: [roguePort] },
        ],
        dnsHosts: { 'api.test': '127.0.0.1', 'other.test': '127.0.0.1', 'rogue.test': '127.0.0.1' },
        hostAccess: [
          { address: '127.0.0.1', port },
          { address: '127.0.0.1', port: roguePort },
        ],
        http: [
          {
            layer: 'project',
            at: 'test',
            rules: [
              { host: 'api.test', methods: ['GET'], index: 0 },
              { host: 'rogue.test', methods: ['GET'], index: 1 },
            ],
          },
        ],
      }),
    );
    proxyPort = manager.state(ID)!.proxyPort;
    ca = [await readFile(manager.trust(ID).caCert)];
  }, 60_000);

  afterAll(async () => {
    await manager?.release(ID);
    await manager?.close();
    upstream?.closeAllConnections();
    upstream?.close();
    rogue?.closeAllConnections();
    rogue?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** CONNECT `target`, then (unless `plain`) TLS with `sni`, one GET with `host`; the whole exchange, never throws. */
  async function through(
    target: string,
    opts: { sni?: string | null; host?: string; plain?: boolean; verify?: boolean; port?: number } = {},
  ): Promise<Answer> {
    const port_ = opts.port ?? port;
    const raw: Socket = netConnect(proxyPort, '127.0.0.1');
    raw.setTimeout(10_000, () => raw.destroy());
    const connect = await new Promise<string>((resolve) => {
      let head = '';
      raw.once('connect', () =>
        raw.write(`CONNECT ${target}:${port_} HTTP/1.1\r\nHost: ${target}:${port_}\r\n\r\n`),
      );
      const onData = (c: Buffer) => {
        head += c.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        raw.off('data', onData);
        resolve(head.split('\r\n')[0]!);
      };
      raw.on('data', onData);
      raw.once('close', () => resolve(head.split('\r\n')[0] ?? ''));
    });
    const request = `GET /x HTTP/1.1\r\nHost: ${opts.host ?? target}:${port_}\r\nConnection: close\r\n\r\n`;
    if (opts.plain) {
      raw.write(request);
      return { connect, text: await readAll(raw) };
    }
    const sni = opts.sni === undefined ? target : opts.sni;
    const tls = tlsConnect({
      socket: raw,
      ...(sni === null ? {} : { servername: sni }),
      ca,
      rejectUnauthorized: opts.verify ?? true,
    });
    const ok = await new Promise<boolean>((resolve) => {
      tls.once('secureConnect', () => resolve(true));
      tls.once('error', () => resolve(false));
      tls.once('close', () => resolve(false));
    });
    if (!ok) {
      tls.destroy();
      return { connect, text: '' };
    }
    const cert = tls.getPeerCertificate();
    tls.write(request);
    return { connect, text: await readAll(tls), cert };
  }

  it('answers an inspected host with a certificate of the sandbox CA for that host alone, and forwards to it', async () => {
    seen.length = 0;
    const r = await through('api.test');
    expect(r.connect).toMatch(/^HTTP\/1\.1 200/);
    expect(r.text).toMatch(/^HTTP\/1\.1 200[^]*upstream \/x$/);
    expect(r.cert?.issuer.CN).toBe(`aibox egress CA for sandbox ${ID}`);
    expect(r.cert?.subject.CN).toBe('api.test');
    // Not a copy of the upstream's names (client-first: nothing of the upstream certificate is mimicked).
    expect(r.cert?.subjectaltname).toBe('DNS:api.test');
    expect(seen).toEqual([{ host: `api.test:${port}`, sni: 'api.test', url: '/x' }]);
  });

  it('reuses upstream TLS connections across new client connections (no handshake upstream per connection)', async () => {
    seen.length = 0;
    const before = handshakes;
    for (let i = 0; i < 10; i++) expect((await through('api.test')).text).toContain('upstream /x');
    expect(seen).toHaveLength(10);
    expect(handshakes - before).toBeLessThan(5);
  });

  it('refuses a request inside an inspected connection whose SNI and Host are another allowed host', async () => {
    seen.length = 0;
    // CONNECT api.test (inspected), then TLS and Host for other.test (allowed as a tunnel only): never bumped for it.
    const r = await through('api.test', { sni: 'other.test', host: 'other.test', verify: false });
    expect(r.text).toMatch(/^HTTP\/1\.1 403/);
    expect(r.text).toContain('EGRESS_SNI_MISMATCH');
    expect(seen).toEqual([]);
  });

  it('refuses a Host that is not the SNI, and a connection without SNI', async () => {
    seen.length = 0;
    const fronted = await through('api.test', { host: 'other.test' });
    expect(fronted.text).toMatch(/^HTTP\/1\.1 403/);
    expect(fronted.text).toContain('EGRESS_SNI_MISMATCH');
    const noSni = await through('api.test', { sni: null, verify: false });
    expect(noSni.text).toMatch(/^HTTP\/1\.1 403/);
    expect(noSni.text).toContain('EGRESS_SNI_MISMATCH');
    expect(seen).toEqual([]);
  });

  it('never tunnels plain bytes inside a CONNECT to an inspected host', async () => {
    seen.length = 0;
    const r = await through('api.test', { plain: true });
    expect(r.text).not.toContain('upstream');
    expect(seen).toEqual([]);
  });

  it('refuses an inspected upstream whose certificate does not verify, before any request reaches it', async () => {
    rogueHits = 0;
    const r = await through('rogue.test', { port: roguePort });
    expect(r.connect).toMatch(/^HTTP\/1\.1 200/);
    // The proxy's own error inside the client's TLS (signed by the sandbox CA), never the upstream's answer.
    expect(r.text).toMatch(/^HTTP\/1\.1 503/);
    expect(r.text).not.toContain('rogue upstream');
    expect(rogueHits).toBe(0);
  });

  it('still peeks and checks the SNI of a host that is only tunnelled, and splices it untouched', async () => {
    seen.length = 0;
    const cut = await through('other.test', { sni: 'api.test', verify: false });
    expect(cut.text).not.toContain('upstream');
    expect(seen).toEqual([]);
    const upCa = await readFile(join(dir, 'up-ca.pem'));
    ca = [upCa];
    try {
      const spliced = await through('other.test');
      expect(spliced.text).toContain('upstream /x');
      // The upstream's own certificate: the proxy did not terminate TLS.
      expect(spliced.cert?.issuer.CN).toBe('test upstream CA');
    } finally {
      ca = [await readFile(manager.trust(ID).caCert)];
    }
    expect(seen).toEqual([{ host: `other.test:${port}`, sni: 'other.test', url: '/x' }]);
  });
});

function readAll(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    s.once('close', () => resolve(text));
    s.once('error', () => undefined);
  });
}
