/** Where aiboxd listens unless told otherwise (root:aibox-users 0660; each caller is told apart by SO_PEERCRED). */
export const DEFAULT_SOCKET_PATH = '/run/aibox/aiboxd.sock';

/** The socket to use: the --socket flag, then AIBOX_SOCKET, then the default. */
export function resolveSocketPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag && flag.length > 0) return flag;
  const fromEnv = env['AIBOX_SOCKET'];
  if (fromEnv && fromEnv.length > 0) return fromEnv;
  return DEFAULT_SOCKET_PATH;
}
