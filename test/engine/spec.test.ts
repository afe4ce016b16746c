import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import {
  ENGINE_CA_DIR,
  ENGINE_FILES,
  ENGINE_NET_READY,
  engineContainerSpec,
  engineLabelId,
  engineMountsConf,
  type EngineSpec,
} from '../../src/engine/index.js';

const spec: EngineSpec = {
  id: 'eng_1',
  sandboxId: 'sbx_1',
  sandboxName: 'box',
  daemonId: 'd1',
  rootfs: '/run/aibox/mounts/d1/sbx_1-engine/workspace/rootfs',
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
    const c = engineContainerSpec(spec) as {
      netns: unknown;
      network_options: unknown;
      env: Record<string, string>;
      mounts: { type: string; source: string; options: string[] }[];
    };
    expect(c.netns).toEqual({ nsmode: 'slirp4netns' });
    expect(c.network_options).toEqual({ slirp4netns: ['allow_host_loopback=true'] });
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'])
      expect(c.env[k]).toBe('http://10.0.2.2:31280');
    const binds = c.mounts.filter((m) => m.type === 'bind');
    expect(binds.map((m) => m.source)).toEqual([spec.socketDir, spec.baseTarball]);
    for (const m of binds) expect(m.options).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
  });

  it('is labelled as the engine of its sandbox, `<sandbox id>-engine` (the id the restart sweep keeps for an adopted one)', () => {
    const c = engineContainerSpec(spec) as { name: string; labels: Record<string, string> };
    expect(c.labels['io.aibox.sandbox.id']).toBe('sbx_1-engine');
    expect(engineLabelId('sbx_1')).toBe('sbx_1-engine');
    expect(c.labels['io.aibox.engine']).toBe('true');
    expect(c.labels['io.aibox.daemon']).toBe('d1');
    expect(c.name).toBe('aibox-eng_1');
  });

  it('runs from the root filesystem on its capped disk, with no image and no resource limits when rootless', () => {
    const c = engineContainerSpec(spec);
    expect(c.rootfs).toBe(spec.rootfs);
    expect(c.image).toBeUndefined();
    expect(c.resource_limits).toBeUndefined();
    const rootful = engineContainerSpec({ ...spec, rootless: false });
    expect(rootful.resource_limits).toEqual({
      memory: { limit: 2048 * 1024 * 1024 },
      cpu: { quota: 200_000, period: 100_000 },
      pids: { limit: 512 },
    });
  });

  it("waits for aiboxd's go-ahead before any other command, and gives up (exit 1) without one", () => {
    const entry = ENGINE_FILES['usr/local/lib/aibox/aibox-engine']!.text;
    const lines = entry.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('set -eu');
    expect(lines[1]).toContain(`while [ ! -e ${ENGINE_NET_READY} ]`);
    const gateEnd = lines.indexOf('done');
    expect(lines.slice(1, gateEnd).join('\n')).toContain('exit 1');
    expect(lines.slice(0, gateEnd).join('\n')).not.toMatch(/podman|curl|apt|mount/);
  });

  it('runs nothing until the go-ahead exists, then starts; exits 1 without it (the entrypoint, run by sh)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'aibox-engine-entry-'));
    try {
      // The real script, with the go-ahead in a scratch folder, a short wait, and a podman that logs its calls.
      const ready = path.join(dir, 'net-ready');
      const entry = ENGINE_FILES['usr/local/lib/aibox/aibox-engine']!.text.replaceAll(
        ENGINE_NET_READY,
        ready,
      ).replace(/-gt \d+/, '-gt 20');
      await writeFile(path.join(dir, 'entry'), entry);
      for (const fake of ['podman', 'mount'])
        await writeFile(path.join(dir, fake), `#!/bin/sh\necho "${fake} $*" >> ${dir}/calls\n`, {
          mode: 0o755,
        });
      const env = { PATH: `${dir}:/usr/bin:/bin` };
      const args = [path.join(dir, 'entry'), '/sock', '/base.tar', 'localhost/base:1', '1001'];

      const refused = await execa('sh', args, { env, reject: false });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('no go-ahead from aiboxd');
      await expect(execa('cat', [path.join(dir, 'calls')])).rejects.toThrow();

      const started = execa('sh', args, { env, reject: false });
      await new Promise((r) => setTimeout(r, 500));
      await expect(execa('cat', [path.join(dir, 'calls')])).rejects.toThrow();
      await writeFile(ready, '');
      const done = await started;
      expect(done.exitCode).toBe(0);
      const calls = (await execa('cat', [path.join(dir, 'calls')])).stdout;
      expect(calls).toContain('podman system service --time=0 unix:///sock');
      expect(calls.split('\n')[0]).toBe('mount --bind /dev/null /dev/null');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("mounts the agent's egress CA folder read-only only when given, and maps its hashed file into RUN steps additively", () => {
    const without = engineContainerSpec(spec) as { mounts: { destination: string }[] };
    expect(without.mounts.map((m) => m.destination)).not.toContain(ENGINE_CA_DIR);
    const withCa = engineContainerSpec({ ...spec, caDir: '/var/lib/aibox/engine/sbx_1/ca' }) as {
      mounts: { destination: string; source: string; options: string[] }[];
    };
    const ca = withCa.mounts.find((m) => m.destination === ENGINE_CA_DIR)!;
    expect(ca.source).toBe('/var/lib/aibox/engine/sbx_1/ca');
    expect(ca.options).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev']));
    // One file onto a name no package owns: never over the system bundle (update-ca-certificates rewrites that).
    expect(engineMountsConf('ab33bdf2.0')).toBe(`${ENGINE_CA_DIR}/ab33bdf2.0:/etc/ssl/certs/ab33bdf2.0\n`);
    expect(engineMountsConf('ab33bdf2.0')).not.toContain('ca-certificates.crt');
    for (const bad of ['ca.pem', '../x.0', 'ab33bdf2.0:/etc/passwd', 'AB33BDF2.0'])
      expect(() => engineMountsConf(bad)).toThrow();
    // Not part of the image recipe (the hash is each sandbox's own).
    expect(Object.keys(ENGINE_FILES)).not.toContain('etc/containers/mounts.conf');
  });

  it('lets RUN steps share the filtered namespace and pass the proxy variables', () => {
    const conf = ENGINE_FILES['etc/containers/containers.conf']!.text;
    expect(conf).toContain('netns = "host"');
    expect(conf).toContain('http_proxy = true');
  });
});
