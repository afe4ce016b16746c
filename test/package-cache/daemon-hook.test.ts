/**
 * The package cache as a daemon sandbox layer: off unless configured; when on, each sandbox gets its own port, the
 * environment and the endpoint the egress layer opens; a restarted daemon re-adopts the same port; stop closes it;
 * a policy change makes the next request ask the egress door again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDaemonConfig } from '../../src/config/index.js';
import { PackageCacheHook } from '../../src/daemon/services/package-cache.js';
import type { RuntimePort } from '../../src/daemon/services/runtime-port.js';
import type { Logger } from '../../src/shared/index.js';
import { FakeNpmRegistry } from './fake-registry.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

describe('the package cache sandbox layer', () => {
  const registry = new FakeNpmRegistry();
  let stateDir: string;
  let outcome: 'allow' | 'deny' = 'allow';
  let decisions = 0;
  const listeners: ((change: { sandbox: string }) => void)[] = [];
  const policy = {
    decide: () => {
      decisions++;
      return Promise.resolve({ id: `dec_${decisions}`, outcome, reason: 'test' });
    },
    onChange: (_door: string, _layer: string, l: (change: { sandbox: string }) => void) => {
      listeners.push(l);
      return () => undefined;
    },
  };

  const execs: { containerId: string; cmd: string[] }[] = [];
  const runtime = {
    execBuffered: (containerId: string, o: { cmd: string[] }) => {
      execs.push({ containerId, cmd: o.cmd });
      return Promise.resolve({ exitCode: 0, stdout: '', stderr: '', timedOut: false });
    },
  } as unknown as RuntimePort;
  const hook = async (packageCache: Record<string, unknown> | undefined) => {
    const base = await loadDaemonConfig(undefined, { stateDir, socket: join(stateDir, 'sock') });
    return PackageCacheHook.create({
      config: { ...base, ...(packageCache ? { packageCache } : {}) } as typeof base,
      logger: quiet,
      runtime,
      daemonId: 'test',
      policy: policy as never,
    });
  };
  const ctx = { id: 'sb-1', name: 'one', path: '/nonexistent', profile: 'default', logger: quiet };

  beforeAll(async () => {
    await registry.start();
    registry.add('aibox-util', '1.0.0', Buffer.from('util'));
    stateDir = await mkdtemp(join(tmpdir(), 'aibox-pkgcache-hook-'));
  });

  afterAll(async () => {
    await registry.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('contributes nothing when packageCache.enabled is off (the default)', async () => {
    const h = await hook(undefined);
    expect(await h.prepare(ctx)).toEqual({});
    expect(h.cache).toBeUndefined();
    await h.close();
  });

  it('gives a sandbox its port, environment and endpoint; re-adopts the port after a restart; stop closes it', async () => {
    const config = { enabled: true, npm: { upstream: registry.url } };
    const h = await hook(config);
    const c = await h.prepare(ctx);
    const url = c.endpoints!['package-cache']!;
    const port = Number(/:(\d+)\/$/.exec(url)![1]);
    expect(url).toBe(`http://10.0.2.2:${port}/`);
    expect(c.network).toBe(true);
    expect(c.env).toMatchObject({
      npm_config_registry: url,
      npm_config_replace_registry_host: 'always',
      AIBOX_PACKAGE_CACHE: `http://10.0.2.2:${port}`,
    });
    const local = `http://127.0.0.1:${port}/aibox-util`;
    expect((await fetch(local)).status).toBe(200);
    await h.close();
    await expect(fetch(local)).rejects.toThrow();

    // A new daemon adopts the running sandbox on the same port (its environment names that port).
    const again = await hook(config);
    await again.adopt({ ...ctx, pid: 1, containerId: 'c' });
    expect((await fetch(local)).status).toBe(200);

    // A policy change: the next request asks the door again, and a refusal is enforced at once.
    outcome = 'deny';
    for (const l of listeners) l({ sandbox: 'one' });
    const refused = await fetch(local);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { decision: string }).decision).toBe(`dec_${decisions}`);
    outcome = 'allow';

    await again.stop(ctx);
    await expect(fetch(local)).rejects.toThrow();
    await again.close();
  });

  it("writes Maven's settings in the sandbox at start (as its user, through exec), unless turned off", async () => {
    execs.length = 0;
    const on = await hook({ enabled: true });
    await on.prepare(ctx);
    await on.started({ ...ctx, pid: 1, containerId: 'ctr-1' });
    expect(execs).toHaveLength(1);
    expect(execs[0]!.containerId).toBe('ctr-1');
    expect(execs[0]!.cmd.slice(0, 2)).toEqual(['sh', '-c']);
    expect(execs[0]!.cmd.at(-1)).toContain('<url>${env.AIBOX_PACKAGE_CACHE}/-/maven2</url>');
    await on.close();
    const off = await hook({ enabled: true, maven: { settings: false } });
    await off.prepare(ctx);
    await off.started({ ...ctx, pid: 1, containerId: 'ctr-1' });
    const disabled = await hook(undefined);
    await disabled.started({ ...ctx, pid: 1, containerId: 'ctr-1' });
    expect(execs).toHaveLength(1);
    await off.close();
  });
});
