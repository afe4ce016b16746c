import http from 'node:http';
import { existsSync } from 'node:fs';
import Docker from 'dockerode';
import { LABELS } from '../runtime/labels.js';
import { removeContainerRetrying } from '../runtime/remove-container.js';
import { messageOf, processAlive, type Logger } from '../shared/index.js';
import { engineErrors } from './errors.js';
import { EngineImage } from './image.js';
import { ENGINE_MOUNTS_CONF, engineMountsConf } from './recipe.js';
import { socketJson } from './socket-json.js';
import type { EngineStore } from './store.js';
import { engineContainerSpec, engineLabelId, type EngineSpec } from './spec.js';

export interface EngineSandboxesOptions {
  /** aiboxd's own Podman service (runtime.podman.socketPath): engines are containers of it, under gVisor. */
  podmanSocket: string;
  baseReference(): Promise<string>;
  cacheDir: string;
  logger: Logger;
}

/**
 * The engine sandboxes' containers: created from engine.spec.ts through aiboxd's Podman (so under gVisor, with the
 * daemon's labels: the start-up sweep removes any a killed daemon left), waited for until their API answers, removed.
 */
export class EngineSandboxes {
  readonly image: EngineImage;
  private readonly docker: Docker;

  constructor(private readonly o: EngineSandboxesOptions) {
    this.docker = new Docker({ socketPath: o.podmanSocket });
    this.image = new EngineImage({
      baseReference: () => o.baseReference(),
      cacheDir: o.cacheDir,
      docker: this.docker,
      logger: o.logger,
    });
  }

  /**
   * Unpacks the engine image onto the engine's capped disk, creates the engine from it (libpod: a root filesystem
   * path, not an image) and starts it; returns its container id and the host pid of its sandbox.
   */
  async start(
    spec: Omit<EngineSpec, 'rootfs' | 'baseReference' | 'baseTarball'> & { caFile?: string },
    store: EngineStore,
    unpackAs: { uid: number; gid: number } | undefined,
  ): Promise<{ containerId: string; pid: number }> {
    const image = await this.image.ensure();
    await store.unpack(await this.image.tarball(image), unpackAs);
    if (spec.caDir && spec.caFile) await store.addFile(ENGINE_MOUNTS_CONF, engineMountsConf(spec.caFile));
    const { reference, tarball } = await this.image.baseTarball();
    let containerId: string;
    try {
      const { caFile: _caFile, ...engine } = spec;
      const body = engineContainerSpec({
        ...engine,
        rootfs: store.rootfs,
        baseReference: reference,
        baseTarball: tarball,
      });
      const created = await socketJson(this.o.podmanSocket, {
        method: 'POST',
        path: '/v4.0.0/libpod/containers/create',
        body,
        timeoutMs: 120_000,
        maxBytes: 1024 * 1024,
      });
      const id = (created.body as { Id?: unknown } | undefined)?.Id;
      if (created.status !== 201 || typeof id !== 'string')
        throw new Error(
          `create answered ${created.status}: ${JSON.stringify(created.body ?? null).slice(0, 500)}`,
        );
      containerId = id;
      await this.docker.getContainer(containerId).start();
    } catch (err) {
      throw engineErrors.create('ENGINE_START_FAILED', `cannot start the engine sandbox: ${messageOf(err)}`);
    }
    const info = await this.docker.getContainer(containerId).inspect();
    return { containerId, pid: info.State.Pid };
  }

  /** Waits until the engine's API answers on its socket; fails with the engine's last output if it exits. */
  async waitReady(containerId: string, socketPath: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (existsSync(socketPath) && (await ping(socketPath))) return;
      const info = await this.docker
        .getContainer(containerId)
        .inspect()
        .catch(() => undefined);
      if (!info?.State.Running)
        throw engineErrors.create(
          'ENGINE_START_FAILED',
          `the engine sandbox exited before its API answered: ${await this.lastOutput(containerId)}`,
        );
      if (Date.now() > deadline)
        throw engineErrors.create(
          'ENGINE_START_FAILED',
          `the engine's API did not answer within ${Math.round(timeoutMs / 1000)} s: ${await this.lastOutput(containerId)}`,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** The engine container of a sandbox, if one exists (for a stop that lost its record). */
  async find(daemonId: string, sandboxId: string): Promise<string | undefined> {
    const list = await this.docker.listContainers({
      all: true,
      filters: {
        label: [`${LABELS.daemon}=${daemonId}`, `${LABELS.sandboxId}=${engineLabelId(sandboxId)}`],
      },
    });
    return list[0]?.Id;
  }

  /**
   * After a daemon restart: the engine container on record must still exist, run with a live sandbox process, and
   * carry the labels this daemon gave the engine of that sandbox (Podman's labels, which nothing inside writes).
   * Returns the host pid of its sandbox (for its network namespace); throws ENGINE_ADOPT_FAILED saying why not.
   */
  async running(containerId: string, daemonId: string, sandboxId: string): Promise<{ pid: number }> {
    const info = await this.docker
      .getContainer(containerId)
      .inspect()
      .catch(() => undefined);
    if (!info) throw adoptFailure(`its container ${containerId.slice(0, 12)} is gone`);
    const labels = info.Config.Labels ?? {};
    if (
      labels[LABELS.daemon] !== daemonId ||
      labels[LABELS.sandboxId] !== engineLabelId(sandboxId) ||
      labels['io.aibox.engine'] !== 'true'
    )
      throw adoptFailure(`container ${containerId.slice(0, 12)} is not this sandbox's engine`);
    // Podman's database can say "running" for a container whose processes were killed (only conmon updates it).
    if (!info.State.Running || !info.State.Pid || !processAlive(info.State.Pid))
      throw adoptFailure(`its container is not running (${info.State.Status})`);
    return { pid: info.State.Pid };
  }

  async remove(containerId: string): Promise<void> {
    await removeContainerRetrying(this.docker, containerId);
  }

  private async lastOutput(containerId: string): Promise<string> {
    const raw = (await this.docker
      .getContainer(containerId)
      .logs({ stdout: true, stderr: true, tail: 10, follow: false })
      .catch(() => Buffer.from(''))) as unknown as Buffer;
    // Multiplexed frames: keep the printable text.
    const text = raw
      .toString('utf8')
      .replace(/[^\x20-\x7e\n]/g, '')
      .trim();
    return text.slice(-1500) || '(no output)';
  }
}

function adoptFailure(why: string) {
  return engineErrors.create('ENGINE_ADOPT_FAILED', `the engine cannot be re-adopted: ${why}`);
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}
