/*
 * aibox-exec: runs inside every sandbox in front of each command the daemon executes.
 *
 * gVisor (runsc 2024-07) applies the OCI seccomp profile only to the container's first process, not to processes
 * started with `exec`. This helper closes that gap: it sets no_new_privs, installs the sandbox profile's seccomp
 * filter (compiled to classic BPF on the host from the same JSON profile) and then execs the command, so every
 * command and all its descendants run under the filter. It refuses to run the command if anything fails.
 *
 * It also sets RLIMIT_NPROC (soft and hard; the sandbox user cannot raise it): `podman exec` does not apply the
 * container's ulimits, and a fork storm must fail with EAGAIN inside rather than exhaust the host's pids cgroup.
 *
 * Usage: aibox-exec FILTER.bpf MAX_PROCESSES CMD [ARGS...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: aibox-exec FILTER.bpf MAX_PROCESSES CMD [ARGS...]\n");
    return 126;
  }
  char *end = NULL;
  unsigned long nproc = strtoul(argv[2], &end, 10);
  if (!end || *end != '\0' || nproc == 0) {
    errno = EINVAL;
    return fail("MAX_PROCESSES");
  }
  struct rlimit limit = {.rlim_cur = nproc, .rlim_max = nproc};
  if (setrlimit(RLIMIT_NPROC, &limit) != 0) return fail("setrlimit(RLIMIT_NPROC)");
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
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
  struct sock_fprog fprog = {.len = (unsigned short)(st.st_size / sizeof(struct sock_filter)), .filter = prog};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no_new_privs");
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) return fail("seccomp");
  execvp(argv[3], argv + 3);
  int saved = errno;
  fprintf(stderr, "aibox-exec: %s: %s\n", argv[3], strerror(saved));
  return saved == ENOENT ? 127 : 126;
}
