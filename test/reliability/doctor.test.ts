/**
 * `aibox doctor` checks the binaries the config actually names: with egress.squid pointing nowhere, the squid check
 * fails (naming the path and the config key), and a sandbox start then fails with an error naming the same cause —
 * not a later symptom ("squid.conf was refused: no output"). Real daemon; the start fails before any container.
 * Run through flock (it starts a daemon with its own Podman service).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { requireHost, sandboxHostSupport } from '../support/host.js';

const run = requireHost(sandboxHostSupport(), 'reliability/doctor');

interface Check {
  name: string;
  layer: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

describe.skipIf(!run)('doctor checks what the config names', () => {
  let daemon: TestDaemon;
  let project: string;

  beforeAll(async () => {
    daemon = await startTestDaemon({
      name: 'doctor',
      config: { egress: { squid: '/nonexistent/aibox/squid', nft: '/usr/sbin/nft' } },
    });
    project = await makeProject('doctor');
  }, 120_000);

  afterAll(async () => {
    await daemon?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  }, 120_000);

  it('fails the squid check, naming the configured path and key', async () => {
    const r = await daemon.cli(['doctor', '--json']);
    expect(r.exitCode).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
    expect(report.ok).toBe(false);
    const squid = report.checks.find((c) => c.name === 'squid' && c.layer === 'egress')!;
    expect(squid.ok).toBe(false);
    expect(squid.detail).toContain('/nonexistent/aibox/squid');
    expect(squid.detail).toContain('egress.squid');
    expect(squid.fix).toContain('egress.squid');
    // the other egress binaries are the configured (working) ones
    const nft = report.checks.find((c) => c.name === 'nft' && c.layer === 'egress')!;
    expect(nft).toMatchObject({ ok: true });
    expect(nft.detail).toContain('/usr/sbin/nft (egress.nft): nftables');
    const text = await daemon.cli(['doctor']);
    expect(text.stdout).toContain('✗ squid [egress]');
    expect(text.stdout).not.toContain('all checks passed');
  }, 60_000);

  it('refuses a start with an error naming the missing binary, and leaves no egress state', async () => {
    const created = await daemon.api<{ error: { code: string; message: string } }>('POST', '/v1/sandboxes', {
      path: project,
      name: 'doctor-a',
    });
    expect(created.status).toBe(503);
    expect(created.body.error.code).toBe('EGRESS_SQUID');
    expect(created.body.error.message).toContain('/nonexistent/aibox/squid');
    expect(created.body.error.message).toContain('egress.squid');
    expect(created.body.error.message).not.toContain('no output');
    const { readdir } = await import('node:fs/promises');
    const left = await readdir(`${daemon.stateDir}/egress`).catch(() => [] as string[]);
    expect(left).toEqual([]);
  }, 60_000);
});

describe.skipIf(!run)('doctor checks that Squid can peek at TLS', () => {
  let daemon: TestDaemon;
  let dir: string;

  beforeAll(async () => {
    // A Squid that answers its version query like Debian's plain `squid` package: built without OpenSSL.
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-doctor-squid-'));
    const fake = path.join(dir, 'squid');
    await writeFile(
      fake,
      `#!/bin/sh\necho 'Squid Cache: Version 5.7'\necho "configure options:  '--prefix=/usr' '--with-gnutls'"\n`,
      { mode: 0o755 },
    );
    daemon = await startTestDaemon({ name: 'doctor-tls', config: { egress: { squid: fake } } });
  }, 120_000);

  afterAll(async () => {
    await daemon?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('fails the squid check of a Squid built without OpenSSL, naming squid-openssl', async () => {
    const r = await daemon.cli(['doctor', '--json']);
    expect(r.exitCode).toBe(1);
    const report = JSON.parse(r.stdout) as { checks: Check[] };
    const squid = report.checks.find((c) => c.name === 'squid' && c.layer === 'egress')!;
    expect(squid).toMatchObject({ ok: false });
    expect(squid.detail).toContain('without OpenSSL');
    expect(squid.fix).toContain('squid-openssl');
  }, 60_000);
});
