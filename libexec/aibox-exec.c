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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: aibox-exec UID GID FILTER.bpf MAX_PROCESSES WORKDIR CMD [ARGS...]\n");
    return 126;
  }
  unsigned long uid, gid, nproc;
  if (!number(argv[1], &uid) || !number(argv[2], &gid) || uid == 0 || gid == 0 || uid > 0x7fffffff ||
      gid > 0x7fffffff) {
    errno = EINVAL;
    return fail("UID/GID (never 0)");
  }
  if (!number(argv[4], &nproc) || nproc == 0) {
    errno = EINVAL;
    return fail("MAX_PROCESSES");
  }
  /* Read the filter while still privileged enough to open it wherever it is mounted. */
  int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("open filter");
  struct stat st;
  if (fstat(fd, &st) < 0) return fail("stat filter");
  if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 || st.st_size > 65536) {
    errno = EINVAL;
    return fail("filter size");
  }
  struct sock_filter *prog = malloc(st.st_size);
  if (!prog) return fail("malloc");
  ssize_t got = 0;
  while (got < st.st_size) {
    ssize_t n = read(fd, (char *)prog + got, st.st_size - got);
    if (n <= 0) return fail("read filter");
    got += n;
  }
  close(fd);

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
  if (chdir(argv[5]) != 0) {
    int saved = errno;
    fprintf(stderr, "aibox-exec: cd %s: %s\n", argv[5], strerror(saved));
    return 126;
  }
  struct rlimit limit = {.rlim_cur = nproc, .rlim_max = nproc};
  if (setrlimit(RLIMIT_NPROC, &limit) != 0) return fail("setrlimit(RLIMIT_NPROC)");
  struct sock_fprog fprog = {.len = (unsigned short)(st.st_size / sizeof(struct sock_filter)), .filter = prog};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no_new_privs");
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) return fail("seccomp");
  execvp(argv[6], argv + 6);
  int saved = errno;
  fprintf(stderr, "aibox-exec: %s: %s\n", argv[6], strerror(saved));
  return saved == ENOENT ? 127 : 126;
}
