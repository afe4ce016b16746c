/*
 * aibox-exec: runs inside every sandbox in front of each command (the in-sandbox agent execs it for every spawn).
 *
 * The agent runs as the container's root (inside gVisor's user namespace, with only CAP_SETUID, CAP_SETGID and
 * CAP_KILL in its bounding set) so that commands cannot signal or ptrace it. This helper turns a forked agent child
 * into a sandbox command:
 *   1. drops to the sandbox user: setgroups([gid]), setresgid, setresuid (the uid change clears every capability),
 *      and checks that it cannot get back;
 *   2. changes to the working directory as that user (so it cannot enter what the user may not);
 *   3. sets RLIMIT_NPROC (soft and hard; the user cannot raise it): a fork storm fails with EAGAIN inside rather than
 *      exhausting the host's pids cgroup;
 *   4. sets no_new_privs and installs the profile's seccomp filter (compiled to classic BPF on the host from the
 *      same JSON profile: runsc applies the OCI profile only to the container's first process);
 *   5. execs the command (not found: 127, like a shell).
 * It refuses to run the command if any step fails, and refuses uid or gid 0.
 *
 * Usage: aibox-exec UID GID FILTER.bpf MAX_PROCESSES WORKDIR CMD [ARGS...]
 *    or: aibox-exec --warm FILTER.bpf   (fd 3: a SOCK_SEQPACKET socket from the agent)
 * Warm: started ahead of time by the agent (already forked and exec'd, the filter already read: that is most of a
 * command's start under gVisor), it waits for one message on fd 3 (uid, gid, nproc, tty, workdir, argv, env, with the
 * command's stdin/stdout/stderr as SCM_RIGHTS) and then goes through exactly the steps above.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fail(const char *what) {
  fprintf(stderr, "aibox-exec: %s: %s (the command was not started)\n", what, strerror(errno));
  return 126;
}

static int number(const char *s, unsigned long *out) {
  char *end = NULL;
  errno = 0;
  *out = strtoul(s, &end, 10);
  return errno == 0 && end && end != s && *end == '\0';
}

static struct sock_fprog load_filter(const char *path, int *ok) {
  struct sock_fprog fprog = {0};
  *ok = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fprog;
  struct stat st;
  if (fstat(fd, &st) < 0) return fprog;
  if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 || st.st_size > 65536) {
    errno = EINVAL;
    return fprog;
  }
  struct sock_filter *prog = malloc(st.st_size);
  if (!prog) return fprog;
  ssize_t got = 0;
  while (got < st.st_size) {
    ssize_t n = read(fd, (char *)prog + got, st.st_size - got);
    if (n <= 0) return fprog;
    got += n;
  }
  close(fd);
  fprog.len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
  fprog.filter = prog;
  *ok = 1;
  return fprog;
}

/* Steps 1-5 of the header comment. Never returns. */
static int become_and_exec(unsigned long uid, unsigned long gid, unsigned long nproc, const char *workdir,
                           struct sock_fprog *fprog, char **cmd) {
  if (uid == 0 || gid == 0 || uid > 0x7fffffff || gid > 0x7fffffff) {
    errno = EINVAL;
    return fail("UID/GID (never 0)");
  }
  if (nproc == 0) {
    errno = EINVAL;
    return fail("MAX_PROCESSES");
  }
  gid_t g = (gid_t)gid;
  if (getuid() == 0 || geteuid() == 0) {
    if (setgroups(1, &g) != 0) return fail("setgroups");
  }
  if (setresgid(g, g, g) != 0) return fail("setresgid");
  if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0) return fail("setresuid");
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != uid || eu != uid || su != uid ||
      rg != gid || eg != gid || sg != gid) {
    errno = EPERM;
    return fail("uid change did not stick");
  }
  if (setresuid(0, 0, 0) == 0) {
    errno = EPERM;
    return fail("could regain uid 0");
  }
  if (chdir(workdir) != 0) {
    int saved = errno;
    fprintf(stderr, "aibox-exec: cd %s: %s\n", workdir, strerror(saved));
    return 126;
  }
  struct rlimit limit = {.rlim_cur = nproc, .rlim_max = nproc};
  if (setrlimit(RLIMIT_NPROC, &limit) != 0) return fail("setrlimit(RLIMIT_NPROC)");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no_new_privs");
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, fprog) != 0) return fail("seccomp");
  execvp(cmd[0], cmd);
  int saved = errno;
  fprintf(stderr, "aibox-exec: %s: %s\n", cmd[0], strerror(saved));
  return saved == ENOENT ? 127 : 126;
}

#define WARM_MAX (1024 * 1024 + 4096)

static uint32_t get32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Warm mode: one message on fd 3 = u32 uid, gid, nproc, tty, argc, envc; strings workdir, argv, env; 3 fds. */
static int warm(const char *filter) {
  int ok;
  struct sock_fprog fprog = load_filter(filter, &ok);
  if (!ok) return fail("load filter");
  unsigned char *buf = malloc(WARM_MAX);
  if (!buf) return fail("malloc");
  char control[CMSG_SPACE(3 * sizeof(int))];
  struct iovec iov = {.iov_base = buf, .iov_len = WARM_MAX};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n;
  do n = recvmsg(3, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n <= 0) _exit(0); /* the agent went away before using this process */
  close(3);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(3 * sizeof(int)) ||
      n < 24 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
    _exit(126);
  int fds[3];
  memcpy(fds, CMSG_DATA(c), sizeof fds);
  for (int i = 0; i < 3; i++)
    if (dup2(fds[i], i) < 0) _exit(126);
  for (int i = 0; i < 3; i++)
    if (fds[i] > 2) close(fds[i]);
  uint32_t uid = get32(buf), gid = get32(buf + 4), nproc = get32(buf + 8), tty = get32(buf + 12);
  uint32_t argc = get32(buf + 16), envc = get32(buf + 20);
  if (tty && ioctl(0, TIOCSCTTY, 0) != 0) return fail("controlling terminal");
  if (argc == 0 || argc > 65536 || envc > 65536) {
    errno = EINVAL;
    return fail("message");
  }
  char **strings = calloc(1 + argc + 1 + envc + 1, sizeof(char *));
  unsigned char *p = buf + 24, *end = buf + n;
  for (uint32_t i = 0; i < 1 + argc + envc; i++) {
    unsigned char *nul = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
    if (!nul) {
      errno = EINVAL;
      return fail("message");
    }
    strings[i < 1 + argc ? i : i + 1] = (char *)p;
    p = nul + 1;
  }
  char *workdir = strings[0];
  char **cmd = strings + 1;
  cmd[argc] = NULL;
  extern char **environ;
  environ = strings + 1 + argc + 1;
  environ[envc] = NULL;
  return become_and_exec(uid, gid, nproc, workdir, &fprog, cmd);
}

/* Default dispositions and no blocked signal for the command (the agent ignores SIGPIPE; its vfork'd children make
 * no signal call, see aibox-agent.c). */
static void default_signals(void) {
  struct sigaction dfl = {0};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

int main(int argc, char **argv) {
  default_signals();
  if (argc == 3 && strcmp(argv[1], "--warm") == 0) return warm(argv[2]);
  if (argc < 7) {
    fprintf(stderr, "usage: aibox-exec UID GID FILTER.bpf MAX_PROCESSES WORKDIR CMD [ARGS...]\n");
    return 126;
  }
  unsigned long uid, gid, nproc;
  if (!number(argv[1], &uid) || !number(argv[2], &gid) || !number(argv[4], &nproc)) {
    errno = EINVAL;
    return fail("UID/GID/MAX_PROCESSES");
  }
  /* Read the filter while still privileged enough to open it wherever it is mounted. */
  int ok;
  struct sock_fprog fprog = load_filter(argv[3], &ok);
  if (!ok) return fail("load filter");
  return become_and_exec(uid, gid, nproc, argv[5], &fprog, argv + 6);
}
