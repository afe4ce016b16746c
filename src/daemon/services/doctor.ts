import { access, readFile, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { execa } from 'execa';
import { EgressConfig } from '../../egress/index.js';
import { POLICY_CHECK_INTERVAL_MS } from '../../policy/watcher.js';
import { messageOf } from '../../shared/index.js';
import type { DoctorCheck, DoctorReport } from '../../shared/index.js';
import type { DaemonServices } from './index.js';

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
  const policy = services.policy;
  checks.push(...policy.doctorChecks());
  const shown = policy.show();
  if (shown.revision !== undefined)
    add(
      'policy in force',
      'policy',
      true,
      `revision ${shown.revision}, applied ${shown.loadedAt ?? 'at start'}; edits are in force within ` +
        `${(POLICY_CHECK_INTERVAL_MS + 1000) / 1000} s (folders watched, re-checked every ${POLICY_CHECK_INTERVAL_MS / 1000} s)`,
    );
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
  checks.push(...(await egressBinaryChecks(config)));
  const packs = services.packs;
  const lint = await packs.lint();
  add(
    'pack registry',
    'packs',
    lint.problems.length === 0,
    lint.problems.length === 0 ? `${lint.packs.length} manifests in ${lint.dir}` : lint.problems.join('; '),
    'Fix the manifests at the files and lines shown (`aibox pack lint`).',
  );
  const built = (await packs.list()).built;
  add('pack cache', 'packs', true, `${built.length} built pack(s) in ${packs.cacheDir}`);

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

/**
 * The binaries the egress layer will actually run: the paths the config names (egress.squid, egress.nft,
 * egress.nsenter), each executable and answering its version query as the expected program.
 */
async function egressBinaryChecks(config: DaemonServices['config']): Promise<DoctorCheck[]> {
  let egress: EgressConfig;
  try {
    egress = EgressConfig.parse((config as { egress?: unknown }).egress ?? {});
  } catch (err) {
    return [
      {
        name: 'egress config',
        layer: 'egress',
        ok: false,
        detail: `the egress section of aiboxd.yaml is invalid: ${messageOf(err).slice(0, 300)}`,
        fix: 'Fix the egress section of aiboxd.yaml.',
      },
    ];
  }
  const wanted = [
    { name: 'squid', key: 'egress.squid', path: egress.squid, args: ['-v'], expect: /Squid Cache/ },
    { name: 'nft', key: 'egress.nft', path: egress.nft, args: ['--version'], expect: /nftables/ },
    { name: 'nsenter', key: 'egress.nsenter', path: egress.nsenter, args: ['--version'], expect: /nsenter/ },
  ];
  const checks: DoctorCheck[] = [];
  for (const w of wanted) {
    const executable = await access(w.path, constants.X_OK).then(
      () => true,
      () => false,
    );
    const fix = `Install it (${SETUP}) or point ${w.key} in aiboxd.yaml at it.`;
    if (!executable) {
      checks.push({
        name: w.name,
        layer: 'egress',
        ok: false,
        detail: `${w.path} (${w.key}) is missing or not executable`,
        fix,
      });
      continue;
    }
    const r = await execa(w.path, w.args, { reject: false, timeout: 5000 });
    const out = `${r.stdout}\n${r.stderr}`;
    const ok = r.exitCode === 0 && w.expect.test(out);
    // Every sandbox proxy peeks at TLS (SNI checks, inspected hosts): a Squid built without OpenSSL cannot start one.
    if (ok && w.name === 'squid' && !out.includes('--with-openssl')) {
      checks.push({
        name: w.name,
        layer: 'egress',
        ok: false,
        detail: `${w.path} (${w.key}) is built without OpenSSL: the sandbox proxies need ssl-bump`,
        fix: `Install Debian's squid-openssl (${SETUP}) or point ${w.key} at a Squid built --with-openssl.`,
      });
      continue;
    }
    checks.push({
      name: w.name,
      layer: 'egress',
      ok,
      detail: ok
        ? `${w.path} (${w.key}): ${out.trim().split('\n')[0]}`
        : `${w.path} (${w.key}) does not answer as ${w.name} (\`${w.args.join(' ')}\` exit ${r.exitCode ?? 'none'})`,
      ...(ok ? {} : { fix }),
    });
  }
  return checks;
}
