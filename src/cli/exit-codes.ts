/** Stable exit codes of `aibox` (documented in docs/cli.md). `exec` passes the command's own code through. */
export const EXIT = {
  ok: 0,
  /** The command failed or the daemon refused it (an error with a code and a hint was printed). */
  failed: 1,
  /** Usage error: unknown option, missing or malformed argument; nothing was sent to the daemon. */
  usage: 2,
  /** aiboxd could not be reached: not running, socket permission denied, connection lost. */
  unreachable: 3,
  /** exec: the command was found but could not be run (as podman). */
  cannotInvoke: 126,
  /** exec: the command was not found (as podman). */
  notFound: 127,
  /** exec: whatever read our output closed it (`| head`), as a shell reports SIGPIPE (128 + 13). */
  outputClosed: 141,
} as const;
