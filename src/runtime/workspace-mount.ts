import { lstat, mkdir, readFile, readdir, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { runtimeErrors } from './errors.js';
import { HostPathError, mountHostPath, mountHostPaths, projectPathError } from './host-path.js';

export interface IdShift {
  /** Host id that appears as the sandbox user inside (rootless: the aibox user; rootful: the sandbox uid). */
  sandboxUser: number;
  sandboxGroup: number;
  /** Host id of the container's root (gVisor's file server runs as it). */
  containerRoot: number;
}

/** A bind the container gets: a mount aiboxd made (from a no-follow fd) → its place inside the sandbox. */
export interface PreparedMount {
  source: string;
  target: string;
  readOnly: boolean;
}

/**
 * Per-sandbox mounts under mountsDir/<daemon-id>/<sandbox-id>/: the idmapped view of the project folder
 * (workspace/) and every other host path the container binds (extra/<n>). Each one is made by the helper from an fd
 * opened without following links, nosuid and nodev, so the container engine only ever binds paths aiboxd owns.
 * The daemon id in the path keeps daemons that share mountsDir out of each other's mounts (a restart sweeps only
 * its own). mountsDir must be a shared-propagation mount created before the rootless Podman pause process starts,
 * or the container would see the empty directory under a mount (ensureSharedRoot does that).
 */
export class WorkspaceMounts {
  readonly root: string;

  constructor(
    private readonly mountsDir: string,
    daemonId: string,
  ) {
    this.root = path.join(mountsDir, daemonId);
  }

  dirOf(sandboxId: string): string {
    return path.join(this.root, sandboxId);
  }

  targetOf(sandboxId: string): string {
    return path.join(this.dirOf(sandboxId), 'workspace');
  }

  async ensureSharedRoot(): Promise<{ created: boolean }> {
    await mkdir(this.mountsDir, { recursive: true, mode: 0o755 });
    const info = await execa('findmnt', ['-n', '-o', 'TARGET,PROPAGATION', '--mountpoint', this.mountsDir], {
      reject: false,
    });
    let created = false;
    if (!(info.exitCode === 0 && /shared/.test(info.stdout))) {
      if (info.exitCode !== 0) await execa('mount', ['--bind', this.mountsDir, this.mountsDir]);
      await execa('mount', ['--make-rshared', this.mountsDir]);
      created = true;
    }
    await mkdir(this.root, { recursive: true, mode: 0o755 });
    return { created };
  }

  /**
   * Mounts the project folder, idmapped, at targetOf(sandboxId). `expect` is the folder's identity recorded at
   * create: anything else at that path (a swapped folder, a link) is refused and nothing is mounted.
   */
  async mount(
    sandboxId: string,
    source: string,
    shift: IdShift,
    opts: { expect: string; forbid: string[] },
  ): Promise<string> {
    const target = this.targetOf(sandboxId);
    await this.unmount(sandboxId);
    await mkdir(target, { recursive: true });
    try {
      await mountHostPath(source, target, { ...opts, refuseRootOwner: true, shift });
    } catch (err) {
      await this.unmount(sandboxId).catch(() => undefined);
      if (err instanceof HostPathError && err.refusal === 'missing') {
        throw runtimeErrors.create('SANDBOX_PATH_CHANGED', err.message, { path: source });
      }
      throw projectPathError(err, source);
    }
    return target;
  }

  /**
   * Makes each source (a host path, or a path inside the mounted workspace) bindable: opened without following
   * links and mounted under the sandbox's extra/<n> (one helper process for all). A link, a missing path or a
   * forbidden place refuses the start. Returns the mounts' paths, in order.
   */
  async prepare(
    sandboxId: string,
    items: { source: string; readOnly: boolean; forbid: string[] }[],
  ): Promise<string[]> {
    const extra = path.join(this.dirOf(sandboxId), 'extra');
    await mkdir(extra, { recursive: true, mode: 0o755 });
    const planned = items.map((item, n) => ({ ...item, target: path.join(extra, String(n)) }));
    try {
      await mountHostPaths(planned);
    } catch (err) {
      if (err instanceof HostPathError) {
        const source = /^(\/[^:]*?)(?::| is | contains )/.exec(err.message)?.[1];
        throw runtimeErrors.create('RUNTIME_MOUNT_REFUSED', err.message, source ? { path: source } : {});
      }
      throw err;
    }
    return planned.map((p) => p.target);
  }

  /** Unmounts everything under the sandbox's folder (deepest first) and removes the folder. */
  async unmount(sandboxId: string): Promise<void> {
    const dir = this.dirOf(sandboxId);
    for (const mountPoint of (await mountPointsUnder(dir)).reverse()) {
      const r = await execa('umount', [mountPoint], { reject: false });
      if (r.exitCode !== 0) await execa('umount', ['-l', mountPoint], { reject: false });
    }
    const still = await mountPointsUnder(dir);
    if (still.length > 0) {
      throw runtimeErrors.create('RUNTIME_WORKSPACE_MOUNT', `${still[0]} is still mounted (busy)`, {
        path: still[0],
      });
    }
    // Never a recursive delete: if anything were still mounted here it would be the user's files.
    const extra = path.join(dir, 'extra');
    for (const entry of await readdir(extra).catch(() => [] as string[])) {
      const p = path.join(extra, entry);
      const st = await lstat(p).catch(() => undefined);
      if (st?.isDirectory()) await rmdir(p).catch(ignoreMissing);
      else if (st?.isFile() && st.size === 0) await unlink(p).catch(ignoreMissing);
    }
    await rmdir(extra).catch(ignoreMissing);
    await rmdir(this.targetOf(sandboxId)).catch(ignoreMissing);
    await rmdir(dir).catch(ignoreMissing);
  }

  /** Sandbox ids that have a mount folder under this daemon's own folder (for sweeping after a crash). */
  async list(): Promise<string[]> {
    return (await readdir(this.root).catch(() => [] as string[])).filter((e) => e.startsWith('sbx_'));
  }
}

/** Mount points at or under `dir`, parents first (from /proc/self/mountinfo). */
export async function mountPointsUnder(dir: string): Promise<string[]> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  const found = new Set<string>();
  for (const line of mounts.split('\n')) {
    const point = line.split(' ')[4]?.replace(/\\040/g, ' ');
    if (point && (point === dir || point.startsWith(`${dir}/`))) found.add(point);
  }
  return [...found].sort((a, b) => a.split('/').length - b.split('/').length);
}

function ignoreMissing(err: unknown): void {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== 'ENOENT' && code !== 'ENOTEMPTY') throw err;
}
