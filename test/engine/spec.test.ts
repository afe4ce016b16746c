import { describe, expect, it } from 'vitest';
import {
  ENGINE_FILES,
  ENGINE_NET_READY,
  engineContainerSpec,
  type EngineSpec,
} from '../../src/engine/index.js';

const spec: EngineSpec = {
  id: 'eng_1',
  sandboxName: 'box',
  daemonId: 'd1',
  image: 'localhost/aibox-engine:t',
  baseReference: 'localhost/aibox-base:b',
  baseTarball: '/var/cache/aibox/base.tar',
  socketDir: '/var/lib/aibox/engine/sbx_1/api',
  rootless: true,
  sandboxUid: 1001,
  proxy: 'http://10.0.2.2:31280',
  limits: { memoryMiB: 2048, cpus: 2, pids: 512, openFiles: 20000, processes: 4096, tmpfsMiB: 256 },
};

describe('the engine sandbox spec and entrypoint', () => {
  it("gets a slirp network and the agent's proxy in its environment, and no host network or extra mount", () => {
    const c = engineContainerSpec(spec);
    expect(c.HostConfig?.NetworkMode).toBe('slirp4netns:allow_host_loopback=true');
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'])
      expect(c.Env).toContain(`${k}=http://10.0.2.2:31280`);
    expect(c.HostConfig?.Binds).toHaveLength(2);
  });

  it("waits for aiboxd's go-ahead before any other command, and gives up (exit 1) without one", () => {
    const entry = ENGINE_FILES['usr/local/lib/aibox/aibox-engine']!.text;
    const lines = entry.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('set -eu');
    expect(lines[1]).toContain(`while [ ! -e ${ENGINE_NET_READY} ]`);
    const gateEnd = lines.indexOf('done');
    expect(lines.slice(1, gateEnd).join('\n')).toContain('exit 1');
    expect(lines.slice(0, gateEnd).join('\n')).not.toMatch(/podman|curl|apt/);
  });

  it('lets RUN steps share the filtered namespace and pass the proxy variables', () => {
    const conf = ENGINE_FILES['etc/containers/containers.conf']!.text;
    expect(conf).toContain('netns = "host"');
    expect(conf).toContain('http_proxy = true');
  });
});
