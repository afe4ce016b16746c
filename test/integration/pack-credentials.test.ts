/**
 * A pack's credential binding, injected host-side, from inside a real gVisor sandbox. The "registry" is an HTTPS
 * server on the host's loopback with a certificate from the test's own CA (trusted by the proxy, not the sandbox);
 * repo.maven.apache.org and other.test resolve to it through the daemon's static DNS records, so nothing leaves the
 * host. The maven pack (pack-registry/maven.yaml) declares `maven-mirror-token` toward repo.maven.apache.org as
 * MAVEN_MIRROR_TOKEN; the org's credentials door decides whether a sandbox gets it.
 *
 * - installed into a running sandbox: later commands hold a placeholder; a request with it reaches the registry with
 *   the real value; the value is in no environment, file or /proc entry of the sandbox;
 * - the placeholder toward another host is refused (EGRESS_CREDENTIAL_EXFILTRATION);
 * - the org stops allowing the secret: the placeholder is gone from later commands and the registry gets no value;
 *   the denial is audited with a decision id `aibox policy explain` answers for;
 * - uninstall: the binding goes with the pack.
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

const run = requireHost(sandboxHostSupport(), 'pack-credentials');
const REGISTRY = 'repo.maven.apache.org';

describe.skipIf(!run)(
  'pack credentials: a binding from a pack manifest, injected at the egress proxy',
  () => {
    let daemon: TestDaemon;
    let server: https.Server;
    let port = 0;
    let work: string;
    let repo: string;
    let project: string;
    const seen: { host: string; url: string; auth: string | undefined }[] = [];
    const SECRET = 'mvn_packCredTestSECRET_0123456789abcdef';
    const name = 'pkcred';

    const sh = (script: string) => daemon.exec(name, ['sh', '-c', script]);
    // The sandbox's bundle (its egress CA: inspected hosts) and the registry's own CA (the host when tunnelled).
    const curl = (args: string) =>
      sh(
        'cat /etc/ssl/certs/ca-certificates.crt /workspace/registry-ca.pem > /tmp/cas.pem; ' +
          `curl -sS --max-time 10 --cacert /tmp/cas.pem ${args} 2>&1; echo " rc=$?"`,
      );
    const orgCredentials = (secrets: string) =>
      writeFile(
        path.join(repo, 'org/credentials.rego'),
        `package aibox.org.credentials\n\nimport rego.v1\n\nallowed_secrets := ${secrets}\n`,
      );

    const doctorCheck = async () => {
      const doctor = await daemon.cli(['doctor', '--sandbox', name, '--json']);
      const report = JSON.parse(doctor.stdout) as {
        packs: { checks: { name: string; ok: boolean; detail: string }[] };
      };
      return report.packs.checks.find(
        (c) => c.name === `maven@3.8 credential MAVEN_MIRROR_TOKEN → ${REGISTRY}`,
      );
    };

    beforeAll(async () => {
      work = await mkdtemp(path.join(tmpdir(), 'aibox-pack-cred-'));
      const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: 'ignore' });
      ssl(
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=aibox test registry CA', '-keyout', 'ca.key', '-out', 'ca.pem',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign',
    ); // prettier-ignore
      ssl(
      'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', `/CN=${REGISTRY}`, '-keyout', 'srv.key', '-out', 'srv.csr',
    ); // prettier-ignore
      await writeFile(path.join(work, 'ext.cnf'), `subjectAltName=DNS:${REGISTRY},DNS:other.test\n`);
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
          seen.push({ host: req.headers.host ?? '', url: req.url ?? '', auth: req.headers.authorization });
          res.end(`registry ${req.method} ${req.url}\n`);
        },
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      port = (server.address() as AddressInfo).port;

      repo = path.join(work, 'policy');
      await mkdir(path.join(repo, 'org'), { recursive: true });
      const rego = (pkg: string, body: string) =>
        writeFile(
          path.join(repo, `org/${pkg}.rego`),
          `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
        );
      await rego('packs', 'allowed := ["java", "maven"]');
      await rego('egress', `allow_domains := {"${REGISTRY}", "other.test"}\n\nallow_ports := {443, ${port}}`);
      await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
      await orgCredentials('["maven-mirror-token"]');
      project = await makeProject(name);
      await writeFile(path.join(project, 'registry-ca.pem'), await readFile(path.join(work, 'ca.pem')));

      daemon = await startTestDaemon({
        name,
        config: {
          policy: { repo, debounceMs: 20 },
          egress: {
            dns: { hosts: { [REGISTRY]: '127.0.0.1', 'other.test': '127.0.0.1' } },
            hostAccess: [{ address: '127.0.0.1', port }],
            tls: { upstreamCaFiles: [path.join(work, 'ca.pem')] },
          },
        },
      });
      const built = await daemon.cli(['setup', '--json']);
      expect(built.exitCode, built.stderr).toBe(0);
      const stored = await daemon.cli(['secret', 'set', 'maven-mirror-token'], { input: `${SECRET}\n` });
      expect(stored.exitCode, stored.stderr).toBe(0);
      const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }, 300_000);

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

    it('gives nothing before the pack is installed: no placeholder in later commands', async () => {
      const r = await sh('echo "token=[${MAVEN_MIRROR_TOKEN-unset}]"');
      expect(r.stdout.trim()).toBe('token=[unset]');
    });

    it('installs maven into the running sandbox: later commands get a placeholder, the registry gets the value', async () => {
      const install = await daemon.cli(['install', 'maven', '--sandbox', name, '--json']);
      expect(install.exitCode, install.stderr).toBe(0);
      const decisions = (JSON.parse(install.stdout) as { decisions: string[] }).decisions;
      const audit = await readFile(path.join(daemon.stateDir, 'audit/audit.jsonl'), 'utf8');
      const line = audit.split('\n').find((l) => l.includes('"pack.credential"'));
      expect(line).toBeDefined();
      const record = JSON.parse(line!) as { data: { given: boolean; decisions: string[]; env: string } };
      expect(record.data).toMatchObject({ given: true, env: 'MAVEN_MIRROR_TOKEN' });
      expect(line).not.toContain(SECRET);
      // The credentials door's decision (and the egress door's toward the host) are part of the install's answer.
      for (const id of record.data.decisions) expect(decisions).toContain(id);
      const explained = await daemon.cli([
        'policy',
        'explain',
        '--log-entry',
        record.data.decisions[0]!,
        '--json',
      ]);
      expect(JSON.parse(explained.stdout)).toMatchObject({ door: 'credentials', outcome: 'allow' });

      const env = await sh('echo "token=$MAVEN_MIRROR_TOKEN"');
      expect(env.stdout.trim()).toMatch(/^token=aibox-cred-[0-9a-f]{32}$/);

      seen.length = 0;
      const r = await curl(
        `-H "Authorization: Bearer $MAVEN_MIRROR_TOKEN" https://${REGISTRY}:${port}/maven2/a.pom`,
      );
      expect(r.stdout).toContain('registry GET /maven2/a.pom');
      expect(r.stdout).toContain(' rc=0');
      expect(seen).toEqual([{ host: `${REGISTRY}:${port}`, url: '/maven2/a.pom', auth: `Bearer ${SECRET}` }]);
      expect(await daemon.log()).not.toContain(SECRET);
      expect(await doctorCheck()).toMatchObject({
        ok: true,
        detail: expect.stringMatching(/^given \(decision dec_/),
      });
    }, 300_000);

    it('never puts the value in the sandbox: not in its environment, files or any /proc entry', async () => {
      // The pattern goes in halves through stdin: written whole on a command line, it would be in /proc itself.
      const half = SECRET.length / 2;
      const r = await sh(
        `printf '%s%s\\n' '${SECRET.slice(0, half)}' '${SECRET.slice(half)}' | ` +
          'grep -rslFf - /proc/[0-9]*/environ /proc/[0-9]*/cmdline /etc /home /workspace /tmp /opt/aibox/packs/.aibox; echo "grep done"',
      );
      expect(r.stdout.trim()).toBe('grep done');
    });

    it('refuses and audits the placeholder sent to another host (plain HTTP: seen by the proxy)', async () => {
      seen.length = 0;
      // (Inside a tunnel to a host nobody inspects the proxy sees no header: docs/egress.md, "Placeholders over
      // tunnels". It is only a placeholder there.)
      const other = await curl(
        `-i -H "Authorization: Bearer $MAVEN_MIRROR_TOKEN" http://other.test:${port}/`,
      );
      expect(other.stdout).toMatch(/HTTP\/1\.1 403/);
      expect(other.stdout).toContain('EGRESS_CREDENTIAL_EXFILTRATION');
      expect(seen).toEqual([]);
      const id = /decision: (dec_[0-9a-f]+)/.exec(other.stdout)?.[1];
      expect(id).toBeDefined();
      const explained = await waitFor(async () => {
        const e = await daemon.cli(['policy', 'explain', '--log-entry', id!, '--json']);
        return e.exitCode === 0 ? e : undefined;
      });
      expect(explained.stdout).toContain('EGRESS_CREDENTIAL_EXFILTRATION');
    });

    it("keeps the pack's placeholder and its injection across a daemon crash", async () => {
      const before = (await sh('echo "$MAVEN_MIRROR_TOKEN"')).stdout.trim();
      await daemon.crash();
      await daemon.restart();
      seen.length = 0;
      const r = await waitFor(async () => {
        const got = await curl(
          `-H "Authorization: Bearer $MAVEN_MIRROR_TOKEN" https://${REGISTRY}:${port}/maven2/r.pom`,
        );
        return got.stdout.includes('registry GET /maven2/r.pom') ? got : undefined;
      }, 30_000);
      expect(r.stdout).toContain(' rc=0');
      expect(seen.at(-1)?.auth).toBe(`Bearer ${SECRET}`);
      expect((await sh('echo "$MAVEN_MIRROR_TOKEN"')).stdout.trim()).toBe(before);
    }, 120_000);

    it('stops giving it when the org no longer allows the secret: no placeholder, no value upstream, explainable', async () => {
      await orgCredentials('[]');
      await waitFor(async () => {
        const r = await sh('echo "[${MAVEN_MIRROR_TOKEN-unset}]"');
        return r.stdout.trim() === '[unset]' ? true : undefined;
      }, 30_000);
      seen.length = 0;
      const r = await curl(
        `-H "Authorization: Bearer $MAVEN_MIRROR_TOKEN" https://${REGISTRY}:${port}/maven2/b.pom`,
      );
      expect(r.stdout).toContain('registry GET /maven2/b.pom');
      expect(seen).toHaveLength(1);
      expect(seen[0]!.auth ?? '').not.toContain(SECRET);

      // The denial is a recorded decision of the credentials door: explain names the org layer and its rule.
      const audit = await readFile(path.join(daemon.stateDir, 'audit/audit.jsonl'), 'utf8');
      const denied = audit
        .split('\n')
        .filter((l) => l.includes('"kind":"decision"') && l.includes('"door":"credentials"'))
        .map((l) => JSON.parse(l) as { id: string; data: { outcome: string } })
        .filter((d) => d.data.outcome === 'deny')
        .at(-1);
      expect(denied).toBeDefined();
      const explained = await daemon.cli(['policy', 'explain', '--log-entry', denied!.id, '--json']);
      expect(explained.exitCode, explained.stderr).toBe(0);
      const decision = JSON.parse(explained.stdout) as {
        door: string;
        outcome: string;
        request: Record<string, unknown>;
        layers: { layer: string; verdict: string; rules: { at?: string }[] }[];
      };
      expect(decision).toMatchObject({ door: 'credentials', outcome: 'deny' });
      expect(decision.request).toMatchObject({
        secret: 'maven-mirror-token',
        host: REGISTRY,
        env: 'MAVEN_MIRROR_TOKEN',
        source: 'pack',
        pack: 'maven',
      });
      expect(decision.layers[0]).toMatchObject({ layer: 'org', verdict: 'deny' });
      expect(decision.layers[0]!.rules[0]!.at).toMatch(/credentials\.rego:5$/);
      // doctor shows it as not given (not a failure: the manifest does not mark it required), with the reason.
      const check = await doctorCheck();
      expect(check?.ok).toBe(true);
      expect(check?.detail).toMatch(/^not given: .*credentials\.allowed_secrets/);
    }, 120_000);

    it('gives it back when the org allows it again, and takes it away with the pack on uninstall', async () => {
      await orgCredentials('["maven-*"]');
      await waitFor(async () => {
        const r = await sh('echo "$MAVEN_MIRROR_TOKEN"');
        return r.stdout.startsWith('aibox-cred-') ? true : undefined;
      }, 30_000);
      seen.length = 0;
      await curl(`-H "Authorization: Bearer $MAVEN_MIRROR_TOKEN" https://${REGISTRY}:${port}/maven2/c.pom`);
      expect(seen.map((s) => s.auth)).toEqual([`Bearer ${SECRET}`]);
      const held = (await sh('echo "$MAVEN_MIRROR_TOKEN"')).stdout.trim();

      const removed = await daemon.cli(['uninstall', 'maven', '--sandbox', name]);
      expect(removed.exitCode, removed.stderr).toBe(0);
      expect((await sh('echo "[${MAVEN_MIRROR_TOKEN-unset}]"')).stdout.trim()).toBe('[unset]');
      seen.length = 0;
      await curl(`-H "Authorization: Bearer ${held}" https://${REGISTRY}:${port}/maven2/d.pom`);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.auth).toBe(`Bearer ${held}`);
      // No file of values is left for the sandbox's proxy.
      const info = await daemon.api<{ id: string }>('GET', `/v1/sandboxes/${name}`);
      const conf = path.join(daemon.stateDir, 'egress', info.body.id, 'squid/credentials.conf');
      await expect(readFile(conf, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    }, 120_000);
  },
);

async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 250));
  }
}
