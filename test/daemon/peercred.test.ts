import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPeerReader } from '../../src/daemon/http/peercred.js';

describe('SO_PEERCRED addon (native/peercred, built by npm run build)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'aibox-peercred-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('reads the uid, gid and pid of the process on the other end of a unix socket', async () => {
    const read = loadPeerReader();
    const socketPath = path.join(dir, 'p.sock');
    const seen = new Promise<ReturnType<typeof read>>((resolve, reject) => {
      const server = net.createServer((conn) => {
        try {
          resolve(read(conn));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        } finally {
          conn.destroy();
          server.close();
        }
      });
      server.listen(socketPath, () => net.connect(socketPath).on('error', () => undefined));
    });
    expect(await seen).toEqual({ uid: process.getuid?.(), gid: process.getgid?.(), pid: process.pid });
  });

  it('throws for something that is not a connected socket', () => {
    const read = loadPeerReader();
    expect(() => read(new net.Socket())).toThrow();
  });

  it('refuses to load (so aiboxd refuses to start) when the addon is not built', () => {
    expect(() => loadPeerReader(path.join(dir, 'missing.node'))).toThrow(
      expect.objectContaining({ code: 'DAEMON_PEERCRED_MISSING' }),
    );
  });
});
