import type { Socket } from 'node:net';
import type { SshGatewayConfig } from './config.js';

type Limits = Pick<SshGatewayConfig, 'maxUnauthenticated' | 'maxUnauthenticatedPerAddress' | 'authTimeoutMs'>;

interface Pending {
  address: string;
  socket: Socket;
  timer: NodeJS.Timeout;
}

/**
 * Bounds the connections that have not authenticated yet: in all, per source address, and in time. Without it one
 * local client could open connections and never finish the handshake, holding every slot of the gateway. Loopback
 * has many source addresses (127/8), so the overall cap and the timeout are what bound a determined local client;
 * the per-address cap keeps one careless client from taking all of them.
 */
export class PreAuthSlots {
  private readonly pending = new Map<string, Pending>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: Limits,
    /** Told of every connection closed by a limit (for the audit log). */
    private readonly onRefused: (socket: Socket, reason: string) => void,
  ) {}

  /** Takes a slot for a new connection; false (and the socket destroyed) when a limit is reached. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '?';
    const key = `${address}:${socket.remotePort ?? 0}`;
    const fromHere = this.perAddress.get(address) ?? 0;
    let reason: string | undefined;
    if (this.pending.size >= this.limits.maxUnauthenticated)
      reason = `too many unauthenticated connections (limit ${this.limits.maxUnauthenticated})`;
    else if (fromHere >= this.limits.maxUnauthenticatedPerAddress)
      reason = `too many unauthenticated connections from ${address} (limit ${this.limits.maxUnauthenticatedPerAddress})`;
    if (reason) {
      this.onRefused(socket, reason);
      socket.destroy();
      return false;
    }
    const timer = setTimeout(() => {
      if (!this.pending.has(key)) return;
      this.onRefused(socket, `no authentication within the auth timeout (${this.limits.authTimeoutMs} ms)`);
      socket.destroy();
    }, this.limits.authTimeoutMs);
    timer.unref();
    this.pending.set(key, { address, socket, timer });
    this.perAddress.set(address, fromHere + 1);
    socket.once('close', () => this.release(key));
    return true;
  }

  /** The connection from `remote` (address:port) authenticated: its slot and timer are released. */
  authenticated(remote: string): void {
    this.release(remote);
  }

  close(): void {
    for (const key of [...this.pending.keys()]) {
      const p = this.pending.get(key)!;
      this.release(key);
      p.socket.destroy();
    }
  }

  private release(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(key);
    const n = (this.perAddress.get(p.address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(p.address, n);
    else this.perAddress.delete(p.address);
  }
}
