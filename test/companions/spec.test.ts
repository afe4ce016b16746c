import { describe, expect, it } from 'vitest';
import { linkPlan, parseServices, renderCompanionNftables } from '../../src/companions/index.js';
import { AiboxError } from '../../src/shared/index.js';

function refusal(text: string): { code: string; message: string; status: number } {
  try {
    parseServices(text);
  } catch (err) {
    if (err instanceof AiboxError) return { code: err.code, message: err.message, status: err.status };
    throw err;
  }
  throw new Error('accepted');
}

describe('aibox/services.yaml', () => {
  it('reads restart: on-failure by default, `no` (unquoted, YAML 1.2: a string) when given, refuses others', () => {
    const base = 'services:\n  - name: db\n    pack: redis\n    port: 6379\n';
    expect(parseServices(base)[0]!.restart).toBe('on-failure');
    expect(parseServices(`${base}    restart: no\n`)[0]!.restart).toBe('no');
    expect(parseServices(`${base}    restart: on-failure\n`)[0]!.restart).toBe('on-failure');
    expect(refusal(`${base}    restart: always\n`)).toMatchObject({
      code: 'COMPANION_SPEC_INVALID',
      status: 400,
    });
    expect(refusal(`${base}    restart: always\n`).message).toMatch(
      /^aibox\/services\.yaml:5: services\.0\.restart/,
    );
  });

  it('reads PostgreSQL and Redis services, with the packs’ default commands and data folders', () => {
    const services = parseServices(`services:
  - name: db
    pack: postgresql
    port: 5432
    data: { sizeMiB: 256 }
  - name: cache
    pack: redis@7
    port: 6379
    env: { TZ: UTC }
`);
    expect(services.map((s) => [s.name, s.pack, s.port])).toEqual([
      ['db', 'postgresql', 5432],
      ['cache', 'redis@7', 6379],
    ]);
    expect(services[0]!.data).toEqual({ path: '/data', sizeMiB: 256 });
    expect(services[0]!.command.join(' ')).toContain(
      "exec postgres -D /data/pgdata -k /tmp -c listen_addresses='*' -p 5432",
    );
    expect(services[1]!.command).toEqual([
      'redis-server',
      '--port',
      '6379',
      '--bind',
      '0.0.0.0',
      '--protected-mode',
      'no',
      '--dir',
      '/data',
    ]);
    expect(parseServices('')).toEqual([]);
  });

  it('refuses a service asking for egress (403), naming the line', () => {
    const r = refusal(`services:
  - name: db
    pack: postgresql
    port: 5432
  - name: leaky
    pack: redis
    port: 6380
    egress: [example.com]
`);
    expect(r).toMatchObject({ code: 'COMPANION_EGRESS_REFUSED', status: 403 });
    expect(r.message).toMatch(/^aibox\/services\.yaml:5: service leaky asks for egress/);
  });

  it('refuses a port taken by another service or by aibox (409)', () => {
    const twice = refusal(`services:
  - { name: a, pack: redis, port: 6379 }
  - { name: b, pack: redis, port: 6379 }
`);
    expect(twice).toMatchObject({ code: 'COMPANION_PORT_TAKEN', status: 409 });
    expect(twice.message).toContain('taken by service a');
    expect(refusal('services:\n  - { name: a, pack: redis, port: 3128 }\n').code).toBe(
      'COMPANION_PORT_TAKEN',
    );
  });

  it('refuses bad names, privileged ports, unknown keys and a pack without a default command, by line', () => {
    expect(refusal('services:\n  - { name: Bad_Name, pack: redis, port: 6379 }\n').code).toBe(
      'COMPANION_SPEC_INVALID',
    );
    expect(refusal('services:\n  - { name: localhost, pack: redis, port: 6379 }\n').code).toBe(
      'COMPANION_SPEC_INVALID',
    );
    const low = refusal('services:\n  - name: a\n    pack: redis\n    port: 80\n');
    expect(low.message).toMatch(/^aibox\/services\.yaml:4: services\.0\.port/);
    expect(refusal('services:\n  - { name: a, pack: redis, port: 6379, privileged: true }\n').code).toBe(
      'COMPANION_SPEC_INVALID',
    );
    expect(refusal('services:\n  - { name: a, pack: node, port: 3000 }\n').message).toMatch(
      /no default command/,
    );
    expect(refusal('services: [\n').code).toBe('COMPANION_SPEC_INVALID');
  });
});

describe('per-service limits', () => {
  const ceiling = { memoryMiB: 4096, cpus: 2, pids: 4096 };
  const withLimits = (limits: string) =>
    `services:\n  - name: db\n    pack: postgresql\n    port: 5432\n    limits:\n${limits}`;

  it('reads memoryMiB, cpus and pids at or below the profile; left out, the profile decides', () => {
    const [db] = parseServices(
      withLimits('      memoryMiB: 512\n      cpus: 0.5\n      pids: 256\n'),
      ceiling,
    );
    expect(db!.limits).toEqual({ memoryMiB: 512, cpus: 0.5, pids: 256 });
    expect(parseServices(withLimits('      memoryMiB: 4096\n      cpus: 2\n'), ceiling)[0]!.limits).toEqual({
      memoryMiB: 4096,
      cpus: 2,
    });
    expect(
      parseServices('services:\n  - { name: db, pack: postgresql, port: 5432 }\n', ceiling)[0]!.limits,
    ).toBe(undefined);
  });

  it('refuses a limit above the sandbox profile, naming the file, the line of that limit and both values', () => {
    const mem = (() => {
      try {
        parseServices(withLimits('      cpus: 1\n      memoryMiB: 8192\n'), ceiling);
      } catch (err) {
        return err as AiboxError;
      }
      throw new Error('accepted');
    })();
    expect(mem).toMatchObject({ code: 'COMPANION_SPEC_INVALID', status: 400 });
    expect(mem.message).toBe(
      "aibox/services.yaml:7: services.0.limits.memoryMiB: 8192 is above the sandbox profile's 4096",
    );
    expect(() => parseServices(withLimits('      cpus: 2.5\n'), ceiling)).toThrow(
      "aibox/services.yaml:6: services.0.limits.cpus: 2.5 is above the sandbox profile's 2",
    );
    expect(() => parseServices(withLimits('      pids: 5000\n'), ceiling)).toThrow(
      /:6: services\.0\.limits\.pids/,
    );
  });

  it('refuses limits below what a sandbox needs, and unknown limit keys, by line', () => {
    expect(refusal(withLimits('      memoryMiB: 16\n')).message).toMatch(
      /^aibox\/services\.yaml:6: services\.0\.limits\.memoryMiB/,
    );
    expect(refusal(withLimits('      pids: 10\n')).code).toBe('COMPANION_SPEC_INVALID');
    expect(refusal(withLimits('      cpus: 0\n')).code).toBe('COMPANION_SPEC_INVALID');
    expect(refusal(withLimits('      swapMiB: 10\n')).code).toBe('COMPANION_SPEC_INVALID');
  });
});

describe('the data folder', () => {
  it('is a data place, never one of the companion sandbox’s system folders', () => {
    const at = (p: string) =>
      `services:\n  - name: db\n    pack: postgresql\n    port: 5432\n    data: { path: ${p} }\n`;
    expect(parseServices(at('/var/lib/postgresql'))[0]!.data?.path).toBe('/var/lib/postgresql');
    expect(parseServices(at('/tmp/data'))[0]!.data?.path).toBe('/tmp/data');
    for (const bad of [
      '/',
      '/etc',
      '/usr/local/lib/aibox',
      '/opt/aibox/packs',
      '/data/../etc',
      '/run/aibox-agent',
    ])
      expect(() => parseServices(at(bad)), bad).toThrow(
        expect.objectContaining({ code: 'COMPANION_SPEC_INVALID', message: expect.stringContaining(':5:') }),
      );
  });
});

describe('the private link', () => {
  it('gives each link its own /30 and interface name', () => {
    expect(linkPlan(0)).toEqual({
      agentIf: 'aibxc0',
      companionIf: 'aibox0',
      agentAddress: '10.213.0.1',
      companionAddress: '10.213.0.2',
      prefix: 30,
    });
    expect(linkPlan(70)).toMatchObject({
      agentIf: 'aibxc1y',
      agentAddress: '10.213.1.25',
      companionAddress: '10.213.1.26',
    });
    expect(() => linkPlan(16384)).toThrow();
  });

  it('renders the companion side: in only from the agent to the port, out only replies', () => {
    const text = renderCompanionNftables({ companionId: 'cmp-1', link: linkPlan(0), port: 5432 });
    expect(text).toContain('table inet aibox_comp_cmp_1 {');
    expect(text).toContain(
      'iifname "aibox0" ip saddr 10.213.0.1 ip daddr 10.213.0.2 tcp dport 5432 ct state new accept comment "agent to service"',
    );
    expect(text.match(/policy drop;/g)).toHaveLength(3);
    // Nothing but replies leaves the companion.
    const output = text.slice(text.indexOf('chain output'), text.indexOf('chain forward'));
    expect(output.split('\n').filter((l) => l.includes('accept'))).toHaveLength(2);
  });
});
