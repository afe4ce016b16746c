import { describe, expect, it } from 'vitest';
import { SshGatewayConfig } from '../../src/ssh-gateway/config.js';
import { EnvPolicy } from '../../src/ssh-gateway/env-policy.js';
import { isSandboxLoopback, relayArgv } from '../../src/ssh-gateway/forwarding.js';

describe('gateway config', () => {
  it('listens on 127.0.0.1:2222 by default', () => {
    expect(SshGatewayConfig.parse({})).toMatchObject({ host: '127.0.0.1', port: 2222 });
  });
  it('refuses a non-loopback listen address with the reason', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'localhost']) {
      const r = SshGatewayConfig.safeParse({ host });
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.message).toMatch(/loopback/);
    }
    expect(SshGatewayConfig.safeParse({ host: '::1' }).success).toBe(true);
  });
});

describe('environment requests', () => {
  const env = new EnvPolicy(['MY_TOOL_*']);
  it('passes locale and terminal names', () => {
    for (const name of ['LANG', 'LC_ALL', 'LC_CTYPE', 'TERM', 'COLORTERM', 'TZ', 'MY_TOOL_MODE']) {
      expect(env.permits(name, 'x')).toBe(true);
    }
  });
  it('refuses names that change what runs or where traffic goes, even if configured', () => {
    const greedy = new EnvPolicy(['LD_PRELOAD', 'PATH', 'HTTPS_PROXY', 'BASH_FUNC_x%%']);
    for (const name of [
      'LD_PRELOAD',
      'LD_LIBRARY_PATH',
      'BASH_ENV',
      'PATH',
      'HTTPS_PROXY',
      'no_proxy',
      'GIT_SSH',
      'SSH_AUTH_SOCK',
      'NODE_OPTIONS',
      'BASH_FUNC_x%%',
    ]) {
      expect(greedy.permits(name, 'x')).toBe(false);
    }
    expect(env.permits('LANG', 'a\0b')).toBe(false);
    expect(env.permits('LANG', 'x'.repeat(5000))).toBe(false);
  });
});

describe('direct-tcpip targets', () => {
  it('allows only the sandbox loopback', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.5.5.5'])
      expect(isSandboxLoopback(host)).toBe(true);
    for (const host of [
      '10.0.2.2',
      '0.0.0.0',
      'example.com',
      '169.254.169.254',
      '::ffff:10.0.0.1',
      'localhost.evil.com',
    ]) {
      expect(isSandboxLoopback(host)).toBe(false);
    }
  });
  it('never lets the sandbox resolve "localhost" itself', () => {
    expect(relayArgv('/bin/bash', 'localhost', 8080).slice(4, 6)).toEqual(['127.0.0.1', '8080']);
  });
});
