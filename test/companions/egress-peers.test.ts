/** The agent side of a companion link: the egress ruleset accepts each peer's address and port, and nothing more. */
import { describe, expect, it } from 'vitest';
import { renderNftables } from '../../src/egress/index.js';

const base = {
  sandboxId: 'sbx_1',
  hostAddress: '10.0.2.2',
  proxyPort: 31280,
  dnsPort: 31053,
  gateways: [],
  tcp: [],
};

describe('egress ruleset peers', () => {
  it('accepts a peer on its address and port only, before the default deny', () => {
    const text = renderNftables({ ...base, peers: [{ name: 'db', address: '10.213.0.2', port: 5432 }] });
    const lines = text.split('\n').map((l) => l.trim());
    const accept = lines.indexOf('ip daddr 10.213.0.2 tcp dport 5432 accept comment "peer db"');
    expect(accept).toBeGreaterThan(0);
    expect(accept).toBeLessThan(lines.findIndex((l) => l.includes('default deny')));
    expect(lines.filter((l) => l.includes('10.213.'))).toHaveLength(1);
  });

  it('renders exactly as before without peers', () => {
    expect(renderNftables({ ...base, peers: [] })).toBe(renderNftables(base));
  });
});
