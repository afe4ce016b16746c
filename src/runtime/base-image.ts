import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile, copyFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { execa } from 'execa';
import type Docker from 'dockerode';
import { publishFile } from '../shared/fs/index.js';
import type { Logger } from '../shared/index.js';
import type { RuntimeConfig } from '../config/index.js';
import type { PodmanService } from './podman-service.js';
import { runtimeErrors } from './errors.js';
import { withFileLock } from './file-lock.js';

const EXEC_HELPER_SOURCE = fileURLToPath(new URL('../../libexec/aibox-exec.c', import.meta.url));
const AGENT_SOURCE = fileURLToPath(new URL('../../libexec/aibox-agent.c', import.meta.url));

/** What an agent workspace needs, on top of debootstrap's minbase (which already has bash and coreutils). */
export const BASE_PACKAGES = [
  'git',
  'ca-certificates',
  'python3',
  'procps',
  'less',
  'curl',
  'openssh-sftp-server',
  'iproute2',
  'bind9-dnsutils',
  'netcat-openbsd',
  'xz-utils',
  'unzip',
];

export interface BuildProgress {
  phase: string;
  percent: number;
  message: string;
}

/**
 * Builds localhost/aibox-base:<tag> without a registry: debootstrap a minbase rootfs, add the sandbox user and
 * aibox-exec, then `podman import`. The tag is a hash of the recipe, so a changed recipe builds a new image and an
 * unchanged one is found instantly. The rootfs tarball is cached too, so re-importing is fast.
 */
export class BaseImage {
  constructor(
    private readonly config: RuntimeConfig,
    private readonly docker: Docker,
    private readonly podman: PodmanService,
    private readonly logger: Logger,
  ) {}

  async reference(): Promise<string> {
    return `${this.config.image.name}:${await this.tag()}`;
  }

  async present(): Promise<boolean> {
    try {
      await this.docker.getImage(await this.reference()).inspect();
      return true;
    } catch {
      return false;
    }
  }

  async build(
    force: boolean,
    onProgress: (p: BuildProgress) => void,
  ): Promise<{ image: string; cached: boolean }> {
    const image = await this.reference();
    if (!force && (await this.present())) return { image, cached: true };
    const cacheDir = this.config.image.cacheDir;
    await mkdir(cacheDir, { recursive: true });
    onProgress({ phase: 'wait', percent: 0, message: 'waiting for other image builds on this host' });
    return withFileLock(path.join(cacheDir, 'build.lock'), async () => {
      // Another daemon may have built it while we waited.
      if (!force && (await this.present())) return { image, cached: true };
      return this.buildLocked(image, force, onProgress);
    });
  }

  private async buildLocked(
    image: string,
    force: boolean,
    onProgress: (p: BuildProgress) => void,
  ): Promise<{ image: string; cached: boolean }> {
    const tag = await this.tag();
    const cacheDir = this.config.image.cacheDir;
    const tarball = path.join(cacheDir, `aibox-base-${tag}.tar`);
    if (force || !existsSync(tarball)) await this.buildRootfs(tag, tarball, onProgress);
    onProgress({ phase: 'import', percent: 85, message: `importing ${image}` });
    const imported = await execa(
      this.config.podman,
      [
        'import',
        '--change',
        `USER ${this.config.sandboxUid}`,
        '--change',
        'WORKDIR /workspace',
        '--change',
        'ENV HOME=/home/agent LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '-',
        image,
      ],
      {
        env: this.podman.env(),
        extendEnv: false,
        ...this.podman.runAs,
        cwd: '/',
        stdin: { file: tarball },
        reject: false,
      },
    );
    if (imported.exitCode !== 0) {
      throw runtimeErrors.create(
        'RUNTIME_IMAGE_BUILD',
        `podman import failed: ${imported.stderr?.trim() || imported.message}`,
      );
    }
    onProgress({ phase: 'import', percent: 100, message: `built ${image}` });
    return { image, cached: false };
  }

  private async buildRootfs(
    tag: string,
    tarball: string,
    onProgress: (p: BuildProgress) => void,
  ): Promise<void> {
    // A directory per attempt: a debootstrap orphaned by a killed daemon may still be writing into its own.
    const root = path.join(this.config.image.cacheDir, `rootfs-${tag}-${process.pid}-${Date.now()}`);
    onProgress({
      phase: 'debootstrap',
      percent: 0,
      message: `debootstrap ${this.config.image.suite} (minbase)`,
    });
    const log: string[] = [];
    const proc = execa(
      'debootstrap',
      [
        '--variant=minbase',
        `--include=${BASE_PACKAGES.join(',')}`,
        this.config.image.suite,
        root,
        this.config.image.mirror,
      ],
      { reject: false, all: true, buffer: false },
    );
    let steps = 0;
    proc.all?.setEncoding('utf8');
    proc.all?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        log.push(line);
        if (!line.startsWith('I: ')) continue;
        steps += 1;
        // minbase + extras is ~800 "I:" lines; the curve keeps the bar moving without claiming precision.
        const percent = Math.min(75, Math.round(75 * (1 - Math.exp(-steps / 300))));
        onProgress({ phase: 'debootstrap', percent, message: line.slice(3, 80) });
      }
    });
    const result = await proc;
    if (result.exitCode !== 0) {
      const logFile = path.join(this.config.image.cacheDir, 'debootstrap.log');
      await writeFile(logFile, log.join('\n'));
      await removeRootfs(root).catch(() => undefined);
      throw runtimeErrors.create(
        'RUNTIME_IMAGE_BUILD',
        `debootstrap failed (exit ${result.exitCode}): ${log.slice(-2).join(' | ')}`,
        { log: logFile },
      );
    }
    onProgress({ phase: 'customize', percent: 78, message: 'adding the sandbox user and aibox-exec' });
    await this.customize(root);
    onProgress({ phase: 'package', percent: 80, message: 'packing the root filesystem' });
    const partial = `${tarball}.partial`;
    await execa('tar', ['--numeric-owner', '-C', root, '-cf', partial, '.']);
    await publishFile(partial, tarball);
    await removeRootfs(root);
  }

  private async customize(root: string): Promise<void> {
    const uid = String(this.config.sandboxUid);
    await execa('chroot', [root, 'groupadd', '--gid', uid, 'agent']);
    await execa('chroot', [
      root,
      'useradd',
      '--uid',
      uid,
      '--gid',
      uid,
      '--create-home',
      '--shell',
      '/bin/bash',
      'agent',
    ]);
    // No password, no sudo: the sandbox user can never become root inside.
    await execa('chroot', [root, 'passwd', '--lock', 'root']);
    await mkdir(path.join(root, 'workspace'), { recursive: true });
    await mkdir(path.join(root, 'etc/aibox'), { recursive: true });
    const libDir = path.join(root, 'usr/local/lib/aibox');
    await mkdir(libDir, { recursive: true });
    // Static: they run in any image, whatever its libc.
    for (const [source, name] of [
      [EXEC_HELPER_SOURCE, 'aibox-exec'],
      [AGENT_SOURCE, 'aibox-agent'],
    ] as const) {
      const built = await execa('gcc', ['-static', '-O2', '-o', path.join(libDir, name), source], {
        reject: false,
      });
      if (built.exitCode !== 0) {
        throw runtimeErrors.create('RUNTIME_IMAGE_BUILD', `cannot compile ${name}: ${built.stderr.trim()}`);
      }
      await chmod(path.join(libDir, name), 0o755);
    }
    await copyFile('/etc/resolv.conf', path.join(root, 'etc/resolv.conf')).catch(() => undefined);
    await rm(path.join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    await rm(path.join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
  }

  private async tag(): Promise<string> {
    const helper = await readFile(EXEC_HELPER_SOURCE, 'utf8');
    const agent = await readFile(AGENT_SOURCE, 'utf8');
    const recipe = JSON.stringify({
      suite: this.config.image.suite,
      packages: BASE_PACKAGES,
      uid: this.config.sandboxUid,
      helper,
      agent,
      v: 1,
    });
    return createHash('sha256').update(recipe).digest('hex').slice(0, 12);
  }
}

/** Deletes a rootfs, first unmounting what an interrupted debootstrap may have left mounted in it (/proc, …). */
async function removeRootfs(root: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const inside = mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === root || m.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of inside) await execa('umount', ['-l', m], { reject: false });
  const still = (await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${root}/`);
  if (still) throw runtimeErrors.create('RUNTIME_IMAGE_BUILD', `${root} still has mounts; not deleting it`);
  await rm(root, { recursive: true, force: true });
}
