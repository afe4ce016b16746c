import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { gitGateErrors } from '../errors.js';

/** `dev:ino` of a path, not following a final symlink. */
export async function identityOf(p: string): Promise<string | undefined> {
  const st = await lstat(p).catch(() => undefined);
  return st ? `${st.dev}:${st.ino}` : undefined;
}

/**
 * Fails unless every component of `rel` beneath `root` exists and is a real directory (the last one: of `kind`),
 * never a symlink: a bind mount follows symlinks, so a planted link would mount whatever it points at.
 */
export async function assertNoSymlinks(root: string, rel: string, kind: 'dir' | 'file'): Promise<void> {
  const parts = rel.split('/').filter(Boolean);
  let p = root;
  for (const [i, part] of parts.entries()) {
    if (part === '..' || part === '.') throw invalid(root, rel, 'has a . or .. component');
    p = path.join(p, part);
    const st = await lstat(p).catch(() => undefined);
    const last = i === parts.length - 1;
    if (!st) throw invalid(root, rel, 'is missing');
    if (st.isSymbolicLink()) throw invalid(root, rel, `is a symlink at ${part}`);
    const want = last ? kind : 'dir';
    if (want === 'dir' ? !st.isDirectory() : !st.isFile()) throw invalid(root, rel, `is not a ${want}`);
  }
}

function invalid(root: string, rel: string, why: string) {
  return gitGateErrors.create('TASK_WORKTREE_INVALID', `${path.join(root, rel)} ${why}`);
}
