/**
 * Drives the real OpenSSH client (ssh, sftp, ssh-keygen) against an aibox SSH gateway in tests: keys in a temp dir,
 * no user config (-F /dev/null), strict host key checking against the known_hosts file the gateway wrote.
 */
import { execa } from 'execa';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SshTarget {
  port: number;
  knownHostsFile: string;
  hostKeyAlias: string;
  host?: string;
}

export interface SshRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface SshRunOptions {
  input?: string;
  env?: Record<string, string>;
  timeout?: number;
}

async function run(cmd: string, args: string[], opts: SshRunOptions): Promise<SshRun> {
  const r = await execa(cmd, args, {
    reject: false,
    timeout: opts.timeout ?? 60_000,
    input: opts.input ?? '',
    ...(opts.env ? { env: opts.env } : {}),
  });
  return { exitCode: r.exitCode ?? 255, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export class SshClientKit {
  private constructor(
    readonly dir: string,
    readonly identity: string,
  ) {}

  /** A fresh ed25519 key pair in a temp dir. */
  static async create(name = 'id_ed25519'): Promise<SshClientKit> {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-sshkit-'));
    const identity = join(dir, name);
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', identity]);
    return new SshClientKit(dir, identity);
  }

  publicKey(): Promise<string> {
    return readFile(`${this.identity}.pub`, 'utf8');
  }

  options(target: SshTarget, extra: string[] = []): string[] {
    return [
      '-F',
      '/dev/null',
      '-o',
      `UserKnownHostsFile=${target.knownHostsFile}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `HostKeyAlias=${target.hostKeyAlias}`,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=10',
      '-i',
      this.identity,
      '-p',
      String(target.port),
      ...extra,
    ];
  }

  /** `ssh [extra] user@host command…`; never rejects, the caller asserts on exitCode. */
  ssh(
    target: SshTarget,
    user: string,
    command: string[],
    extra: string[] = [],
    opts: SshRunOptions = {},
  ): Promise<SshRun> {
    return run(
      'ssh',
      [...this.options(target, extra), `${user}@${target.host ?? '127.0.0.1'}`, ...command],
      opts,
    );
  }

  /** Runs an sftp batch (`-b -` reads commands from stdin). */
  sftp(target: SshTarget, user: string, batch: string): Promise<SshRun> {
    const opts = this.options(target).map((o) => (o === '-p' ? '-P' : o));
    return run('sftp', [...opts, '-b', '-', `${user}@${target.host ?? '127.0.0.1'}`], { input: batch });
  }

  /** The command line for tmux or a shell: the same options, quoted. */
  sshCommandLine(target: SshTarget, user: string, extra: string[] = []): string {
    return ['ssh', ...this.options(target, extra), `${user}@${target.host ?? '127.0.0.1'}`]
      .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
      .join(' ');
  }
}
