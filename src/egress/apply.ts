import {
  access,
  chown,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { constants, watch, type FSWatcher } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { messageOf, type Logger } from '../shared/index.js';
import { writeFileAtomic } from '../shared/fs/index.js';
import { egressErrors } from './errors.js';
import { nftEndpoints, nftTableName, type NftRulesetInput } from './render-nftables.js';
import {
  CREDENTIALS_CONF,
  SNI_HELPER,
  SNI_HELPER_SCRIPT,
  SQUID_ACCESS_LOG,
  SQUID_ERRORS_DIR,
  SQUID_PID_FILE,
} from './render-squid.js';
import { listenerHeldBy, withChildren } from './ports.js';
import { timedStep } from './steps.js';

/**
 * Everything egress does to the host: nft inside a sandbox's network namespace, and the per-sandbox Squid process.
 * Each step is verified, and a failure is an AiboxError naming its layer (EGRESS_NETNS, EGRESS_NFTABLES,
 * EGRESS_SQUID) so the sandbox never starts half-enforced.
 */

/** A network namespace: a process in it (rootless: the container's pid) or a named one (`ip netns add`). */
export type NetnsTarget = { readonly pid: number } | { readonly name: string };

export interface NftApplierOptions {
  nft: string;
  nsenter: string;
  logger: Logger;
}

export class NftApplier {
  constructor(private readonly opts: NftApplierOptions) {}

  /** Replaces the sandbox's table atomically, then reads it back and checks it is what was rendered. */
  async apply(target: NetnsTarget, ruleset: string, expected: NftRulesetInput): Promise<void> {
    await assertExecutable(this.opts.nft, 'EGRESS_NFTABLES', 'nft', 'egress.nft');
    await assertExecutable(this.opts.nsenter, 'EGRESS_NETNS', 'nsenter', 'egress.nsenter');
    await this.assertNotHostNetns(target);
    const result = await timedStep(this.opts.logger, expected.sandboxId, 'nft-load', () =>
      execa(this.opts.nsenter, [...this.netnsArgs(target), this.opts.nft, '-f', '-'], {
        input: ruleset,
        reject: false,
      }),
    );
    if (result.exitCode !== 0)
      throw egressErrors.create(
        'EGRESS_NFTABLES',
        `nft refused the egress ruleset of ${expected.sandboxId}: ${firstLines(result.stderr)}`,
        { sandboxId: expected.sandboxId },
      );
    await timedStep(this.opts.logger, expected.sandboxId, 'nft-verify', () => this.verify(target, expected));
  }

  /** Reads the table back (`nft -j`) and checks hooks, drop policies and the exact set of accepted endpoints. */
  async verify(target: NetnsTarget, expected: NftRulesetInput): Promise<void> {
    const table = nftTableName(expected.sandboxId);
    const listed = await this.run(target, ['-j', 'list', 'table', 'inet', table]);
    if (listed.exitCode !== 0)
      throw egressErrors.create(
        'EGRESS_NFTABLES',
        `egress table ${table} is missing: ${firstLines(listed.stderr)}`,
        {
          sandboxId: expected.sandboxId,
        },
      );
    const problems = checkRuleset(JSON.parse(listed.stdout) as NftJson, expected);
    if (problems.length > 0)
      throw egressErrors.create(
        'EGRESS_NFTABLES',
        `egress table ${table} does not match: ${problems.join('; ')}`,
        {
          sandboxId: expected.sandboxId,
          problems,
        },
      );
  }

  /** Deletes the sandbox's table; a namespace that is already gone is not an error (stop must be idempotent). */
  async remove(target: NetnsTarget, sandboxId: string): Promise<void> {
    if (!(await this.netnsExists(target))) return;
    await this.run(target, ['delete', 'table', 'inet', nftTableName(sandboxId)]);
  }

  /** aibox tables in a namespace, for sweeping leftovers. */
  async tables(target: NetnsTarget): Promise<string[]> {
    const r = await this.run(target, ['-j', 'list', 'tables']);
    if (r.exitCode !== 0) return [];
    const json = JSON.parse(r.stdout) as NftJson;
    return json.nftables.flatMap((e) => (e.table && e.table.name.startsWith('aibox_') ? [e.table.name] : []));
  }

  /** Counters of the default-deny rules: how many packets the sandbox tried to send elsewhere. */
  async deniedPackets(target: NetnsTarget, sandboxId: string): Promise<number> {
    const r = await this.run(target, ['-j', 'list', 'chain', 'inet', nftTableName(sandboxId), 'output']);
    if (r.exitCode !== 0) return 0;
    const json = JSON.parse(r.stdout) as NftJson;
    let total = 0;
    for (const e of json.nftables)
      for (const x of e.rule?.expr ?? []) if (x.counter) total += x.counter.packets;
    return total;
  }

  private async run(target: NetnsTarget, args: string[]) {
    return execa(this.opts.nsenter, [...this.netnsArgs(target), this.opts.nft, ...args], { reject: false });
  }

  private netnsArgs(target: NetnsTarget): string[] {
    return 'pid' in target ? ['-t', String(target.pid), '-n'] : [`--net=/run/netns/${target.name}`];
  }

  private async netnsExists(target: NetnsTarget): Promise<boolean> {
    const path = 'pid' in target ? `/proc/${target.pid}/ns/net` : `/run/netns/${target.name}`;
    return stat(path).then(
      () => true,
      () => false,
    );
  }

  /** A default-drop ruleset in the host's own namespace would cut the host off and isolate nothing. */
  private async assertNotHostNetns(target: NetnsTarget): Promise<void> {
    const path = 'pid' in target ? `/proc/${target.pid}/ns/net` : `/run/netns/${target.name}`;
    let ns: string;
    try {
      ns = 'pid' in target ? await readlink(path) : `file:${(await stat(path)).ino}`;
    } catch (err) {
      throw egressErrors.create(
        'EGRESS_NETNS',
        `the sandbox network namespace (${path}) is gone: ${messageOf(err)}`,
      );
    }
    const own = await readlink('/proc/self/ns/net');
    const ownIno = (await stat('/proc/self/ns/net')).ino;
    if (ns === own || ns === `file:${ownIno}`)
      throw egressErrors.create(
        'EGRESS_NETNS',
        'the sandbox shares the host network namespace: refusing to start it (it would not be isolated)',
      );
  }
}

interface NftExpr {
  match?: { op: string; left: unknown; right: unknown };
  counter?: { packets: number; bytes: number };
  accept?: null;
  [k: string]: unknown;
}
interface NftJson {
  nftables: {
    table?: { family: string; name: string };
    chain?: { name: string; type?: string; hook?: string; policy?: string; prio?: number };
    rule?: { chain: string; comment?: string; expr: NftExpr[] };
  }[];
}

/** Pure check of a listed table against what was rendered; returns what is wrong. */
export function checkRuleset(json: NftJson, expected: NftRulesetInput): string[] {
  const problems: string[] = [];
  const chains = new Map(json.nftables.flatMap((e) => (e.chain ? [[e.chain.name, e.chain] as const] : [])));
  for (const [name, hook, policy] of [
    ['output', 'output', 'drop'],
    ['input', 'input', 'drop'],
    ['forward', 'forward', 'drop'],
    ['dns_redirect', 'output', 'accept'],
  ] as const) {
    const c = chains.get(name);
    if (!c) problems.push(`chain ${name} missing`);
    else if (c.hook !== hook || c.policy !== policy) problems.push(`chain ${name} is ${c.hook}/${c.policy}`);
  }
  const rules = json.nftables.flatMap((e) => (e.rule ? [e.rule] : []));
  const accepted = rules
    .filter((r) => r.chain === 'output' && r.expr.some((x) => 'accept' in x))
    .map((r) => describeAccept(r.expr))
    .filter((d): d is string => d !== undefined);
  const want = nftEndpoints(expected).map((e) => `${e.address} ${e.protocol} ${e.port}`);
  const extra = accepted.filter((a) => !want.includes(a));
  const missing = want.filter((w) => !accepted.includes(w));
  if (extra.length > 0) problems.push(`unexpected accept ${extra.join(', ')}`);
  if (missing.length > 0) problems.push(`missing accept ${missing.join(', ')}`);
  const rejects = rules.filter((r) => r.chain === 'output' && r.expr.some((x) => 'reject' in x));
  if (rejects.length !== 2) problems.push('default-deny rules missing');
  const dnat = rules.filter((r) => r.chain === 'dns_redirect' && r.expr.some((x) => 'dnat' in x));
  if (dnat.length !== 2) problems.push('DNS redirect rules missing');
  return problems;
}

function describeAccept(expr: NftExpr[]): string | undefined {
  let addr: string | undefined;
  let proto: string | undefined;
  let port: number | undefined;
  let other = false;
  for (const x of expr) {
    if (!x.match) continue;
    const left = x.match.left as {
      payload?: { protocol: string; field: string };
      meta?: unknown;
      ct?: unknown;
    };
    if (left.payload?.field === 'daddr') addr = String(x.match.right);
    else if (left.payload?.field === 'dport') {
      proto = left.payload.protocol;
      port = Number(x.match.right);
    } else other = true;
  }
  // Loopback and conntrack accepts are not endpoints.
  if (other || addr === undefined) return undefined;
  return `${addr} ${proto ?? 'any'} ${port ?? 'any'}`;
}

export interface SquidFiles {
  conf: string;
  errorPages: Record<string, string>;
  /** credentials.conf (secret values): written 0600 for Squid's user only; absent when nothing is injected. */
  credentials?: string;
}

export interface SquidProcessOptions {
  /** The sandbox this Squid serves: its service name (and so its shared-memory names) derive from it. */
  sandboxId: string;
  squid: string;
  /** The user Squid drops to; its directory must be writable by it. */
  user: string;
  /** That user's ids, looked up once by the caller (each lookup is a process); looked up here when absent. */
  userIds?: () => Promise<{ uid: number; gid: number }>;
  logger: Logger;
  startTimeoutMs?: number;
}

/** Where POSIX shared memory lives on Linux (Squid's segments among it). */
const SHM_DIR = '/dev/shm';

/** Squid error page templates shipped by Debian; the custom error_directory links to them. */
const SQUID_TEMPLATES = '/usr/share/squid/errors/templates';

/**
 * One sandbox's Squid: a daemonized process with its pid file in the sandbox's state directory, so it survives a
 * daemon restart and can be re-adopted; `squid -k reconfigure` hot-reloads a new policy.
 */
export class SquidProcess {
  constructor(
    private readonly dir: string,
    private readonly opts: SquidProcessOptions,
  ) {}

  get confPath(): string {
    return join(this.dir, 'squid.conf');
  }

  /**
   * Squid's service name (`-n`), one per sandbox: Squid names its shared-memory segments after it
   * (`/dev/shm/<name>-cf__*.shm`), so Squids sharing the default name collide when they start at the same moment
   * (`shm_open … File exists`). Squid accepts only alphanumerics.
   */
  get serviceName(): string {
    return `aibox${this.opts.sandboxId.replace(/[^A-Za-z0-9]/g, '')}`;
  }

  private squidArgs(...args: string[]): string[] {
    return ['-n', this.serviceName, ...args, '-f', this.confPath];
  }

  async start(files: SquidFiles, listen: { address: string; port: number }): Promise<void> {
    const step = <T>(name: string, work: () => Promise<T>) =>
      timedStep(this.opts.logger, this.opts.sandboxId, `squid-${name}`, work);
    await assertExecutable(this.opts.squid, 'EGRESS_SQUID', 'squid', 'egress.squid');
    await step('write', () => this.write(files));
    await step('parse', () => this.parse());
    const offset = await this.logSize();
    // stdio ignored: the daemonized Squid must not hold the daemon's pipes open.
    const r = await step('spawn', () =>
      execa(this.opts.squid, this.squidArgs(), {
        reject: false,
        cwd: this.dir,
        stdio: 'ignore',
      }),
    );
    if (r.exitCode !== 0)
      throw await this.failure(
        `squid did not start (${r.exitCode === undefined ? r.message : `exit ${r.exitCode}`})`,
      );
    await step('ready', () => this.waitReady(offset, listen));
  }

  /** Writes the new configuration, checks it, and signals Squid; resolves once Squid listens again. */
  async reconfigure(files: SquidFiles, listen: { address: string; port: number }): Promise<void> {
    await this.write(files);
    await this.parse();
    const offset = await this.logSize();
    const r = await execa(this.opts.squid, this.squidArgs('-k', 'reconfigure'), { reject: false });
    if (r.exitCode !== 0) throw await this.failure(`squid -k reconfigure failed: ${firstLines(r.stderr)}`);
    await this.waitReady(offset, listen);
  }

  async pid(): Promise<number | undefined> {
    const text = await readFile(join(this.dir, SQUID_PID_FILE), 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.includes('squid') && cmdline.includes(this.confPath) ? pid : undefined;
  }

  async running(): Promise<boolean> {
    return (await this.pid()) !== undefined;
  }

  /**
   * Stops Squid and waits until it is gone. Idempotent. SIGKILL at once: Squid keeps nothing here worth a graceful
   * shutdown (no cache, unbuffered logs), and its graceful path takes ~1.6 s even with shutdown_lifetime 0 — per
   * sandbox, on every stop, rollback and crash-recovery sweep. The master goes first so it cannot respawn its kid.
   */
  async stop(): Promise<void> {
    const roots = await this.processes();
    if (roots.length === 0) return;
    const all = (await Promise.all(roots.map(withChildren))).flat();
    for (const p of all) signal(p, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await this.anyAlive(all))) await sleep(10);
    await rm(join(this.dir, SQUID_PID_FILE), { force: true });
    await this.removeSharedMemory();
  }

  /**
   * Squid's master from its pid file; in the moment before Squid writes that file (a stop racing a start), every
   * process running this sandbox's configuration, found by its command line.
   */
  private async processes(): Promise<number[]> {
    const pid = await this.pid();
    if (pid !== undefined) return [pid];
    const needle = `\0-f\0${this.confPath}\0`;
    const found: number[] = [];
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^[0-9]+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes('squid') && cmdline.includes(needle)) found.push(Number(entry));
    }
    return found;
  }

  /** A killed Squid leaves its shared-memory segments behind; they carry this sandbox's service name. */
  private async removeSharedMemory(): Promise<void> {
    const prefix = `${this.serviceName}-`;
    const names = await readdir(SHM_DIR).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith(prefix) && n.endsWith('.shm')))
      await rm(join(SHM_DIR, name), { force: true });
  }

  private async anyAlive(pids: number[]): Promise<boolean> {
    for (const p of pids) {
      const cmdline = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(this.confPath)) return true;
    }
    return false;
  }

  private async write(files: SquidFiles): Promise<void> {
    const errors = join(this.dir, SQUID_ERRORS_DIR);
    await mkdir(errors, { recursive: true });
    const templates = await readdir(SQUID_TEMPLATES).catch(() => [] as string[]);
    // Independent files: made side by side (about 50 of them on every start).
    await Promise.all([
      ...templates.map((t) => symlink(join(SQUID_TEMPLATES, t), join(errors, t)).catch(() => undefined)),
      ...Object.entries(files.errorPages).map(([name, body]) => writeFile(join(errors, name), body)),
      writeFile(this.confPath, files.conf),
      // Replaced whole: Squid may start a helper at any time, and one that reads a half-written script exits at
      // once, which Squid (after a reconfigure) takes for a crash loop and dies of (seen under load).
      writeFileAtomic(join(this.dir, SNI_HELPER), SNI_HELPER_SCRIPT, { mode: 0o755 }),
    ]);
    const { uid, gid } = await (this.opts.userIds ?? (() => squidUserIds(this.opts.user)))();
    // A sandbox that no longer has a binding keeps no file of values either.
    await rm(join(this.dir, CREDENTIALS_CONF), { force: true });
    if (files.credentials !== undefined) {
      const path = join(this.dir, CREDENTIALS_CONF);
      // Created private (mode at open), then given to Squid's user: never readable by anyone else.
      await writeFile(path, files.credentials, { mode: 0o600, flag: 'wx' });
      await chown(path, uid, gid);
    }
    // Squid writes its logs after dropping to its user: create them so it can.
    for (const log of ['cache.log', SQUID_ACCESS_LOG])
      await writeFile(join(this.dir, log), '', { flag: 'a' });
    for (const p of [this.dir, errors, join(this.dir, 'cache.log'), join(this.dir, SQUID_ACCESS_LOG)])
      await chown(p, uid, gid);
  }

  private async parse(): Promise<void> {
    const r = await execa(this.opts.squid, this.squidArgs('-k', 'parse'), { reject: false });
    if (r.exitCode === undefined)
      throw egressErrors.create('EGRESS_SQUID', `cannot run squid (${this.opts.squid}): ${r.message}`, {
        binary: this.opts.squid,
      });
    const bad = `${r.stderr}\n${r.stdout}`
      .split('\n')
      .filter((l) => /FATAL|ERROR:|Bungled|unrecognized|UNKNOWN/.test(l));
    if (r.exitCode !== 0 || bad.length > 0)
      throw egressErrors.create(
        'EGRESS_SQUID',
        `squid.conf was refused by ${this.opts.squid} (exit ${r.exitCode}): ${bad.slice(0, 3).join(' | ') || firstLines(r.stderr)}`,
        { binary: this.opts.squid },
      );
  }

  /**
   * Ready means: Squid's own log says it accepts connections on exactly this address:port, and the socket listening
   * there belongs to this Squid (a connect alone could reach another process that holds the port).
   */
  private async waitReady(logOffset: number, listen: { address: string; port: number }): Promise<void> {
    const timeoutMs = this.opts.startTimeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    // Squid reports each stage in cache.log: every write to it wakes this check (inotify), nothing is polled.
    const changes = new FileChanges(join(this.dir, 'cache.log'));
    try {
      for (;;) {
        const listening = await this.listening(logOffset, listen);
        if (listening === 'ready') return;
        const left = deadline - Date.now();
        if (left <= 0) break;
        // The log says it listens but a connect failed: look again shortly (the log will not change).
        await changes.next(listening === 'connect-failed' ? Math.min(left, 20) : left);
      }
    } finally {
      changes.close();
    }
    throw await this.failure(`squid did not listen on ${listen.address}:${listen.port} in time`);
  }

  /**
   * Ready means: Squid's own log says it accepts connections on exactly this address:port, and the socket listening
   * there belongs to this Squid (a connect alone could reach another process that holds the port).
   */
  private async listening(
    logOffset: number,
    listen: { address: string; port: number },
  ): Promise<'ready' | 'waiting' | 'connect-failed'> {
    // With TLS inspection the port is an ssl-bump one: "Accepting SSL bumped HTTP Socket connections at".
    const accepting = /Accepting (SSL bumped )?HTTP Socket connections at/;
    const local = `local=${listen.address}:${listen.port} `;
    const log = await this.logSince(logOffset);
    if (/Cannot bind socket .*Address already in use|Unable to open HTTP Socket/.test(log))
      throw await this.failure(`port ${listen.address}:${listen.port} is taken`, { portInUse: true });
    if (/FATAL|Squid Cache \(Version [^)]*\): Terminated abnormally/.test(log))
      throw await this.failure('squid stopped while starting');
    const line = log.split('\n').find((l) => accepting.test(l) && l.includes(local));
    if (!line) return 'waiting';
    if (!(await canConnect(listen))) return 'connect-failed';
    const pid = await this.pid();
    if (pid !== undefined && (await listenerHeldBy(await withChildren(pid), listen.address, listen.port)))
      return 'ready';
    throw await this.failure(`the socket on ${listen.address}:${listen.port} is not this squid's`, {
      portInUse: true,
    });
  }

  private async failure(message: string, details: Record<string, unknown> = {}) {
    const log = await this.logSince(0);
    const tail = log
      .split('\n')
      .filter((l) => /FATAL|ERROR|WARNING/.test(l))
      .slice(-3)
      .join(' | ');
    return egressErrors.create('EGRESS_SQUID', tail ? `${message}: ${tail}` : message, {
      dir: this.dir,
      ...details,
    });
  }

  private async logSize(): Promise<number> {
    return stat(join(this.dir, 'cache.log')).then(
      (s) => s.size,
      () => 0,
    );
  }

  private async logSince(offset: number): Promise<string> {
    const buf = await readFile(join(this.dir, 'cache.log')).catch(() => Buffer.alloc(0));
    return buf.subarray(offset).toString('utf8');
  }
}

/** The uid and gid of the user Squid drops to. */
export async function squidUserIds(user: string): Promise<{ uid: number; gid: number }> {
  const r = await execa('id', ['-u', user], { reject: false });
  const g = await execa('id', ['-g', user], { reject: false });
  if (r.exitCode !== 0 || g.exitCode !== 0)
    throw egressErrors.create('EGRESS_SQUID', `squid user "${user}" does not exist`);
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export function canConnect(ep: { address: string; port: number }, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: ep.address, port: ep.port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** A configured binary that is missing fails with its own name and the config key, not a later symptom. */
async function assertExecutable(
  path: string,
  code: 'EGRESS_SQUID' | 'EGRESS_NFTABLES' | 'EGRESS_NETNS',
  what: string,
  key: string,
): Promise<void> {
  const ok = await access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
  if (!ok)
    throw egressErrors.create(
      code,
      `the ${what} binary ${path} is missing or not executable (${key} in aiboxd.yaml)`,
      {
        binary: path,
        configKey: key,
      },
    );
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function firstLines(text: string): string {
  return text.split('\n').filter(Boolean).slice(0, 3).join(' | ') || 'no output';
}

/**
 * Wakes a waiter when a file changes (inotify through fs.watch). A change that lands between two waits is not
 * lost: it makes the next wait return at once.
 */
class FileChanges {
  private readonly watcher: FSWatcher | undefined;
  private pending = false;
  private wake: (() => void) | undefined;

  constructor(file: string) {
    try {
      this.watcher = watch(file, { persistent: false }, () => this.changed());
      this.watcher.on('error', () => this.changed());
    } catch {
      // Nothing to watch (the file is gone): waits just time out, and the caller reports why.
      this.watcher = undefined;
    }
  }

  /** Resolves on the next change (or at once if one came since the last call), or after `ms`. */
  next(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  close(): void {
    this.watcher?.close();
    this.wake?.();
  }

  private changed(): void {
    if (this.wake) this.wake();
    else this.pending = true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
