import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { checkEngineRuleset, renderEngineNftables } from '../../src/engine/index.js';

const fixture = (name: string) => readFile(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const input = { engineId: 'eng_abc123', proxyAddress: '10.0.2.2', proxyPort: 31280 };

type Listing = Parameters<typeof checkEngineRuleset>[0];

/**
 * The engine sandbox's ruleset: the agent's proxy and loopback, nothing else. The listing fixture is what nft 1.0.6
 * printed (`nft -j list table`) for the golden ruleset loaded in a throwaway namespace (`unshare -n`).
 */
describe("the engine sandbox's ruleset", () => {
  it('renders default drop in every direction with one way out: TCP to the proxy (golden)', async () => {
    expect(renderEngineNftables(input)).toBe(await fixture('engine-ruleset.nft'));
  });

  it('has no DNS, no other host port and no IPv6 way out', () => {
    const text = renderEngineNftables(input);
    expect(text).not.toMatch(/dport 53|dnat|udp/);
    expect(text.match(/ accept/g)).toHaveLength(5); // out: lo, established, proxy; in: lo, established
    expect(text.split('\n').filter((l) => l.includes('daddr'))).toEqual([
      '\t\tip daddr 10.0.2.2 tcp dport 31280 accept comment "proxy"',
    ]);
  });

  it('accepts the listing of what it rendered', async () => {
    const listing = JSON.parse(await fixture('engine-ruleset.json')) as Listing;
    expect(checkEngineRuleset(listing, input)).toEqual([]);
  });

  it('finds a listing that differs: another port, an extra accept, a chain that accepts, a missing default deny', async () => {
    const listing = JSON.parse(await fixture('engine-ruleset.json')) as Listing;
    expect(checkEngineRuleset(listing, { ...input, proxyPort: 3128 }).join()).toContain(
      'not [10.0.2.2 tcp 3128]',
    );

    const extra = structuredClone(listing);
    const proxyRule = extra.nftables.find((e) => JSON.stringify(e.rule ?? '').includes('31280'))!;
    const widened = structuredClone(proxyRule);
    (widened.rule!.expr[0] as { match: { right: string } }).match.right = '10.0.2.3';
    extra.nftables.push(widened);
    expect(checkEngineRuleset(extra, input).join()).toContain('accepted endpoints are');

    const open = structuredClone(listing);
    open.nftables.find((e) => e.chain?.name === 'output')!.chain!.policy = 'accept';
    expect(checkEngineRuleset(open, input)).toContain('chain output is output/accept');

    const noDeny = structuredClone(listing);
    noDeny.nftables = noDeny.nftables.filter((e) => !JSON.stringify(e.rule ?? '').includes('reject'));
    expect(checkEngineRuleset(noDeny, input)).toContain('default-deny rules missing');

    const noInput = structuredClone(listing);
    noInput.nftables = noInput.nftables.filter((e) => e.chain?.name !== 'input' && e.rule?.chain !== 'input');
    expect(checkEngineRuleset(noInput, input)).toContain('chain input missing');
  });
});
