import { execa } from 'execa';
import { gitGateErrors } from './errors.js';

export interface GitRunOptions {
  /** Working directory (a worktree) or, with `gitDir`, any folder. */
  readonly cwd?: string;
  /** Runs against this repository (GIT_DIR). */
  readonly gitDir?: string;
  /** Extra environment (e.g. GIT_OBJECT_DIRECTORY of a push quarantine). */
  readonly env?: Record<string, string>;
  /** Configuration passed as GIT_CONFIG_* environment (not visible in argv, never written to a file). */
  readonly config?: Record<string, string>;
  /** Secrets that must be cut out of any message built from git's output. */
  readonly secrets?: readonly string[];
  readonly input?: string;
  /** Run as this user (the daemon is root; a user's repository must stay owned by its user). */
  readonly user?: { uid: number; gid: number };
  /** Use the caller's global git config (user.name for commits); otherwise git sees no global/system config. */
  readonly userConfig?: boolean;
  readonly timeoutMs?: number;
}

export interface GitResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** Replaces every secret (and its base64 form, as used in basic auth) with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (!s) continue;
    out = out.split(s).join('***');
    const b64 = Buffer.from(s).toString('base64');
    out = out.split(b64).join('***');
  }
  return out;
}

/**
 * Runs host `git` with a minimal, explicit environment: the daemon's own environment never leaks into git (nor into
 * hooks it runs), and system/global config is ignored unless asked for.
 */
export class GitRunner {
  constructor(private readonly gitBinary = 'git') {}

  env(opts: Pick<GitRunOptions, 'gitDir' | 'env' | 'config' | 'userConfig'> = {}): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C',
      LC_ALL: 'C',
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: '/bin/false',
      SSH_ASKPASS: '/bin/false',
    };
    if (opts.userConfig && process.env.HOME) env.HOME = process.env.HOME;
    else {
      env.HOME = '/nonexistent';
      env.GIT_CONFIG_NOSYSTEM = '1';
      env.GIT_CONFIG_GLOBAL = '/dev/null';
    }
    if (opts.gitDir) env.GIT_DIR = opts.gitDir;
    const config = Object.entries(opts.config ?? {});
    if (config.length > 0) {
      env.GIT_CONFIG_COUNT = String(config.length);
      config.forEach(([k, v], i) => {
        env[`GIT_CONFIG_KEY_${i}`] = k;
        env[`GIT_CONFIG_VALUE_${i}`] = v;
      });
    }
    return { ...env, ...opts.env };
  }

  /** Runs git; resolves whatever the exit code (callers that need success use `run`). */
  async try(args: readonly string[], opts: GitRunOptions = {}): Promise<GitResult> {
    try {
      const r = await execa(this.gitBinary, args, {
        cwd: opts.cwd ?? '/',
        env: this.env(opts),
        extendEnv: false,
        reject: false,
        input: opts.input,
        timeout: opts.timeoutMs ?? 120_000,
        stripFinalNewline: false,
        ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
      });
      if (r.failed && r.exitCode === undefined) {
        if ((r.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
          throw gitGateErrors.create('GIT_NOT_INSTALLED', `git binary not found: ${this.gitBinary}`);
        }
        throw gitGateErrors.create(
          'GIT_UPSTREAM_FAILED',
          `git ${args[0] ?? ''} did not run: ${r.shortMessage}`,
        );
      }
      return {
        stdout: r.stdout,
        stderr: redact(r.stderr, opts.secrets ?? []),
        exitCode: r.exitCode ?? 1,
      };
    } catch (err) {
      if (gitGateErrors.is(err, 'GIT_NOT_INSTALLED') || gitGateErrors.is(err, 'GIT_UPSTREAM_FAILED'))
        throw err;
      throw gitGateErrors.create('GIT_NOT_INSTALLED', `git could not be started: ${(err as Error).message}`);
    }
  }

  /** Runs git and returns stdout; a non-zero exit becomes an Error carrying git's (redacted) stderr. */
  async run(args: readonly string[], opts: GitRunOptions = {}): Promise<string> {
    const r = await this.try(args, opts);
    if (r.exitCode !== 0) throw new GitCommandError(args, r.stderr.trim(), r.exitCode);
    return r.stdout;
  }
}

/** A git command that exited non-zero; `stderr` is already redacted. Callers turn it into a coded AiboxError. */
export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
    readonly exitCode: number,
  ) {
    super(`git ${args[0] ?? ''} failed (exit ${exitCode}): ${stderr.split('\n').slice(-3).join(' | ')}`);
    this.name = 'GitCommandError';
  }
}
