import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Endpoint } from './dns-server.js';

/** Upstream resolvers: `IP` or `IP:PORT` entries from the config, else the host's /etc/resolv.conf nameservers. */
export async function systemResolvers(
  configured: string[],
  resolvConf = '/etc/resolv.conf',
): Promise<Endpoint[]> {
  if (configured.length > 0) return configured.map(parseEndpoint);
  const text = await readFile(resolvConf, 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((a): a is string => a !== undefined && isIP(a) !== 0)
    .map((address) => ({ address, port: 53 }));
}

function parseEndpoint(entry: string): Endpoint {
  const v6 = /^\[(.+)\](?::([0-9]+))?$/.exec(entry);
  if (v6) return { address: v6[1]!, port: v6[2] ? Number(v6[2]) : 53 };
  if (isIP(entry) !== 0) return { address: entry, port: 53 };
  const i = entry.lastIndexOf(':');
  return { address: entry.slice(0, i), port: Number(entry.slice(i + 1)) };
}
