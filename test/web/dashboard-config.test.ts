/**
 * `dashboard:` in aiboxd.yaml: off by default (no TCP port unless asked), loopback unless TLS, refused at load
 * otherwise with the key named.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDaemonConfig } from '../../src/config/index.js';

describe('dashboard config', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  async function load(yaml: string) {
    const dir = await mkdtemp(path.join(tmpdir(), 'aibox-dash-cfg-'));
    dirs.push(dir);
    const file = path.join(dir, 'aiboxd.yaml');
    await writeFile(file, yaml);
    return loadDaemonConfig(file, { stateDir: path.join(dir, 'state'), socket: path.join(dir, 'sock') });
  }

  it('is off by default, on 127.0.0.1:7374 when enabled', async () => {
    expect((await load('{}\n')).dashboard).toEqual({ enabled: false, host: '127.0.0.1', port: 7374 });
    expect((await load('dashboard:\n  enabled: true\n')).dashboard.enabled).toBe(true);
  });

  it('refuses a non-loopback address without TLS at load, naming the key', async () => {
    const loading = load('dashboard:\n  enabled: true\n  host: 0.0.0.0\n');
    await expect(loading).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: { key: 'dashboard.host' },
    });
    await expect(loading).rejects.toThrow(
      /dashboard\.host: the dashboard on a non-loopback address needs tls/,
    );
    // IPv6 any and a LAN address alike; loopback spellings pass.
    await expect(load('dashboard:\n  enabled: true\n  host: "::"\n')).rejects.toThrow(/needs tls/);
    await expect(load('dashboard:\n  enabled: true\n  host: 192.168.1.10\n')).rejects.toThrow(/needs tls/);
    expect((await load('dashboard:\n  enabled: true\n  host: "::1"\n')).dashboard.host).toBe('::1');
    expect((await load('dashboard:\n  enabled: true\n  host: 127.0.0.2\n')).dashboard.host).toBe('127.0.0.2');
  });

  it('takes a non-loopback address with TLS, and refuses unknown keys', async () => {
    const config = await load(
      'dashboard:\n  enabled: true\n  host: 0.0.0.0\n  tls:\n    cert: /etc/aibox/tls.crt\n    key: /etc/aibox/tls.key\n',
    );
    expect(config.dashboard.tls).toEqual({ cert: '/etc/aibox/tls.crt', key: '/etc/aibox/tls.key' });
    await expect(load('dashboard:\n  enabled: true\n  bind: 0.0.0.0\n')).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});
