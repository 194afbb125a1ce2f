// The wrapper every measured command of the benchmark runs under (archive_command, restore_command, the
// bench's own calls, daemons it starts), compiled by lib/tools.mjs with cc -O2.
/*
 * Usage: call-meter <log-file> <cgroup.procs | -> <command> [args...]
 *
 * Runs the command as a child and, after it exits, appends one line "<elapsed seconds> <peak RSS kB> <user
 * seconds> <system seconds>" to log-file (O_APPEND: concurrent calls never interleave), GNU time's -f '%e %M %U
 * %S' with finer resolution. ru_maxrss of the waited child is the largest of that process and of its
 * waited-for descendants: a per-process peak, never a sum.
 *
 * Before exec the child writes its pid into the given cgroup.procs (cgroup v1, cpuacct), so the command and
 * everything it starts (workers, daemons, their children) are charged to that group, and the meter itself is
 * not: the group's cpuacct.usage is the tool's CPU and nothing else. "-" skips this (no cgroup here).
 *
 * Exit status is the command's; a command killed by a signal kills the meter with the same signal, so the
 * caller (PostgreSQL) sees what it would have seen without the meter. Like GNU time, the meter ignores
 * SIGINT and SIGQUIT while it waits, leaving them to the command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: call-meter <log-file> <cgroup.procs|-> <command> [args...]\n");
    return 125;
  }
  const char *log_file = argv[1];
  const char *procs = argv[2];
  double started = now();
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "call-meter: fork: %s\n", strerror(errno));
    return 126;
  }
  if (child == 0) {
    if (strcmp(procs, "-") != 0) {
      int fd = open(procs, O_WRONLY);
      char pid[32];
      int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
      if (fd < 0 || write(fd, pid, (size_t)len) != len) {
        fprintf(stderr, "call-meter: cannot join cgroup %s: %s\n", procs, strerror(errno));
        _exit(126);
      }
      close(fd);
    }
    execvp(argv[3], argv + 3);
    fprintf(stderr, "call-meter: cannot run %s: %s\n", argv[3], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  int status;
  struct rusage usage;
  while (wait4(child, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "call-meter: wait4: %s\n", strerror(errno));
      return 126;
    }
  }
  double elapsed = now() - started;
  // CPU of the call and of the descendants it waited for (a helper it left running is counted by the cgroup only).
  double user = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6;
  double sys = usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  char line[96];
  int len = snprintf(line, sizeof line, "%.3f %ld %.4f %.4f\n", elapsed, usage.ru_maxrss, user, sys);
  int fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd >= 0) {
    if (write(fd, line, (size_t)len) != len) fprintf(stderr, "call-meter: short write to %s\n", log_file);
    close(fd);
  } else {
    fprintf(stderr, "call-meter: cannot open %s: %s\n", log_file, strerror(errno));
  }
  if (WIFSIGNALED(status)) {
    signal(WTERMSIG(status), SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    raise(WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}
