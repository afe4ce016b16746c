/**
 * A pack whose manifest marks its credential binding `required: true`, with a real aiboxd and real gVisor sandboxes.
 * The daemon reads its packs from the test's own registry folder (packs.registryDir): one pack, `reqtok` (Debian's
 * `hello`, built once into the host's pack cache), whose binding `reqtok-secret` goes to reg.reqtok.test. That
 * "registry" is an HTTPS server on the host's loopback with a certificate from the test's own CA (trusted by the
 * proxy, not the sandbox); reg.reqtok.test resolves to it through the daemon's static DNS records.
 *
 * - `aibox install` without the secret: refused, nothing installed;
 * - a sandbox whose aibox/policy.yaml lists the pack: its start is refused without the secret and when the org's
 *   credentials door denies it (naming pack, secret, the denying layer's decision), and nothing is left (no
 *   container, no egress state or Squid, no sandbox record, no packs folder);
 * - with the secret stored and allowed it starts: a request with the placeholder reaches the registry with the real
 *   value, which is nowhere in the sandbox;
 * - the org stops allowing it: a restart of that sandbox is refused (it stays stopped, nothing running); a sandbox
 *   that installed the pack through the API restarts without it (dropped, audited);
 * - re-adoption after a daemon crash during which the org stopped allowing it: the sandbox keeps running with the
 *   binding withheld (no placeholder, no value upstream), doctor fails the required check.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonIdFor } from '../../src/runtime/labels.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { podmanAs, requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'pack-required-credential');
const REGISTRY = 'reg.reqtok.test';
const SECRET = 'reqtok_requiredCredTestSECRET_0123456789';

interface ApiError {
  error: { code: string; message: string; hint?: string; details?: Record<string, unknown> };
}

describe.skipIf(!run)('a required pack credential: install, start, restart and re-adoption', () => {
  let daemon: TestDaemon;
  let server: https.Server;
  let port = 0;
  let work: string;
  let repo: string;
  const projects: string[] = [];
  const seen: { url: string; auth: string | undefined }[] = [];

  const sh = (name: string, script: string) => daemon.exec(name, ['sh', '-c', script]);
  const curl = (name: string, urlPath: string) =>
    sh(
      name,
      'cat /etc/ssl/certs/ca-certificates.crt /workspace/registry-ca.pem > /tmp/cas.pem; ' +
        `curl -sS --max-time 10 --cacert /tmp/cas.pem -H "Authorization: Bearer $REQTOK_TOKEN" ` +
        `https://${REGISTRY}:${port}${urlPath} 2>&1; echo " rc=$?"`,
    );
  const orgCredentials = async (secrets: string) => {
    await writeFile(
      path.join(repo, 'org/credentials.rego'),
      `package aibox.org.credentials\n\nimport rego.v1\n\nallowed_secrets := ${secrets}\n`,
    );
    const r = await daemon.api<{ ok: boolean }>('POST', '/v1/policy/reload');
    expect(r.body.ok).toBe(true);
  };
  const project = async (name: string, policy?: string) => {
    const dir = await makeProject(name);
    projects.push(dir);
    await writeFile(path.join(dir, 'registry-ca.pem'), await readFile(path.join(work, 'ca.pem')));
    if (policy !== undefined) {
      await mkdir(path.join(dir, 'aibox'));
      await writeFile(path.join(dir, 'aibox/policy.yaml'), policy);
    }
    return dir;
  };
  const ids: Record<string, string> = {};
  const containerOf = (name: string) => `aibox-${ids[name]}`;
  const sandboxState = async (name: string) =>
    (await daemon.api<{ state: string }>('GET', `/v1/sandboxes/${name}`)).body.state;

  /** What a sandbox start leaves on the host, to compare before and after a refused start. */
  const leftovers = async () => {
    const containers = await podmanAs(daemon.stateDir, [
      'ps',
      '-a',
      '--format',
      '{{.Names}}',
      '--filter',
      `label=io.aibox.daemon=${daemonIdFor(daemon.stateDir)}`,
    ]);
    const squids: string[] = [];
    for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
      const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (argv.includes('squid') && argv.includes(path.join(daemon.stateDir, 'egress'))) squids.push(pid);
    }
    const list = (dir: string) => readdir(path.join(daemon.stateDir, dir)).catch(() => [] as string[]);
    return {
      containers: String(containers.stdout).split('\n').filter(Boolean).sort(),
      egress: (await list('egress')).sort(),
      packs: (await list('packs/sandboxes')).sort(),
      records: (await list('sandboxes')).sort(),
      squids: squids.length,
      netns: execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }),
    };
  };

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'aibox-pack-required-'));
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
    await writeFile(path.join(work, 'ext.cnf'), `subjectAltName=DNS:${REGISTRY}\n`);
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
        seen.push({ url: req.url ?? '', auth: req.headers.authorization });
        res.end(`registry ${req.method} ${req.url}\n`);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;

    // The test's own pack registry: one pack with a required credential toward the loopback "registry".
    const registryDir = path.join(work, 'registry');
    await mkdir(registryDir);
    await writeFile(
      path.join(registryDir, 'reqtok.yaml'),
      `name: reqtok
description: a tool that cannot work without its registry token (test)
default: '1'
versions:
  '1':
    sources:
      debian:
        packages: [hello]
    path: ['\${prefix}/usr/bin']
    egress: ['${REGISTRY}:${port}']
    credentials:
      - secret: reqtok-secret
        host: ${REGISTRY}
        env: REQTOK_TOKEN
        required: true
    smoke: [hello]
`,
    );

    repo = path.join(work, 'policy');
    await mkdir(path.join(repo, 'org'), { recursive: true });
    const rego = (pkg: string, body: string) =>
      writeFile(
        path.join(repo, `org/${pkg}.rego`),
        `package aibox.org.${pkg}\n\nimport rego.v1\n\n${body}\n`,
      );
    await rego('packs', 'allowed := ["reqtok"]');
    await rego('egress', `allow_domains := {"${REGISTRY}"}\n\nallow_ports := {443, ${port}}`);
    await rego('mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]');
    await writeFile(
      path.join(repo, 'org/credentials.rego'),
      'package aibox.org.credentials\n\nimport rego.v1\n\nallowed_secrets := ["reqtok-secret"]\n',
    );

    daemon = await startTestDaemon({
      name: 'pkreq',
      config: {
        policy: { repo, debounceMs: 20 },
        packs: { registryDir },
        egress: {
          dns: { hosts: { [REGISTRY]: '127.0.0.1' } },
          hostAccess: [{ address: '127.0.0.1', port }],
          tls: { upstreamCaFiles: [path.join(work, 'ca.pem')] },
        },
      },
    });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    // The test pack's artifact went into the host's shared pack cache: out again, once no sandbox has it.
    for (const name of ['rqa', 'rqd']) await daemon?.api('DELETE', `/v1/sandboxes/${name}`);
    await daemon?.cli(['pack', 'rm', 'reqtok']);
    await daemon?.stop();
    await new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
    });
    if (work) await rm(work, { recursive: true, force: true });
    for (const p of projects) await rm(p, { recursive: true, force: true });
  });

  it('refuses `aibox install` into a running sandbox while the secret is not stored, installing nothing', async () => {
    const created = await daemon.api('POST', '/v1/sandboxes', { path: await project('rqa'), name: 'rqa' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    ids['rqa'] = (created.body as { id: string }).id;
    // (The first install builds the pack into the host cache: Debian's hello through the builder sandbox.)
    const refused = await daemon.cli(['install', 'reqtok', '--sandbox', 'rqa']);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('PACK_CREDENTIAL_UNAVAILABLE');
    expect(refused.stderr).toContain('pack reqtok requires the credential reqtok-secret for reg.reqtok.test');
    const listed = await daemon.cli(['packs', '--sandbox', 'rqa', '--json']);
    expect((JSON.parse(listed.stdout) as { packs: unknown[] }).packs).toEqual([]);
    expect((await sh('rqa', 'command -v hello; echo "[${REQTOK_TOKEN-unset}]"')).stdout.trim()).toBe(
      '[unset]',
    );
  }, 600_000);

  it('refuses the start of a sandbox whose policy.yaml lists the pack, without the secret, leaving nothing', async () => {
    const before = await leftovers();
    // (What a running sandbox holds is seen: rqa's container, egress state and Squid.)
    expect(before.containers).toContain(containerOf('rqa'));
    expect(before.egress).toContain(ids['rqa']);
    expect(before.squids).toBeGreaterThan(0);
    const r = await daemon.api<ApiError>('POST', '/v1/sandboxes', {
      path: await project('rqb', 'packs: [reqtok]\n'),
      name: 'rqb',
    });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({
      code: 'PACK_CREDENTIAL_UNAVAILABLE',
      hint: expect.stringContaining('aibox secret set'),
      details: { layer: 'packs', pack: 'reqtok', secret: 'reqtok-secret', host: REGISTRY },
    });
    expect(r.body.error.message).toContain('pack reqtok, listed in aibox/policy.yaml:1 (packs:)');
    expect(r.body.error.message).toContain('the secret "reqtok-secret" cannot be read');
    expect((await daemon.api('GET', '/v1/sandboxes/rqb')).status).toBe(404);
    expect(await leftovers()).toEqual(before);
  }, 300_000);

  it('refuses it when the org denies the secret (stored), naming the decision the org layer made', async () => {
    const stored = await daemon.cli(['secret', 'set', 'reqtok-secret'], { input: `${SECRET}\n` });
    expect(stored.exitCode, stored.stderr).toBe(0);
    await orgCredentials('[]');
    const before = await leftovers();
    const r = await daemon.api<ApiError>('POST', '/v1/sandboxes', {
      path: await project('rqc', 'packs: [reqtok]\n'),
      name: 'rqc',
    });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('PACK_CREDENTIAL_UNAVAILABLE');
    const decision = /decision (dec_[0-9a-f]+)/.exec(r.body.error.message)?.[1];
    expect(decision, r.body.error.message).toBeDefined();
    expect(r.body.error.details?.['decisions']).toContain(decision);
    const explained = await daemon.cli(['policy', 'explain', '--log-entry', decision!, '--json']);
    expect(JSON.parse(explained.stdout)).toMatchObject({
      door: 'credentials',
      outcome: 'deny',
      request: { secret: 'reqtok-secret', pack: 'reqtok' },
    });
    expect(JSON.parse(explained.stdout).layers[0]).toMatchObject({ layer: 'org', verdict: 'deny' });
    expect((await daemon.api('GET', '/v1/sandboxes/rqc')).status).toBe(404);
    expect(await leftovers()).toEqual(before);
    expect(await daemon.log()).not.toContain(SECRET);
  }, 300_000);

  it('starts it once the org allows the secret: the value is injected upstream and never visible inside', async () => {
    await orgCredentials('["reqtok-secret"]');
    const r = await daemon.api('POST', '/v1/sandboxes', {
      path: await project('rqd', 'packs: [reqtok]\n'),
      name: 'rqd',
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect((await sh('rqd', 'hello')).stdout.trim()).toBe('Hello, world!');
    expect((await sh('rqd', 'echo "$REQTOK_TOKEN"')).stdout.trim()).toMatch(/^aibox-cred-[0-9a-f]{32}$/);
    seen.length = 0;
    const got = await curl('rqd', '/v1/a');
    expect(got.stdout).toContain('registry GET /v1/a');
    expect(seen).toEqual([{ url: '/v1/a', auth: `Bearer ${SECRET}` }]);
    // The pattern goes in halves through stdin: written whole on a command line, it would be in /proc itself.
    const half = SECRET.length / 2;
    const grep = await sh(
      'rqd',
      `printf '%s%s\\n' '${SECRET.slice(0, half)}' '${SECRET.slice(half)}' | ` +
        'grep -rslFf - /proc/[0-9]*/environ /proc/[0-9]*/cmdline /etc /home /workspace /tmp /opt/aibox/packs; echo "grep done"',
    );
    expect(grep.stdout.trim()).toBe('grep done');
    // The API-installed copy in rqa, for the restart below.
    const installed = await daemon.cli(['install', 'reqtok', '--sandbox', 'rqa']);
    expect(installed.exitCode, installed.stderr).toBe(0);
  }, 300_000);

  it('refuses the restart of the listed sandbox once the org stops allowing it; the API-installed copy is dropped', async () => {
    await orgCredentials('[]');
    for (const name of ['rqd', 'rqa']) {
      const stopped = await daemon.api('POST', `/v1/sandboxes/${name}/stop`);
      expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
    }
    ids['rqd'] = (await daemon.api<{ id: string }>('GET', '/v1/sandboxes/rqd')).body.id;
    const before = await leftovers();
    const r = await daemon.api<ApiError>('POST', '/v1/sandboxes/rqd/start');
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('PACK_CREDENTIAL_UNAVAILABLE');
    expect(r.body.error.message).toMatch(
      /^pack reqtok, listed in aibox\/policy\.yaml:1 \(packs:\), requires the credential reqtok-secret for reg\.reqtok\.test, which sandbox "rqd" cannot be given: .*\(decision dec_[0-9a-f]+: aibox policy explain --log-entry dec_[0-9a-f]+\); the sandbox does not start$/,
    );
    expect(await sandboxState('rqd')).not.toBe('running');
    // Its stopped container was removed by the start; nothing else came or went.
    const after = await leftovers();
    expect(before.containers).toContain(containerOf('rqd'));
    expect(after.containers).toEqual(before.containers.filter((c) => c !== containerOf('rqd')));
    expect({ ...after, containers: [] }).toEqual({ ...before, containers: [] });

    // Not listed anywhere, installed through the API: the sandbox starts, without the pack.
    const again = await daemon.api('POST', '/v1/sandboxes/rqa/start');
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const listed = await daemon.cli(['packs', '--sandbox', 'rqa', '--json']);
    expect((JSON.parse(listed.stdout) as { packs: unknown[] }).packs).toEqual([]);
    expect((await sh('rqa', 'command -v hello; echo "[${REQTOK_TOKEN-unset}]"')).stdout.trim()).toBe(
      '[unset]',
    );
    const audit = await readFile(path.join(daemon.stateDir, 'audit/audit.jsonl'), 'utf8');
    const drop = audit.split('\n').find((l) => l.includes('"pack.drop"'));
    expect(drop).toBeDefined();
    expect(JSON.parse(drop!)).toMatchObject({
      sandbox: 'rqa',
      data: { pack: 'reqtok', binding: `reqtok-secret → ${REGISTRY} (REQTOK_TOKEN)` },
    });
  }, 300_000);

  it('keeps a re-adopted sandbox running with the binding withheld when the org stopped allowing it meanwhile', async () => {
    await orgCredentials('["reqtok-secret"]');
    const started = await daemon.api('POST', '/v1/sandboxes/rqd/start');
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect((await sh('rqd', 'echo "$REQTOK_TOKEN"')).stdout.trim()).toMatch(/^aibox-cred-/);
    const held = (await sh('rqd', 'echo "$REQTOK_TOKEN"')).stdout.trim();

    await daemon.crash();
    await writeFile(
      path.join(repo, 'org/credentials.rego'),
      'package aibox.org.credentials\n\nimport rego.v1\n\nallowed_secrets := []\n',
    );
    await daemon.restart();
    expect(await sandboxState('rqd')).toBe('running');
    expect((await sh('rqd', 'echo "[${REQTOK_TOKEN-unset}]"')).stdout.trim()).toBe('[unset]');
    seen.length = 0;
    const got = await sh(
      'rqd',
      'cat /etc/ssl/certs/ca-certificates.crt /workspace/registry-ca.pem > /tmp/cas.pem; ' +
        `curl -sS --max-time 10 --cacert /tmp/cas.pem -H "Authorization: Bearer ${held}" ` +
        `https://${REGISTRY}:${port}/v1/b 2>&1; echo " rc=$?"`,
    );
    expect(got.stdout).toContain('registry GET /v1/b');
    expect(seen).toEqual([{ url: '/v1/b', auth: `Bearer ${held}` }]);
    const doctor = await daemon.cli(['doctor', '--sandbox', 'rqd', '--json']);
    const checks = (
      JSON.parse(doctor.stdout) as { packs: { checks: { name: string; ok: boolean; detail: string }[] } }
    ).packs.checks;
    expect(checks.find((c) => c.name === `reqtok@1 credential REQTOK_TOKEN → ${REGISTRY}`)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^not given: .*allowed_secrets/),
    });
    const audit = await readFile(path.join(daemon.stateDir, 'audit/audit.jsonl'), 'utf8');
    expect(audit.split('\n').some((l) => l.includes('"pack.credential"') && l.includes('"at":"adopt"'))).toBe(
      true,
    );
    expect(await daemon.log()).not.toContain(SECRET);
  }, 300_000);
});
