import type Docker from 'dockerode';
import type { Logger } from '../shared/index.js';
import { LABELS } from './labels.js';

/** A managed container that stopped on its own (or was killed): what the daemon needs to follow it. */
export interface ContainerExit {
  containerId: string;
  sandboxId: string;
  /** The exit code Podman reports (137: SIGKILL, e.g. an OOM kill of the whole gVisor sandbox). */
  exitCode: number | undefined;
  /** Podman saw an OOM event for it. */
  oom: boolean;
}

interface PodmanEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

const RETRY_MS = 1000;

/**
 * Follows Podman's event stream (Docker-compatible /events) for this daemon's containers and reports each exit.
 * Reconnects when the stream ends (the Podman service restarts) until closed. An OOM event is remembered so the
 * exit that follows it carries the reason.
 */
export class ExitWatcher {
  private stream: NodeJS.ReadableStream | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly oomSeen = new Set<string>();

  constructor(
    private readonly docker: Docker,
    private readonly daemonId: string,
    private readonly onExit: (exit: ContainerExit) => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.closed = false;
    void this.connect();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    (this.stream as { destroy?: () => void } | undefined)?.destroy?.();
    this.stream = undefined;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    try {
      const filters = { type: ['container'], label: [`${LABELS.daemon}=${this.daemonId}`] };
      const stream = await (
        this.docker as unknown as { getEvents(opts: object): Promise<NodeJS.ReadableStream> }
      ).getEvents({ filters: JSON.stringify(filters) });
      if (this.closed) {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        return;
      }
      this.stream = stream;
      let buffer = '';
      stream.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line) this.handle(line);
        }
      });
      const again = () => {
        if (this.stream !== stream) return;
        this.stream = undefined;
        this.retry();
      };
      stream.on('end', again);
      stream.on('close', again);
      stream.on('error', again);
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'podman events not available yet; retrying');
      this.retry();
    }
  }

  private retry(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.connect(), RETRY_MS);
    this.timer.unref();
  }

  private handle(line: string): void {
    let event: PodmanEvent;
    try {
      event = JSON.parse(line) as PodmanEvent;
    } catch {
      return;
    }
    const attrs = event.Actor?.Attributes ?? {};
    // Podman filters by label server-side; check again: only this daemon's containers are ever acted on.
    if (attrs[LABELS.daemon] !== this.daemonId || !attrs[LABELS.sandboxId]) return;
    const containerId = event.Actor?.ID ?? event.id ?? '';
    const action = event.Action ?? event.status ?? '';
    if (action === 'oom') {
      this.oomSeen.add(containerId);
      return;
    }
    if (action !== 'die' && action !== 'died') return;
    const code = Number(attrs.exitCode ?? attrs.containerExitCode);
    const oom = this.oomSeen.delete(containerId);
    this.onExit({
      containerId,
      sandboxId: attrs[LABELS.sandboxId] ?? '',
      exitCode: Number.isFinite(code) ? code : undefined,
      oom,
    });
  }
}
