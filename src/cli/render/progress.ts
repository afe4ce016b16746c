import type cliProgress from 'cli-progress';
import type { ImageBuildEvent } from '../../shared/index.js';

export interface ProgressDisplay {
  onEvent(event: ImageBuildEvent): void;
  /** Stops the display (idempotent); called on success and on failure. */
  stop(): void;
}

/**
 * Image build progress on stderr: a live bar on a terminal, plain lines otherwise (pipes, CI, --json), so stdout
 * stays free for the result.
 */
export async function createProgressDisplay(
  stderr: NodeJS.WritableStream & { isTTY?: boolean },
  live: boolean,
): Promise<ProgressDisplay> {
  if (!live || !stderr.isTTY) return new LineProgress(stderr);
  // Loaded only for a terminal: every import is paid at each CLI start.
  const { default: progress } = await import('cli-progress');
  return new BarProgress(progress, stderr);
}

class BarProgress implements ProgressDisplay {
  private readonly bar: cliProgress.SingleBar;
  private started = false;

  constructor(progress: typeof cliProgress, stream: NodeJS.WritableStream) {
    this.bar = new progress.SingleBar(
      {
        stream,
        format: '{phase} [{bar}] {percentage}% {message}',
        hideCursor: true,
        clearOnComplete: false,
        barsize: 30,
      },
      progress.Presets.shades_classic,
    );
  }

  onEvent(event: ImageBuildEvent): void {
    if (event.type !== 'progress') return;
    const payload = { phase: event.phase, message: event.message };
    if (!this.started) {
      this.bar.start(100, Math.round(event.percent), payload);
      this.started = true;
    } else this.bar.update(Math.round(event.percent), payload);
  }

  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }
}

class LineProgress implements ProgressDisplay {
  private last = '';

  constructor(private readonly stream: NodeJS.WritableStream) {}

  onEvent(event: ImageBuildEvent): void {
    if (event.type !== 'progress') return;
    const line = `[${event.phase}] ${Math.round(event.percent)}% ${event.message}`.trimEnd();
    if (line === this.last) return;
    this.last = line;
    this.stream.write(`${line}\n`);
  }

  stop(): void {}
}
