import { randomBytes, randomUUID } from 'node:crypto';

/** Short random ids with a readable prefix: `sbx_3f9a0c1d2e4b`, `dec_…`, `push_…`. */
export function newId(prefix: string, bytes = 6): string {
  // randomUUID draws from Node's batched entropy cache (a syscall per id was a third of a policy decision's
  // time); its first 12 hex digits (hyphen skipped) are random: the version digit comes after them
  if (bytes <= 6) {
    const u = randomUUID();
    return `${prefix}_${(u.slice(0, 8) + u.slice(9, 13)).slice(0, bytes * 2)}`;
  }
  return `${prefix}_${randomBytes(bytes).toString('hex')}`;
}

/** Sandbox names: what users type, what labels and ssh user names carry. */
export const SANDBOX_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
