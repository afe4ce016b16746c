/**
 * TLS inspection and method/path rules, from inside a real gVisor sandbox. The upstream is an HTTPS server on the
 * host's loopback with a certificate from the test's own CA (which the proxy is told to trust, the sandbox is not);
 * `api.test`, `other.test` and `internal.test` resolve to it through the daemon's static DNS records.
 *
 * - api.test is named by method/path rules (org: GET, HEAD and POST; project: GET/HEAD under /repos), so the proxy
 *   terminates its TLS with the sandbox's own CA and checks every request inside;
 * - other.test has no rule: a plain tunnel (spliced), its SNI peeked and checked against the CONNECT host.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';
import { freePort } from '../../src/egress/index.js';
import { startDnsmasq, type Dnsmasq } from '../egress/support/servers.js';

const run = requireHost(sandboxHostSupport(), 'egress-tls');

interface Seen {
  method: string;
  url: string;
  host: string;
  sni: string | false;
}

describe.skipIf(!run)('egress: TLS inspection, method/path rules and SNI checks inside gVisor', () => {
  let daemon: TestDaemon;
  let server: https.Server;
  let port = 0;
  let work: string;
  let project: string;
  let dns: Dnsmasq | undefined;
  const seen: Seen[] = [];
  const auths: (string | undefined)[] = [];
  const SECRET = 'ghp_egressTLStestSECRET0123456789';
  const name = 'egtls';

  const sh = (script: string) => daemon.exec(name, ['sh', '-c', script]);
  const curl = (args: string) => sh(`curl -sS --max-time 10 ${args} 2>&1; echo " rc=$?"`);

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'aibox-egress-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: 'ignore' });
    ssl(
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=aibox test upstream CA', '-keyout', 'ca.key', '-out', 'ca.pem',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign',
    ); // prettier-ignore
    ssl(
      'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', '/CN=api.test', '-keyout', 'srv.key', '-out', 'srv.csr',
    ); // prettier-ignore
    await writeFile(path.join(work, 'ext.cnf'), 'subjectAltName=DNS:api.test,DNS:other.test\n');
    ssl(
      'x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '1', '-out', 'srv.pem', '-extfile', 'ext.cnf',
    ); // prettier-ignore
    server = https.createServer(
      {
        key: await readFile(path.join(work, 'srv.key')),
        cert: await readFile(path.join(work, 'srv.pem')),
      },
      (req, res) => {
        const s = (req.socket as { servername?: string | false }).servername ?? false;
        seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', sni: s });
        auths.push(req.headers.authorization);
        res.end(`upstream ${req.method} ${req.url}\n`);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;

    const repo = path.join(work, 'policy');
    await mkdir(path.join(repo, 'org'), { recursive: true });
    await writeFile(
      path.join(repo, 'org/egress.rego'),
      [
        'package aibox.org.egress',
        '',
        'import rego.v1',
        '',
        'allow_domains := {"api.test", "other.test", "rebind.test", "lan.test", "cgnat.test"}',
        '',
        `allow_ports := {${port}}`,
        '',
        'allow_http := [{"host": "api.test", "methods": ["GET", "HEAD", "POST"]}]',
        '',
      ].join('\n'),
    );
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
    );
    project = await makeProject('egtls');
    await mkdir(path.join(project, 'aibox'));
    await writeFile(
      path.join(project, 'aibox/policy.yaml'),
      [
        'network:',
        '  http:',
        '    - host: api.test',
        '      methods: [GET, HEAD]',
        '      paths: ["/repos/**"]',
        '',
      ].join('\n'),
    );
    // The spliced host's certificate is the upstream's own: the sandbox checks it with the test CA.
    await writeFile(path.join(project, 'upstream-ca.pem'), await readFile(path.join(work, 'ca.pem')));

    // "The internet's DNS": allowed names that answer with internal addresses (DNS rebinding).
    dns = await startDnsmasq(['127.0.0.1'], await freePort('127.0.0.1'), {
      'rebind.test': '127.0.0.1',
      'lan.test': '10.11.12.13',
      'cgnat.test': '100.64.1.1',
    });
    daemon = await startTestDaemon({
      name: 'egtls',
      config: {
        policy: { repo, debounceMs: 20 },
        egress: {
          dns: { hosts: { 'api.test': '127.0.0.1', 'other.test': '127.0.0.1' } },
          hostAccess: [{ address: '127.0.0.1', port }],
          tls: { upstreamCaFiles: [path.join(work, 'ca.pem')] },
          upstreamDns: [`127.0.0.1:${dns.port}`],
          credentials: [{ secret: 'api-token', host: 'api.test', paths: ['/repos/**'], env: 'API_TOKEN' }],
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    const stored = await daemon.cli(['secret', 'set', 'api-token'], { input: `${SECRET}\n` });
    expect(stored.exitCode, stored.stderr).toBe(0);
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }, 240_000);

  afterAll(async () => {
    await daemon?.stop();
    await dns?.stop();
    await new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
    });
    if (work) await rm(work, { recursive: true, force: true });
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('terminates TLS for an inspected host with the sandbox CA, and lets an allowed method and path through', async () => {
    seen.length = 0;
    const r = await sh(
      `curl -sS -v --max-time 10 https://api.test:${port}/repos/aibox/issues?state=open 2>&1; echo " rc=$?"`,
    );
    expect(r.stdout).toContain('upstream GET /repos/aibox/issues?state=open');
    expect(r.stdout).toMatch(/issuer: .*aibox egress CA for sandbox/);
    expect(r.stdout).toContain(' rc=0');
    expect(seen).toEqual([
      { method: 'GET', url: '/repos/aibox/issues?state=open', host: `api.test:${port}`, sni: 'api.test' },
    ]);
  });

  it('refuses a path no project rule allows with a 403 naming the layer, the rule and the decision id', async () => {
    seen.length = 0;
    const r = await curl(`-i https://api.test:${port}/gists`);
    expect(r.stdout).toMatch(/HTTP\/1\.1 403/);
    expect(r.stdout).toContain('EGRESS_HTTP_NOT_ALLOWED');
    expect(r.stdout).toContain('layer project (egress.allow_http at aibox/policy.yaml:3)');
    expect(r.stdout).toContain('[0] GET,HEAD api.test/repos/**');
    const id = /decision: (dec_[0-9a-f]+)/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    expect(seen).toEqual([]);

    // Audited and explainable: the project layer's rule, with its file and line.
    const explained = await waitFor(async () => {
      const e = await daemon.cli(['policy', 'explain', '--log-entry', id!, '--json']);
      return e.exitCode === 0 ? e : undefined;
    });
    const decision = JSON.parse(explained.stdout) as {
      outcome: string;
      request: { path?: string; method?: string };
      layers: { layer: string; verdict: string; rules: { at?: string }[] }[];
    };
    expect(decision.outcome).toBe('deny');
    expect(decision.request).toMatchObject({ method: 'GET', path: '/gists' });
    const projectLayer = decision.layers.find((l) => l.layer === 'project');
    expect(projectLayer?.verdict).toBe('deny');
    expect(projectLayer?.rules[0]?.at).toBe('aibox/policy.yaml:3');
  });

  it('refuses a method the project does not allow even though the org does (tighten-only)', async () => {
    seen.length = 0;
    const post = await curl(`-i -X POST --data x https://api.test:${port}/repos/aibox/issues`);
    expect(post.stdout).toMatch(/HTTP\/1\.1 403/);
    expect(post.stdout).toContain('layer project');
    const put = await curl(`-i -X PUT --data x https://api.test:${port}/repos/aibox`);
    expect(put.stdout).toMatch(/HTTP\/1\.1 403/);
    // PUT is outside the org's rules too: the org layer's set refuses it first.
    expect(put.stdout).toContain('layer org');
    expect(seen).toEqual([]);
  });

  it('refuses dot segments that the upstream would resolve outside the allowed paths', async () => {
    seen.length = 0;
    const r = await curl(`-i --path-as-is https://api.test:${port}/repos/../admin`);
    expect(r.stdout).toMatch(/HTTP\/1\.1 403/);
    expect(r.stdout).toContain('EGRESS_PATH_AMBIGUOUS');
    expect(seen).toEqual([]);
  });

  it('refuses a Host header inside an inspected connection that is not its SNI (domain fronting)', async () => {
    seen.length = 0;
    const r = await curl(`-i -H 'Host: other.test:${port}' https://api.test:${port}/repos/x`);
    expect(r.stdout).toMatch(/HTTP\/1\.1 403/);
    expect(r.stdout).toContain('EGRESS_SNI_MISMATCH');
    expect(seen).toEqual([]);
  });

  it('tunnels a host without rules untouched (its own certificate), after checking its SNI', async () => {
    seen.length = 0;
    const r = await curl(`--cacert /workspace/upstream-ca.pem https://other.test:${port}/anything -X DELETE`);
    expect(r.stdout).toContain('upstream DELETE /anything');
    expect(r.stdout).toContain(' rc=0');
    expect(seen).toEqual([
      { method: 'DELETE', url: '/anything', host: `other.test:${port}`, sni: 'other.test' },
    ]);
  });

  it('cuts a tunnel whose SNI is not the CONNECT host (domain fronting), and never reaches the upstream', async () => {
    seen.length = 0;
    // CONNECT other.test, TLS ClientHello for api.test.
    const r = await curl(
      `--cacert /workspace/upstream-ca.pem --connect-to api.test:${port}:other.test:${port} https://api.test:${port}/repos/x`,
    );
    expect(r.stdout).not.toContain('upstream');
    expect(r.stdout).not.toContain(' rc=0');
    expect(seen).toEqual([]);
  });

  it('refuses a CONNECT that carries no TLS at all (nothing it can classify)', async () => {
    seen.length = 0;
    const r = await curl(`-p -x "$HTTPS_PROXY" http://other.test:${port}/plain`);
    expect(r.stdout).not.toContain('upstream');
    expect(seen).toEqual([]);
  });

  it('refuses allowed names that resolve to loopback, RFC 1918 or CGNAT addresses unless pinned (DNS rebinding)', async () => {
    seen.length = 0;
    const loop = await curl(`-i http://rebind.test:${port}/`);
    expect(loop.stdout).toMatch(/HTTP\/1\.1 403/);
    expect(loop.stdout).toContain('EGRESS_HOST_DESTINATION');
    // The same over HTTPS: the CONNECT itself is refused, before any byte reaches the address.
    const tunnel = await curl(`-v https://rebind.test:${port}/repos/x`);
    expect(tunnel.stdout).toMatch(/CONNECT tunnel failed, response 403|HTTP\/1\.1 403/);
    const lan = await curl(`-i http://lan.test:${port}/`);
    expect(lan.stdout).toContain('EGRESS_INTERNAL_DESTINATION');
    const cgnat = await curl(`-i http://cgnat.test:${port}/`);
    expect(cgnat.stdout).toContain('EGRESS_INTERNAL_DESTINATION');
    // api.test reaches the same loopback address because the operator pinned it (dns.hosts + hostAccess).
    expect(seen).toEqual([]);
  });

  it('injects the bound credential toward the bound host: the upstream gets the value, the sandbox only a placeholder', async () => {
    auths.length = 0;
    const r = await curl(`-H "Authorization: Bearer $API_TOKEN" https://api.test:${port}/repos/x`);
    expect(r.stdout).toContain('upstream GET /repos/x');
    expect(auths).toEqual([`Bearer ${SECRET}`]);
    // The value is in no log of the daemon's (the proxy's decision lines carry no headers).
    expect(await daemon.log()).not.toContain(SECRET);
    // Without the placeholder nothing is added: the value goes only where the sandbox asked for it.
    auths.length = 0;
    await curl(`https://api.test:${port}/repos/x`);
    expect(auths).toEqual([undefined]);
  });

  it('never puts the value in the sandbox: not in its environment, files or any /proc entry', async () => {
    // The pattern goes in halves through stdin: written whole on a command line, it would be in /proc itself.
    const half = SECRET.length / 2;
    const r = await sh(
      `echo "token=$API_TOKEN"; printf '%s%s\\n' '${SECRET.slice(0, half)}' '${SECRET.slice(half)}' | ` +
        'grep -rslFf - /proc/[0-9]*/environ /proc/[0-9]*/cmdline /etc /home /workspace /tmp; echo "grep done"',
    );
    expect(r.stdout).toMatch(/token=aibox-cred-[0-9a-f]{32}\n/);
    expect(r.stdout).not.toContain(SECRET);
    // No file matched: the only lines are the two echoes.
    expect(r.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^token=/), 'grep done']);
  });

  it('refuses and audits a placeholder sent to another host, or outside the bound header and paths', async () => {
    seen.length = 0;
    auths.length = 0;
    const other = await curl(`-i -H "Authorization: Bearer $API_TOKEN" http://other.test:${port}/`);
    expect(other.stdout).toMatch(/HTTP\/1\.1 403/);
    expect(other.stdout).toContain('EGRESS_CREDENTIAL_EXFILTRATION');
    const inUrl = await curl(`-i "https://api.test:${port}/repos/x?token=$API_TOKEN"`);
    expect(inUrl.stdout).toContain('EGRESS_CREDENTIAL_EXFILTRATION');
    const offPath = await curl(`-i -H "X-Api-Key: $API_TOKEN" https://api.test:${port}/repos/x`);
    expect(offPath.stdout).toContain('EGRESS_CREDENTIAL_EXFILTRATION');
    expect(seen).toEqual([]);
    const id = /decision: (dec_[0-9a-f]+)/.exec(other.stdout)?.[1];
    const explained = await waitFor(async () => {
      const e = await daemon.cli(['policy', 'explain', '--log-entry', id!, '--json']);
      return e.exitCode === 0 ? e : undefined;
    });
    expect(JSON.parse(explained.stdout)).toMatchObject({ outcome: 'deny' });
    expect(explained.stdout).toContain('EGRESS_CREDENTIAL_EXFILTRATION');
  });

  it('keeps the secret out of squid.conf (0600 credentials file, CA key 0600) and everything across a daemon crash', async () => {
    const info = await daemon.api<{ id: string }>('GET', `/v1/sandboxes/${name}`);
    const dir = path.join(daemon.stateDir, 'egress', info.body.id);
    expect(await readFile(path.join(dir, 'squid/squid.conf'), 'utf8')).not.toContain(SECRET);
    const modes = execFileSync('stat', [
      '-c',
      '%a %U %n',
      path.join(dir, 'squid/credentials.conf'),
      path.join(dir, 'tls/ca.key'),
    ]).toString();
    expect(modes).toMatch(/^600 proxy .*credentials\.conf\n600 proxy .*ca\.key\n$/);

    const before = (await sh('echo "$API_TOKEN"')).stdout.trim();
    await daemon.crash();
    await daemon.restart();
    auths.length = 0;
    const r = await waitFor(async () => {
      const got = await curl(`-H "Authorization: Bearer $API_TOKEN" https://api.test:${port}/repos/x`);
      return got.stdout.includes('upstream GET /repos/x') ? got : undefined;
    }, 30_000);
    expect(r.stdout).toContain(' rc=0');
    expect((await sh('echo "$API_TOKEN"')).stdout.trim()).toBe(before);
    expect(auths.at(-1)).toBe(`Bearer ${SECRET}`);
    const refused = await curl(`-i https://api.test:${port}/gists`);
    expect(refused.stdout).toContain('EGRESS_HTTP_NOT_ALLOWED');
  });

  it('gives the sandbox the CA certificate, never its key', async () => {
    const r = await sh(
      'echo "NODE=$NODE_EXTRA_CA_CERTS SSL=$SSL_CERT_FILE REQ=$REQUESTS_CA_BUNDLE"; ls /etc/aibox/egress; ' +
        'grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt; ' +
        'grep -rl "PRIVATE KEY" /etc/aibox /etc/ssl 2>/dev/null; echo done',
    );
    expect(r.stdout).toContain(
      'NODE=/etc/aibox/egress/ca.pem SSL=/etc/ssl/certs/ca-certificates.crt REQ=/etc/ssl/certs/ca-certificates.crt',
    );
    expect(r.stdout).toContain('ca.pem');
    expect(r.stdout).not.toContain('ca.key');
    expect(r.stdout).not.toMatch(/PRIVATE KEY|\.key/);
    // The host's CAs are still trusted (the sandbox's CA is added, not substituted).
    expect(Number(/\n([0-9]+)\n/.exec(r.stdout)?.[1])).toBeGreaterThan(10);
  });
});

async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}
