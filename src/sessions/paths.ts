import { sessionErrors } from './errors.js';

/** Where the workspace appears inside the sandbox; absolute paths are accepted only below it. */
export const WORKSPACE_MOUNT = '/workspace';
const MAX_SEGMENTS = 64;
const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_BYTES = 4096;

/**
 * A caller's path as segments below the workspace root ([] is the root itself). Pure text checks, so a path is
 * refused before anything on disk is touched: ".." anywhere (even when it would stay inside: nothing needs it),
 * absolute paths not under /workspace, NUL and control characters, over-long names. Links are the file layer's
 * business (they are never followed there).
 */
export function workspaceSegments(input: string): string[] {
  const refuse = (why: string) =>
    sessionErrors.create('SESSION_PATH_INVALID', `path ${JSON.stringify(input.slice(0, 200))}: ${why}`);
  if (typeof input !== 'string' || input.length === 0) throw refuse('empty');
  if (Buffer.byteLength(input) > MAX_PATH_BYTES) throw refuse('longer than 4096 bytes');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(input)) throw refuse('NUL or a control character');
  let rest = input;
  if (rest.startsWith('/')) {
    if (rest !== WORKSPACE_MOUNT && !rest.startsWith(`${WORKSPACE_MOUNT}/`))
      throw refuse('outside /workspace');
    rest = rest.slice(WORKSPACE_MOUNT.length);
  }
  const segments = rest.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) throw refuse('".." is not allowed');
  if (segments.length > MAX_SEGMENTS) throw refuse(`deeper than ${MAX_SEGMENTS} folders`);
  if (segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES))
    throw refuse('a name longer than 255 bytes');
  return segments;
}

/** The canonical relative form shown back to callers ("." for the root). */
export function displayPath(segments: readonly string[]): string {
  return segments.length === 0 ? '.' : segments.join('/');
}
