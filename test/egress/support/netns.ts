/**
 * Test network namespaces: a netns joined to the host by a veth pair with private addresses that exist only on
 * that pair (10.199.N.0/30 and fd00:199:N::/64). Nothing is routed anywhere else: tests send traffic only to the
 * host end of their own pair or to loopback.
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';

export interface TestNetns {
  name: string;
  hostIf: string;
  /** Host end of the pair, as the namespace reaches the host. */
  host4: string;
  host6: string;
  inner4: string;
  inner6: string;
  /** Runs a command inside the namespace. */
  exec(
    cmd: string,
    args: string[],
    timeoutMs?: number,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  destroy(): Promise<void>;
}

export async function missingTools(tools: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const t of tools) {
    const r = await execa('sh', ['-c', `command -v ${t}`], { reject: false });
    if (r.exitCode !== 0) missing.push(t);
  }
  return missing;
}

/** Why the namespace tests cannot run here, or undefined when they can. */
export async function netnsSkipReason(extra: string[] = []): Promise<string | undefined> {
  if (process.getuid?.() !== 0)
    return 'needs root (creates network namespaces, nftables tables, binds port 53)';
  const missing = await missingTools(['ip', 'nft', 'nsenter', 'squid', 'dig', 'curl', 'dnsmasq', ...extra]);
  if (missing.length > 0) return `missing ${missing.join(', ')} (scripts/setup-host.sh installs them)`;
  return undefined;
}

export async function createNetns(index: number): Promise<TestNetns> {
  const tag = randomBytes(3).toString('hex');
  const name = `aibox-test-${tag}`;
  const hostIf = `vh${tag}`;
  const innerIf = `vs${tag}`;
  const host4 = `10.199.${index}.1`;
  const inner4 = `10.199.${index}.2`;
  const host6 = `fd00:199:${index}::1`;
  const inner6 = `fd00:199:${index}::2`;
  const sh = (args: string[]) => execa('ip', args);
  const inNs = (args: string[]) => execa('ip', ['netns', 'exec', name, 'ip', ...args]);
  await sh(['netns', 'add', name]);
  try {
    await sh(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', innerIf]);
    await sh(['link', 'set', innerIf, 'netns', name]);
    await sh(['addr', 'add', `${host4}/30`, 'dev', hostIf]);
    await sh(['-6', 'addr', 'add', `${host6}/64`, 'dev', hostIf, 'nodad']);
    await sh(['link', 'set', hostIf, 'up']);
    await inNs(['link', 'set', 'lo', 'up']);
    await inNs(['addr', 'add', `${inner4}/30`, 'dev', innerIf]);
    await inNs(['-6', 'addr', 'add', `${inner6}/64`, 'dev', innerIf, 'nodad']);
    await inNs(['link', 'set', innerIf, 'up']);
  } catch (err) {
    await execa('ip', ['link', 'del', hostIf], { reject: false });
    await execa('ip', ['netns', 'del', name], { reject: false });
    throw err;
  }
  return {
    name,
    hostIf,
    host4,
    host6,
    inner4,
    inner6,
    async exec(cmd, args, timeoutMs = 15_000) {
      const r = await execa('ip', ['netns', 'exec', name, cmd, ...args], {
        reject: false,
        timeout: timeoutMs,
      });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
    async destroy() {
      await execa('ip', ['link', 'del', hostIf], { reject: false });
      await execa('ip', ['netns', 'del', name], { reject: false });
    },
  };
}
