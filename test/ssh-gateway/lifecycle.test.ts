import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DaemonConfig } from '../../src/config/index.js';
import { SshGatewayHook, type SandboxExec } from '../../src/daemon/services/ssh-gateway.js';
import type { Logger } from '../../src/shared/index.js';

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silent,
};
const sandboxes: SandboxExec = {
  exec: () => Promise.reject(new Error('not in this test')),
  execBuffered: () => Promise.reject(new Error('not in this test')),
};
const audit = { append: () => Promise.resolve() };

/** Logs in as `user`; resolves 'ready' or 'refused'. */
function login(
  port: number,
  user: string,
  privateKey: string,
): Promise<{ result: string; conn: ssh2.Client }> {
  return new Promise((resolve) => {
    const conn = new ssh2.Client();
    conn.on('ready', () => resolve({ result: 'ready', conn }));
    conn.on('error', () => resolve({ result: 'refused', conn }));
    conn.connect({ host: '127.0.0.1', port, username: user, privateKey, readyTimeout: 5000 });
  });
}

describe('SSH reaches a sandbox only while it is fully running', () => {
  let dir: string;
  let hook: SshGatewayHook;
  let port: number;
  const key = ssh2.utils.generateKeyPairSync('ed25519');
  const ctx = { id: 'sbx_000000000001', name: 'demo', path: '/tmp', profile: 'default', logger: silent };
  const running = { ...ctx, pid: 1, containerId: 'c1' };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aibox-ssh-life-'));
    const config = {
      stateDir: dir,
      profilesDir: join(dir, 'profiles'),
      sshGateway: { port: 0 },
    } as unknown as DaemonConfig;
    hook = await SshGatewayHook.create({
      config,
      logger: silent,
      sandboxes,
      audit,
      policy: () => Promise.resolve({ allow: true }),
    });
    port = hook.info()!.port;
    await hook.addKey(key.public);
  });
  afterEach(async () => {
    await hook.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a login after prepare (egress rules not applied yet), accepts it after started', async () => {
    await hook.prepare(ctx);
    const early = await login(port, 'demo', key.private);
    expect(early.result).toBe('refused');
    await hook.started(running);
    const later = await login(port, 'demo', key.private);
    expect(later.result).toBe('ready');
    later.conn.end();
  });

  it('refuses logins after stop, and ends the sessions that were open', async () => {
    await hook.prepare(ctx);
    await hook.started(running);
    const open = await login(port, 'demo', key.private);
    expect(open.result).toBe('ready');
    const closed = new Promise<void>((r) => open.conn.on('close', () => r()));
    await hook.stop(ctx);
    await closed;
    expect((await login(port, 'demo', key.private)).result).toBe('refused');
  });
});
