import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diskFullLines, EngineFront, type EngineRequestRecord } from '../../src/engine/index.js';

/** A stand-in for the engine's API socket: records what reaches it and answers with the path it got. */
async function fakeEngine(socketPath: string, seen: string[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
      // What Podman 4.3 answers inside gVisor: its version and image list work, its info fails (NaN).
      if (req.url === '/version' || req.url === '/images/json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.url === '/version' ? PODMAN_VERSION : [{ Id: 'a' }, { Id: 'b' }]));
        return;
      }
      if (req.url?.endsWith('/info')) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"cause":"json: unsupported value: NaN"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`engine saw ${req.url}`);
    });
  });
  await new Promise<void>((r) => server.listen(socketPath, () => r()));
  return server;
}

/** Podman 4.3.1's compatible `/version`, as it answers inside gVisor (trimmed). */
const PODMAN_VERSION = {
  Platform: { Name: 'linux/amd64/debian-12' },
  Components: [
    {
      Name: 'Podman Engine',
      Version: '4.3.1',
      Details: {
        APIVersion: '4.3.1',
        Arch: 'amd64',
        BuildTime: '2023-04-13T10:44:51Z',
        GoVersion: 'go1.19.8',
        KernelVersion: '4.4.0',
        Os: 'linux',
      },
    },
  ],
  Version: '4.3.1',
  ApiVersion: '1.41',
  Os: 'linux',
  Arch: 'amd64',
  KernelVersion: '4.4.0',
};

const FACTS = { id: 'eng_1', hostname: 'box-engine', cpus: 1.5, memoryMiB: 2048, suite: 'bookworm' };

function call(port: number, method: string, target: string, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the engine front', () => {
  let dir: string;
  let engine: http.Server;
  let front: EngineFront;
  let port: number;
  const seen: string[] = [];
  const records: EngineRequestRecord[] = [];

  beforeEach(async () => {
    seen.length = 0;
    records.length = 0;
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-engine-front-'));
    engine = await fakeEngine(path.join(dir, 'api.sock'), seen);
    front = new EngineFront({
      socketPath: path.join(dir, 'api.sock'),
      host: '127.0.0.1',
      record: (r) => Promise.resolve(void records.push(r)),
      facts: () => Promise.resolve(FACTS),
    });
    port = await front.listen();
  });

  afterEach(async () => {
    await front.close();
    await new Promise((r) => engine.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('forwards an allowed build with its body, isolation forced to chroot and the proxy environment on, and audits it', async () => {
    const r = await call(port, 'POST', '/v4.3.1/libpod/build?t=app&isolation=oci', 'CONTEXT-TAR');
    expect(r.status).toBe(200);
    expect(seen).toEqual(['POST /v4.3.1/libpod/build?t=app&isolation=chroot&httpproxy=true CONTEXT-TAR']);
    expect(records).toEqual([{ endpoint: 'POST /build', allowed: true }]);
  });

  it('answers a run with ENGINE_RUN_UNSUPPORTED and its reason, without reaching the engine', async () => {
    const r = await call(
      port,
      'POST',
      '/v4.3.1/libpod/containers/create',
      JSON.stringify({ image: 'localhost/app', command: ['true'] }),
    );
    expect(r.status).toBe(403);
    const body = JSON.parse(r.body) as { cause: string; message: string; code: string; hint: string };
    expect(body.code).toBe('ENGINE_RUN_UNSUPPORTED');
    expect(body.cause).toBe('ENGINE_RUN_UNSUPPORTED');
    expect(body.message).toContain('no nested OCI runtime starts there');
    expect(body.hint).toContain('companion services');
    expect(seen).toEqual([]);
    expect(records).toEqual([
      {
        endpoint: 'POST /containers/create',
        allowed: false,
        code: 'ENGINE_RUN_UNSUPPORTED',
        reason: expect.stringContaining('gVisor'),
      },
    ]);
  });

  it('refuses a privileged create, a host path mount and another endpoint with their codes', async () => {
    const priv = await call(
      port,
      'POST',
      '/containers/create',
      JSON.stringify({ HostConfig: { Privileged: true } }),
    );
    expect(JSON.parse(priv.body)).toMatchObject({ code: 'ENGINE_PRIVILEGED_REFUSED' });
    const mount = await call(port, 'POST', '/v4.3.1/libpod/build?volume=%2Fetc%3A%2Fx');
    expect(JSON.parse(mount.body)).toMatchObject({ code: 'ENGINE_MOUNT_REFUSED' });
    const pull = await call(port, 'POST', '/v4.3.1/libpod/images/pull?reference=docker.io/library/alpine');
    expect(pull.status).toBe(403);
    expect(JSON.parse(pull.body)).toMatchObject({ code: 'ENGINE_ENDPOINT_REFUSED' });
    expect(seen).toEqual([]);
    expect(records.map((r) => r.code)).toEqual([
      'ENGINE_PRIVILEGED_REFUSED',
      'ENGINE_MOUNT_REFUSED',
      'ENGINE_ENDPOINT_REFUSED',
    ]);
  });

  it("answers Docker's info itself from the engine's version, its image count and the profile's limits", async () => {
    const r = await call(port, 'GET', '/v1.41/info');
    expect(r.status).toBe(200);
    const info = JSON.parse(r.body) as Record<string, unknown>;
    expect(info).toMatchObject({
      ID: 'eng_1',
      Name: 'box-engine',
      ServerVersion: '4.3.1',
      Images: 2,
      Containers: 0,
      Driver: 'vfs',
      NCPU: 2,
      MemTotal: 2048 * 1024 * 1024,
      OSType: 'linux',
      OSVersion: '12',
      OperatingSystem: 'Debian GNU/Linux 12 (bookworm)',
      Architecture: 'x86_64',
      KernelVersion: '4.4.0',
      Runtimes: {},
      Swarm: { LocalNodeState: 'inactive' },
    });
    expect(info.Warnings).toEqual([expect.stringContaining('ENGINE_RUN_UNSUPPORTED')]);
    // The engine was asked only what it answers; never its own info.
    expect(seen.map((l) => l.trim()).sort()).toEqual(['GET /images/json', 'GET /version']);
    expect(records).toEqual([{ endpoint: 'GET /info', allowed: true }]);
  });

  it("answers libpod's info (what `podman info` decodes) with host, store and version", async () => {
    const r = await call(port, 'GET', '/v4.3.1/libpod/info');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({
      host: {
        arch: 'amd64',
        cpus: 2,
        memTotal: 2048 * 1024 * 1024,
        hostname: 'box-engine',
        kernel: '4.4.0',
        os: 'linux',
        distribution: { distribution: 'debian', version: '12', codename: 'bookworm' },
      },
      store: { graphDriverName: 'vfs', graphRoot: '/var/lib/containers/storage', imageStore: { number: 2 } },
      version: { Version: '4.3.1', APIVersion: '4.3.1', GoVersion: 'go1.19.8', OsArch: 'linux/amd64' },
    });
    expect(seen.some((l) => l.includes('/info'))).toBe(false);
  });

  it("answers info with the engine's 502 when the engine does not answer", async () => {
    await new Promise((r) => engine.close(r));
    const r = await call(port, 'GET', '/info');
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'ENGINE_START_FAILED' });
    engine = http.createServer();
  });

  it('refuses a request whose audit record cannot be written (fail closed)', async () => {
    await front.close();
    front = new EngineFront({
      socketPath: path.join(dir, 'api.sock'),
      host: '127.0.0.1',
      record: () => Promise.reject(new Error('disk full')),
      facts: () => Promise.resolve(FACTS),
    });
    port = await front.listen();
    const r = await call(port, 'GET', '/_ping');
    expect(r.status).toBe(403);
    expect(seen).toEqual([]);
  });

  it('says the engine does not answer when its socket is gone', async () => {
    await new Promise((r) => engine.close(r));
    const r = await call(port, 'GET', '/_ping');
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'ENGINE_START_FAILED' });
    engine = http.createServer();
  });
});

describe('the disk-full rewrite of a build answer', () => {
  const through = async (chunks: string[]) => {
    const t = diskFullLines();
    const out: string[] = [];
    t.on('data', (c: Buffer | string) => out.push(c.toString()));
    const done = new Promise((r) => t.on('end', r));
    for (const c of chunks) t.write(c);
    t.end();
    await done;
    return out.join('');
  };

  it("gives an ENOSPC error line (libpod's and Docker's) the ENGINE_DISK_FULL code and hint, split anywhere", async () => {
    const libpod = '{"error":"write /var/lib/containers/storage/x: no space left on device"}\n';
    const docker =
      '{"errorDetail":{"message":"write /big: no space left on device"},"error":"write /big: no space left on device"}\n';
    const out = await through(['{"stream":"STEP 1/2\\n"}\n', libpod.slice(0, 20), libpod.slice(20) + docker]);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines[0]).toEqual({ stream: 'STEP 1/2\n' });
    expect(lines[1]!.error).toMatch(/^ENGINE_DISK_FULL: .*no space left on device.*containerEngineDiskMiB/);
    expect(lines[2]!.error).toMatch(/^ENGINE_DISK_FULL: /);
    expect(lines[2]!.errorDetail.message).toBe(lines[2]!.error);
  });

  it("marks the build's error when a RUN step hit ENOSPC earlier (its error only says exit status 1)", async () => {
    const text =
      '{"stream":"head: error writing \'standard output\': No space left on device\\n"}\n{"error":"exit status 1"}\n';
    const lines = (await through([text])).trim().split('\n');
    expect(lines[0]).toBe(text.split('\n')[0]);
    expect((JSON.parse(lines[1]!) as { error: string }).error).toMatch(/^ENGINE_DISK_FULL: .*exit status 1/);
  });

  it('leaves a build that never ran out of room alone', async () => {
    const text = '{"stream":"STEP 2/2: RUN false\\n"}\n{"error":"exit status 1"}\n{"aux":1}';
    expect(await through([text])).toBe(text);
  });
});
