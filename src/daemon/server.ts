import { chmod, chown, mkdir, rm, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pino, type DestinationStream } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { DaemonConfig } from '../config/index.js';
import { SandboxRuntime } from '../runtime/index.js';
import { PINO_REDACT_PATHS, SecretRedactor } from '../credentials/index.js';
import { buildApp, trackConnections } from './app.js';
import { startNetworkListener, type NetworkListener } from './http/token-auth.js';
import { startDashboardListener } from './dashboard/listener.js';
import { composeDaemon } from './compose.js';
import { loadPeerReader } from './http/peercred.js';
import type { DaemonServices, RuntimePort } from './services/index.js';
import { daemonErrors } from './errors.js';

/** In-flight requests get this long to finish at shutdown; then every connection left is closed. */
const SHUTDOWN_GRACE_MS = 3_000;
/** The runtime (the private Podman service) gets this long to stop before the daemon exits anyway. */
const RUNTIME_STOP_MS = 15_000;

export interface RunningDaemon {
  app: FastifyInstance;
  services: DaemonServices;
  /** The opt-in network listener (sessions.listener), when enabled. */
  network?: NetworkListener | undefined;
  /** The dashboard's own port (`dashboard.enabled`). */
  dashboard?: NetworkListener | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  /** The container runtime; default: the real one (SandboxRuntime over the private Podman service). */
  runtime?: RuntimePort;
  /** Where the log goes (default stdout). */
  logDestination?: DestinationStream;
  /** See ComposeInput.network: 'none' only for daemons without root's network tools (the unit-test daemon). */
  network?: 'enforced' | 'none';
}

/**
 * Wires the daemon (runtime, then every service through the composition root), re-adopts what it left running,
 * then listens on the unix socket. A failure at any step closes what was built and throws.
 */
export async function startDaemon(
  config: DaemonConfig,
  version: string,
  options: StartOptions = {},
): Promise<RunningDaemon> {
  await mkdir(config.stateDir, { recursive: true, mode: 0o711 });
  await claimStateDir(config.stateDir, config.socket);
  // Traversable (not readable) by the rootless Podman user, which needs the podman/ and sandbox home directories.
  await chmod(config.stateDir, 0o711);
  // Without SO_PEERCRED every caller would look the same: refuse to start rather than serve them all as root.
  const peer = loadPeerReader();
  const redactor = new SecretRedactor();
  const logger = daemonLogger(config.log.level, redactor, options.logDestination);
  const runtime: RuntimePort =
    options.runtime ?? (await SandboxRuntime.create(config.runtime, config.stateDir, logger));
  await runtime.start();
  let composed: Awaited<ReturnType<typeof composeDaemon>> | undefined;
  let app: FastifyInstance | undefined;
  let network: NetworkListener | undefined;
  let dashboard: NetworkListener | undefined;
  try {
    // The credentials service registers every secret it loads with the logger's redactor: the log masks them.
    composed = await composeDaemon({
      config,
      version,
      runtime,
      logger,
      redactor,
      ...(options.network ? { network: options.network } : {}),
    });
    await composed.services.sandboxes.adoptAndSweep();
    await composed.services.pool.start();
    app = await buildApp(composed.services, { peer });
    await mkdir(path.dirname(config.socket), { recursive: true, mode: 0o755 });
    await removeStaleSocket(config.socket);
    await app.listen({ path: config.socket });
    // Programs with an API token: the same app on TCP (TLS when configured), bearer-token auth (token-auth.ts).
    if (config.sessions.listener.enabled)
      network = await startNetworkListener(app, config.sessions.listener, logger);
    if (config.dashboard.enabled) dashboard = await startDashboardListener(app, config.dashboard, logger);
  } catch (err) {
    await dashboard?.close().catch(() => undefined);
    await network?.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await composed?.close();
    await settlesWithin(runtime.stop(), RUNTIME_STOP_MS);
    throw err;
  }
  const { services } = composed;
  const connections = trackConnections(app);
  // 0660 root:<socketGroup>: members of the group connect; what each may do is decided per caller (SO_PEERCRED).
  await chmod(config.socket, 0o660);
  const gid = await groupId(config.socketGroup);
  if (gid !== undefined) await chown(config.socket, 0, gid);
  else logger.warn({ group: config.socketGroup }, 'socket group not found: only root can use the socket');
  logger.info(
    { socket: config.socket, stateDir: config.stateDir, mode: config.runtime.mode },
    'aiboxd listening',
  );

  const server = app;
  const built = composed;
  const closeServices = () => built.close();
  return {
    app: server,
    services,
    network,
    dashboard,
    /**
     * Bounded: in-flight requests get a grace period, then every connection (exec streams too) is closed; then
     * every service closes in reverse build order (compose.ts), then the runtime stops.
     */
    async close() {
      const closingNetwork = Promise.all([network?.close(), dashboard?.close()]);
      const closing = server.close();
      if (!(await settlesWithin(closing, SHUTDOWN_GRACE_MS))) {
        logger.warn({ open: connections.size }, 'closing the connections still open at shutdown');
        for (const socket of connections) socket.destroy();
        await settlesWithin(closing, SHUTDOWN_GRACE_MS);
      }
      await settlesWithin(closingNetwork ?? Promise.resolve(), SHUTDOWN_GRACE_MS);
      await closeServices();
      if (!(await settlesWithin(runtime.stop(), RUNTIME_STOP_MS))) {
        logger.warn('the runtime did not stop in time; exiting anyway');
      }
      await rm(config.socket, { force: true });
    },
  };
}

/**
 * One daemon per state directory: a second one would take over the first one's Podman service and sandboxes.
 * The pid file names the owner; a pid file whose process is gone (a crash) is taken over.
 */
async function claimStateDir(stateDir: string, socket: string): Promise<void> {
  const pidFile = path.join(stateDir, 'aiboxd.pid');
  const owner = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (owner && owner !== process.pid && isAlive(owner)) {
    throw daemonErrors.create(
      'DAEMON_ALREADY_RUNNING',
      `another aiboxd (pid ${owner}) already uses ${stateDir}`,
      { pid: owner, stateDir, socket },
    );
  }
  await writeFile(pidFile, `${process.pid}\n`);
}

/**
 * The daemon's logger, created once (here) for the whole daemon: credential fields are masked by path, and every
 * secret value the credentials redactor knows is masked by value in each line before it is written — whatever
 * field, message or error text it landed in.
 */
export function daemonLogger(
  level: DaemonConfig['log']['level'],
  redactor: SecretRedactor,
  destination?: DestinationStream,
) {
  const options = {
    level,
    base: { svc: 'aiboxd' },
    redact: {
      paths: [
        ...PINO_REDACT_PATHS,
        '*.authorization',
        '*.Authorization',
        '*["x-api-key"]',
        '*.token',
        '*.secret',
      ],
      censor: '[redacted]',
    },
    hooks: { streamWrite: (line: string) => redactor.redact(line) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Whether a promise settles (either way) within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function removeStaleSocket(socket: string): Promise<void> {
  if (existsSync(socket)) await rm(socket, { force: true });
}

async function groupId(name: string): Promise<number | undefined> {
  const groups = await readFile('/etc/group', 'utf8').catch(() => '');
  const line = groups.split('\n').find((l) => l.startsWith(`${name}:`));
  return line ? Number(line.split(':')[2]) : undefined;
}
