import { readdir, readFile, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';

/**
 * Proxy ports. Squid 5 refuses `http_port …:0` and cannot take an inherited socket, so the daemon has to name the
 * port. Probing a free port and closing it is only a guess (another start, another daemon or any process can take
 * it before Squid binds), so the guess is never trusted:
 * - ports are picked outside the kernel's ephemeral range (ip_local_port_range): outgoing connections and every
 *   `listen(0)` (the resolvers, the gateways) take their ports from that range, so they cannot land on a port
 *   between its probe and Squid's bind — with Squid starting in the background, that window is a container start;
 * - within this daemon, a port handed out stays reserved until its sandbox releases it (no two concurrent starts
 *   get the same one);
 * - Squid's own bind is the arbiter across processes: if it fails (EADDRINUSE), the start fails or retries with
 *   another port, and a start only succeeds once the listening socket on that port is proven to belong to this Squid.
 */
export class PortReservations {
  private readonly held = new Set<string>();
  private range: Promise<[number, number] | undefined> | undefined;

  /** A port free now (a bind succeeds), outside the ephemeral range, that no other start of this daemon holds. */
  async reserve(address: string): Promise<number> {
    this.range ??= proxyPortRange();
    const range = await this.range;
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = range
        ? range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1))
        : await kernelFreePort(address);
      const key = `${address}:${port}`;
      if (this.held.has(key)) continue;
      // Held before the probe: a concurrent reserve cannot pick it meanwhile.
      this.held.add(key);
      if (range && !(await canBind(address, port))) {
        this.held.delete(key);
        continue;
      }
      return port;
    }
    throw new Error(`no free port on ${address}`);
  }

  /** Marks a known port (adopted after a restart) as held. */
  hold(address: string, port: number): void {
    this.held.add(`${address}:${port}`);
  }

  release(address: string, port: number): void {
    this.held.delete(`${address}:${port}`);
  }

  get size(): number {
    return this.held.size;
  }
}

/**
 * Where proxy ports come from: the 12,000 ports below the kernel's ephemeral range (or above it, when it starts too
 * low); undefined when neither fits (then the kernel picks, from the ephemeral range).
 */
export async function proxyPortRange(): Promise<[number, number] | undefined> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999');
  const [low = 32768, high = 60999] = text.trim().split(/\s+/).map(Number);
  if (low - 1 >= 12_000) return [Math.max(10_000, low - 12_000), low - 1];
  if (high + 1 <= 53_535) return [high + 1, 65_535];
  return undefined;
}

/** Whether a TCP listener can bind address:port right now (it is closed again at once). */
function canBind(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, address, () => srv.close(() => resolve(true)));
  });
}

/** A port free at this instant (a probe: the caller must still verify whoever binds it got it). */
export function kernelFreePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, address, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Whether the TCP socket listening on address:port is held by one of the given processes (read from
 * /proc/<pid>/net/tcp and the processes' file descriptors): connecting proves only that *someone* listens.
 */
export async function listenerHeldBy(pids: number[], address: string, port: number): Promise<boolean> {
  if (pids.length === 0) return false;
  const table = await readFile(`/proc/${pids[0]}/net/tcp`, 'utf8').catch(() => '');
  const local = `${ipv4Hex(address)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // f[1] local address, f[3] state (0A = LISTEN), f[9] inode
    if (f[1] === local && f[3] === '0A' && f[9]) inodes.add(`socket:[${f[9]}]`);
  }
  if (inodes.size === 0) return false;
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (inodes.has(link)) return true;
    }
  }
  return false;
}

/** A process and its direct children (Squid's master and its kid, which holds the listening socket). */
export async function withChildren(pid: number): Promise<number[]> {
  const out = [pid];
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const t of tasks) {
    const text = await readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '');
    for (const c of text.trim().split(/\s+/)) if (/^[0-9]+$/.test(c)) out.push(Number(c));
  }
  return out;
}

/** /proc/net/tcp's little-endian hex form of an IPv4 address. */
function ipv4Hex(address: string): string {
  return address
    .split('.')
    .map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0'))
    .reverse()
    .join('');
}
