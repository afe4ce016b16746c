import { execa } from 'execa';
import { companionErrors } from './errors.js';
import { linkProblem, type IpInterface } from './link-check.js';
import { companionTableName, type LinkPlan } from './network.js';

/**
 * The host side of a companion's private link (aiboxd is root): a veth pair, one end moved into each sandbox's
 * network namespace by the pid of a process in it, addresses set, and the companion's ruleset applied there.
 * Injected so unit tests over the fake runtime need no root.
 */
export interface CompanionLinker {
  create(input: { link: LinkPlan; agentPid: number; companionPid: number; ruleset: string }): Promise<void>;
  /** Removes what is left of the pair on the host (a start that failed half-way); gone already is fine. */
  remove(link: LinkPlan): Promise<void>;
  /**
   * After a daemon restart: checks that the pair is still exactly what `create` made (linkProblem) and applies the
   * companion's ruleset again (it replaces its own table); throws saying what is wrong, never repairs.
   */
  reattach(input: {
    link: LinkPlan;
    agentPid: number;
    companionPid: number;
    companionId: string;
    port: number;
    ruleset: string;
  }): Promise<void>;
}

/** While in the host namespace the companion's end has a unique name; it becomes `link.companionIf` in its own. */
function hostPeerName(link: LinkPlan): string {
  return link.agentIf.replace(/^aibxc/, 'aibxp');
}

export const hostLinker: CompanionLinker = {
  async create({ link, agentPid, companionPid, ruleset }) {
    const peer = hostPeerName(link);
    const inNs = (pid: number) => ['nsenter', '-t', String(pid), '-n', '--'];
    const steps: { argv: string[]; input?: string }[] = [
      { argv: ['ip', 'link', 'add', link.agentIf, 'type', 'veth', 'peer', 'name', peer] },
      { argv: ['ip', 'link', 'set', link.agentIf, 'netns', String(agentPid)] },
      { argv: ['ip', 'link', 'set', peer, 'netns', String(companionPid)] },
      { argv: [...inNs(companionPid), 'nft', '-f', '-'], input: ruleset },
      { argv: [...inNs(companionPid), 'ip', 'link', 'set', peer, 'name', link.companionIf] },
      {
        argv: [
          ...inNs(companionPid),
          'ip',
          'addr',
          'add',
          `${link.companionAddress}/${link.prefix}`,
          'dev',
          link.companionIf,
        ],
      },
      { argv: [...inNs(companionPid), 'ip', 'link', 'set', link.companionIf, 'up'] },
      {
        argv: [
          ...inNs(agentPid),
          'ip',
          'addr',
          'add',
          `${link.agentAddress}/${link.prefix}`,
          'dev',
          link.agentIf,
        ],
      },
      { argv: [...inNs(agentPid), 'ip', 'link', 'set', link.agentIf, 'up'] },
    ];
    for (const step of steps) {
      const [cmd, ...args] = step.argv;
      const r = await execa(cmd!, args, { reject: false, ...(step.input ? { input: step.input } : {}) });
      if (r.exitCode !== 0)
        throw companionErrors.create(
          'COMPANION_START_FAILED',
          `the private link ${link.agentIf} failed at \`${step.argv.join(' ')}\`: ${r.stderr.trim().slice(0, 400)}`,
          { link: link.agentIf },
        );
    }
  },
  async reattach({ link, agentPid, companionPid, companionId, port, ruleset }) {
    const inNs = async (pid: number, argv: string[], input?: string) => {
      const r = await execa('nsenter', ['-t', String(pid), '-n', '--', ...argv], {
        reject: false,
        ...(input ? { input } : {}),
      });
      if (r.exitCode !== 0) throw new Error(`\`${argv.join(' ')}\` failed: ${r.stderr.trim().slice(0, 400)}`);
      return r.stdout;
    };
    const interfaces = async (pid: number) =>
      JSON.parse(await inNs(pid, ['ip', '-j', 'addr', 'show'])) as IpInterface[];
    const problem = linkProblem({
      link,
      agent: await interfaces(agentPid),
      companion: await interfaces(companionPid),
    });
    if (problem) throw new Error(problem);
    await inNs(companionPid, ['nft', '-f', '-'], ruleset);
    // Read back: the table is there with its one accept rule.
    const table = await inNs(companionPid, ['nft', 'list', 'table', 'inet', companionTableName(companionId)]);
    if (!table.includes(`ip saddr ${link.agentAddress} ip daddr ${link.companionAddress} tcp dport ${port}`))
      throw new Error("the companion's ruleset did not apply");
  },
  async remove(link) {
    for (const name of [link.agentIf, hostPeerName(link)])
      await execa('ip', ['link', 'del', name], { reject: false });
  },
};
