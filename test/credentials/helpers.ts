import { pino } from 'pino';
import { PINO_REDACT_PATHS, RedactingDestination, SecretRedactor } from '../../src/credentials/index.js';
import type { Clock, Logger } from '../../src/shared/index.js';

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private t = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface CapturedLog {
  logger: Logger;
  lines: string[];
  redactor: SecretRedactor;
}

/** A real pino logger configured as the daemon's (redact paths + value masking), writing lines into memory. */
export function captureLogs(redactor = new SecretRedactor()): CapturedLog {
  const lines: string[] = [];
  const logger = pino(
    { level: 'debug', redact: { paths: [...PINO_REDACT_PATHS], censor: '[REDACTED]' } },
    new RedactingDestination(redactor, { write: (line: string) => lines.push(line) }),
  );
  return { logger, lines, redactor };
}
