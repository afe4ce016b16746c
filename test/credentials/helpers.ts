import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** A throwaway self-signed certificate for 127.0.0.1 (openssl), or undefined when openssl is missing. */
export function selfSignedCert(dir: string): { key: string; cert: string; certFile: string } | undefined {
  if (!existsSync('/usr/bin/openssl')) return undefined;
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    '/usr/bin/openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}
