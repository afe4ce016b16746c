/**
 * The container engine end to end, in real gVisor sandboxes: with the containers door on, a sandbox gets its own
 * engine sandbox (rootful Podman inside gVisor) behind aiboxd's filtering front; inside the agent's sandbox the
 * Podman client (the podman pack) builds a two-line Containerfile FROM the base image with a RUN step, and the image
 * is listed; `podman info` and Docker's /info answer with the engine's facts; a RUN step fetches through the agent's own egress proxy (an allowed test host on the host's loopback
 * answers, a refused one gets the proxy's 403, a direct connection, DNS and the engine's front are cut off); `podman run` is refused with ENGINE_RUN_UNSUPPORTED, privileged / path mounts / host
 * network with their codes, each audited; a RUN step fetches an inspected (TLS-terminated) host with the agent
 * sandbox's egress CA trusted through one hashed file (no Containerfile edit), update-ca-certificates still works, and
 * the CA is in no layer of the built image; the engine's disk is a loop-mounted, capped ext4 file system and a build
 * that writes past it fails with ENGINE_DISK_FULL; another sandbox cannot reach the engine; a sandbox whose team turns the
 * door off gets no engine and no DOCKER_HOST; after the daemon is killed and started again the engine is re-adopted
 * (builds work again through the same front) while a sandbox whose engine was removed meanwhile is stopped; and
 * `aibox rm` leaves no engine container, cgroup, state, mount, loop device or process behind.
 */
import { execFileSync } from 'node:child_process';
import { appendFile, chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createWriteStream, existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkEngineRuleset } from '../../src/engine/index.js';
import { nftTableName } from '../../src/egress/render-nftables.js';
import { daemonIdFor } from '../../src/runtime/labels.js';
import { startOrigin, type Origin } from '../egress/support/servers.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { podmanUser, requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'engine');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The engine disk of the test's profile: the engine's root filesystem (~520 MB), the base image and a few builds fit. */
const DISK_MIB = 3072;

/** The mount of a sandbox's engine disk, from this process's mountinfo (aiboxd's mounts propagate to the host). */
async function engineDisk(sandboxId: string) {
  const lines = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  const line = lines.find((l) => l.split(' ')[4]?.includes(`/${sandboxId}-engine/`));
  if (!line) return undefined;
  const f = line.split(' ');
  const sep = f.indexOf('-');
  return { mountPoint: f[4]!, options: f[5]!, fstype: f[sep + 1]!, device: f[sep + 2]! };
}

/** aiboxd's rootless Podman, straight through its CLI (the daemon and its API service may be down). */
async function podmanCli(stateDir: string, args: string[]) {
  const u = await podmanUser();
  return execa('podman', args, {
    env: {
      HOME: u.home,
      XDG_RUNTIME_DIR: `/run/aibox/user-${u.uid}`,
      CONTAINERS_CONF: path.join(stateDir, 'podman', 'containers.conf'),
    },
    extendEnv: false,
    uid: u.uid,
    gid: u.gid,
    cwd: '/',
    reject: false,
  });
}

/** Host processes whose command line names a container (its conmon, runsc sandbox and gofer). */
async function processesOf(containerId: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(containerId)) found.push(Number(entry));
  }
  return found;
}

/** Polls until `check` holds (a loop device or a process lets go a moment after its last user). */
async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Saves an image from the engine's own API socket (docker-archive) into `file`. */
async function saveImage(socketPath: string, name: string, file: string): Promise<void> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
    http
      .get({ socketPath, path: `/v1.41/images/${encodeURIComponent(name)}/get` }, resolve)
      .on('error', reject),
  );
  if (res.statusCode !== 200) throw new Error(`image save answered ${res.statusCode}`);
  await pipeline(res, createWriteStream(file));
}

/** An HTTPS server on loopback with a certificate of the test's own CA (the proxy trusts it; no sandbox does). */
async function startTlsOrigin(dir: string): Promise<{ server: https.Server; port: number; ca: string }> {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=aibox engine test upstream CA', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'); // prettier-ignore
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=inspected.test',
    '-keyout', 'srv.key', '-out', 'srv.csr'); // prettier-ignore
  await writeFile(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:inspected.test\n');
  ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1',
    '-out', 'srv.pem', '-extfile', 'ext.cnf'); // prettier-ignore
  // A build's own extra CA (what a Containerfile COPYs and adds with update-ca-certificates).
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=aibox engine test build CA', '-keyout', 'extra.key', '-out', 'extra-ca.crt'); // prettier-ignore
  const server = https.createServer(
    { key: await readFile(path.join(dir, 'srv.key')), cert: await readFile(path.join(dir, 'srv.pem')) },
    (req, res) => res.end(`inspected ${req.method} ${req.url}\n`),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port, ca: path.join(dir, 'ca.pem') };
}

/** A certificate's body (base64 of its DER, one line): how it is found in any file that carries it. */
function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

const rego = (pkg: string, body: string) => `package ${pkg}\n\nimport rego.v1\n\n${body}\n`;

describe.skipIf(!run)('the container engine of a sandbox', () => {
  let daemon: TestDaemon;
  let podman: Docker;
  let repo: string;
  const projects: string[] = [];
  let boxId: string;
  let engineUrl: string;
  let origin: Origin;
  /** An inspected host: the agent's proxy terminates its TLS with the sandbox's egress CA. */
  let tlsOrigin: { server: https.Server; port: number; ca: string };
  let tlsDir: string;
  let profiles: string | undefined;
  /** The engine's disk: its mount point and loop device, read while the sandbox runs. */
  let disk: { mountPoint: string; device: string } | undefined;

  const engines = async () =>
    (
      await podman.listContainers({
        all: true,
        filters: { label: [`io.aibox.daemon=${daemonIdFor(daemon.stateDir)}`, 'io.aibox.engine=true'] },
      })
    ).map((c) => c.Id);

  beforeAll(async () => {
    origin = await startOrigin('engine-fetch', '127.0.0.1');
    tlsDir = await mkdtemp(path.join(tmpdir(), 'aibox-engine-tls-'));
    tlsOrigin = await startTlsOrigin(tlsDir);
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-engine-policy-'));
    await mkdir(path.join(repo, 'org'));
    await mkdir(path.join(repo, 'teams/noengine'), { recursive: true });
    await writeFile(path.join(repo, 'org/containers.rego'), rego('aibox.org.containers', 'engine := true'));
    // The agent's egress allows one test name on the host's loopback (the origin's port); nothing else.
    await writeFile(
      path.join(repo, 'org/egress.rego'),
      rego(
        'aibox.org.egress',
        [
          'allow_domains := {"allowed.test", "inspected.test"}',
          `allow_ports := {${origin.port}, ${tlsOrigin.port}}`,
          // A method rule makes the proxy inspect the host (TLS terminated with the sandbox's egress CA).
          'allow_http := [{"host": "inspected.test", "methods": ["GET"]}]',
        ].join('\n\n'),
      ),
    );
    await writeFile(path.join(repo, 'org/packs.rego'), rego('aibox.org.packs', 'allowed := ["podman"]'));
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      rego('aibox.org.mounts', 'allow := [{"path": "/tmp", "mode": "rw"}]'),
    );
    // Projects whose folder says "engine-off" belong to a team that turns the door off (tighten-only).
    await writeFile(
      path.join(repo, 'org/projects.rego'),
      rego('aibox.org.projects', 'team := "noengine" if contains(input.path, "engine-off")'),
    );
    await writeFile(
      path.join(repo, 'teams/noengine/containers.rego'),
      rego('aibox.team.noengine.containers', 'engine := false'),
    );
    // The profiles shipped with aibox, with a small engine disk for the default one (the disk-full test fills it).
    profiles = await mkdtemp(path.join(tmpdir(), 'aibox-engine-profiles-'));
    await cp(path.join(ROOT, 'profiles'), profiles, { recursive: true });
    // Rootless Podman reads the seccomp profile from there (mkdtemp makes it 0700).
    await chmod(profiles, 0o755);
    await appendFile(path.join(profiles, 'default.yaml'), `\ncontainerEngineDiskMiB: ${DISK_MIB}\n`);
    daemon = await startTestDaemon({
      name: 'engine',
      config: {
        profilesDir: profiles,
        policy: { repo },
        egress: {
          dns: { hosts: { 'allowed.test': '127.0.0.1', 'inspected.test': '127.0.0.1' } },
          hostAccess: [
            { address: '127.0.0.1', port: origin.port },
            { address: '127.0.0.1', port: tlsOrigin.port },
          ],
          tls: { upstreamCaFiles: [tlsOrigin.ca] },
        },
      },
    });
    podman = new Docker({ socketPath: path.join(daemon.stateDir, 'podman/podman.sock') });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    const pack = await daemon.cli(['pack', 'build', 'podman', '--json']);
    expect(pack.exitCode, pack.stderr + pack.stdout).toBe(0);

    projects.push(await makeProject('engine-on'), await makeProject('engine-off'));
    const t0 = Date.now();
    // The first start builds the engine image when this host lacks it (about a minute), then the engine imports
    // the base image into its own store.
    const created = await daemon.api('POST', '/v1/sandboxes', { path: projects[0], name: 'box' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    console.log(`sandbox with a container engine started in ${Date.now() - t0} ms`);
    boxId = (created.body as { id: string }).id;
    const off = await daemon.api('POST', '/v1/sandboxes', { path: projects[1], name: 'off' });
    expect(off.status, JSON.stringify(off.body)).toBe(201);
    const i = await daemon.cli(['install', 'podman', '--sandbox', 'box', '--json']);
    expect(i.exitCode, i.stderr + i.stdout).toBe(0);
  }, 1_200_000);

  afterAll(async () => {
    await daemon?.stop();
    await origin?.close();
    tlsOrigin?.server.closeAllConnections();
    tlsOrigin?.server.close();
    if (tlsDir) await rm(tlsDir, { recursive: true, force: true });
    for (const p of projects) await rm(p, { recursive: true, force: true });
    if (repo) await rm(repo, { recursive: true, force: true });
    if (profiles) await rm(profiles, { recursive: true, force: true });
  });

  it('gives the sandbox DOCKER_HOST and CONTAINER_HOST at its engine endpoint, and one engine sandbox', async () => {
    const report = await daemon.api<{ endpoints: Record<string, string> }>('GET', '/v1/sandboxes/box');
    engineUrl = report.body.endpoints.engine!;
    expect(engineUrl).toMatch(/^tcp:\/\/10\.0\.2\.2:\d+$/);
    const env = await daemon.exec('box', ['sh', '-c', 'echo "$DOCKER_HOST $CONTAINER_HOST"']);
    expect(env.stdout.trim()).toBe(`${engineUrl} ${engineUrl}`);
    expect(await engines()).toHaveLength(1);
  });

  it("keeps the engine's disk on a kernel-capped ext4 file system: loop-mounted nosuid,nodev, its file already unlinked", async () => {
    const d = await engineDisk(boxId);
    expect(d, 'the engine disk is mounted').toBeDefined();
    expect(d!.fstype).toBe('ext4');
    expect(d!.device).toMatch(/^\/dev\/loop\d+$/);
    expect(d!.options.split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
    const s = await statfs(d!.mountPoint);
    // ext4's own metadata takes a little of the file's size.
    expect(s.blocks * s.bsize).toBeGreaterThan(DISK_MIB * 0.9 * 1024 * 1024);
    expect(s.blocks * s.bsize).toBeLessThanOrEqual(DISK_MIB * 1024 * 1024);
    const backing = await readFile(`/sys/block/${path.basename(d!.device)}/loop/backing_file`, 'utf8');
    expect(backing.trim()).toMatch(/disk\.img \(deleted\)$/);
    expect(existsSync(path.join(daemon.stateDir, 'engine', boxId, 'disk.img'))).toBe(false);
    disk = { mountPoint: d!.mountPoint, device: d!.device };
  });

  it('builds a Containerfile FROM the base image with a RUN step from inside the sandbox, and lists the image', async () => {
    const t0 = Date.now();
    const b = await daemon.exec('box', [
      'sh',
      '-c',
      [
        'mkdir -p /tmp/ctx && cd /tmp/ctx',
        `printf 'FROM localhost/aibox-base\\nRUN echo built-in-engine > /tmp/built.txt\\n' > Containerfile`,
        'podman build -t localhost/app:1 . 2>&1',
      ].join(' && '),
    ]);
    console.log(`podman build of a two-line Containerfile took ${Date.now() - t0} ms`);
    expect(b.exitCode, b.stdout + b.stderr).toBe(0);
    expect(b.stdout).toContain('Successfully tagged localhost/app:1');
    const images = await daemon.exec('box', ['podman', 'images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(images.exitCode, images.stderr).toBe(0);
    expect(images.stdout.split('\n')).toContain('localhost/app:1');
    const tag = await daemon.exec('box', ['podman', 'tag', 'localhost/app:1', 'localhost/app:2']);
    expect(tag.exitCode, tag.stderr).toBe(0);
    const rmi = await daemon.exec('box', ['podman', 'rmi', 'localhost/app:2']);
    expect(rmi.exitCode, rmi.stderr).toBe(0);
  }, 600_000);

  it("answers `podman info` and Docker's /info through the front with the engine's real facts", async () => {
    const profile = parse(await readFile(path.join(ROOT, 'profiles/default.yaml'), 'utf8')) as {
      limits: { cpus: number; memoryMiB: number };
    };
    const pi = await daemon.exec('box', ['podman', 'info', '--format', 'json']);
    expect(pi.exitCode, pi.stderr).toBe(0);
    const info = JSON.parse(pi.stdout) as {
      host: { cpus: number; memTotal: number; kernel: string; hostname: string };
      store: {
        graphDriverName: string;
        imageStore: { number: number };
        graphRootAllocated: number;
        graphRootUsed: number;
      };
      version: { Version: string };
    };
    const server = await daemon.exec('box', ['podman', 'version', '--format', '{{.Server.Version}}']);
    expect(server.exitCode, server.stderr).toBe(0);
    const ids = await daemon.exec('box', ['sh', '-c', 'podman images -q --no-trunc | sort -u']);
    const images = ids.stdout.split('\n').filter(Boolean).length;
    expect(images).toBeGreaterThanOrEqual(2);
    expect(info.version.Version).toBe(server.stdout.trim());
    expect(info.store.graphDriverName).toBe('vfs');
    expect(info.store.imageStore.number).toBe(images);
    expect(info.host.cpus).toBe(Math.ceil(profile.limits.cpus));
    expect(info.host.memTotal).toBe(profile.limits.memoryMiB * 1024 * 1024);
    expect(info.host.hostname).toBe('box-engine');
    expect(info.store.graphRootAllocated).toBeGreaterThan(DISK_MIB * 0.9 * 1024 * 1024);
    expect(info.store.graphRootUsed).toBeGreaterThan(500 * 1024 * 1024);
    // gVisor's kernel version, as the engine itself reports it in /version.
    expect(info.host.kernel).toMatch(/^\d+\.\d+/);
    const port = new URL(engineUrl.replace('tcp:', 'http:')).port;
    const di = await daemon.exec('box', [
      'curl',
      '--noproxy',
      '*',
      '-sS',
      '-m',
      '30',
      `http://10.0.2.2:${port}/v1.41/info`,
    ]);
    expect(di.exitCode, di.stderr).toBe(0);
    expect(JSON.parse(di.stdout)).toMatchObject({
      ServerVersion: server.stdout.trim(),
      Driver: 'vfs',
      Images: images,
      Containers: 0,
      NCPU: Math.ceil(profile.limits.cpus),
      MemTotal: profile.limits.memoryMiB * 1024 * 1024,
      OSType: 'linux',
      KernelVersion: info.host.kernel,
    });
  }, 120_000);

  it("fetches in a RUN step through the agent's egress proxy only: allowed host yes, refused host 403, direct and DNS no", async () => {
    const front = new URL(engineUrl.replace('tcp:', 'http:')).port;
    const containerfile = [
      'FROM localhost/aibox-base',
      // One RUN step (vfs copies the whole base per layer): each probe prints its outcome; the build fails unless
      // the allowed fetch worked.
      [
        'RUN echo "proxy=$HTTP_PROXY"',
        `curl -sS -m 20 -o /tmp/fetched.txt http://allowed.test:${origin.port}/`,
        'echo "allowed=$(head -n1 /tmp/fetched.txt)"',
        `echo "refused=$(curl -s -o /dev/null -w '%{http_code}' -m 20 http://evil.test/)"`,
        `echo "refusedcode=$(curl -s -m 20 http://evil.test/ | grep -o 'EGRESS_[A-Z_]*' | head -n1)"`,
        `(curl --noproxy '*' -s -m 5 -o /dev/null http://10.0.2.2:${origin.port}/; echo "direct=$?")`,
        `(curl --noproxy '*' -s -m 5 -o /dev/null http://10.0.2.2:${front}/_ping; echo "front=$?")`,
        '(dig +time=2 +tries=1 allowed.test >/dev/null; echo "dns=$?")',
        // apt-key and many scripts write to /dev/null: it must be writable in a RUN step.
        '(echo x > /dev/null && echo "devnull=ok")',
        'test -s /tmp/fetched.txt',
      ].join('; '),
      '',
    ].join('\n');
    const t0 = Date.now();
    const b = await daemon.exec('box', [
      'sh',
      '-c',
      [
        'mkdir -p /tmp/netctx && cd /tmp/netctx',
        `echo ${Buffer.from(containerfile).toString('base64')} | base64 -d > Containerfile`,
        'podman build -t localhost/fetched:1 . 2>&1',
      ].join(' && '),
    ]);
    console.log(`podman build with a RUN fetch through the proxy took ${Date.now() - t0} ms`);
    const out = b.stdout + b.stderr;
    console.log(
      out.split('\n').filter((l) => /^(proxy|allowed|refused|refusedcode|direct|front|dns|devnull)=/.test(l)),
    );
    expect(b.exitCode, out).toBe(0);
    const proxy = /^proxy=(.*)$/m.exec(out)?.[1];
    const agentProxy = await daemon.exec('box', ['printenv', 'HTTP_PROXY']);
    expect(proxy, out).toBe(agentProxy.stdout.trim());
    expect(out).toMatch(/^allowed=origin engine-fetch$/m);
    expect(out).toMatch(/^refused=403$/m);
    expect(out).toMatch(/^refusedcode=EGRESS_DOMAIN_NOT_ALLOWED$/m);
    // curl: 7 = connection refused (the ruleset's reset), 28 = timeout; anything but 0 means cut off.
    expect(out).toMatch(/^direct=(7|28)$/m);
    expect(out).toMatch(/^front=(7|28)$/m);
    expect(out).toMatch(/^dns=(?!0$)\d+$/m);
    expect(out).toMatch(/^devnull=ok$/m);
    expect(out).toContain('Successfully tagged localhost/fetched:1');

    // The engine's own namespace holds exactly the rendered table, and its default deny counted the direct probes.
    const state = JSON.parse(
      await readFile(path.join(daemon.stateDir, 'engine', boxId, 'state.json'), 'utf8'),
    ) as { engineId: string; containerId: string };
    const pid = (await podman.getContainer(state.containerId).inspect()).State.Pid;
    const nft = (...args: string[]) => execa('nsenter', ['-t', String(pid), '-n', 'nft', '-j', ...args]);
    const table = await nft('list', 'table', 'inet', nftTableName(state.engineId));
    const input = {
      engineId: state.engineId,
      proxyAddress: '10.0.2.2',
      proxyPort: Number(new URL(agentProxy.stdout.trim()).port),
    };
    expect(checkEngineRuleset(JSON.parse(table.stdout) as never, input)).toEqual([]);
    const chain = JSON.parse(
      (await nft('list', 'chain', 'inet', nftTableName(state.engineId), 'output')).stdout,
    ) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
    const denied = chain.nftables
      .flatMap((e) => e.rule?.expr ?? [])
      .reduce((n, x) => n + (x.counter?.packets ?? 0), 0);
    expect(denied).toBeGreaterThan(0);
  }, 600_000);

  it("trusts the agent's egress CA in RUN steps for an inspected host with no CA step in the Containerfile, keeps update-ca-certificates working, and leaves the CA out of the image", async () => {
    // The engine's copy: the sandbox's egress CA certificate alone, named by its subject hash.
    const caDir = path.join(daemon.stateDir, 'engine', boxId, 'ca');
    const files = await readdir(caDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^[0-9a-f]{8}\.0$/);
    const egressCa = await readFile(path.join(caDir, files[0]!), 'utf8');
    expect(egressCa.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    expect(egressCa).not.toContain('PRIVATE KEY');
    const extra = await readFile(path.join(tlsDir, 'extra-ca.crt'), 'utf8');
    // Room on the test's small engine disk (vfs keeps a full copy per layer): the fetch test's image goes.
    await daemon.exec('box', ['podman', 'rmi', '--ignore', 'localhost/fetched:1']);
    const containerfile = [
      'FROM localhost/aibox-base',
      // The base image's user is the agent's: adding a CA to the system store takes root, as in any image.
      'USER root',
      'COPY extra-ca.crt /usr/local/share/ca-certificates/aibox-test-extra.crt',
      [
        `RUN curl -sS -v -m 20 -o /tmp/tls-fetched.txt https://inspected.test:${tlsOrigin.port}/in-run 2> /tmp/curl.err`,
        '(grep -i "issuer:" /tmp/curl.err || cat /tmp/curl.err)',
        'echo "fetched=$(cat /tmp/tls-fetched.txt)"',
        '(update-ca-certificates 2>&1 && echo "updated=ok")',
        'echo "extra=$(grep -c "BEGIN CERTIFICATE" /usr/local/share/ca-certificates/aibox-test-extra.crt)"',
        'test -s /tmp/tls-fetched.txt',
      ].join('; '),
      '',
    ].join('\n');
    const t0 = Date.now();
    const b = await daemon.exec('box', [
      'sh',
      '-c',
      [
        'mkdir -p /tmp/tlsctx && cd /tmp/tlsctx',
        `echo ${Buffer.from(containerfile).toString('base64')} | base64 -d > Containerfile`,
        `echo ${Buffer.from(extra).toString('base64')} | base64 -d > extra-ca.crt`,
        'podman build -t localhost/tls:1 . 2>&1',
      ].join(' && '),
    ]);
    console.log(`podman build fetching an inspected host took ${Date.now() - t0} ms`);
    const out = b.stdout + b.stderr;
    expect(b.exitCode, out).toBe(0);
    // Through the agent's proxy, inspected: the certificate the RUN step verified is the sandbox CA's.
    expect(out).toMatch(/^fetched=inspected GET \/in-run$/m);
    expect(out).toMatch(/issuer: .*aibox egress CA for sandbox/);
    // The build's own CA was added: the system bundle is not a mount point any more.
    expect(out).toMatch(/^updated=ok$/m);
    expect(out).toMatch(/1 added/);

    // The image: no layer carries the sandbox CA (at most buildah's empty mount point), and the bundle the RUN step
    // rewrote holds the build's own CA but not the sandbox's.
    const tar = path.join(tlsDir, 'tls.tar');
    await saveImage(
      path.join(daemon.stateDir, 'engine', boxId, 'api', 'podman.sock'),
      'localhost/tls:1',
      tar,
    );
    const manifest = JSON.parse(
      execFileSync('tar', ['-xOf', tar, 'manifest.json'], { encoding: 'utf8' }),
    ) as {
      Layers: string[];
    }[];
    const layers = manifest[0]!.Layers;
    expect(layers.length).toBeGreaterThanOrEqual(3);
    const sh = (script: string, ...args: string[]) =>
      execFileSync('sh', ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
    const top = sh('tar -xOf "$0" "$1" | tar -tv', tar, layers.at(-1)!).split('\n');
    const hashed = top.filter((l) => l.includes(`etc/ssl/certs/${files[0]}`));
    // Buildah leaves the mount point it made (an empty file); never the certificate.
    for (const l of hashed) expect(l.split(/\s+/)[2], l).toBe('0');
    expect(top.some((l) => l.endsWith('tmp/tls-fetched.txt'))).toBe(true);
    const body = pemBody(egressCa);
    // Two lines of its PEM (the first holds its random serial): found in any file that carries it as PEM.
    const lines = egressCa
      .split('\n')
      .filter((l) => /^[A-Za-z0-9+/=]{64}$/.test(l))
      .slice(0, 2);
    expect(lines).toHaveLength(2);
    for (const layer of layers) {
      const found = sh(
        'tar -xOf "$0" "$1" | tar -xO 2>/dev/null | grep -a -c -F -e "$2" -e "$3" || true',
        tar,
        layer,
        lines[0]!,
        lines[1]!,
      ).trim();
      expect(found, `layer ${layer}`).toBe('0');
    }
    const bundle = sh(
      'tar -xOf "$0" "$1" | tar -xO etc/ssl/certs/ca-certificates.crt ./etc/ssl/certs/ca-certificates.crt 2>/dev/null || true',
      tar,
      layers.at(-1)!,
    );
    expect(bundle.replace(/\s+/g, '')).toContain(pemBody(extra));
    expect(bundle.replace(/\s+/g, '')).not.toContain(body);
    await rm(tar, { force: true });
    const rmi = await daemon.exec('box', ['podman', 'rmi', 'localhost/tls:1']);
    expect(rmi.exitCode, rmi.stderr).toBe(0);
  }, 600_000);

  it("fails a build that writes past the engine's disk with ENGINE_DISK_FULL, and the engine goes on", async () => {
    const t0 = Date.now();
    const b = await daemon.exec('box', [
      'sh',
      '-c',
      [
        'mkdir -p /tmp/fullctx && cd /tmp/fullctx',
        `printf 'FROM localhost/aibox-base\\nRUN head -c ${DISK_MIB * 1024 * 1024} /dev/zero > /tmp/big\\n' > Containerfile`,
        'podman build -t localhost/full:1 . 2>&1',
      ].join(' && '),
    ]);
    console.log(`podman build that fills the engine disk failed after ${Date.now() - t0} ms`);
    const out = b.stdout + b.stderr;
    expect(b.exitCode, out).not.toBe(0);
    expect(out).toContain('No space left on device');
    expect(out).toContain('ENGINE_DISK_FULL');
    expect(out).toContain('containerEngineDiskMiB');
    // The engine is still there, its images too, and the failed build's space is given back.
    const images = await daemon.exec('box', ['podman', 'images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(images.exitCode, images.stderr).toBe(0);
    expect(images.stdout.split('\n')).toContain('localhost/app:1');
    expect(images.stdout).not.toContain('localhost/full');
    const s = await statfs(disk!.mountPoint);
    expect(s.bavail * s.bsize).toBeGreaterThan(512 * 1024 * 1024);
  }, 600_000);

  it('refuses podman run with ENGINE_RUN_UNSUPPORTED, and privileged, path mounts and host network with their codes', async () => {
    const cases: [string[], string][] = [
      [['podman', 'run', '--rm', 'localhost/app:1', 'cat', '/tmp/built.txt'], 'ENGINE_RUN_UNSUPPORTED'],
      [['podman', 'run', '--rm', '--privileged', 'localhost/app:1', 'true'], 'ENGINE_PRIVILEGED_REFUSED'],
      [['podman', 'run', '--rm', '-v', '/etc:/host-etc', 'localhost/app:1', 'true'], 'ENGINE_MOUNT_REFUSED'],
      [
        ['podman', 'run', '--rm', '--network', 'host', 'localhost/app:1', 'true'],
        'ENGINE_HOST_NETWORK_REFUSED',
      ],
      [['podman', 'volume', 'create', 'v'], 'ENGINE_ENDPOINT_REFUSED'],
    ];
    for (const [cmd, code] of cases) {
      const r = await daemon.exec('box', cmd);
      expect(r.exitCode, cmd.join(' ')).not.toBe(0);
      expect(r.stderr + r.stdout, cmd.join(' ')).toContain(code);
    }
    const run = await daemon.exec('box', ['podman', 'run', '--rm', 'localhost/app:1', 'true']);
    expect(run.stderr).toContain('no nested OCI runtime');
    const audit = await readFile(path.join(daemon.stateDir, 'audit', 'audit.jsonl'), 'utf8').catch(() => '');
    const records = audit
      .split('\n')
      .filter((l) => l.includes('"engine.request"'))
      .map(
        (l) =>
          JSON.parse(l) as { sandbox: string; data: { endpoint: string; allowed: boolean; code?: string } },
      );
    expect(records.some((r) => r.data.endpoint === 'POST /build' && r.data.allowed)).toBe(true);
    for (const [, code] of cases)
      expect(
        records.some((r) => r.data.code === code),
        code,
      ).toBe(true);
    expect(records.every((r) => r.sandbox === 'box')).toBe(true);
  }, 300_000);

  it('re-adopts the engine after the daemon is killed (builds work again); an engine removed while it was down stops its sandbox', async () => {
    // A second sandbox with an engine: its engine goes away while the daemon is down.
    const two = await makeProject('engine-two');
    projects.push(two);
    const created = await daemon.api('POST', '/v1/sandboxes', { path: two, name: 'box2' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const twoId = (created.body as { id: string }).id;
    const stateOf = async (id: string) =>
      JSON.parse(await readFile(path.join(daemon.stateDir, 'engine', id, 'state.json'), 'utf8')) as {
        containerId: string;
        port: number;
      };
    const one = await stateOf(boxId);
    const gone = await stateOf(twoId);
    const oneDisk = await engineDisk(boxId);
    const goneDisk = await engineDisk(twoId);
    expect(oneDisk && goneDisk, 'both engine disks are mounted').toBeTruthy();
    expect((await engines()).sort()).toEqual([one.containerId, gone.containerId].sort());

    // The front's audit records go on after the restart.
    const builds = async () =>
      (await readFile(path.join(daemon.stateDir, 'audit', 'audit.jsonl'), 'utf8'))
        .split('\n')
        .filter((l) => l.includes('"engine.request"') && l.includes('"POST /build"')).length;
    const buildsBefore = await builds();

    await daemon.crash();
    const removed = await podmanCli(daemon.stateDir, ['rm', '-f', '-t', '0', gone.containerId]);
    expect(removed.exitCode, removed.stderr).toBe(0);
    const t0 = Date.now();
    await daemon.restart();
    console.log(`daemon restarted and re-adopted in ${Date.now() - t0} ms`);

    // The first sandbox runs on with the same engine, the same disk and the same front.
    const status = await daemon.api<{ state: string; endpoints: Record<string, string> }>(
      'GET',
      '/v1/sandboxes/box',
    );
    expect(status.body.state, JSON.stringify(status.body)).toBe('running');
    expect(status.body.endpoints.engine).toBe(engineUrl);
    expect(await engines()).toEqual([one.containerId]);
    expect((await engineDisk(boxId))?.device).toBe(oneDisk!.device);
    const images = await daemon.exec('box', ['podman', 'images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(images.exitCode, images.stderr).toBe(0);
    expect(images.stdout.split('\n')).toContain('localhost/app:1');
    const t1 = Date.now();
    const b = await daemon.exec('box', [
      'sh',
      '-c',
      [
        'mkdir -p /tmp/againctx && cd /tmp/againctx',
        `printf 'FROM localhost/app:1\\nRUN echo after-restart > /tmp/again.txt\\n' > Containerfile`,
        'podman build -t localhost/again:1 . 2>&1',
      ].join(' && '),
    ]);
    console.log(`podman build after the restart took ${Date.now() - t1} ms`);
    expect(b.exitCode, b.stdout + b.stderr).toBe(0);
    expect(b.stdout).toContain('Successfully tagged localhost/again:1');
    expect(await builds()).toBeGreaterThan(buildsBefore);

    // The second one is stopped (fail closed) with the reason, and its engine's disk and state are gone.
    const stopped = await daemon.api<{ state: string }>('GET', '/v1/sandboxes/box2');
    expect(stopped.body.state, JSON.stringify(stopped.body)).toBe('stopped');
    expect(JSON.stringify(stopped.body)).toContain('re-adopted');
    const reason = (await daemon.log())
      .split('\n')
      .find((l) => l.includes('cannot re-adopt') && l.includes('"box2"'));
    expect(reason, 'the reason is logged').toMatch(/engine cannot be re-adopted: its container \w+ is gone/);
    expect(await engineDisk(twoId)).toBeUndefined();
    expect(existsSync(path.join(daemon.stateDir, 'engine', twoId))).toBe(false);
    const loopFreed = await eventually(async () => {
      const backing = await readFile(
        `/sys/block/${path.basename(goneDisk!.device)}/loop/backing_file`,
        'utf8',
      ).catch(() => '');
      return !backing.includes(twoId);
    });
    expect(loopFreed, 'the removed engine loop device is detached').toBe(true);
    expect(await eventually(async () => (await processesOf(gone.containerId)).length === 0)).toBe(true);
    const del = await daemon.api('DELETE', '/v1/sandboxes/box2');
    expect(del.status, JSON.stringify(del.body)).toBeLessThan(300);
  }, 900_000);

  it('turns the engine off where a team says so: no engine, no DOCKER_HOST, and that sandbox cannot reach the engine of another', async () => {
    const env = await daemon.exec('off', ['sh', '-c', 'echo "${DOCKER_HOST-unset} ${CONTAINER_HOST-unset}"']);
    expect(env.stdout.trim()).toBe('unset unset');
    const report = await daemon.api<{ id: string; endpoints: Record<string, string> }>(
      'GET',
      '/v1/sandboxes/off',
    );
    expect(report.body.endpoints.engine).toBeUndefined();
    expect(existsSync(path.join(daemon.stateDir, 'engine', report.body.id))).toBe(false);
    expect(await engines()).toHaveLength(1);
    const port = new URL(engineUrl.replace('tcp:', 'http:')).port;
    const probe = await daemon.exec('off', [
      'sh',
      '-c',
      `curl --noproxy '*' -sS -m 5 http://10.0.2.2:${port}/_ping; echo " exit=$?"`,
    ]);
    expect(probe.stdout).toMatch(/exit=(7|28|56)/);
    expect(probe.stdout).not.toContain('OK');
    // From the engine's own sandbox the front answers (the same request is allowed there).
    const own = await daemon.exec('box', [
      'sh',
      '-c',
      `curl --noproxy '*' -sS -m 5 http://10.0.2.2:${port}/_ping`,
    ]);
    expect(own.stdout.trim()).toBe('OK');
  }, 120_000);

  it('leaves no engine container, cgroup or state once the sandbox is removed', async () => {
    const state = JSON.parse(
      await readFile(path.join(daemon.stateDir, 'engine', boxId, 'state.json'), 'utf8'),
    ) as { engineId: string; containerId: string };
    expect(await processesOf(state.containerId)).not.toEqual([]);
    // The engine's own cgroups (rootless: aiboxd's, named by the engine's id), there while it runs.
    const cgroup = `/sys/fs/cgroup/memory/aibox/${state.engineId}`;
    expect(existsSync(cgroup)).toBe(true);
    const del = await daemon.api('DELETE', '/v1/sandboxes/box');
    expect(del.status, JSON.stringify(del.body)).toBeLessThan(300);
    expect(await engines()).toEqual([]);
    expect(existsSync(path.join(daemon.stateDir, 'engine', boxId))).toBe(false);
    expect(existsSync(cgroup)).toBe(false);
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mounts).not.toContain(boxId);
    // The engine disk: unmounted, its mount folder gone, its loop device detached (the unlinked file freed).
    expect(await engineDisk(boxId)).toBeUndefined();
    expect(existsSync(path.dirname(disk!.mountPoint))).toBe(false);
    // The loop device lets go once the engine's sandbox has let go of its last reference: give it a moment.
    let backing = '';
    for (let i = 0; i < 20; i++) {
      backing = await readFile(`/sys/block/${path.basename(disk!.device)}/loop/backing_file`, 'utf8').catch(
        () => '',
      );
      if (!backing.includes(boxId)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(backing).not.toContain(boxId);
    expect(mounts).not.toContain(state.engineId);
    // No process of the engine (its conmon, runsc sandbox and gofer) outlives it.
    expect(await eventually(async () => (await processesOf(state.containerId)).length === 0)).toBe(true);
  }, 120_000);
});
