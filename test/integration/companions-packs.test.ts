/**
 * The packs companion services run on, in a real gVisor sandbox: the postgresql pack (Debian's server and psql,
 * relocated under /opt/aibox/packs) initialises a cluster and serves it with the exact command aibox/services.yaml
 * gives a PostgreSQL service by default, and psql from the same pack queries it; the redis pack's default command
 * serves redis-cli. Everything runs as the sandbox user on the sandbox's own loopback. (Companion sandboxes and their
 * private link to the agent: companions.test.ts.) The packs are built if the host cache lacks them.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServices } from '../../src/companions/index.js';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'companions-packs');

const SERVICES = `services:
  - name: db
    pack: postgresql
    port: 5432
    data: { path: /tmp/data }
  - name: cache
    pack: redis
    port: 6379
    data: { path: /tmp/data }
`;

/** Starts `argv` detached inside the sandbox, then polls `probe` until it succeeds (or prints the server's log). */
function serveThenProbe(argv: string[], probe: string): string {
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return [
    'mkdir -p /tmp/data',
    `setsid ${quoted} >/tmp/server.log 2>&1 </dev/null &`,
    `for i in $(seq 100); do if out=$(${probe} 2>/dev/null); then echo "$out"; exit 0; fi; sleep 0.2; done`,
    'cat /tmp/server.log; exit 1',
  ].join('\n');
}

describe.skipIf(!run)('companion service packs in a gVisor sandbox', () => {
  let daemon: TestDaemon;
  let repo: string;
  let project: string;
  const services = parseServices(SERVICES);

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'aibox-companions-policy-'));
    await mkdir(path.join(repo, 'org'));
    await writeFile(
      path.join(repo, 'org/packs.rego'),
      'package aibox.org.packs\n\nimport rego.v1\n\nallowed := ["postgresql", "redis"]\n',
    );
    await writeFile(
      path.join(repo, 'org/mounts.rego'),
      'package aibox.org.mounts\n\nimport rego.v1\n\nallow := [{"path": "/tmp", "mode": "rw"}]\n',
    );
    daemon = await startTestDaemon({ name: 'companions-packs', config: { policy: { repo } } });
    const built = await daemon.cli(['setup', '--json']);
    expect(built.exitCode, built.stderr).toBe(0);
    project = await makeProject('companions');
    const created = await daemon.api('POST', '/v1/sandboxes', { path: project, name: 'svc' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }, 300_000);

  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  it('serves PostgreSQL with the default service command, and psql from the pack queries it', async () => {
    const install = await daemon.cli(['install', 'postgresql', '--sandbox', 'svc', '--json']);
    expect(install.exitCode, install.stderr + install.stdout).toBe(0);
    const db = services.find((s) => s.name === 'db')!;
    const r = await daemon.exec('svc', [
      'sh',
      '-c',
      serveThenProbe(db.command, `psql -h 127.0.0.1 -p ${db.port} -U postgres -tAc 'select 40 + 2'`),
    ]);
    expect(r.stdout.trim(), r.stderr + r.stdout).toBe('42');
    expect((await daemon.exec('svc', ['id', '-u'])).stdout.trim()).toBe('1001');
  }, 900_000);

  it('serves Redis with the default service command, and redis-cli from the pack reaches it', async () => {
    const install = await daemon.cli(['install', 'redis', '--sandbox', 'svc', '--json']);
    expect(install.exitCode, install.stderr + install.stdout).toBe(0);
    const cache = services.find((s) => s.name === 'cache')!;
    const r = await daemon.exec('svc', [
      'sh',
      '-c',
      serveThenProbe(cache.command, `redis-cli -h 127.0.0.1 -p ${cache.port} ping`),
    ]);
    expect(r.stdout.trim(), r.stderr + r.stdout).toBe('PONG');
  }, 900_000);
});
