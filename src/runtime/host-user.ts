import { readFile } from 'node:fs/promises';
import { runtimeErrors } from './errors.js';

export interface HostUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Looks a user up in /etc/passwd (no NSS modules on these hosts). */
export async function lookupHostUser(name: string): Promise<HostUser> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid, , home] = line.split(':');
    if (user === name && uid && gid && home) {
      return { name, uid: Number(uid), gid: Number(gid), home };
    }
  }
  throw runtimeErrors.create('RUNTIME_USER_MISSING', `host user "${name}" does not exist`, { user: name });
}

/** First subordinate uid of a user (what container uid 0 maps to in rootless Podman). */
export async function firstSubordinateId(file: '/etc/subuid' | '/etc/subgid', name: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [user, start] = line.split(':');
    if (user === name && start) return Number(start);
  }
  throw runtimeErrors.create('RUNTIME_USER_MISSING', `${file} has no range for "${name}"`, { user: name });
}
