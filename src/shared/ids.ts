import { randomBytes } from 'node:crypto';

/** Short random ids with a readable prefix: `sbx_3f9a0c1d2e4b`, `dec_…`, `push_…`. */
export function newId(prefix: string, bytes = 6): string {
  return `${prefix}_${randomBytes(bytes).toString('hex')}`;
}

/** Sandbox names: what users type, what labels and ssh user names carry. */
export const SANDBOX_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
