import { mkdir, writeFile, readFile, readdir, rmdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Profile } from '../config/index.js';
import { runtimeErrors } from './errors.js';

const CGROUP_ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['pids', 'memory', 'cpu'] as const;

/**
 * Resource limits for rootless sandboxes. Rootless Podman cannot manage cgroup v1 (runsc runs with
 * --ignore-cgroups), so aiboxd, as root, puts each sandbox's host processes (gVisor's sentry and gofer) into
 * cgroups of its own: /sys/fs/cgroup/<controller>/aibox/<sandbox-id>. Inside the sandbox, RLIMIT_NPROC (set by the
 * profile) makes a fork storm fail gracefully well before the pids cgroup is reached.
 */
export class SandboxLimits {
  constructor(private readonly root = CGROUP_ROOT) {}

  available(): boolean {
    return CONTROLLERS.every((c) => existsSync(path.join(this.root, c, 'cgroup.procs')));
  }

  async apply(sandboxId: string, profile: Profile, rootPid: number): Promise<void> {
    try {
      for (const controller of CONTROLLERS) {
        const dir = this.dirOf(controller, sandboxId);
        await mkdir(dir, { recursive: true });
        if (controller === 'pids') await writeFile(path.join(dir, 'pids.max'), String(profile.limits.pids));
        if (controller === 'memory') {
          await writeFile(
            path.join(dir, 'memory.limit_in_bytes'),
            String(profile.limits.memoryMiB * 1024 * 1024),
          );
        }
        if (controller === 'cpu') {
          await writeFile(path.join(dir, 'cpu.cfs_period_us'), '100000');
          const quota = String(Math.round(profile.limits.cpus * 100000));
          await writeFile(path.join(dir, 'cpu.cfs_quota_us'), quota);
          // gVisor's systrap platform polls while a process is created or exits: a burst of short commands used a
          // whole period's quota in a few and waited out the rest (throttled in nearly every period). A burst
          // allowance (Linux >= 5.14) lets quota left unused in earlier periods absorb that; the average stays capped.
          const burst = path.join(dir, 'cpu.cfs_burst_us');
          if (existsSync(burst)) await writeFile(burst, quota);
        }
      }
      // gVisor keeps forking while this runs (address-space stubs, the exec agent's first commands). A process is
      // moved before its children are read: a child forked after the move inherits the cgroups, and one forked
      // before it is in the list read after it. Listing first and moving afterwards let such a child escape the
      // memory limit (and take the host's memory with it).
      const queue = [rootPid];
      const seen = new Set(queue);
      for (let i = 0; i < queue.length; i++) {
        const pid = queue[i]!;
        const moved = await this.move(sandboxId, pid);
        if (!moved && pid === rootPid) throw new Error(`the sandbox's process ${pid} is gone`);
        for (const child of await childrenOf(pid)) {
          if (!seen.has(child)) {
            seen.add(child);
            queue.push(child);
          }
        }
      }
    } catch (err) {
      throw runtimeErrors.create(
        'RUNTIME_LIMITS',
        `cannot apply limits: ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
  }

  /** Moves one process (all its threads) into every controller's cgroup; false when it has exited meanwhile. */
  private async move(sandboxId: string, pid: number): Promise<boolean> {
    for (const controller of CONTROLLERS) {
      try {
        await writeFile(path.join(this.dirOf(controller, sandboxId), 'cgroup.procs'), String(pid));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
        throw err;
      }
    }
    return true;
  }

  /** Current usage, for status and tests. */
  async usage(sandboxId: string): Promise<{ pids: number; memoryBytes: number } | undefined> {
    const pids = await readFile(path.join(this.dirOf('pids', sandboxId), 'pids.current'), 'utf8').catch(
      () => '',
    );
    if (!pids) return undefined;
    const mem = await readFile(path.join(this.dirOf('memory', sandboxId), 'memory.usage_in_bytes'), 'utf8');
    return { pids: Number(pids), memoryBytes: Number(mem) };
  }

  /** How many processes the kernel's OOM killer took from the sandbox's memory cgroup (0 when there is none). */
  async oomKills(sandboxId: string): Promise<number> {
    const text = await readFile(
      path.join(this.dirOf('memory', sandboxId), 'memory.oom_control'),
      'utf8',
    ).catch(() => '');
    return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0);
  }

  async remove(sandboxId: string): Promise<void> {
    for (const controller of CONTROLLERS) {
      await rmdir(this.dirOf(controller, sandboxId)).catch(() => undefined);
    }
  }

  async list(): Promise<string[]> {
    return (await readdir(path.join(this.root, 'pids', 'aibox')).catch(() => [])).filter((e) =>
      e.startsWith('sbx_'),
    );
  }

  private dirOf(controller: string, sandboxId: string): string {
    return path.join(this.root, controller, 'aibox', sandboxId);
  }
}

/**
 * The process and all its descendants. Walks only that subtree through /proc/<pid>/task/<tid>/children (one read
 * per thread of the tree, whatever else runs on the host: scanning every /proc entry made each start slower as
 * sandboxes accumulated); falls back to the parent links of every process where the kernel has no children files.
 */
export async function descendantsOf(rootPid: number): Promise<number[]> {
  if (!existsSync(`/proc/${rootPid}/task/${rootPid}/children`)) return descendantsByScan(rootPid);
  const result = [rootPid];
  const seen = new Set(result);
  for (let i = 0; i < result.length; i++) {
    for (const child of await childrenOf(result[i]!)) {
      if (!seen.has(child)) {
        seen.add(child);
        result.push(child);
      }
    }
  }
  return result;
}

/** The direct children of every thread of a process (none once it has exited). */
async function childrenOf(pid: number): Promise<number[]> {
  if (!existsSync(`/proc/${pid}/task/${pid}/children`)) {
    return [...(await parentsOfAll())].filter(([, ppid]) => ppid === pid).map(([child]) => child);
  }
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const lists = await Promise.all(
    tasks.map((t) => readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')),
  );
  return lists.join(' ').split(/\s+/).filter(Boolean).map(Number);
}

async function descendantsByScan(rootPid: number): Promise<number[]> {
  const parents = await parentsOfAll();
  const result = [rootPid];
  for (let i = 0; i < result.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === result[i]) result.push(pid);
  }
  return result;
}

/** Every process's parent, from /proc/<pid>/stat (for kernels without children files). */
async function parentsOfAll(): Promise<Map<number, number>> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Field 4 (ppid) follows the parenthesised command name, which may itself contain spaces.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (after[1]) parents.set(Number(entry), Number(after[1]));
  }
  return parents;
}
