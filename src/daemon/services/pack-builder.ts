import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DaemonConfig } from '../../config/index.js';
import { loadProfile } from '../../config/index.js';
import { EgressConfig, buildEgressPolicy } from '../../egress/index.js';
import { PACKS_MOUNT, type BuilderSandbox } from '../../packs/index.js';
import { identityOf } from '../../runtime/index.js';
import type { RuntimePort } from './runtime-port.js';
import { messageOf, type Logger } from '../../shared/index.js';
import type { EgressService } from './egress.js';

const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const INSIDE = '/workspace';
/** The daemon's own node and npm, mounted read-only into the builder (the base image has neither). */
const BOOT_NODE = '/opt/aibox/bootstrap/node';
const BOOT_NPM = '/opt/aibox/bootstrap/npm';

export interface PackBuilderDeps {
  config: DaemonConfig;
  runtime: RuntimePort;
  egress: EgressService;
  daemonId: string;
  logger: Logger;
}

/**
 * A throwaway gVisor sandbox for one pack build: the scratch folder is its workspace, its only way out is its own
 * egress proxy allowed just `hosts` (the pack's sources), and it is torn down (container, proxy, mounts) on close.
 * It is not a SandboxService sandbox: no project, no record, no policy layers — the daemon itself decides its
 * allowlist.
 */
export async function openBuilderSandbox(
  deps: PackBuilderDeps,
  scratch: string,
  hosts: string[],
  /** Mounted read-only at /opt/aibox/packs (a CDS training run needs the packs at their places). */
  packsView?: string,
  /** Host ports its ruleset opens besides the proxy (the package cache's listener for this build). */
  gateways: { name: string; port: number }[] = [],
): Promise<BuilderSandbox> {
  const { runtime, config } = deps;
  const id = `pkb_${randomBytes(6).toString('hex')}`;
  const undo: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const step of undo.reverse())
      await step().catch((e: unknown) =>
        deps.logger.warn({ id, err: messageOf(e) }, 'pack builder teardown'),
      );
    undo.length = 0;
  };
  try {
    const profile = await loadProfile(config.profilesDir, 'default');
    const dir = path.join(config.stateDir, 'packs', 'builders', id);
    // Traversable by the rootless Podman user (the home is the sandbox user's own).
    await mkdir(dir, { recursive: true, mode: 0o711 });
    await chmod(path.dirname(dir), 0o711);
    await chmod(dir, 0o711);
    await mkdir(path.join(dir, 'home'), { mode: 0o750 });
    undo.push(() => rm(dir, { recursive: true, force: true }));
    await chown(path.join(dir, 'home'), runtime.sandboxHostIds.uid, runtime.sandboxHostIds.gid);
    const seccompBpf = path.join(dir, 'seccomp.bpf');
    await runtime.compileSeccomp(profile, seccompBpf);
    undo.push(() => runtime.mounts.unmount(id));
    const st = await stat(scratch);
    const workspace = await runtime.mountWorkspace(id, scratch, {
      expect: identityOf({ dev: st.dev, ino: st.ino }),
      forbid: [],
    });
    // npm sources need a toolchain inside: the daemon's own node and npm, read-only (no host path is writable).
    const nodeBin = await realpath(process.execPath);
    const npmDir = path.join(path.dirname(nodeBin), '..', 'lib', 'node_modules', 'npm');
    const boot = existsSync(npmDir) ? [nodeBin, await realpath(npmDir)] : [];
    const wanted = [
      ...boot.map((source, i) => ({ source, target: i === 0 ? BOOT_NODE : BOOT_NPM })),
      ...(packsView ? [{ source: packsView, target: PACKS_MOUNT }] : []),
    ];
    const made = wanted.length
      ? await runtime.prepareMounts(
          id,
          wanted.map(({ source }) => ({ source, readOnly: true, forbid: [] })),
        )
      : [];
    const extraMounts = made.map((source, i) => ({ source, target: wanted[i]!.target, readOnly: true }));
    const egressConfig = EgressConfig.parse((config as { egress?: unknown }).egress ?? {});
    await deps.egress.manager.prepare(
      id,
      buildEgressPolicy({
        allow: hosts.map((host) => ({ host, ports: [80, 443] })),
        upstreamProxy: egressConfig.upstreamProxy,
      }),
    );
    undo.push(() => deps.egress.manager.release(id));
    const { proxy } = deps.egress.manager.endpoints(id);
    const containerId = await runtime.createContainer({
      id,
      name: `pack-build-${id.slice(4)}`,
      daemonId: deps.daemonId,
      image: await runtime.image.reference(),
      profile,
      rootless: runtime.rootless,
      sandboxUid: config.runtime.sandboxUid,
      workspace,
      home: path.join(dir, 'home'),
      seccompBpf,
      readOnlyPaths: [],
      extraMounts,
      env: { http_proxy: proxy, https_proxy: proxy, HTTP_PROXY: proxy, HTTPS_PROXY: proxy },
      network: true,
      hostCaBundle: existsSync(HOST_CA_BUNDLE) ? HOST_CA_BUNDLE : undefined,
    });
    undo.push(() => runtime.removeContainer(containerId));
    const pid = await runtime.startContainer(containerId);
    undo.push(() => runtime.stopContainer(containerId));
    await deps.egress.manager.attach(id, { pid }, gateways);
    deps.logger.info({ id, hosts }, 'pack builder sandbox up');
    return {
      inside: INSIDE,
      npm: boot.length ? [BOOT_NODE, `${BOOT_NPM}/bin/npm-cli.js`] : undefined,
      run: async (argv, cwd, env) => {
        const r = await runtime.execBuffered(containerId, {
          cmd: argv,
          workdir: cwd,
          ...(env ? { env } : {}),
          maxProcesses: profile.limits.processes,
        });
        return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
