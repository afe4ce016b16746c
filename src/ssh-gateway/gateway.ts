import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import ssh2, { type AuthContext, type Connection } from 'ssh2';
import { SANDBOX_NAME_PATTERN, messageOf, type Clock, type Logger } from '../shared/index.js';
import type { SshGatewayConfig } from './config.js';
import { ConnectionContext } from './context.js';
import { EnvPolicy } from './env-policy.js';
import { sshErrors } from './errors.js';
import {
  gatewayFiles,
  loadOrCreateHostKey,
  renderKnownHosts,
  writeKnownHosts,
  type HostKey,
} from './host-key.js';
import { KeyStore } from './key-store.js';
import { verifySignature } from './keys.js';
import { type CommandPolicy, type SandboxExecutor, type SandboxRef, type SshAuditSink } from './ports.js';
import { SessionChannel } from './session.js';
import { handleDirectTcpip } from './tcpip.js';
import { PreAuthSlots } from './preauth.js';

const { Server } = ssh2;

export interface SshGatewayDeps {
  config: SshGatewayConfig;
  /** Directory for the host key, known_hosts and registered keys (inside the daemon's state dir). */
  stateDir: string;
  executor: SandboxExecutor;
  audit: SshAuditSink;
  logger: Logger;
  clock: Clock;
  /** The exec door every shell, command and sftp server is asked of (required: no door, no gateway). */
  policy: CommandPolicy;
}

export interface GatewayInfo {
  host: string;
  port: number;
  hostKeyAlias: string;
  hostKeyFingerprint: string;
  knownHostsFile: string;
}

/** Global requests that would make the client's machine or the network reachable from the sandbox. */
const REFUSED_GLOBAL_REQUESTS: Record<string, string> = {
  'tcpip-forward': 'remote forwarding (-R) is refused: the sandbox must not open ports on your machine',
  'cancel-tcpip-forward': 'remote forwarding (-R) is refused',
  'streamlocal-forward@openssh.com': 'remote socket forwarding (-R) is refused',
  'cancel-streamlocal-forward@openssh.com': 'remote socket forwarding (-R) is refused',
};

/**
 * The SSH gateway: an ssh2 server on a loopback address where the user name picks the sandbox and every channel
 * runs inside it. Public-key auth only, against the keys users registered; nothing is forwarded out of the sandbox.
 */
export class SshGateway {
  readonly keys: KeyStore;
  private readonly files;
  private readonly envPolicy: EnvPolicy;
  private readonly policy: CommandPolicy;
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<Connection, ConnectionContext>();
  private server: ssh2.Server | undefined;
  private listener: NetServer | undefined;
  private preAuth: PreAuthSlots | undefined;
  private hostKey: HostKey | undefined;
  private boundPort: number | undefined;

  constructor(private readonly deps: SshGatewayDeps) {
    this.files = gatewayFiles(deps.stateDir);
    this.keys = new KeyStore(this.files.authorizedKeys, deps.clock);
    this.envPolicy = new EnvPolicy(deps.config.envAllow);
    this.policy = deps.policy;
  }

  /** Loads (or creates) the host key, writes known_hosts and listens. Throws SSH_GATEWAY_LISTEN_FAILED if it cannot. */
  async start(): Promise<GatewayInfo> {
    const { config, logger } = this.deps;
    this.hostKey = await loadOrCreateHostKey(this.files.hostKey, logger);
    const server = new Server({ hostKeys: [this.hostKey.privateKey], ident: 'aibox' }, (conn, info) =>
      this.onConnection(conn, `${info.ip}:${info.port}`),
    );
    server.maxConnections = 256;
    // Our own listener hands sockets to ssh2 only within the pre-auth limits: a client that never authenticates
    // holds a slot for authTimeoutMs at most, and never more than its share of them.
    const preAuth = new PreAuthSlots(config, (socket, reason) => {
      this.deps.audit.record({
        action: 'ssh.auth',
        outcome: 'refused',
        sandbox: '',
        remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
        reason,
      });
    });
    const listener = createServer((socket: Socket) => {
      if (preAuth.admit(socket)) server.injectSocket(socket);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          sshErrors.create(
            'SSH_GATEWAY_LISTEN_FAILED',
            `the SSH gateway cannot listen on ${config.host}:${config.port}: ${err.code ?? err.message}`,
            { host: config.host, port: config.port },
            { cause: err },
          ),
        );
      };
      listener.once('error', onError);
      listener.listen(config.port, config.host, () => {
        listener.off('error', onError);
        resolve();
      });
    });
    listener.on('error', (err: Error) => logger.error({ err: messageOf(err) }, 'ssh gateway listener error'));
    this.listener = listener;
    this.preAuth = preAuth;
    server.on('error', (err: Error) => logger.error({ err: messageOf(err) }, 'ssh gateway server error'));
    this.server = server;
    this.boundPort = (listener.address() as AddressInfo).port;
    await writeKnownHosts(
      this.files.knownHosts,
      renderKnownHosts(this.hostKey, config.hostKeyAlias, config.host, this.boundPort),
    );
    logger.info(
      { host: config.host, port: this.boundPort, fingerprint: this.hostKey.fingerprint },
      'ssh gateway listening',
    );
    return this.info();
  }

  info(): GatewayInfo {
    if (!this.hostKey || this.boundPort === undefined) {
      throw sshErrors.create('SSH_GATEWAY_DISABLED', 'the SSH gateway is not running');
    }
    return {
      host: this.deps.config.host,
      port: this.boundPort,
      hostKeyAlias: this.deps.config.hostKeyAlias,
      hostKeyFingerprint: this.hostKey.fingerprint,
      knownHostsFile: this.files.knownHosts,
    };
  }

  /** Ends every connection logged in to this sandbox (it stopped); their processes are gone with it. */
  disconnectSandbox(name: string): void {
    for (const [conn, ctx] of this.sessions) {
      if (ctx.sandbox.name === name) conn.end();
    }
  }

  /** Stops listening and ends every connection (and with them their processes in the sandboxes). */
  async stop(): Promise<void> {
    const listener = this.listener;
    this.server = undefined;
    this.listener = undefined;
    this.preAuth?.close();
    for (const conn of this.connections) conn.end();
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  private onConnection(conn: Connection, remote: string): void {
    const { logger } = this.deps;
    const log = logger.child({ remote });
    this.connections.add(conn);
    let ctx: ConnectionContext | undefined;
    let attempts = 0;

    conn.on('authentication', (auth: AuthContext) => {
      if (++attempts > this.deps.config.maxAuthAttempts) {
        auth.reject();
        conn.end();
        return;
      }
      void this.authenticate(auth, remote, log, (found) => (ctx = found));
    });
    conn.on('ready', () => {
      if (!ctx) return conn.end();
      this.preAuth?.authenticated(remote);
      const c = ctx;
      this.sessions.set(conn, c);
      c.record({ action: 'ssh.auth', outcome: 'allowed' });
      let channels = 0;
      const limit = this.deps.config.maxChannelsPerConnection;
      conn.on('session', (accept, reject) => {
        if (channels >= limit) return reject();
        channels++;
        const session = accept();
        session.on('close', () => channels--);
        new SessionChannel(c, session);
      });
      conn.on('tcpip', (accept, reject, info) => {
        if (channels >= limit) return reject();
        channels++;
        void handleDirectTcpip(c, info, accept, reject).finally(() => channels--);
      });
      conn.on('request', (accept, reject, name) => {
        const reason = REFUSED_GLOBAL_REQUESTS[name] ?? `global request ${name} is not offered`;
        c.record({ action: 'ssh.request', outcome: 'refused', reason, detail: { request: name } });
        reject?.();
      });
    });
    conn.on('error', (err: Error) => log.debug({ err: messageOf(err) }, 'ssh connection error'));
    conn.on('close', () => {
      this.connections.delete(conn);
      this.sessions.delete(conn);
      ctx?.closeAll();
    });
  }

  /** Public key only; the key must be registered and the user name must be a running sandbox. */
  private async authenticate(
    auth: AuthContext,
    remote: string,
    log: Logger,
    onAccepted: (ctx: ConnectionContext) => void,
  ): Promise<void> {
    const user = auth.username;
    if (auth.method !== 'publickey') return auth.reject(['publickey']);
    const pk = auth;
    const refuse = (reason: string, fingerprint?: string) => {
      this.deps.audit.record({
        action: 'ssh.auth',
        outcome: 'refused',
        sandbox: user,
        remote,
        reason,
        ...(fingerprint ? { keyFingerprint: fingerprint } : {}),
      });
      log.info({ user, reason }, 'ssh login refused');
      pk.reject(['publickey']);
    };
    try {
      const key = await this.keys.lookup(pk.key.data);
      if (!key) return refuse('key not registered (aibox ssh-key add FILE registers one)');
      if (!SANDBOX_NAME_PATTERN.test(user)) return refuse('user name is not a sandbox name', key.fingerprint);
      const sandbox: SandboxRef | undefined = await this.deps.executor.find(user);
      if (!sandbox) return refuse(`no running sandbox named ${user}`, key.fingerprint);
      if (!pk.signature) {
        pk.accept(); // the client only asks whether this key would do; it signs next
        return;
      }
      if (!verifySignature(key, pk.blob!, pk.signature, pk.hashAlgo))
        return refuse('bad signature', key.fingerprint);
      const ctx = new ConnectionContext(
        sandbox,
        key.fingerprint,
        remote,
        log.child({ sandbox: sandbox.name }),
        this.deps.config,
        this.deps.executor,
        this.policy,
        this.deps.audit,
        this.envPolicy,
      );
      onAccepted(ctx); // before accept(): ssh2 may emit 'ready' synchronously
      pk.accept();
    } catch (err) {
      log.error({ err: messageOf(err) }, 'ssh authentication failed');
      return refuse('internal error during authentication');
    }
  }
}
