import { access, readFile, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { execa } from 'execa';
import type { DoctorCheck, DoctorReport } from '../../shared/index.js';
import type { DaemonServices } from './index.js';
import { policyServiceOf } from './policy.js';

const SETUP = 'sudo scripts/setup-host.sh';

/** Checks every prerequisite and layer; each failure says how to fix it. */
export async function runDoctor(services: DaemonServices): Promise<DoctorReport> {
  const { config, runtime } = services;
  const checks: DoctorCheck[] = [];
  const add = (name: string, layer: string, ok: boolean, detail: string, fix?: string) =>
    checks.push({ name, layer, ok, detail, ...(ok || !fix ? {} : { fix }) });

  add(
    'daemon runs as root',
    'runtime',
    process.getuid?.() === 0,
    `uid ${process.getuid?.()}`,
    'Run aiboxd as root.',
  );
  const runsc = await execa(config.runtime.runsc, ['--version'], { reject: false });
  add(
    'gVisor runsc',
    'runtime',
    runsc.exitCode === 0 && runsc.stdout.includes('20240729'),
    runsc.exitCode === 0 ? runsc.stdout.split('\n')[0]! : `not found at ${config.runtime.runsc}`,
    `${SETUP} (installs runsc from Debian trixie)`,
  );
  const podman = await execa(config.runtime.podman, ['--version'], { reject: false });
  add('podman', 'runtime', podman.exitCode === 0, podman.stdout || 'not found', SETUP);
  add(
    'private podman service',
    'runtime',
    await runtime.podman.ping(),
    runtime.podman.socketPath,
    'Restart aiboxd; see <state>/podman/service.log.',
  );
  if (runtime.user) {
    const subuid = await readFile('/etc/subuid', 'utf8').catch(() => '');
    add(
      'rootless user',
      'runtime',
      subuid.split('\n').some((l) => l.startsWith(`${runtime.user!.name}:`)),
      `${runtime.user.name} (uid ${runtime.user.uid}) with subordinate ids`,
      SETUP,
    );
  }
  const mounts = await execa(
    'findmnt',
    ['-n', '-o', 'PROPAGATION', '--mountpoint', config.runtime.mountsDir],
    {
      reject: false,
    },
  );
  add(
    'workspace mounts',
    'runtime',
    mounts.stdout.includes('shared'),
    `${config.runtime.mountsDir} (idmapped bind mounts, ${mounts.stdout.trim() || 'not mounted'})`,
    'Restart aiboxd as root (it makes the directory a shared mount).',
  );
  add(
    'cgroup controllers',
    'limits',
    runtime.limits.available(),
    'pids, memory and cpu (cgroup v1) for rootless sandbox limits',
    'Mount the pids, memory and cpu cgroup v1 controllers.',
  );
  const seccomp = await execa('/usr/bin/python3', ['-c', 'import seccomp'], { reject: false });
  add('seccomp compiler', 'seccomp', seccomp.exitCode === 0, 'python3-seccomp (libseccomp)', SETUP);
  checks.push(...(policyServiceOf(services)?.doctorChecks() ?? []));
  const image = await runtime.image.reference();
  add('base image', 'runtime', await runtime.image.present(), image, 'aibox setup');
  const tun = await stat('/dev/net/tun').catch(() => undefined);
  add(
    '/dev/net/tun',
    'egress',
    !!tun && (tun.mode & 0o006) === 0o006,
    tun ? `mode ${(tun.mode & 0o777).toString(8)}` : 'missing',
    'chmod 0666 /dev/net/tun (slirp4netns needs it for rootless networking)',
  );
  for (const bin of ['/usr/sbin/nft', '/usr/sbin/squid']) {
    const ok = await access(bin, constants.X_OK).then(
      () => true,
      () => false,
    );
    add(bin.split('/').pop()!, 'egress', ok, ok ? bin : 'not installed', SETUP);
  }
  const rootless = config.runtime.mode === 'rootless';
  return {
    ok: checks.every((c) => c.ok),
    mode: config.runtime.mode,
    modeReason: rootless
      ? `rootless: containers run as the unprivileged user "${config.runtime.user}" (config runtime.mode)`
      : 'rootful: Podman runs as root because config runtime.mode says so (use only where user namespaces cannot work)',
    checks,
  };
}
