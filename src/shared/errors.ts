/**
 * Errors with stable codes. Every module declares its own catalogue with `defineErrors`; a code never changes
 * meaning once shipped. The daemon maps `status` onto the HTTP answer, the CLI prints `message` and `hint`.
 * No stack trace ever reaches a user: only code, message, hint and (safe) details.
 */

export interface ErrorSpec {
  /** HTTP status the API answers with: 4xx for anything the caller can fix, 5xx only for our own faults. */
  readonly status: number;
  /** One sentence a user (or a model) can act on. */
  readonly hint: string;
}

export type ErrorCatalogue = Readonly<Record<string, ErrorSpec>>;

export interface AiboxErrorJson {
  code: string;
  message: string;
  hint: string;
  details?: Record<string, unknown>;
}

export class AiboxError extends Error {
  readonly code: string;
  readonly hint: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    spec: ErrorSpec,
    details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AiboxError';
    this.code = code;
    this.hint = spec.hint;
    this.status = spec.status;
    this.details = details;
  }

  toJSON(): AiboxErrorJson {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/**
 * Declares a module's catalogue and returns a typed factory:
 *   const errors = defineErrors({ SANDBOX_NOT_FOUND: { status: 404, hint: '...' } });
 *   throw errors.create('SANDBOX_NOT_FOUND', `no sandbox named ${name}`);
 */
export function defineErrors<const C extends ErrorCatalogue>(catalogue: C) {
  return {
    catalogue,
    create(
      code: keyof C & string,
      message: string,
      details?: Record<string, unknown>,
      options?: { cause?: unknown },
    ): AiboxError {
      const spec = catalogue[code];
      if (!spec) throw new Error(`unknown error code ${code}`);
      return new AiboxError(code, message, spec, details, options);
    },
    is(err: unknown, code: keyof C & string): err is AiboxError {
      return err instanceof AiboxError && err.code === code;
    },
  };
}

export function isAiboxError(err: unknown): err is AiboxError {
  return err instanceof AiboxError;
}

/** The message of anything thrown, without its stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Errors of the shared fs kit (src/shared/fs): state files aiboxd reads back. */
export const fsErrors = defineErrors({
  STATE_FILE_INVALID: {
    status: 500,
    hint: 'A state file of aiboxd is damaged or was edited by hand: restore it from a backup, or remove it to start that state afresh.',
  },
});
