import type { LinkPlan } from './network.js';

/** One interface as `ip -j addr show` prints it (the fields the check reads). */
export interface IpInterface {
  ifindex: number;
  ifname: string;
  /** The veth peer's ifindex (in the peer's namespace). */
  link_index?: number;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/**
 * Whether a companion's private link is still exactly what its start made (after a daemon restart, before the link
 * is trusted again): the companion's namespace holds only loopback and its end; the two ends are each other's veth
 * peer, up, with the plan's addresses and nothing else. Pure. Returns what is wrong, or undefined when it holds.
 *
 * `agent` and `companion`: `ip -j addr show` (every interface) in the agent's and in the companion's namespace.
 */
export function linkProblem(input: {
  link: LinkPlan;
  agent: readonly IpInterface[];
  companion: readonly IpInterface[];
}): string | undefined {
  const { link } = input;
  const names = input.companion.map((i) => i.ifname).sort();
  if (names.join(',') !== ['lo', link.companionIf].sort().join(','))
    return `the companion's namespace has interfaces ${names.join(', ') || '(none)'}, not lo and ${link.companionIf}`;
  const c = input.companion.find((i) => i.ifname === link.companionIf)!;
  const a = input.agent.find((i) => i.ifname === link.agentIf);
  if (!a) return `${link.agentIf} is not in the agent's namespace`;
  if (c.link_index !== a.ifindex || a.link_index !== c.ifindex)
    return `${link.agentIf} and the companion's ${link.companionIf} are not each other's peer`;
  for (const [side, i, address] of [
    ['agent', a, link.agentAddress],
    ['companion', c, link.companionAddress],
  ] as const) {
    if (!i.flags?.includes('UP')) return `the ${side}'s end ${i.ifname} is down`;
    const inet = (i.addr_info ?? [])
      .filter((x) => x.family === 'inet')
      .map((x) => `${x.local}/${x.prefixlen}`);
    if (inet.join(',') !== `${address}/${link.prefix}`)
      return `the ${side}'s end ${i.ifname} has ${inet.join(', ') || 'no address'}, not ${address}/${link.prefix}`;
  }
  return undefined;
}
