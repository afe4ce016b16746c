/**
 * Who is on the other end of the daemon's unix socket, as the kernel says (SO_PEERCRED), never as the request says.
 * A sandbox belongs to the uid that created it; only that uid or root may act on it.
 */
export interface Caller {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** The daemon itself (recovery, sweeps, internal tasks) acts as root. */
export const DAEMON_CALLER: Caller = Object.freeze({ uid: 0, gid: 0, pid: process.pid });

export function mayActOn(caller: Caller, ownerUid: number): boolean {
  return caller.uid === 0 || caller.uid === ownerUid;
}
