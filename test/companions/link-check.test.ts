/**
 * The check a restarted daemon makes before it trusts a companion's private link again (linkProblem), on `ip -j`
 * output as iproute2 prints it for a veth pair across two namespaces.
 */
import { describe, expect, it } from 'vitest';
import { linkPlan, linkProblem, type IpInterface } from '../../src/companions/index.js';

const link = linkPlan(5); // aibxc5: 10.213.0.21 (agent) / 10.213.0.22 (companion)
const inet = (local: string) => ({ family: 'inet', local, prefixlen: 30 });
const linkLocal = { family: 'inet6', local: 'fe80::1', prefixlen: 64 };
const lo: IpInterface = {
  ifindex: 1,
  ifname: 'lo',
  flags: ['LOOPBACK', 'UP'],
  addr_info: [inet('127.0.0.1')],
};

function sides(): { agent: IpInterface[]; companion: IpInterface[] } {
  return {
    agent: [
      {
        ifindex: 318,
        link_index: 317,
        ifname: 'aibxc5',
        flags: ['BROADCAST', 'UP', 'LOWER_UP'],
        addr_info: [inet('10.213.0.21'), linkLocal],
      },
    ],
    companion: [
      lo,
      {
        ifindex: 317,
        link_index: 318,
        ifname: 'aibox0',
        flags: ['BROADCAST', 'UP', 'LOWER_UP'],
        addr_info: [inet('10.213.0.22'), linkLocal],
      },
    ],
  };
}

describe('linkProblem', () => {
  it('accepts the pair as created: peers of each other, up, the plan addresses', () => {
    expect(link.agentIf).toBe('aibxc5');
    expect(linkProblem({ link, ...sides() })).toBeUndefined();
  });

  it('refuses a companion namespace with any other interface (a way out)', () => {
    const s = sides();
    s.companion.push({ ifindex: 3, ifname: 'tap0', flags: ['UP'] });
    expect(linkProblem({ link, ...s })).toBe(
      "the companion's namespace has interfaces aibox0, lo, tap0, not lo and aibox0",
    );
    const gone = sides();
    gone.companion = [lo];
    expect(linkProblem({ link, ...gone })).toMatch(/has interfaces lo, not lo and aibox0/);
  });

  it("refuses when the agent's end is missing", () => {
    expect(linkProblem({ link, agent: [], companion: sides().companion })).toBe(
      "aibxc5 is not in the agent's namespace",
    );
  });

  it('refuses two ends that are not each other’s peer (another pair with the same names)', () => {
    const s = sides();
    s.agent[0]!.link_index = 400;
    expect(linkProblem({ link, ...s })).toBe("aibxc5 and the companion's aibox0 are not each other's peer");
    const t = sides();
    t.companion[1]!.link_index = 12;
    expect(linkProblem({ link, ...t })).toMatch(/not each other's peer/);
  });

  it('refuses an end that is down, or with another or an extra address', () => {
    const down = sides();
    down.companion[1]!.flags = ['BROADCAST'];
    expect(linkProblem({ link, ...down })).toBe("the companion's end aibox0 is down");
    const moved = sides();
    moved.agent[0]!.addr_info = [inet('10.213.0.25')];
    expect(linkProblem({ link, ...moved })).toBe(
      "the agent's end aibxc5 has 10.213.0.25/30, not 10.213.0.21/30",
    );
    const extra = sides();
    extra.companion[1]!.addr_info = [inet('10.213.0.22'), inet('10.9.0.1')];
    expect(linkProblem({ link, ...extra })).toMatch(/has 10\.213\.0\.22\/30, 10\.9\.0\.1\/30, not/);
    const none = sides();
    none.companion[1]!.addr_info = [];
    expect(linkProblem({ link, ...none })).toMatch(/aibox0 has no address, not 10\.213\.0\.22\/30/);
  });
});
