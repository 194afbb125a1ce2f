// Our client for wal-g's daemon socket (wal-push, wal-fetch), compiled by lib/tools.mjs with cc -O2.
/*
 * Usage, as wal-g's walg-daemon-client:
 *   walg-daemon-client <socket> wal-push <wal_filepath> [--timeout D] [--connection-timeout D]
 *   walg-daemon-client <socket> wal-fetch <wal_name> <destination_filename> [flags]
 * D is a Go-style duration (60s, 500ms, 1m30s); defaults: --timeout 60s (write + reply),
 * --connection-timeout 5s.
 *
 * Protocol (wal-g v3.0.9, one request per connection over a unix stream socket):
 *   request  = type:u8, length:u16 big-endian (counts the whole message, these 3 bytes included), body
 *   wal-push : type 'F', body = the single argument's bytes (the daemon resolves it under $PGDATA/pg_wal)
 *   wal-fetch: type 'f', body = count:u8 (2), then per argument len:u16 big-endian + bytes
 *   reply    = one byte: 'O' done, 'N' no such WAL in the archive (fetch), 'E' failed; then the daemon
 *              closes the connection.
 * Exit codes: 0 on 'O', 74 on 'N' (the message goes to stdout), 1 on anything else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EX_NOT_FOUND 74
#define MAX_MESSAGE 65535

/* Error line on stderr, timestamped like Go's log package, then exit 1. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  time_t now = time(NULL);
  struct tm tm;
  char stamp[32];
  localtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S", &tm);
  fprintf(stderr, "%s ", stamp);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static void usage(const char *error, const char *command_usage) {
  printf("Error: %s\n\nwalg-daemon-client is lightweight client for WAL-G daemon\n\nUsage:\n"
         "  walg-daemon-client socket %s [flags]\n", error,
         command_usage ? command_usage : "command [command_args]");
  if (!command_usage)
    printf("\nArguments:\n  socket\t- name of unix socket to communicate with wal-g daemon\n"
           "  command\t- command to send to the daemon: wal-push, wal-fetch\n"
           "  command_args\t- command specific arguments\n");
  printf("\nFlags:\n");
  fflush(stdout);
  /* like Go's flag.PrintDefaults, the flag list goes to stderr */
  fprintf(stderr, "  -connection-timeout duration\n    \tdaemon socket connection timeout (default 5s)\n"
          "  -timeout duration\n    \tdaemon operation execution timeout (default 1m0s)\n");
  exit(1);
}

/* Parses a Go duration ("1m30s", "250ms", "2.5s") into milliseconds; -1 if malformed. */
static long long parse_duration_ms(const char *s) {
  static const struct { const char *unit; double ms; } units[] = {
    {"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 6e4}, {"h", 3.6e6},
  };
  if (strcmp(s, "0") == 0) return 0;
  double total = 0;
  if (!*s) return -1;
  while (*s) {
    char *end;
    double value = strtod(s, &end);
    if (end == s || value < 0) return -1;
    s = end;
    size_t best = 0;
    double scale = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
      size_t n = strlen(units[i].unit);
      /* longest match wins, so "ms" is not read as "m" followed by "s" */
      if (n > best && strncmp(s, units[i].unit, n) == 0) { best = n; scale = units[i].ms; }
    }
    if (!best) return -1;
    total += value * scale;
    s += best;
  }
  return (long long)total;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes; 0 when ready, -1 on timeout. */
static int wait_fd(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) return -1;
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, left > 2147483647 ? 2147483647 : (int)left);
    if (n > 0) return 0;
    if (n < 0 && errno != EINTR) die("unix socket poll error: %s", strerror(errno));
  }
}

static size_t put_u16(unsigned char *at, size_t value) {
  at[0] = (unsigned char)(value >> 8);
  at[1] = (unsigned char)value;
  return 2;
}

/* Builds the request; returns its length. */
static size_t build_message(unsigned char *msg, char type, char **args, int argc) {
  size_t len = 3;
  msg[0] = (unsigned char)type;
  if (argc == 1) {
    size_t n = strlen(args[0]);
    if (n + 3 > MAX_MESSAGE) die("unsupported arg size: message length %zu exceeds uint16 max", n + 3);
    memcpy(msg + len, args[0], n);
    len += n;
  } else {
    msg[len++] = (unsigned char)argc;
    for (int i = 0; i < argc; i++) {
      size_t n = strlen(args[i]);
      /* the body must leave room for the header and stay within the u16 length */
      if (len - 3 + 2 + n > (size_t)(MAX_MESSAGE - 1 - 2 * argc)) die("unsupported total args size");
      len += put_u16(msg + len, n);
      memcpy(msg + len, args[i], n);
      len += n;
    }
  }
  put_u16(msg + 1, len);
  return len;
}

static int connect_socket(const char *path, long long timeout_ms) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) die("unix socket dial error: socket path too long: %s", path);
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die("unix socket dial error: %s", strerror(errno));
  long long deadline = now_ms() + timeout_ms;
  /* a full listen backlog gives EAGAIN on unix sockets: retry until the connection timeout */
  while (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    if (errno == EINTR) continue;
    if (errno == EINPROGRESS) {
      if (wait_fd(fd, POLLOUT, deadline) != 0) die("unix socket dial error: dial unix %s: i/o timeout", path);
      int err = 0;
      socklen_t size = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &size);
      if (err) die("unix socket dial error: dial unix %s: %s", path, strerror(err));
      break;
    }
    if (errno != EAGAIN) die("unix socket dial error: dial unix %s: %s", path, strerror(errno));
    if (now_ms() >= deadline) die("unix socket dial error: dial unix %s: i/o timeout", path);
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
  }
  return fd;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcasecmp(argv[1], "--version") == 0) {
    printf("walg-daemon-client\twal-native-bench\tc\tprotocol-v3.0.9\n");
    return 0;
  }
  if (argc < 3) usage("not enough arguments", NULL);
  const char *socket_path = argv[1];
  char type;
  int nargs;
  const char *command_usage;
  if (strcasecmp(argv[2], "wal-push") == 0) {
    type = 'F', nargs = 1, command_usage = "wal-push wal_filepath";
  } else if (strcasecmp(argv[2], "wal-fetch") == 0) {
    type = 'f', nargs = 2, command_usage = "wal-fetch wal_name destination_filename";
  } else {
    char error[256];
    snprintf(error, sizeof error, "unsupported command %s", argv[2]);
    usage(error, NULL);
  }
  if (argc < 3 + nargs) usage("not enough command arguments", command_usage);
  char **args = argv + 3;

  long long timeout_ms = 60000, connect_ms = 5000;
  for (int i = 3 + nargs; i < argc; i++) {
    const char *flag = argv[i];
    if (flag[0] != '-') break; /* Go's flag parsing stops at the first non-flag */
    flag += flag[1] == '-' ? 2 : 1;
    if (!*flag) break;
    const char *eq = strchr(flag, '=');
    size_t name_len = eq ? (size_t)(eq - flag) : strlen(flag);
    long long *target = NULL;
    if (name_len == 7 && strncmp(flag, "timeout", 7) == 0) target = &timeout_ms;
    else if (name_len == 18 && strncmp(flag, "connection-timeout", 18) == 0) target = &connect_ms;
    char error[512];
    if (!target) {
      snprintf(error, sizeof error, "flag provided but not defined: -%.*s", (int)name_len, flag);
      usage(error, NULL);
    }
    const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!value) {
      snprintf(error, sizeof error, "flag needs an argument: -%.*s", (int)name_len, flag);
      usage(error, NULL);
    }
    if ((*target = parse_duration_ms(value)) < 0) {
      snprintf(error, sizeof error, "invalid value \"%s\" for flag -%.*s: parse error", value, (int)name_len, flag);
      usage(error, NULL);
    }
  }

  struct stat st;
  if (stat(socket_path, &st) != 0)
    die("daemon socket '%s' doesn't exist or is unavailable:\n\tstat %s: %s", socket_path, socket_path, strerror(errno));

  static unsigned char msg[MAX_MESSAGE + 16];
  size_t len = build_message(msg, type, args, nargs);
  int fd = connect_socket(socket_path, connect_ms);
  long long deadline = now_ms() + timeout_ms;

  for (size_t sent = 0; sent < len;) {
    ssize_t n = send(fd, msg + sent, len - sent, MSG_NOSIGNAL);
    if (n > 0) { sent += (size_t)n; continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (wait_fd(fd, POLLOUT, deadline) != 0) die("unix socket write error: i/o timeout");
      continue;
    }
    die("unix socket write error: %s", n < 0 ? strerror(errno) : "short write");
  }

  unsigned char reply;
  for (;;) {
    ssize_t n = recv(fd, &reply, 1, 0);
    if (n == 1) break;
    if (n == 0) die("unix socket read error: EOF");
    if (errno == EINTR) continue;
    if (errno != EAGAIN) die("unix socket read error: %s", strerror(errno));
    if (wait_fd(fd, POLLIN, deadline) != 0) die("unix socket read error: i/o timeout");
  }
  close(fd);

  if (reply == 'O') return 0;
  /* args printed as Go prints a []string: [a b] */
  char joined[2 * MAX_MESSAGE + 8];
  if (nargs == 1) snprintf(joined, sizeof joined, "[%s]", args[0]);
  else snprintf(joined, sizeof joined, "[%s %s]", args[0], args[1]);
  if (reply == 'N') {
    printf("daemon command run error [message type: %c, args: %s, daemon response: N]\n", type, joined);
    return EX_NOT_FOUND;
  }
  die("daemon command run error [message type: %c, args: %s, daemon response: %c]", type, joined, reply);
}
