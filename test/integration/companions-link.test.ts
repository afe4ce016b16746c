/**
 * The host side of a companion's private link on the real kernel, without sandboxes: two network namespaces this test
 * makes (each held by a `sleep`, whose pid stands for a sandbox's), linked by `hostLinker.create` as at a start; then
 * `hostLinker.reattach`, what a restarted daemon runs before it trusts the link again, accepts it as made and puts
 * back the companion's ruleset, and refuses it (saying why) once the link is not as made. Traffic: none.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import {
  companionTableName,
  hostLinker,
  linkPlan,
  renderCompanionNftables,
} from '../../src/companions/index.js';
import { commandExists, requireHost } from '../support/host.js';

const run = requireHost(
  process.getuid?.() !== 0
    ? { ok: false, reason: 'needs root (network namespaces, veth pairs, nftables)' }
    : !['ip', 'nft', 'nsenter'].every(commandExists)
      ? { ok: false, reason: 'needs ip, nft and nsenter (scripts/setup-host.sh)' }
      : { ok: true, reason: '' },
  'companion link',
);

describe.skipIf(!run)('the private link of a companion, re-attached after a restart', () => {
  const suffix = randomBytes(3).toString('hex');
  const namespaces = [`aibxt-agent-${suffix}`, `aibxt-comp-${suffix}`] as const;
  // The last index: never one a real sandbox on this host is given first.
  const link = linkPlan(16383);
  const companionId = `cmp_t${suffix}`;
  const port = 5432;
  const ruleset = renderCompanionNftables({ companionId, link, port });
  const holders: ResultPromise[] = [];
  let agentPid = 0;
  let companionPid = 0;
  const reattach = () => hostLinker.reattach({ link, agentPid, companionPid, companionId, port, ruleset });
  const inNs = (ns: string, cmd: string[]) => execa('ip', ['netns', 'exec', ns, ...cmd]);

  beforeAll(async () => {
    for (const ns of namespaces) await execa('ip', ['netns', 'add', ns]);
    for (const ns of namespaces) {
      // `ip netns exec` execs the command in place: the child's pid is in the namespace.
      const p = execa('ip', ['netns', 'exec', ns, 'sleep', '600'], { reject: false });
      holders.push(p);
    }
    agentPid = holders[0]!.pid!;
    companionPid = holders[1]!.pid!;
    await hostLinker.create({ link, agentPid, companionPid, ruleset });
  });

  afterAll(async () => {
    for (const h of holders) h.kill('SIGKILL');
    await Promise.all(holders);
    // The pair dies with the namespaces; remove() covers an end left on the host by a failed create.
    for (const ns of namespaces) await execa('ip', ['netns', 'del', ns], { reject: false });
    await hostLinker.remove(link);
    const left = await execa('ip', ['-o', 'link', 'show'], { reject: false });
    expect(left.stdout).not.toContain(link.agentIf);
  });

  it('accepts the link as created, and puts back a companion ruleset that went missing', async () => {
    await expect(reattach()).resolves.toBeUndefined();
    const table = companionTableName(companionId);
    await inNs(namespaces[1], ['nft', 'delete', 'table', 'inet', table]);
    await expect(reattach()).resolves.toBeUndefined();
    const listed = await inNs(namespaces[1], ['nft', 'list', 'table', 'inet', table]);
    expect(listed.stdout).toContain(
      `ip saddr ${link.agentAddress} ip daddr ${link.companionAddress} tcp dport ${port}`,
    );
  });

  it('refuses a companion namespace that gained interfaces (a way out), naming them', async () => {
    // A veth pair inside its namespace: two more interfaces.
    await inNs(namespaces[1], ['ip', 'link', 'add', 'extra0', 'type', 'veth', 'peer', 'name', 'extra1']);
    try {
      await expect(reattach()).rejects.toThrow(
        "the companion's namespace has interfaces aibox0, extra0, extra1, lo, not lo and aibox0",
      );
    } finally {
      await inNs(namespaces[1], ['ip', 'link', 'del', 'extra0']);
    }
    await expect(reattach()).resolves.toBeUndefined();
  });

  it("refuses an end that is down or has another address, and an agent's end that is gone", async () => {
    await inNs(namespaces[0], ['ip', 'link', 'set', link.agentIf, 'down']);
    await expect(reattach()).rejects.toThrow(`the agent's end ${link.agentIf} is down`);
    await inNs(namespaces[0], ['ip', 'link', 'set', link.agentIf, 'up']);
    await inNs(namespaces[1], ['ip', 'addr', 'add', '10.213.9.9/30', 'dev', link.companionIf]);
    await expect(reattach()).rejects.toThrow(/the companion's end aibox0 has .*10\.213\.9\.9\/30/);
    await inNs(namespaces[1], ['ip', 'addr', 'del', '10.213.9.9/30', 'dev', link.companionIf]);
    await expect(reattach()).resolves.toBeUndefined();
    // Deleting one end deletes the pair.
    await inNs(namespaces[0], ['ip', 'link', 'del', link.agentIf]);
    await expect(reattach()).rejects.toThrow(/has interfaces lo, not lo and aibox0/);
  });
});
