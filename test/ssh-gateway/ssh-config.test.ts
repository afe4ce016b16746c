import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BLOCK_BEGIN, mergeManagedBlock, renderSshConfigBlock } from '../../src/cli/commands/ssh-config.js';
import { publicKeyFingerprint } from '../../src/cli/commands/ssh-key.js';
import { SshClientKit } from '../support/ssh-client.js';

const input = {
  sandboxes: ['demo', 'web'],
  gateway: { host: '127.0.0.1', port: 2222, hostKeyAlias: 'aibox-gateway' },
  knownHostsFile: '/home/u/.ssh/aibox_known_hosts',
  identityFile: '/home/u/My Keys/id_ed25519',
};

describe('aibox ssh-config', () => {
  it('renders one Host entry per sandbox with the gateway key pinned', () => {
    const block = renderSshConfigBlock(input);
    expect(block).toContain(
      [
        'Host aibox-demo',
        '  HostName 127.0.0.1',
        '  Port 2222',
        '  User demo',
        '  IdentityFile "/home/u/My Keys/id_ed25519"',
        '  IdentitiesOnly yes',
        '  HostKeyAlias aibox-gateway',
        '  UserKnownHostsFile /home/u/.ssh/aibox_known_hosts',
        '  StrictHostKeyChecking yes',
        '  ForwardAgent no',
      ].join('\n'),
    );
    expect(block).toContain('Host aibox-web\n');
    expect(block.trimEnd().split('\n').slice(-2)[0]).toBe('Match all');
  });

  it('goes first in an existing config and replaces itself on the next run', () => {
    const user = 'Host *\n  User someone\n  ForwardAgent yes\n';
    const once = mergeManagedBlock(user, renderSshConfigBlock(input));
    expect(once.startsWith(BLOCK_BEGIN)).toBe(true);
    expect(once.endsWith(user)).toBe(true);
    const twice = mergeManagedBlock(once, renderSshConfigBlock(input));
    expect(twice).toBe(once);
    const fewer = mergeManagedBlock(once, renderSshConfigBlock({ ...input, sandboxes: ['demo'] }));
    expect(fewer).not.toContain('aibox-web');
    expect(fewer.split(BLOCK_BEGIN)).toHaveLength(2);
    expect(fewer.endsWith(user)).toBe(true);
  });

  it('computes the fingerprint ssh-keygen prints', async () => {
    const kit = await SshClientKit.create();
    const line = await kit.publicKey();
    const printed = (
      await execa('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${kit.identity}.pub`])
    ).stdout.split(' ')[1];
    expect(publicKeyFingerprint(line)).toBe(printed);
    expect(publicKeyFingerprint('garbage')).toBeUndefined();
  });
});
