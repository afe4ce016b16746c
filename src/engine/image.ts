import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type Docker from 'dockerode';
import { withFileLock } from '../runtime/file-lock.js';
import { messageOf, type Logger } from '../shared/index.js';
import { engineErrors } from './errors.js';
import { ENGINE_FILES, ENGINE_PACKAGES } from './recipe.js';

export const ENGINE_IMAGE_NAME = 'localhost/aibox-engine';

export interface EngineImageOptions {
  /** The aibox base image's reference (`localhost/aibox-base:<tag>`): its cached tarball is the starting point. */
  baseReference(): Promise<string>;
  /** The base image cache folder (runtime.image.cacheDir): the base tarball is read there, the engine's kept. */
  cacheDir: string;
  docker: Docker;
  logger: Logger;
}

/**
 * localhost/aibox-engine:<tag>: the base image's rootfs plus Podman and its configuration (recipe.ts), made with
 * chroot + apt-get from Debian's archive (no registry) and imported into aiboxd's Podman. The tag hashes the base
 * tag and the recipe, so a changed recipe or base builds a new image and an unchanged one is found at once.
 */
export class EngineImage {
  constructor(private readonly o: EngineImageOptions) {}

  async baseTarball(): Promise<{ reference: string; tarball: string }> {
    const reference = await this.o.baseReference();
    const tag = reference.slice(reference.lastIndexOf(':') + 1);
    return { reference, tarball: path.join(this.o.cacheDir, `aibox-base-${tag}.tar`) };
  }

  async reference(): Promise<string> {
    const { reference } = await this.baseTarball();
    const recipe = JSON.stringify({ base: reference, packages: ENGINE_PACKAGES, files: ENGINE_FILES, v: 1 });
    return `${ENGINE_IMAGE_NAME}:${createHash('sha256').update(recipe).digest('hex').slice(0, 12)}`;
  }

  async present(): Promise<boolean> {
    return this.o.docker
      .getImage(await this.reference())
      .inspect()
      .then(
        () => true,
        () => false,
      );
  }

  /**
   * The image's cached tarball (what an engine's root filesystem is unpacked from), made again if the cache lost
   * it while the image stayed in the store.
   */
  async tarball(image: string): Promise<string> {
    const file = this.tarballOf(image);
    if (existsSync(file)) return file;
    await withFileLock(path.join(this.o.cacheDir, 'engine-build.lock'), async () => {
      if (!existsSync(file)) await this.build(image);
    });
    return file;
  }

  private tarballOf(image: string): string {
    return path.join(this.o.cacheDir, `aibox-engine-${image.slice(image.lastIndexOf(':') + 1)}.tar`);
  }

  /** Builds the image unless present (one build at a time on this host); returns its reference. */
  async ensure(): Promise<string> {
    const image = await this.reference();
    if (await this.present()) return image;
    await mkdir(this.o.cacheDir, { recursive: true });
    return withFileLock(path.join(this.o.cacheDir, 'engine-build.lock'), async () => {
      if (await this.present()) return image;
      const t0 = Date.now();
      await this.build(image);
      this.o.logger.info({ image, ms: Date.now() - t0 }, 'engine image built');
      return image;
    });
  }

  private async build(image: string): Promise<void> {
    const { tarball: base } = await this.baseTarball();
    if (!existsSync(base))
      throw engineErrors.create('ENGINE_IMAGE_BUILD', `the base image's tarball ${base} is missing`, {
        base,
      });
    const tag = image.slice(image.lastIndexOf(':') + 1);
    const tarball = this.tarballOf(image);
    if (!existsSync(tarball)) {
      // A folder per attempt: a build killed half-way leaves its own folder, never a half-made one reused.
      const root = path.join(this.o.cacheDir, `engine-rootfs-${tag}-${process.pid}-${Date.now()}`);
      try {
        await mkdir(root, { mode: 0o755 });
        await step(
          'unpack the base image',
          execa('tar', ['--numeric-owner', '-C', root, '-xf', base], { reject: false }),
        );
        await copyFile('/etc/resolv.conf', path.join(root, 'etc/resolv.conf'));
        const env = {
          DEBIAN_FRONTEND: 'noninteractive',
          PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
          LANG: 'C.UTF-8',
        };
        await step(
          'apt-get update',
          execa('chroot', [root, 'apt-get', '-q', 'update'], { env, extendEnv: false, reject: false }),
        );
        await step(
          'apt-get install',
          execa(
            'chroot',
            [root, 'apt-get', 'install', '-y', '-q', '--no-install-recommends', ...ENGINE_PACKAGES],
            {
              env,
              extendEnv: false,
              reject: false,
            },
          ),
        );
        for (const [rel, file] of Object.entries(ENGINE_FILES)) {
          const target = path.join(root, rel);
          await mkdir(path.dirname(target), { recursive: true });
          await writeFile(target, file.text);
          await chmod(target, file.mode);
        }
        await rm(path.join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
        await rm(path.join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
        const partial = `${tarball}.partial`;
        await step(
          'pack the root filesystem',
          execa('tar', ['--numeric-owner', '-C', root, '-cf', partial, '.'], { reject: false }),
        );
        await execa('mv', ['-f', partial, tarball]);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    }
    try {
      // The whole reference as `repo`: Podman's compatible import ignores a separate `tag`.
      const stream = await this.o.docker.importImage(createReadStream(tarball), { repo: image });
      await new Promise<void>((resolve, reject) =>
        this.o.docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      throw engineErrors.create('ENGINE_IMAGE_BUILD', `importing ${image} failed: ${messageOf(err)}`);
    }
    if (!(await this.present()))
      throw engineErrors.create('ENGINE_IMAGE_BUILD', `${image} is not in the store after its import`);
  }
}

async function step(what: string, run: Promise<{ exitCode?: number; stderr?: unknown; stdout?: unknown }>) {
  const r = await run;
  if (r.exitCode !== 0) {
    const tail = (typeof r.stderr === 'string' ? r.stderr : '').trim().split('\n').slice(-3).join(' | ');
    throw engineErrors.create('ENGINE_IMAGE_BUILD', `${what} failed (exit ${r.exitCode}): ${tail}`);
  }
}
