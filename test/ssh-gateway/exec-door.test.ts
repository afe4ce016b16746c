import { describe, expect, it } from 'vitest';
import { execDoorPolicy, type PolicyAccess } from '../../src/daemon/services/ssh-gateway.js';

function policyAnswering(outcome: 'allow' | 'approve' | 'deny') {
  const asked: unknown[] = [];
  const access: PolicyAccess = {
    decide: (door, request, sandbox) => {
      asked.push({ door, request, sandbox });
      return Promise.resolve({ id: 'dec_1', outcome, reason: 'rm is denied by org' });
    },
  };
  return { access, asked };
}

const sandbox = { id: 'sbx_1', name: 'demo' };

describe('the exec door for SSH', () => {
  it('asks policy with the argv that will run, via ssh', async () => {
    const { access, asked } = policyAnswering('allow');
    const decide = execDoorPolicy(access);
    const d = await decide({
      sandbox,
      kind: 'exec',
      argv: ['/bin/bash', '-c', 'rm -rf x'],
      command: 'rm -rf x',
      keyFingerprint: 'SHA256:x',
    });
    expect(d).toEqual({ allow: true });
    expect(asked).toEqual([
      {
        door: 'exec',
        request: { argv: ['/bin/bash', '-c', 'rm -rf x'], via: 'ssh', tty: false },
        sandbox: 'demo',
      },
    ]);
  });

  it('refuses a denial and an approval it cannot wait for, quoting the decision', async () => {
    for (const outcome of ['deny', 'approve'] as const) {
      const d = await execDoorPolicy(policyAnswering(outcome).access)({
        sandbox,
        kind: 'shell',
        argv: ['/bin/bash', '-l'],
        keyFingerprint: 'SHA256:x',
      });
      expect(d).toMatchObject({ allow: false, rule: expect.stringContaining('dec_1') });
    }
  });

  it('does not treat a forward to the sandbox loopback as a command', async () => {
    const { access, asked } = policyAnswering('deny');
    expect(
      await execDoorPolicy(access)({
        sandbox,
        kind: 'forward',
        argv: ['/bin/bash'],
        keyFingerprint: 'SHA256:x',
      }),
    ).toEqual({ allow: true });
    expect(asked).toEqual([]);
  });
});
