/**
 * Rego errors carry OPA's codes and a location. `format()` prints `file:row:col: code: message` followed by the
 * source line and a caret under the column (like `opa`'s pretty output).
 */

export type RegoErrorCode =
  | 'rego_parse_error'
  | 'rego_compile_error'
  | 'rego_type_error'
  | 'rego_unsafe_var_error'
  | 'rego_recursion_error'
  | 'eval_conflict_error'
  | 'eval_type_error'
  | 'eval_builtin_error'
  | 'eval_internal_error'
  | 'eval_cancel_error'
  | 'eval_limit_error';

export interface Location {
  readonly file: string;
  readonly row: number;
  readonly col: number;
  readonly offset: number;
}

/** A source registry: file name -> text, to print the offending line under an error. */
export type SourceMap = ReadonlyMap<string, string>;

export class RegoError extends Error {
  constructor(
    readonly code: RegoErrorCode,
    readonly msg: string,
    readonly location?: Location,
    readonly details?: { line?: string },
  ) {
    super(location ? `${location.file}:${location.row}: ${code}: ${msg}` : `${code}: ${msg}`);
    this.name = 'RegoError';
  }

  /** `file:row:col: code: message`, then the source line and a caret line when the source is known. */
  format(sources?: SourceMap): string {
    const loc = this.location;
    if (!loc) return `${this.code}: ${this.msg}`;
    let out = `${loc.file}:${loc.row}:${loc.col}: ${this.code}: ${this.msg}`;
    const src = sources?.get(loc.file);
    const line = this.details?.line ?? (src !== undefined ? src.split('\n')[loc.row - 1] : undefined);
    if (line !== undefined) {
      const prefix = line.slice(0, Math.max(0, loc.col - 1)).replace(/[^\t]/g, ' ');
      out += `\n\t${line}\n\t${prefix}^`;
    }
    return out;
  }

  /** OPA's JSON error shape. */
  toJSON(): { code: string; message: string; location?: { file: string; row: number; col: number } } {
    const o: { code: string; message: string; location?: { file: string; row: number; col: number } } = {
      code: this.code,
      message: this.msg,
    };
    if (this.location)
      o.location = { file: this.location.file, row: this.location.row, col: this.location.col };
    return o;
  }
}

/** Several compile/parse errors at once (OPA reports up to 10). */
export class RegoErrors extends Error {
  constructor(readonly errors: readonly RegoError[]) {
    super(
      errors.length === 1
        ? errors[0]!.message
        : `${errors.length} errors occurred:\n${errors.map((e) => e.message).join('\n')}`,
    );
    this.name = 'RegoErrors';
  }
  get code(): RegoErrorCode {
    return this.errors[0]!.code;
  }
  format(sources?: SourceMap): string {
    const parts = this.errors.map((e) => e.format(sources));
    return this.errors.length === 1
      ? parts[0]!
      : `${this.errors.length} errors occurred:\n${parts.join('\n')}`;
  }
}
