/** Test origin servers (HTTP, HTTPS) and a dnsmasq upstream, all on loopback or on a test namespace's veth address. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';

export interface Origin {
  port: number;
  close(): Promise<void>;
}

/** Answers every request with `origin <name>` and the request headers it saw (to check what the proxy strips). */
export async function startOrigin(name: string, address: string, tls = false): Promise<Origin> {
  const handler: http.RequestListener = (req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`origin ${name}\n${JSON.stringify(req.headers)}\n`);
  };
  let server: http.Server | https.Server;
  if (tls) {
    const dir = mkdtempSync(join(tmpdir(), 'aibox-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=allowed.test',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    server = https.createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      handler,
    );
    rmSync(dir, { recursive: true, force: true });
  } else {
    server = http.createServer(handler);
  }
  await new Promise<void>((resolve) => server.listen(0, address, () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Dnsmasq {
  port: number;
  stop(): Promise<void>;
}

/** A real resolver standing for "the internet's DNS": answers `records` (name → address) and TXT under them. */
export async function startDnsmasq(
  addresses: string[],
  port: number,
  records: Record<string, string>,
): Promise<Dnsmasq> {
  const args = [
    '--keep-in-foreground',
    `--port=${port}`,
    `--listen-address=${addresses.join(',')}`,
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    '--no-dhcp-interface=*',
    '--user=root',
    ...Object.entries(records).flatMap(([n, a]) => [`--address=/${n}/${a}`, `--txt-record=${n},hello`]),
  ];
  const proc: ResultPromise = execa('dnsmasq', args, { reject: false });
  await new Promise((r) => setTimeout(r, 300));
  return {
    port,
    async stop() {
      proc.kill('SIGTERM');
      await proc;
    },
  };
}
