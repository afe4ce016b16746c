import { chmod, chown, mkdir, rm, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { DaemonConfig } from '../config/index.js';
import { SandboxRuntime } from '../runtime/index.js';
import type { Logger } from '../shared/index.js';
import { buildApp } from './app.js';
import { daemonIdOf, SandboxService, type DaemonServices } from './services/index.js';
import { SandboxStore } from './state/sandbox-store.js';
import { buildHooks } from './services/hooks-registry.js';
import { daemonErrors } from './errors.js';

export interface RunningDaemon {
  app: FastifyInstance;
  services: DaemonServices;
  close(): Promise<void>;
}

/** Wires the daemon (runtime, services, hooks), re-adopts what it left running, then listens on the unix socket. */
export async function startDaemon(config: DaemonConfig, version: string): Promise<RunningDaemon> {
  await mkdir(config.stateDir, { recursive: true, mode: 0o711 });
  await claimStateDir(config.stateDir, config.socket);
  // Traversable (not readable) by the rootless Podman user, which needs the podman/ and sandbox home directories.
  await chmod(config.stateDir, 0o711);
  const logger = pino({
    level: config.log.level,
    base: { svc: 'aiboxd' },
    redact: {
      paths: ['*.authorization', '*.Authorization', '*["x-api-key"]', '*.token', '*.secret', '*.password'],
      censor: '[redacted]',
    },
  });
  const runtime = await SandboxRuntime.create(config.runtime, config.stateDir, logger);
  await runtime.start();
  const daemonId = daemonIdOf(config.stateDir);
  const store = new SandboxStore(config.stateDir);
  const partial = { config, logger: logger as unknown as Logger, runtime, daemonId };
  const hooks = await buildHooks(partial);
  const sandboxes = new SandboxService(config, runtime, store, hooks, daemonId, logger);
  const services: DaemonServices = {
    version,
    config,
    logger: logger,
    httpLogger: logger,
    startedAt: new Date(),
    runtime,
    sandboxes,
    hooks,
  };
  await sandboxes.adoptAndSweep();

  const app = await buildApp(services);
  await mkdir(path.dirname(config.socket), { recursive: true, mode: 0o755 });
  await removeStaleSocket(config.socket);
  await app.listen({ path: config.socket });
  await chmod(config.socket, 0o660);
  const gid = await groupId(config.socketGroup);
  if (gid !== undefined) await chown(config.socket, 0, gid);
  logger.info(
    { socket: config.socket, stateDir: config.stateDir, mode: config.runtime.mode },
    'aiboxd listening',
  );

  return {
    app,
    services,
    async close() {
      await app.close();
      await runtime.stop();
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
