/**
 * Terminals inside gVisor. runsc's `exec` rejects conmon's --tty, so a pty is made inside the sandbox by a small
 * python3 helper (python3 is in the base image) that runs behind aibox-exec like any command: it relays bytes between
 * its pipes and the pty master, applies a new window size on SIGWINCH (read from <dir>/<token>.size), passes SIGHUP
 * on, and exits with the command's status. Its pid is recorded in <dir>/<token>.pid so a second exec can signal it.
 */
export const PTY_STATE_DIR = '/tmp/.aibox-pty';

export const PTY_HELPER = `
import fcntl, os, pty, select, signal, struct, sys, termios
d, tok, cols, rows, argv = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
os.makedirs(d, exist_ok=True)
open('%s/%s.pid' % (d, tok), 'w').write(str(os.getpid()))
def size(fd, c, r):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    size(0, cols, rows)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        sys.stderr.write('%s: %s\\r\\n' % (argv[0], e.strerror))
        os._exit(127 if e.errno == 2 else 126)
def winch(*_):
    try:
        c, r = open('%s/%s.size' % (d, tok)).read().split()
        size(fd, int(c), int(r))
    except Exception:
        pass
def hup(*_):
    try:
        os.killpg(pid, signal.SIGHUP)
    except Exception:
        pass
signal.signal(signal.SIGWINCH, winch)
signal.signal(signal.SIGHUP, hup)
fds = [0, fd]
while True:
    try:
        ready, _, _ = select.select(fds, [], [])
    except InterruptedError:
        continue
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b''
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            os.write(fd, data)
        else:
            fds.remove(0)
_, status = os.waitpid(pid, 0)
for ext in ('pid', 'size'):
    try:
        os.unlink('%s/%s.%s' % (d, tok, ext))
    except OSError:
        pass
sys.exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
`;

/** argv that runs `cmd` in a new pty of the given size. */
export function ptyCommand(token: string, cols: number, rows: number, cmd: string[]): string[] {
  return ['python3', '-c', PTY_HELPER, PTY_STATE_DIR, token, String(cols), String(rows), ...cmd];
}

/** argv (a second exec) that gives the pty session `token` a new window size. */
export function ptyResizeCommand(token: string, cols: number, rows: number): string[] {
  return [
    'sh',
    '-c',
    'echo "$2 $3" > "$0/$1.size" && kill -WINCH "$(cat "$0/$1.pid")"',
    PTY_STATE_DIR,
    token,
    String(cols),
    String(rows),
  ];
}
