import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Caller } from '../../shared/index.js';
import { daemonErrors } from '../errors.js';

/** Where `npm run build` puts the addon (same relative place from src/daemon/http and dist/daemon/http). */
const ADDON = fileURLToPath(new URL('../../../native/peercred/build/peercred.node', import.meta.url));

interface PeercredAddon {
  peercred(fd: number): { uid: number; gid: number; pid: number };
}

/** Reads a connection's peer: who the kernel says is on the other end, never what the request says. */
export type PeerReader = (socket: Socket) => Caller;

/**
 * Loads the SO_PEERCRED addon. Without it aiboxd cannot tell callers apart, so it refuses to start (fail closed)
 * instead of serving every local user as if they were root.
 */
export function loadPeerReader(addonPath = ADDON): PeerReader {
  if (!existsSync(addonPath)) {
    throw daemonErrors.create(
      'DAEMON_PEERCRED_MISSING',
      `the SO_PEERCRED addon is not built (${addonPath})`,
      { path: addonPath },
    );
  }
  const addon = createRequire(import.meta.url)(addonPath) as PeercredAddon;
  return (socket) => {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no file descriptor');
    const { uid, gid, pid } = addon.peercred(fd);
    return Object.freeze({ uid, gid, pid });
  };
}
