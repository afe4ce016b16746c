import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../shared/index.js';
import { messageOf } from '../shared/index.js';
import type { PolicyStore } from './store.js';

/** How often the repo and every watched project are re-checked even when no file event arrived. */
export const POLICY_CHECK_INTERVAL_MS = 2000;

export interface PolicyWatcherOptions {
  store: PolicyStore;
  repoDir: string;
  logger: Logger;
  /** Editors write files in several steps; wait this long after the last event. */
  debounceMs?: number;
  /** Periodic re-check (default POLICY_CHECK_INTERVAL_MS): the bound on how long an edit can go unseen. */
  checkIntervalMs?: number;
  /** Time source for the status timestamps. */
  now?: () => number;
}

/** What the watcher last saw and applied (for `aibox policy show` and `aibox doctor`). */
export interface PolicyWatchStatus {
  /** Content hash of the policy repo as last applied (not the compiled revision). */
  repoFingerprint?: string;
  /** When the repo was last found to differ and a reload ran. */
  repoAppliedAt?: string;
  /** When the repo was last compared with what is in force. */
  repoCheckedAt?: string;
  /** The bound on how long an edit can go unseen: the periodic check interval plus the debounce. */
  reloadBoundMs: number;
}

interface WatchedProject {
  path: string;
  watchers: FSWatcher[];
  fingerprint?: string;
}

/**
 * Hot reload that cannot miss an edit. Watching an inode misses every tool that replaces the file (`sed -i`,
 * write-then-rename, `git checkout`), and file events can be dropped or coalesced, so events are only a hint:
 * - the repo's directories (not its files) are watched, re-listed on every check so new folders are watched too;
 * - every event, and a periodic check every `checkIntervalMs`, re-hashes the whole repo (every file's path and
 *   content) and reloads the store when the hash differs from the one in force;
 * - a project's aibox/policy.yaml lives in a folder the agent writes: it is never opened here (the store reads it
 *   safely), only lstat'ed (inode, size, times of the folder, aibox/ and the file) to notice a change.
 * Reloads are serialised; the store keeps the last good policy on a failed reload.
 */
export class PolicyWatcher {
  private readonly dirWatchers = new Map<string, FSWatcher>();
  private readonly projects = new Map<string, WatchedProject>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private interval: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly debounceMs: number;
  private readonly checkMs: number;
  private repoFingerprint: string | undefined;
  private repoAppliedAt: number | undefined;
  private repoCheckedAt: number | undefined;
  private closed = false;

  constructor(private readonly opts: PolicyWatcherOptions) {
    this.debounceMs = opts.debounceMs ?? 50;
    this.checkMs = opts.checkIntervalMs ?? POLICY_CHECK_INTERVAL_MS;
  }

  start(): void {
    // The first check takes the repo's fingerprint (reloading once: an edit may have landed since the first load)
    // and watches its directories.
    this.schedule('repo');
    // unref: watching must never keep a closing daemon (or a test) alive.
    this.interval = setInterval(() => {
      this.schedule('repo');
      for (const name of this.projects.keys()) this.schedule(`sandbox:${name}`);
    }, this.checkMs);
    this.interval.unref();
  }

  /** Watches a sandbox's project: its folder (for aibox/ appearing) and aibox/ itself, plus the periodic check. */
  watchProject(sandbox: string, projectPath: string): void {
    const known = this.projects.get(sandbox);
    for (const w of known?.watchers ?? []) w.close();
    // No fingerprint yet: the first check reloads once (an edit may have landed since the store attached it).
    const entry: WatchedProject = { path: projectPath, watchers: [], fingerprint: known?.fingerprint };
    const add = (dir: string) => {
      try {
        const w = watch(dir, (_ev, file) => {
          if (dir === projectPath && file !== 'aibox') return;
          this.schedule(`sandbox:${sandbox}`);
          if (dir === projectPath && !this.closed) this.watchProject(sandbox, projectPath);
        });
        w.on('error', () => undefined);
        w.unref();
        entry.watchers.push(w);
      } catch {
        // aibox/ does not exist (yet): the project folder watcher (and the periodic check) sees it appear.
      }
    };
    add(projectPath);
    add(join(projectPath, 'aibox'));
    this.projects.set(sandbox, entry);
    if (entry.fingerprint === undefined) this.schedule(`sandbox:${sandbox}`);
  }

  unwatchProject(sandbox: string): void {
    for (const w of this.projects.get(sandbox)?.watchers ?? []) w.close();
    this.projects.delete(sandbox);
  }

  status(): PolicyWatchStatus {
    const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
    return {
      ...(this.repoFingerprint !== undefined ? { repoFingerprint: this.repoFingerprint } : {}),
      ...(this.repoAppliedAt !== undefined ? { repoAppliedAt: iso(this.repoAppliedAt)! } : {}),
      ...(this.repoCheckedAt !== undefined ? { repoCheckedAt: iso(this.repoCheckedAt)! } : {}),
      reloadBoundMs: this.checkMs + this.debounceMs,
    };
  }

  /** Resolves once every scheduled reload has run (tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.timers.size > 0) await new Promise((r) => setTimeout(r, this.debounceMs || 1));
    await this.running;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.interval);
    for (const w of this.dirWatchers.values()) w.close();
    this.dirWatchers.clear();
    for (const name of [...this.projects.keys()]) this.unwatchProject(name);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private schedule(scope: string): void {
    if (this.closed) return;
    const prev = this.timers.get(scope);
    if (prev) clearTimeout(prev);
    const t = setTimeout(() => {
      this.timers.delete(scope);
      this.running = this.running
        .then(() => (scope === 'repo' ? this.checkRepo() : this.checkProject(scope.slice('sandbox:'.length))))
        .catch((err: unknown) =>
          this.opts.logger.warn({ scope, err: messageOf(err) }, 'policy change check failed'),
        );
    }, this.debounceMs);
    t.unref();
    this.timers.set(scope, t);
  }

  /** Hashes the repo (before reading it: a later edit is seen by the next check) and reloads if it changed. */
  private async checkRepo(): Promise<void> {
    if (this.closed) return;
    const { fingerprint, dirs } = await repoFingerprint(this.opts.repoDir);
    this.syncDirWatchers(dirs);
    this.repoCheckedAt = this.now();
    if (fingerprint === this.repoFingerprint) return;
    await this.opts.store.reloadRepo();
    // Recorded even when the reload failed: the same content fails the same way; the next edit retries.
    this.repoFingerprint = fingerprint;
    this.repoAppliedAt = this.now();
  }

  private async checkProject(sandbox: string): Promise<void> {
    const entry = this.projects.get(sandbox);
    if (!entry || this.closed) return;
    const fingerprint = await projectFingerprint(entry.path);
    if (fingerprint === entry.fingerprint) return;
    await this.opts.store.reloadProject(sandbox);
    entry.fingerprint = fingerprint;
  }

  private syncDirWatchers(dirs: string[]): void {
    const want = new Set(dirs);
    for (const [dir, w] of this.dirWatchers)
      if (!want.has(dir)) {
        w.close();
        this.dirWatchers.delete(dir);
      }
    for (const dir of want) {
      if (this.dirWatchers.has(dir)) continue;
      try {
        const w = watch(dir, () => this.schedule('repo'));
        w.on('error', () => {
          w.close();
          this.dirWatchers.delete(dir);
        });
        w.unref();
        this.dirWatchers.set(dir, w);
      } catch (err) {
        this.opts.logger.warn({ dir, err: messageOf(err) }, 'cannot watch a policy repo folder');
      }
    }
  }
}

/** Largest repo file hashed whole; bigger ones are hashed by their metadata (a policy file is a few KiB). */
const MAX_HASHED_BYTES = 4 * 1024 * 1024;

/**
 * Hash of every file under the repo (path + content), skipping dot-entries (.git) but for bundle `.manifest` files,
 * whose `rego_version` changes how a layer is parsed; and the folders seen.
 */
export async function repoFingerprint(repoDir: string): Promise<{ fingerprint: string; dirs: string[] }> {
  const hash = createHash('sha256');
  const dirs: string[] = [];
  const walk = async (dir: string, rel: string) => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      hash.update(`!${rel}:${(err as NodeJS.ErrnoException).code ?? 'error'}\n`);
      return;
    }
    dirs.push(dir);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.') && e.name !== '.manifest') continue;
      const path = join(dir, e.name);
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        hash.update(`d ${relPath}\n`);
        await walk(path, relPath);
      } else if (e.isFile()) {
        const st = await lstat(path).catch(() => undefined);
        if (st && st.size > MAX_HASHED_BYTES) {
          hash.update(`F ${relPath} ${st.size} ${st.mtimeMs} ${st.ino}\n`);
          continue;
        }
        const content = await readFile(path).catch(() => undefined);
        hash.update(`f ${relPath} ${content?.length ?? -1}\n`);
        if (content) hash.update(content);
      } else {
        hash.update(`o ${relPath}\n`);
      }
    }
  };
  await walk(repoDir, '');
  return { fingerprint: hash.digest('hex').slice(0, 16), dirs };
}

/**
 * Metadata of the project folder, aibox/ and aibox/policy.yaml, read with lstat only: the agent controls these
 * paths (a FIFO or a symbolic link must never be opened here).
 */
export async function projectFingerprint(projectPath: string): Promise<string> {
  const parts: string[] = [];
  const paths = [projectPath, join(projectPath, 'aibox'), join(projectPath, 'aibox', 'policy.yaml')];
  for (const [i, p] of paths.entries()) {
    const st = await lstat(p, { bigint: true }).catch(() => undefined);
    // The project folder's own times change with every file the agent writes there: only its identity counts.
    if (!st) parts.push('-');
    else if (i === 0) parts.push(`${st.mode}:${st.ino}`);
    else parts.push(`${st.mode}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`);
  }
  return parts.join('|');
}
