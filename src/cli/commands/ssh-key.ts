import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { z } from 'zod';
import { ClientError } from '../../client/index.js';
import {
  ApiErrorBody,
  SshGatewayReport,
  SshKeyList,
  SshKeyReport,
  defineErrors,
} from '../../shared/index.js';
import { commandGroup } from '../command-group.js';
import type { CliContext } from '../context.js';

export const sshCliErrors = defineErrors({
  SSH_KEY_FILE_UNREADABLE: {
    status: 400,
    hint: 'pass the path of a readable public key file such as ~/.ssh/id_ed25519.pub',
  },
  SSH_NO_KEY_FOUND: {
    status: 400,
    hint: 'create one with `ssh-keygen -t ed25519`, then `aibox ssh-key add ~/.ssh/id_ed25519.pub`',
  },
  SSH_KEY_CHOICE_NEEDED: {
    status: 400,
    hint: 'several public keys are in ~/.ssh: pass the one to use, e.g. `aibox ssh-key add ~/.ssh/id_ed25519.pub`',
  },
  SSH_CONFIG_WRITE_FAILED: {
    status: 400,
    hint: 'check that ~/.ssh/config is writable by you (or print the block with `aibox ssh-config` and paste it)',
  },
});

/** The user's home as the CLI sees it (HOME from the injected environment, for tests). */
export function homeOf(ctx: CliContext): string {
  return ctx.io.env['HOME'] || homedir();
}

/** `~/.ssh/*.pub`, the preferred key type first: what `setup` and `ssh-key add` offer. */
export async function findUserPublicKeys(home: string): Promise<string[]> {
  const dir = join(home, '.ssh');
  const names = await readdir(dir).catch(() => [] as string[]);
  const order = ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub'];
  return names
    .filter((n) => n.endsWith('.pub'))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((n) => join(dir, n));
  function rank(n: string): number {
    const i = order.indexOf(n);
    return i < 0 ? order.length : i;
  }
}

/** SHA256 fingerprint of an OpenSSH public key line (what the daemon reports), without parsing the key itself. */
export function publicKeyFingerprint(line: string): string | undefined {
  const b64 = line.trim().split(/\s+/)[1];
  if (!b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return undefined;
  return `SHA256:${createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** The gateway's part of the API, over the daemon socket (answers validated against shared/api/ssh-keys.ts). */
export class SshApi {
  constructor(private readonly socketPath: string) {}

  gateway(): Promise<SshGatewayReport> {
    return this.call('GET', '/v1/ssh/gateway', SshGatewayReport);
  }
  listKeys(): Promise<SshKeyReport[]> {
    return this.call('GET', '/v1/ssh-keys', SshKeyList).then((r) => r.keys);
  }
  addKey(publicKey: string): Promise<SshKeyReport[]> {
    return this.call('POST', '/v1/ssh-keys', SshKeyList, { publicKey }).then((r) => r.keys);
  }
  removeKey(key: string): Promise<SshKeyReport> {
    return this.call('DELETE', `/v1/ssh-keys?key=${encodeURIComponent(key)}`, SshKeyReport);
  }

  private call<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.output<S>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolveCall, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', () =>
            reject(
              ClientError.local('DAEMON_CONNECTION_LOST', `aiboxd closed the connection (${method} ${path})`),
            ),
          );
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let json: unknown;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              json = undefined;
            }
            if (status < 200 || status >= 300) {
              const err = ApiErrorBody.safeParse(json);
              if (err.success) {
                const e = err.data.error;
                return reject(new ClientError(e.code, e.message, { status, hint: e.hint }, e.details));
              }
              if (status === 404) {
                return reject(
                  ClientError.local(
                    'DAEMON_BAD_RESPONSE',
                    `aiboxd does not offer ${method} ${path}: the SSH gateway is not wired in this daemon`,
                  ),
                );
              }
              return reject(
                ClientError.local('DAEMON_BAD_RESPONSE', `aiboxd answered ${status} to ${method} ${path}`),
              );
            }
            const parsed = schema.safeParse(json);
            if (!parsed.success)
              return reject(
                ClientError.local(
                  'DAEMON_BAD_RESPONSE',
                  `aiboxd's answer to ${method} ${path} is not the documented one`,
                ),
              );
            resolveCall(parsed.data);
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code === 'EACCES' ? 'DAEMON_SOCKET_DENIED' : 'DAEMON_NOT_RUNNING';
        reject(
          ClientError.local(code, `cannot reach aiboxd at ${this.socketPath} (${err.code ?? err.message})`),
        );
      });
      req.end(payload);
    });
  }
}

export function register(program: Command, ctx: CliContext): void {
  const group = commandGroup(
    program,
    'ssh-key',
    'public keys allowed to log in to the SSH gateway (IDE access)',
  );
  const api = () => new SshApi(ctx.socketPath);

  group
    .command('add')
    .argument(
      '[file]',
      'public key file (default: your ~/.ssh/*.pub, when there is exactly one or an id_ed25519.pub)',
    )
    .description('allow a public key to log in to sandboxes over SSH')
    .action(async (file: string | undefined) => {
      const path = file ? resolve(ctx.io.cwd, file) : await pickUserKey(ctx);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        throw sshCliErrors.create('SSH_KEY_FILE_UNREADABLE', `cannot read ${path}`);
      }
      const added = await api().addKey(text);
      if (ctx.json) return ctx.printJson({ added });
      for (const k of added) ctx.out(`added ${k.fingerprint} ${k.comment || '(no comment)'} (${k.type})`);
      ctx.note('next: `aibox ssh-config --write` adds Host entries for your IDE to ~/.ssh/config');
    });

  group
    .command('list')
    .alias('ls')
    .description('list the registered keys')
    .action(async () => {
      const keys = await api().listKeys();
      if (ctx.json) return ctx.printJson({ keys });
      if (keys.length === 0)
        return ctx.out('no keys registered (add one with `aibox ssh-key add ~/.ssh/id_ed25519.pub`)');
      for (const k of keys) ctx.out(`${k.fingerprint}  ${k.type}  ${k.comment || '-'}  added ${k.addedAt}`);
    });

  group
    .command('rm')
    .alias('remove')
    .argument('<key>', 'fingerprint (SHA256:…) or comment, as `aibox ssh-key list` shows')
    .description('stop a key from logging in (open sessions keep running until they end)')
    .action(async (key: string) => {
      const removed = await api().removeKey(key);
      if (ctx.json) return ctx.printJson({ removed });
      ctx.out(`removed ${removed.fingerprint} ${removed.comment}`);
    });
}

async function pickUserKey(ctx: CliContext): Promise<string> {
  const found = await findUserPublicKeys(homeOf(ctx));
  if (found.length === 0) throw sshCliErrors.create('SSH_NO_KEY_FOUND', 'no public key in ~/.ssh');
  if (found.length === 1 || found[0]!.endsWith('/id_ed25519.pub')) {
    ctx.note(`using ${found[0]!}`);
    return found[0]!;
  }
  throw sshCliErrors.create('SSH_KEY_CHOICE_NEEDED', `found ${found.length} keys: ${found.join(', ')}`, {
    keys: found,
  });
}
