import { mkdir, access } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../shared/index.js';
import type { UpstreamRepo } from './config.js';
import { basicAuthHeader, type CredentialSource } from './credentials.js';
import { gitGateErrors } from './errors.js';
import { GitCommandError, type GitResult, type GitRunner } from './exec.js';
import { KeyedMutex } from '../shared/fs/index.js';

export interface MirrorStoreOptions {
  /** Folder holding one bare mirror per upstream repository (`<root>/<name>.git`): GIT_PROJECT_ROOT. */
  readonly root: string;
  /** Folder with the gateway's hooks (core.hooksPath of every mirror). */
  readonly hooksDir: string;
  readonly repos: readonly UpstreamRepo[];
  readonly credentials: CredentialSource;
  readonly git: GitRunner;
  readonly logger: Logger;
  /** receive.maxInputSize of every mirror, in bytes. */
  readonly maxPushBytes?: number;
}

/** Refs fetched from the upstream: branches, tags and the gateway's own staging refs (hidden from sandboxes). */
const MIRROR_REFSPECS = [
  '+refs/heads/*:refs/heads/*',
  '+refs/tags/*:refs/tags/*',
  '+refs/aibox/*:refs/aibox/*',
];

interface UpstreamAuth {
  readonly config: Record<string, string>;
  readonly secrets: string[];
}

/**
 * Bare mirrors of the upstream repositories in the daemon's state directory. Sandboxes fetch from the mirror (refreshed
 * from the upstream first) and push into it; the gateway forwards accepted ref updates to the upstream with its own
 * credential. The mirror is a cache: the upstream is the truth and every refresh force-resets the mirror to it.
 */
export class MirrorStore {
  private readonly locks = new KeyedMutex();
  /** Mirrors configured by this process (settings are applied once per daemon life, not per request). */
  private readonly ready = new Set<string>();
  /** Mirrors whose HEAD was set from the upstream's default branch in this daemon life. */
  private readonly headSynced = new Set<string>();

  constructor(private readonly opts: MirrorStoreOptions) {}

  get root(): string {
    return this.opts.root;
  }

  repo(name: string): UpstreamRepo {
    const repo = this.opts.repos.find((r) => r.name === name);
    if (!repo)
      throw gitGateErrors.create('GIT_REPO_NOT_CONFIGURED', `no repository named ${name} is configured`);
    return repo;
  }

  has(name: string): boolean {
    return this.opts.repos.some((r) => r.name === name);
  }

  path(name: string): string {
    return path.join(this.opts.root, `${name}.git`);
  }

  /** Creates the bare mirror with the gateway's settings if it does not exist yet. */
  async ensure(name: string): Promise<string> {
    this.repo(name);
    const dir = this.path(name);
    if (this.ready.has(name)) return dir;
    return this.locks.run(`ensure:${name}`, async () => {
      if (this.ready.has(name)) return dir;
      const exists = await access(path.join(dir, 'HEAD')).then(
        () => true,
        () => false,
      );
      if (!exists) {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await this.opts.git.run(['init', '--bare', '--quiet', dir]);
      }
      // Re-applied every time so a changed hooks folder or an edited config is put right.
      const settings: [string, string][] = [
        ['core.hooksPath', this.opts.hooksDir],
        ['http.receivepack', 'true'],
        ['http.uploadpack', 'true'],
        ['transfer.hideRefs', 'refs/aibox'],
        ['receive.fsckObjects', 'true'],
        ['receive.denyDeletes', 'false'],
        ['receive.denyNonFastForwards', 'false'],
        ['gc.auto', '0'],
        ['receive.maxInputSize', String(this.opts.maxPushBytes ?? 1024 * 1024 * 1024)],
      ];
      for (const [k, v] of settings) await this.opts.git.run(['config', k, v], { gitDir: dir });
      this.ready.add(name);
      return dir;
    });
  }

  /** The `Authorization` header config for this repository's upstream, plus the secrets to redact. */
  async auth(name: string): Promise<UpstreamAuth> {
    const repo = this.repo(name);
    if (!repo.credential) return { config: {}, secrets: [] };
    const token = await this.opts.credentials.get(repo.credential);
    if (!token) {
      throw gitGateErrors.create(
        'GIT_CREDENTIAL_MISSING',
        `credential ${repo.credential} for repository ${name} is not available`,
      );
    }
    return {
      config: { 'http.extraHeader': `Authorization: ${basicAuthHeader(repo.username, token)}` },
      secrets: [token],
    };
  }

  /** Fetches the upstream into the mirror (serialised per repository) and returns the mirror's path. */
  async refresh(name: string): Promise<string> {
    const dir = await this.ensure(name);
    const repo = this.repo(name);
    const auth = await this.auth(name);
    await this.locks.run(`fetch:${name}`, async () => {
      const started = Date.now();
      const r = await this.opts.git.try(
        ['fetch', '--prune', '--quiet', '--no-tags', repo.upstream, ...MIRROR_REFSPECS],
        {
          gitDir: dir,
          config: auth.config,
          secrets: auth.secrets,
        },
      );
      if (r.exitCode !== 0) {
        throw gitGateErrors.create('GIT_UPSTREAM_FAILED', `fetching ${name} from its upstream failed`, {
          git: lastLines(r.stderr),
        });
      }
      if (!this.headSynced.has(name)) {
        // The default branch rarely changes: one extra round trip per daemon life, not per fetch.
        await this.syncHead(name, dir, auth);
        this.headSynced.add(name);
      }
      this.opts.logger.debug({ repo: name, ms: Date.now() - started }, 'mirror refreshed');
    });
    return dir;
  }

  private async syncHead(name: string, dir: string, auth: UpstreamAuth): Promise<void> {
    const r = await this.opts.git.try(['ls-remote', '--symref', this.repo(name).upstream, 'HEAD'], {
      gitDir: dir,
      config: auth.config,
      secrets: auth.secrets,
    });
    const m = /^ref: (refs\/heads\/\S+)\tHEAD$/m.exec(r.stdout);
    if (m?.[1]) await this.opts.git.try(['symbolic-ref', 'HEAD', m[1]], { gitDir: dir });
  }

  /** The upstream's current value of one ref, or undefined when it does not exist. */
  async upstreamRef(name: string, ref: string): Promise<string | undefined> {
    const dir = await this.ensure(name);
    const auth = await this.auth(name);
    const out = await this.opts.git
      .run(['ls-remote', this.repo(name).upstream, ref], {
        gitDir: dir,
        config: auth.config,
        secrets: auth.secrets,
      })
      .catch((err: unknown) => {
        throw gitGateErrors.create(
          'GIT_UPSTREAM_FAILED',
          `reading ${ref} of ${name} from its upstream failed`,
          {
            git: err instanceof GitCommandError ? lastLines(err.stderr) : String(err),
          },
        );
      });
    for (const line of out.split('\n')) {
      const [sha, r] = line.split('\t');
      if (r === ref && sha) return sha;
    }
    return undefined;
  }

  /**
   * `git push <upstream> <refspecs>` from the mirror. `env` carries a push quarantine (GIT_OBJECT_DIRECTORY) when
   * called from inside receive-pack's update hook, where the new objects are not yet in the mirror proper.
   */
  async pushUpstream(
    name: string,
    refspecs: readonly string[],
    env?: Record<string, string>,
  ): Promise<GitResult> {
    const dir = await this.ensure(name);
    const auth = await this.auth(name);
    return this.opts.git.try(['push', '--porcelain', '--quiet', this.repo(name).upstream, ...refspecs], {
      gitDir: dir,
      ...(env ? { env } : {}),
      config: auth.config,
      secrets: auth.secrets,
    });
  }
}

export function lastLines(text: string, n = 4): string {
  return text.trim().split('\n').slice(-n).join('\n');
}
