import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../shared/index.js';
import { messageOf } from '../shared/index.js';
import type { PolicyStore } from './store.js';

export interface PolicyWatcherOptions {
  store: PolicyStore;
  repoDir: string;
  logger: Logger;
  /** Editors write files in several steps; wait this long after the last event. */
  debounceMs?: number;
}

/**
 * Watches the policy repo (recursively) and each attached sandbox's project `aibox/` folder, and reloads the
 * store on change. Reloads are serialised: a change during a reload triggers one more reload afterwards.
 */
export class PolicyWatcher {
  private repoWatcher: FSWatcher | undefined;
  private readonly projectWatchers = new Map<string, FSWatcher[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running: Promise<unknown> = Promise.resolve();
  private readonly debounceMs: number;

  constructor(private readonly opts: PolicyWatcherOptions) {
    this.debounceMs = opts.debounceMs ?? 50;
  }

  start(): void {
    // unref: watching must never keep a closing daemon (or a test) alive.
    this.repoWatcher = watch(this.opts.repoDir, { recursive: true }, () => this.schedule('repo'));
    this.repoWatcher.unref();
    this.repoWatcher.on('error', (err) =>
      this.opts.logger.warn({ err: messageOf(err) }, 'policy repo watch failed'),
    );
  }

  /** Watches a sandbox's project: its folder (for aibox/ appearing) and aibox/ itself. */
  watchProject(sandbox: string, projectPath: string): void {
    this.unwatchProject(sandbox);
    const ws: FSWatcher[] = [];
    const add = (dir: string) => {
      try {
        const w = watch(dir, (_ev, file) => {
          if (dir === projectPath && file !== 'aibox') return;
          this.schedule(`sandbox:${sandbox}`);
          if (dir === projectPath) this.watchProject(sandbox, projectPath);
        });
        w.on('error', () => undefined);
        w.unref();
        ws.push(w);
      } catch {
        // aibox/ does not exist (yet): the project folder watcher sees it appear.
      }
    };
    add(projectPath);
    add(join(projectPath, 'aibox'));
    this.projectWatchers.set(sandbox, ws);
  }

  unwatchProject(sandbox: string): void {
    for (const w of this.projectWatchers.get(sandbox) ?? []) w.close();
    this.projectWatchers.delete(sandbox);
  }

  /** Resolves once every scheduled reload has run (tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.timers.size > 0) await new Promise((r) => setTimeout(r, this.debounceMs));
    await this.running;
  }

  close(): void {
    this.repoWatcher?.close();
    for (const name of [...this.projectWatchers.keys()]) this.unwatchProject(name);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(scope: string): void {
    const prev = this.timers.get(scope);
    if (prev) clearTimeout(prev);
    this.timers.set(
      scope,
      setTimeout(() => {
        this.timers.delete(scope);
        this.running = this.running.then(() => this.reload(scope)).catch(() => undefined);
      }, this.debounceMs),
    );
  }

  private async reload(scope: string): Promise<void> {
    if (scope === 'repo') await this.opts.store.reloadRepo();
    else await this.opts.store.reloadProject(scope.slice('sandbox:'.length));
  }
}
