/**
 * Java in a real gVisor sandbox trusts the sandbox's egress CA with no flags: the java pack (Debian's OpenJDK, whose
 * lib/security/cacerts links to /etc/ssl/certs/java/cacerts) finds there the JKS trust store the daemon wrote (the
 * host's CAs plus the sandbox CA). A compiled Java program fetches an inspected host (TLS terminated by the proxy
 * with the sandbox CA) through the proxy; the same program with a trust store lacking the sandbox CA fails with a
 * PKIX error. The upstream is an HTTPS server on the host's loopback with its own test CA (trusted by the proxy).
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

const run = requireHost(sandboxHostSupport(), 'egress-java');

/** GET argv[0] through the proxy in HTTPS_PROXY (Java does not read that variable itself); prints status and body. */
const FETCH = `import java.io.InputStream;
import java.net.*;

public class Fetch {
  public static void main(String[] args) throws Exception {
    URI proxy = URI.create(System.getenv("HTTPS_PROXY"));
    Proxy via = new Proxy(Proxy.Type.HTTP, new InetSocketAddress(proxy.getHost(), proxy.getPort()));
    HttpURLConnection c = (HttpURLConnection) new URL(args[0]).openConnection(via);
    try (InputStream in = c.getInputStream()) {
      System.out.println(c.getResponseCode() + " " + new String(in.readAllBytes(), "UTF-8"));
    }
  }
}
`;

describe.skipIf(!run)('egress: Java trusts the sandbox CA inside gVisor', () => {
  let daemon: TestDaemon;
  let server: https.Server;
  let port = 0;
  let work: string;
  let project: string;
  const seen: { url: string; sni: string | false }[] = [];
  const name = 'egjava';
  const sh = (script: string) => daemon.exec(name, ['sh', '-c', script]);

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'aibox-egress-java-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=aibox java test upstream CA', '-keyout', 'ca.key', '-out', 'ca.pem',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'); // prettier-ignore
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=api.test',
      '-keyout', 'srv.key', '-out', 'srv.csr'); // prettier-ignore
    await writeFile(path.join(work, 'ext.cnf'), 'subjectAltName=DNS:api.test\n');
    ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1',
      '-out', 'srv.pem', '-extfile', 'ext.cnf'); // prettier-ignore
    server = https.createServer(
      { key: await readFile(path.join(work, 'srv.key')), cert: await readFile(path.join(work, 'srv.pem')) },
      (req, res) => {
        seen.push({
          url: req.url ?? '',
          sni: (req.socket as { servername?: string | false }).servername ?? false,
        });
        res.end(`upstream ${req.method} ${req.url}`);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;

    const repo = path.join(work, 'policy');
    await mkdir(path.join(repo, 'org'), { recursive: true });
    const rego = (pkg: string, body: string) =>
      writeFile(
        path.join(repo, `org/${pkg}.rego`),
        `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
      );
    await rego(
      'egress',
      `allow_domains := {"api.test"}\n\nallow_ports := {${port}}\n\n` +
        'allow_http := [{"host": "api.test", "methods": ["GET"]}]',
    );
    await rego('packs', 'allowed := ["java"]');
    await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
    project = await makeProject('egjava');
    await writeFile(path.join(project, 'Fetch.java'), FETCH);
    // For the control: a trust store holding some CA, but not the sandbox's.
    await writeFile(path.join(project, 'other-ca.pem'), await readFile(path.join(work, 'ca.pem')));

    daemon = await startTestDaemon({
      name: 'egjava',
      config: {
        policy: { repo, debounceMs: 20 },
        egress: {
          dns: { hosts: { 'api.test': '127.0.0.1' } },
          hostAccess: [{ address: '127.0.0.1', port }],
          tls: { upstreamCaFiles: [path.join(work, 'ca.pem')] },
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const install = await daemon.cli(['install', 'java', '--sandbox', name]);
    expect(install.exitCode, install.stderr).toBe(0);
    const javac = await sh('javac -d /tmp /workspace/Fetch.java 2>&1; echo rc=$?');
    expect(javac.stdout).toContain('rc=0');
  }, 600_000);

  afterAll(async () => {
    await daemon?.stop();
    await new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
    });
    if (work) await rm(work, { recursive: true, force: true });
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("reads the daemon's trust store through the JDK's own cacerts link: the host's CAs and the sandbox CA", async () => {
    const r = await sh(
      'readlink -f "$JAVA_HOME/lib/security/cacerts"; keytool -list -cacerts -storepass changeit 2>&1 | ' +
        'grep -c trustedCertEntry; keytool -list -cacerts -storepass changeit -alias aibox-egress-ca -v 2>&1 | ' +
        'grep "^Owner"; echo x > /etc/ssl/certs/java/cacerts 2>/dev/null; echo write=$?',
    );
    const [link, count] = r.stdout.split('\n');
    expect(link).toBe('/etc/ssl/certs/java/cacerts');
    // The host's bundle (well over ten CAs) plus this sandbox's CA.
    expect(Number(count)).toBeGreaterThan(10);
    expect(r.stdout).toMatch(/Owner: CN=aibox egress CA for sandbox \S+, O=aibox/);
    // Read-only: nothing in the sandbox can add a CA to it.
    expect(r.stdout).toMatch(/write=[1-9]/);
  });

  it('fetches an inspected host through the proxy with no flags (TLS terminated with the sandbox CA)', async () => {
    seen.length = 0;
    const r = await sh(`java -cp /tmp Fetch https://api.test:${port}/repos/x 2>&1; echo rc=$?`);
    expect(r.stdout).toContain('200 upstream GET /repos/x');
    expect(r.stdout).toContain('rc=0');
    expect(seen).toEqual([{ url: '/repos/x', sni: 'api.test' }]);
  });

  it('fails with a PKIX error when the trust store lacks the sandbox CA (control)', async () => {
    seen.length = 0;
    const r = await sh(
      'keytool -importcert -noprompt -alias other -file /workspace/other-ca.pem -keystore /tmp/control.p12 ' +
        '-storepass changeit >/dev/null 2>&1; java -Djavax.net.ssl.trustStore=/tmp/control.p12 ' +
        `-Djavax.net.ssl.trustStorePassword=changeit -cp /tmp Fetch https://api.test:${port}/repos/x 2>&1; echo rc=$?`,
    );
    expect(r.stdout).toContain('PKIX path building failed');
    expect(r.stdout).not.toContain('rc=0');
    expect(seen).toEqual([]);
  });
});
