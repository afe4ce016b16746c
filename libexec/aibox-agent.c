/*
 * aibox-agent: the first process of every sandbox. It listens on a unix socket in a directory that the daemon
 * bind-mounts from the host (runsc --host-uds=create lets gVisor create the socket there), so aiboxd connects to it
 * directly, with no conmon or Podman in the path. The directory belongs to the container's root (the agent's uid)
 * with mode 0700: commands, which run as the sandbox user, cannot reach it.
 *
 * One connection at a time carries a small framed, multiplexed protocol (see src/runtime/agent-protocol.ts, which
 * is the reference): every frame is  u32 length | u8 type | u32 stream | payload[length]  (big-endian). The agent
 * spawns each command behind aibox-exec (which drops to the sandbox user, sets RLIMIT_NPROC, no_new_privs and the
 * seccomp filter), makes terminals itself, streams stdout and stderr under a per-stream credit window (it reads a
 * command's output only while the daemon has granted room for it), applies timeouts to the whole process group, and
 * reports exits. When the connection goes, every command it started is killed (its reader is gone): a daemon that
 * comes back reconnects to a clean agent.
 *
 * The agent holds no credential and decides nothing: policy is applied on the host before a frame is sent.
 *
 * Usage: aibox-agent SOCKET EXEC_HELPER FILTER.bpf
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum {
  /* daemon -> agent */
  T_SPAWN = 1,
  T_STDIN = 2,
  T_STDIN_EOF = 3,
  T_RESIZE = 4,
  T_SIGNAL = 5,
  T_CREDIT = 6,
  T_LIST = 7,
  T_KILL = 8,
  T_PING = 9,
  /* agent -> daemon */
  T_HELLO = 32,
  T_STARTED = 33,
  T_STDOUT = 34,
  T_STDERR = 35,
  T_EXIT = 36,
  T_ERROR = 37,
  T_STDIN_CREDIT = 38,
  T_LIST_REPLY = 39,
  T_KILL_REPLY = 40,
  T_PONG = 41,
};

#define PROTOCOL_VERSION 1
#define HEADER 9
#define MAX_FRAME (1024 * 1024)
#define WINDOW (256 * 1024)
#define MAX_SESSIONS 512
#define CHUNK 65536
/* Beyond this much unsent output the agent stops reading commands until the daemon catches up. */
#define OUT_HIGH (8 * 1024 * 1024)

struct session {
  uint32_t id;
  pid_t pid;
  int in;  /* command's stdin (pipe write end, or the pty master); -1 when closed */
  int out; /* stdout (or the pty master) */
  int err; /* stderr; -1 with a terminal */
  int tty;
  uint32_t credit; /* output bytes the daemon has room for */
  char *inbuf;     /* stdin not yet written */
  size_t inlen;
  int in_eof;
  int exited;
  int status;
  int timed_out;
  int64_t deadline; /* ms, 0: none */
};

static const char *exec_helper;
static const char *filter_path;
static int conn = -1;
static unsigned char *outbuf;
static size_t outlen, outcap;
static unsigned char *inframe;
static size_t inlen;
static struct session *sessions[MAX_SESSIONS];
static int sigpipe_fds[2];
/* One aibox-exec started ahead of time (`--warm`), waiting on warm_ctl for its command: see make_warm(). */
static pid_t warm_pid;
static int warm_ctl = -1;
/* When the last command was handed out: the next warm process is started once it has had time to exec. */
static int64_t last_spawn_ms;
static int warm_broken;
/*
 * Under gVisor's systrap platform a fork or exec keeps the sandbox's CPU busy for several milliseconds: refilling the
 * warm process at once competed with the command's own exec and made short commands slower. It is refilled when no
 * command is running, or this long after the last spawn (so a long-running command does not leave the next one
 * without a warm process).
 */
#define REFILL_DELAY_MS 50

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put32(unsigned char *p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static uint32_t get32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t get16(const unsigned char *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* Appends a frame to the output buffer; reserve() first when the payload is read straight into it. */
static unsigned char *reserve(size_t n) {
  if (outlen + n > outcap) {
    size_t cap = outcap ? outcap : 65536;
    while (cap < outlen + n) cap *= 2;
    unsigned char *p = realloc(outbuf, cap);
    if (!p) abort();
    outbuf = p;
    outcap = cap;
  }
  return outbuf + outlen;
}

static void send_frame(uint8_t type, uint32_t stream, const void *data, size_t len) {
  if (conn < 0) return;
  unsigned char *p = reserve(HEADER + len);
  put32(p, (uint32_t)len);
  p[4] = type;
  put32(p + 5, stream);
  if (len) memcpy(p + HEADER, data, len);
  outlen += HEADER + len;
}

static void send_text(uint8_t type, uint32_t stream, const char *text) { send_frame(type, stream, text, strlen(text)); }

static struct session *find(uint32_t id) {
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (sessions[i] && sessions[i]->id == id) return sessions[i];
  return NULL;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void close_in(struct session *s) {
  /* With a terminal, in and out are the same master: it stays open for output. */
  if (s->tty) s->in = -1;
  else close_fd(&s->in);
  free(s->inbuf);
  s->inbuf = NULL;
  s->inlen = 0;
}

static void free_session(int i) {
  struct session *s = sessions[i];
  close_in(s);
  close_fd(&s->out);
  close_fd(&s->err);
  free(s);
  sessions[i] = NULL;
}

/* Reads what a command wrote, within its credit. Returns 0 at end of file (or nothing left once it exited). */
static int pump(struct session *s, int *fd, uint8_t type) {
  while (*fd >= 0 && s->credit > 0 && outlen < OUT_HIGH) {
    size_t want = s->credit < CHUNK ? s->credit : CHUNK;
    unsigned char *p = reserve(HEADER + want);
    ssize_t n = read(*fd, p + HEADER, want);
    if (n > 0) {
      put32(p, (uint32_t)n);
      p[4] = type;
      put32(p + 5, s->id);
      outlen += HEADER + n;
      s->credit -= (uint32_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && !s->exited) return 1;
    /* EOF, EIO (a terminal whose last writer is gone), or drained after the command exited. */
    if (s->tty && fd == &s->out) s->in = -1;
    close_fd(fd);
    return 0;
  }
  return *fd >= 0;
}

static void maybe_finish(int i) {
  struct session *s = sessions[i];
  if (!s || !s->exited || s->out >= 0 || s->err >= 0) return;
  unsigned char p[6];
  int code, sig = 0;
  if (WIFSIGNALED(s->status)) {
    sig = WTERMSIG(s->status);
    code = 128 + sig;
  } else {
    code = WEXITSTATUS(s->status);
  }
  put32(p, (uint32_t)code);
  p[4] = (unsigned char)sig;
  p[5] = (unsigned char)s->timed_out;
  send_frame(T_EXIT, s->id, p, sizeof p);
  free_session(i);
}

static void drain(int i) {
  struct session *s = sessions[i];
  pump(s, &s->out, T_STDOUT);
  if (s->err >= 0) pump(s, &s->err, T_STDERR);
  maybe_finish(i);
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid == warm_pid) {
      /* It died unused: not refilled before the next spawn (a warm process that cannot start must not loop). */
      close_fd(&warm_ctl);
      warm_pid = 0;
      warm_broken = 1;
      continue;
    }
    for (int i = 0; i < MAX_SESSIONS; i++) {
      struct session *s = sessions[i];
      if (s && s->pid == pid && !s->exited) {
        s->exited = 1;
        s->status = status;
        /* Nobody reads stdin any more (background processes keep their own copy if they need it). */
        close_in(s);
        drain(i);
        break;
      }
    }
  }
}

static volatile sig_atomic_t terminating;

static void on_sigterm(int sig) {
  (void)sig;
  terminating = 1;
  int saved = errno;
  (void)write(sigpipe_fds[1], "t", 1);
  errno = saved;
}

static void on_sigchld(int sig) {
  (void)sig;
  int saved = errno;
  (void)write(sigpipe_fds[1], "c", 1);
  errno = saved;
}

/* Every command started on a connection dies with it: nobody is left to read it. */
static void drop_connection(void) {
  close_fd(&conn);
  outlen = 0;
  inlen = 0;
  for (int i = 0; i < MAX_SESSIONS; i++) {
    struct session *s = sessions[i];
    if (!s) continue;
    if (!s->exited) kill(-s->pid, SIGKILL);
    s->exited = 1;
    free_session(i);
  }
}

/*
 * Child side of a spawn, after vfork (the parent's memory is shared until execve: only syscalls here, everything
 * else is prepared by the parent). vfork matters in gVisor: copying an address space is the costly part of fork.
 * No signal call here: in gVisor, a vfork child's sigaction or sigprocmask made its parent stop receiving SIGCHLD
 * (after a burst of spawns no command was ever reaped). aibox-exec resets dispositions and the mask after the exec.
 */
static void child(int tty, int stdin_fd, int out_fd, int err_fd, const char *slave, const struct winsize *ws,
                  char **args, char **envp) {
  setsid();
  if (tty) {
    int fd = open(slave, O_RDWR);
    if (fd < 0) _exit(126);
    ioctl(fd, TIOCSCTTY, 0);
    ioctl(fd, TIOCSWINSZ, ws);
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2) close(fd);
  } else {
    dup2(stdin_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
  }
  execve(exec_helper, args, envp);
  static const char msg[] = "aibox-agent: cannot run aibox-exec\r\n";
  (void)write(2, msg, sizeof msg - 1);
  _exit(126);
}

/* The command's environment: the agent's own (the container's) under the command's own values. */
static char **command_env(char **env, uint32_t envc) {
  extern char **environ;
  size_t base = 0;
  while (environ[base]) base++;
  char **envp = calloc(base + envc + 1, sizeof(char *));
  size_t n = 0;
  for (size_t i = 0; i < base; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
    int overridden = 0;
    for (uint32_t j = 0; j < envc && !overridden; j++)
      if (strncmp(env[j], environ[i], klen) == 0 && env[j][klen] == '=') overridden = 1;
    if (!overridden) envp[n++] = environ[i];
  }
  for (uint32_t j = 0; j < envc; j++) envp[n++] = env[j];
  envp[n] = NULL;
  return envp;
}

/*
 * Starts the next command's aibox-exec ahead of time: under gVisor most of a spawn is creating the process and
 * exec'ing into it, so that happens here, between commands, and a command only pays for its own execve. fork, not
 * vfork: the agent keeps serving while the child execs. The warm process is a session leader with /dev/null as
 * stdio until it receives the command's own descriptors.
 */
static void make_warm(void) {
  if (warm_pid > 0) return;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return;
  char *args[] = {(char *)exec_helper, "--warm", (char *)filter_path, NULL};
  extern char **environ;
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    struct sigaction dfl = {0};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(sv[1], 3) != 3) _exit(126);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    execve(exec_helper, args, environ);
    _exit(126);
  }
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return;
  }
  warm_pid = pid;
  warm_ctl = sv[0];
}

/* Hands a command to the warm process. Returns its pid, or -1 (the caller then spawns the usual way). */
static pid_t use_warm(uint32_t uid, uint32_t gid, uint32_t nproc, int tty, const char *workdir, char **argv,
                      uint32_t argc, char **envp, int fd0, int fd1, int fd2) {
  if (warm_pid <= 0) return -1;
  size_t len = 24 + strlen(workdir) + 1, envc = 0;
  for (uint32_t i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
  for (; envp[envc]; envc++) len += strlen(envp[envc]) + 1;
  unsigned char *buf = malloc(len), *p = buf + 24;
  uint32_t head[6] = {uid, gid, nproc, (uint32_t)tty, argc, (uint32_t)envc};
  for (int i = 0; i < 6; i++) put32(buf + 4 * i, head[i]);
  size_t n = strlen(workdir) + 1;
  memcpy(p, workdir, n);
  p += n;
  for (uint32_t i = 0; i < argc; i++) {
    n = strlen(argv[i]) + 1;
    memcpy(p, argv[i], n);
    p += n;
  }
  for (size_t i = 0; i < envc; i++) {
    n = strlen(envp[i]) + 1;
    memcpy(p, envp[i], n);
    p += n;
  }
  int fds[3] = {fd0, fd1, fd2};
  char control[CMSG_SPACE(sizeof fds)];
  memset(control, 0, sizeof control);
  struct iovec iov = {.iov_base = buf, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  ssize_t sent = sendmsg(warm_ctl, &msg, MSG_NOSIGNAL);
  free(buf);
  pid_t pid = warm_pid;
  close(warm_ctl);
  warm_ctl = -1;
  warm_pid = 0;
  if (sent != (ssize_t)len) {
    kill(pid, SIGKILL);
    return -1;
  }
  return pid;
}

static const char *next_string(const unsigned char **p, const unsigned char *end) {
  const unsigned char *nul = memchr(*p, 0, (size_t)(end - *p));
  if (!nul) return NULL;
  const char *s = (const char *)*p;
  *p = nul + 1;
  return s;
}

/* SPAWN payload: u8 flags(1 tty, 2 stdin) u16 cols u16 rows u32 timeout_ms u32 uid u32 gid u32 nproc u32 argc
 * u32 envc, then NUL-terminated strings: workdir, argv[argc], env[envc] ("K=V"). */
static void spawn(uint32_t id, const unsigned char *p, size_t len) {
  const unsigned char *end = p + len;
  if (find(id)) return send_text(T_ERROR, id, "stream id in use");
  if (len < 29) return send_text(T_ERROR, id, "malformed spawn");
  int tty = p[0] & 1, want_stdin = p[0] & 2;
  uint16_t cols = get16(p + 1), rows = get16(p + 3);
  uint32_t timeout = get32(p + 5), uid = get32(p + 9), gid = get32(p + 13), nproc = get32(p + 17);
  uint32_t argc = get32(p + 21), envc = get32(p + 25);
  if (uid == 0 || gid == 0) return send_text(T_ERROR, id, "refusing to run a command as root");
  if (argc == 0 || argc > 65536 || envc > 65536) return send_text(T_ERROR, id, "malformed spawn");
  const unsigned char *q = p + 29;
  char *workdir = (char *)next_string(&q, end);
  char **argv = calloc(argc + 1, sizeof(char *));
  char **env = calloc(envc + 1, sizeof(char *));
  int ok = workdir != NULL;
  for (uint32_t i = 0; ok && i < argc; i++) ok = (argv[i] = (char *)next_string(&q, end)) != NULL;
  for (uint32_t i = 0; ok && i < envc; i++) ok = (env[i] = (char *)next_string(&q, end)) && strchr(env[i], '=');
  int slot = -1;
  for (int i = 0; i < MAX_SESSIONS && slot < 0; i++)
    if (!sessions[i]) slot = i;
  if (!ok || slot < 0) {
    free(argv);
    free(env);
    return send_text(T_ERROR, id, ok ? "too many commands running" : "malformed spawn");
  }
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, master = -1;
  char slave[128] = "";
  int failed = 0;
  if (tty) {
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    failed = master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
             ptsname_r(master, slave, sizeof slave) != 0;
  } else {
    failed = pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0;
    if (!failed) {
      if (want_stdin) failed = pipe2(in, O_CLOEXEC) != 0;
      else failed = (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0;
    }
  }
  char nums[3][16];
  snprintf(nums[0], sizeof nums[0], "%u", uid);
  snprintf(nums[1], sizeof nums[1], "%u", gid);
  snprintf(nums[2], sizeof nums[2], "%u", nproc);
  char **args = calloc(argc + 7, sizeof(char *));
  args[0] = (char *)exec_helper;
  args[1] = nums[0];
  args[2] = nums[1];
  args[3] = (char *)filter_path;
  args[4] = nums[2];
  args[5] = workdir;
  for (uint32_t i = 0; i < argc; i++) args[6 + i] = argv[i];
  char **envp = command_env(env, envc);
  struct winsize ws = {.ws_row = rows, .ws_col = cols};
  pid_t pid = -1;
  int saved = errno;
  if (!failed) {
    /* Back-to-back spawns: a fresh warm process (forked now, exec'ing while the command is handed to it) is still
     * cheaper than the spawn below, which execs twice while the agent waits. */
    if (warm_pid <= 0 && !warm_broken) make_warm();
    if (tty) {
      int fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
      ioctl(master, TIOCSWINSZ, &ws);
      if (fd >= 0) pid = use_warm(uid, gid, nproc, 1, workdir, argv, argc, envp, fd, fd, fd);
      if (fd >= 0) close(fd);
    } else {
      pid = use_warm(uid, gid, nproc, 0, workdir, argv, argc, envp, in[0], out[1], err[1]);
    }
    if (pid < 0) {
      pid = vfork();
      if (pid == 0) child(tty, in[0], out[1], err[1], slave, &ws, args, envp);
      saved = errno;
    }
  }
  free(args);
  free(envp);
  last_spawn_ms = now_ms();
  warm_broken = 0;
  free(argv);
  free(env);
  close_fd(&in[0]);
  close_fd(&out[1]);
  close_fd(&err[1]);
  if (pid < 0) {
    close_fd(&in[1]);
    close_fd(&out[0]);
    close_fd(&err[0]);
    close_fd(&master);
    char msg[160];
    snprintf(msg, sizeof msg, "cannot start the command: %s", strerror(saved));
    return send_text(T_ERROR, id, msg);
  }
  struct session *s = calloc(1, sizeof *s);
  s->id = id;
  s->pid = pid;
  s->tty = tty;
  s->credit = WINDOW;
  if (tty) {
    s->in = want_stdin ? master : -1;
    s->out = master;
    s->err = -1;
  } else {
    s->in = in[1];
    s->out = out[0];
    s->err = err[0];
  }
  if (s->in >= 0) set_nonblock(s->in);
  set_nonblock(s->out);
  if (s->err >= 0) set_nonblock(s->err);
  s->deadline = timeout ? now_ms() + timeout : 0;
  sessions[slot] = s;
  unsigned char pidbuf[4];
  put32(pidbuf, (uint32_t)pid);
  send_frame(T_STARTED, id, pidbuf, 4);
}

static void write_stdin(struct session *s) {
  size_t written = 0;
  while (s->in >= 0 && written < s->inlen) {
    ssize_t n = write(s->in, s->inbuf + written, s->inlen - written);
    if (n > 0) {
      written += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    /* The command closed its stdin: what is left is dropped (and credited, so the daemon is not stuck). */
    written = s->inlen;
    close_in(s);
    break;
  }
  if (written) {
    if (s->inbuf) {
      memmove(s->inbuf, s->inbuf + written, s->inlen - written);
      s->inlen -= written;
    }
    unsigned char c[4];
    put32(c, (uint32_t)written);
    send_frame(T_STDIN_CREDIT, s->id, c, 4);
  }
  if (s->in >= 0 && s->in_eof && s->inlen == 0) close_in(s);
}

/* LIST: every process in the sandbox but the agent: "pid ppid pgid uid state argv…" lines, tab-separated. */
static void list_processes(uint32_t id) {
  DIR *d = opendir("/proc");
  if (!d) return send_text(T_ERROR, id, "cannot read /proc");
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  struct dirent *e;
  while ((e = readdir(d))) {
    int pid = atoi(e->d_name);
    if (pid <= 0 || pid == getpid()) continue;
    char path[64], stat[1024], status[4096], cmd[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0) continue;
    stat[n] = 0;
    char *rp = strrchr(stat, ')');
    char state = '?';
    int ppid = 0, pgid = 0;
    if (!rp || sscanf(rp + 2, "%c %d %d", &state, &ppid, &pgid) != 3) continue;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    unsigned uid = 0;
    fd = open(path, O_RDONLY);
    if (fd >= 0) {
      n = read(fd, status, sizeof status - 1);
      close(fd);
      status[n > 0 ? n : 0] = 0;
      char *u = strstr(status, "\nUid:");
      if (u) uid = (unsigned)strtoul(u + 5, NULL, 10);
    }
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    fd = open(path, O_RDONLY);
    n = fd >= 0 ? read(fd, cmd, sizeof cmd - 1) : 0;
    if (fd >= 0) close(fd);
    if (n < 0) n = 0;
    for (ssize_t i = 0; i < n; i++)
      if (cmd[i] == 0 || cmd[i] == '\t' || cmd[i] == '\n') cmd[i] = i == n - 1 ? 0 : ' ';
    cmd[n] = 0;
    if (len + 1200 > cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
    len += (size_t)snprintf(buf + len, cap - len, "%d\t%d\t%d\t%u\t%c\t%s\n", pid, ppid, pgid, uid, state, cmd);
    if (len > MAX_FRAME - 2048) break;
  }
  closedir(d);
  send_frame(T_LIST_REPLY, id, buf, len);
  free(buf);
}

/* KILL: u32 pid, u8 signal. Never the agent, nor a root process (the agent's children before they drop). */
static void kill_process(uint32_t id, const unsigned char *p, size_t len) {
  unsigned char r[4];
  int result = 0;
  if (len != 5) result = EINVAL;
  else {
    pid_t pid = (pid_t)get32(p);
    char path[64], status[4096];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    int fd = pid > 1 && pid != getpid() ? open(path, O_RDONLY) : -1;
    ssize_t n = fd >= 0 ? read(fd, status, sizeof status - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) result = ESRCH;
    else {
      status[n] = 0;
      char *u = strstr(status, "\nUid:");
      if (!u || strtoul(u + 5, NULL, 10) == 0) result = EPERM;
      else if (kill(pid, p[4]) != 0) result = errno;
    }
  }
  put32(r, (uint32_t)result);
  send_frame(T_KILL_REPLY, id, r, 4);
}

static void handle(uint8_t type, uint32_t id, const unsigned char *p, size_t len) {
  struct session *s = find(id);
  switch (type) {
  case T_SPAWN:
    return spawn(id, p, len);
  case T_STDIN:
    if (!s) return;
    if (s->in < 0 || s->in_eof) {
      unsigned char c[4];
      put32(c, (uint32_t)len);
      return send_frame(T_STDIN_CREDIT, id, c, 4);
    }
    if (s->inlen + len > 2 * WINDOW) {
      /* More than the window the daemon was given: a daemon bug; the command loses its stdin. */
      close_in(s);
      return send_text(T_ERROR, id, "stdin over its window");
    }
    s->inbuf = realloc(s->inbuf, s->inlen + len);
    memcpy(s->inbuf + s->inlen, p, len);
    s->inlen += len;
    return write_stdin(s);
  case T_STDIN_EOF:
    if (!s) return;
    s->in_eof = 1;
    if (s->tty) return; /* a terminal has no end of input; the daemon sends ^D if it wants one */
    return write_stdin(s);
  case T_RESIZE:
    if (s && s->tty && len == 4 && s->out >= 0) {
      struct winsize ws = {.ws_row = get16(p + 2), .ws_col = get16(p)};
      ioctl(s->out, TIOCSWINSZ, &ws);
      kill(-s->pid, SIGWINCH);
    }
    return;
  case T_SIGNAL:
    if (s && !s->exited && len == 1) kill(-s->pid, p[0]);
    return;
  case T_CREDIT:
    if (s && len == 4) {
      uint64_t c = (uint64_t)s->credit + get32(p);
      s->credit = c > 16u * WINDOW ? 16u * WINDOW : (uint32_t)c;
      for (int i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i] == s && s->exited) drain(i);
    }
    return;
  case T_LIST:
    return list_processes(id);
  case T_KILL:
    return kill_process(id, p, len);
  case T_PING:
    return send_frame(T_PONG, id, p, len);
  default:
    return;
  }
}

static int read_conn(void) {
  for (;;) {
    if (inlen < HEADER + MAX_FRAME) {
      ssize_t n = read(conn, inframe + inlen, HEADER + MAX_FRAME - inlen);
      if (n == 0) return -1;
      if (n < 0) return errno == EAGAIN ? 0 : errno == EINTR ? 0 : -1;
      inlen += (size_t)n;
    }
    size_t off = 0;
    while (inlen - off >= HEADER) {
      uint32_t len = get32(inframe + off);
      if (len > MAX_FRAME) return -1;
      if (inlen - off < HEADER + len) break;
      handle(inframe[off + 4], get32(inframe + off + 5), inframe + off + HEADER, len);
      if (conn < 0) return -1;
      off += HEADER + len;
    }
    memmove(inframe, inframe + off, inlen - off);
    inlen -= off;
  }
}

static void flush_conn(void) {
  size_t sent = 0;
  while (conn >= 0 && sent < outlen) {
    ssize_t n = write(conn, outbuf + sent, outlen - sent);
    if (n > 0) sent += (size_t)n;
    else if (n < 0 && errno == EINTR) continue;
    else if (n < 0 && errno == EAGAIN) break;
    else {
      drop_connection();
      return;
    }
  }
  memmove(outbuf, outbuf + sent, outlen - sent);
  outlen -= sent;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: aibox-agent SOCKET EXEC_HELPER FILTER.bpf\n");
    return 2;
  }
  exec_helper = argv[2];
  filter_path = argv[3];
  inframe = malloc(HEADER + MAX_FRAME);
  if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return 1;
  struct sigaction sa = {0};
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* pid 1 of the container ignores signals it has no handler for: SIGTERM (podman stop) ends the sandbox with
   * everything in it at once, instead of after the stop timeout. */
  sa.sa_handler = on_sigterm;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  if (chdir("/") != 0) return 1;
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (lfd < 0 || strlen(argv[1]) >= sizeof addr.sun_path) return 1;
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  umask(077);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 4) != 0) {
    fprintf(stderr, "aibox-agent: cannot listen on %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  make_warm();
  struct pollfd fds[2 + 3 * MAX_SESSIONS];
  struct session *owner[2 + 3 * MAX_SESSIONS];
  for (;;) {
    int nfds = 0;
    fds[nfds++] = (struct pollfd){.fd = lfd, .events = POLLIN};
    fds[nfds++] = (struct pollfd){.fd = sigpipe_fds[0], .events = POLLIN};
    if (conn >= 0) {
      owner[nfds] = NULL;
      fds[nfds++] = (struct pollfd){.fd = conn, .events = (short)(POLLIN | (outlen ? POLLOUT : 0))};
    }
    int64_t now = now_ms(), wait = -1;
    int running = 0;
    for (int i = 0; i < MAX_SESSIONS; i++) {
      struct session *s = sessions[i];
      if (!s) continue;
      if (!s->exited) running = 1;
      if (s->deadline && !s->exited) {
        if (s->deadline <= now) {
          s->timed_out = 1;
          kill(-s->pid, SIGKILL);
          s->deadline = 0;
        } else if (wait < 0 || s->deadline - now < wait) {
          wait = s->deadline - now;
        }
      }
      int reading = s->credit > 0 && outlen < OUT_HIGH;
      if (s->out >= 0 && reading) {
        owner[nfds] = s;
        fds[nfds++] = (struct pollfd){.fd = s->out, .events = POLLIN};
      }
      if (s->err >= 0 && reading) {
        owner[nfds] = s;
        fds[nfds++] = (struct pollfd){.fd = s->err, .events = POLLIN};
      }
      if (s->in >= 0 && s->inlen > 0) {
        owner[nfds] = s;
        fds[nfds++] = (struct pollfd){.fd = s->in, .events = POLLOUT};
      }
    }
    if (terminating) {
      /* Only as the sandbox's pid 1 does "everything" mean the sandbox. */
      if (getpid() == 1) kill(-1, SIGKILL);
      return 0;
    }
    /* An exit whose SIGCHLD went missing is still found within a second: a command never hangs on a lost signal. */
    if (running && (wait < 0 || wait > 1000)) wait = 1000;
    if (warm_pid <= 0 && !warm_broken) {
      int64_t due = last_spawn_ms + REFILL_DELAY_MS - now;
      if (!running || due <= 0) make_warm();
      else if (wait < 0 || due < wait) wait = due;
    }
    int r = poll(fds, (nfds_t)nfds, (int)wait);
    if (r < 0 && errno != EINTR) return 1;
    if (r == 0 && running) reap();
    if (r <= 0) continue;
    if (fds[0].revents & POLLIN) {
      int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c >= 0) {
        /* A new daemon connection replaces the old one. */
        if (conn >= 0) drop_connection();
        conn = c;
        unsigned char hello[8];
        put32(hello, PROTOCOL_VERSION);
        put32(hello + 4, (uint32_t)getpid());
        send_frame(T_HELLO, 0, hello, sizeof hello);
      }
    }
    if (fds[1].revents & POLLIN) {
      char drainbuf[256];
      while (read(sigpipe_fds[0], drainbuf, sizeof drainbuf) > 0) {
      }
      reap();
    }
    for (int k = 2; k < nfds; k++) {
      if (!fds[k].revents) continue;
      if (owner[k] == NULL) {
        /* The connection's entry (it may have been replaced or dropped earlier in this round). */
        if (fds[k].fd == conn && (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) && read_conn() < 0)
          drop_connection();
        continue;
      }
      struct session *s = owner[k];
      int i = 0;
      while (i < MAX_SESSIONS && sessions[i] != s) i++;
      if (i == MAX_SESSIONS) continue; /* finished earlier in this round */
      if (fds[k].fd == s->in && (fds[k].events & POLLOUT)) write_stdin(s);
      else if (fds[k].fd == s->out) pump(s, &s->out, T_STDOUT);
      else if (fds[k].fd == s->err) pump(s, &s->err, T_STDERR);
      maybe_finish(i);
    }
    if (conn >= 0 && outlen) flush_conn();
  }
}
