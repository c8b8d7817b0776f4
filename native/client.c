/*
 * berth: the command's front end. When a `berth worker` (a warm engine process) listens on its
 * socket, the command is handed to it: argv, environment, working directory, umask and whether
 * the standard streams are terminals; the worker's output comes back in frames, and stdin is
 * forwarded only when the command asks for it. Signals are passed on. The worker may decline a
 * command (one needing this terminal, say) before doing anything; then, as when no worker
 * listens, the command runs in a fresh Node process: `node <dir>/berth.cjs`, its arguments in
 * the environment (see fallback()). The same binary named berth-runtime always runs
 * `node <dir>/berth-runtime.cjs` that way (runc's command line has no worker).
 *
 * Frames both ways: [type u8][length u32 big-endian][payload]. Protocol in docs/ARCHITECTURE.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "front.h"

#define MAGIC "berth-cli/2"

extern char **environ;

static int sigpipe_fds[2] = {-1, -1};

/* The CLI this front stands for: berth (worker or Node) or berth-runtime (always Node), by the
 * name of this binary (dist/berth, dist/berth-runtime). */
static int is_runtime;

static void self_dir(char *dir, size_t size) {
  ssize_t n = readlink("/proc/self/exe", dir, size - 1);
  if (n <= 0) { perror("berth: readlink /proc/self/exe"); exit(125); }
  dir[n] = 0;
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
}

/*
 * Run the command in a fresh Node process: `node <dir>/<name>.cjs`, with the command's arguments
 * in the environment (BERTH_ARGC, BERTH_ARG_0…), never in Node's argv: Node parses some of its
 * own options anywhere in its command line (Node 20 loads `--env-file FILE` even after the script
 * name, NODE_OPTIONS included), so no user argument may reach it. The loader (scripts/loader.cjs)
 * moves them back into process.argv and out of the environment.
 */
static void fallback(char **argv, const char *command) {
  char dir[PATH_MAX], script[PATH_MAX + 32], name[32];
  self_dir(dir, sizeof dir);
  /* a long-lived process (berth serve) with one malloc arena: its threads' arenas otherwise keep
   * megabytes that malloc_trim cannot give back (the warm process gets the same: front_auto.c) */
  if (command && !strcmp(command, "serve")) setenv("MALLOC_ARENA_MAX", "1", 0);
  snprintf(script, sizeof script, "%s/%s.cjs", dir, is_runtime ? "berth-runtime" : "berth");
  /* Node reads NODE_EXTRA_CA_CERTS at every start (~40 ms) though most commands never open a
   * TLS socket: the registry client adds the certificates of BERTH_EXTRA_CA_CERTS itself. */
  const char *extra = getenv("NODE_EXTRA_CA_CERTS");
  if (extra && *extra) {
    setenv("BERTH_EXTRA_CA_CERTS", extra, 1);
    unsetenv("NODE_EXTRA_CA_CERTS");
  }
  int argc = 0;
  while (argv[argc]) argc++;
  char num[16];
  snprintf(num, sizeof num, "%d", argc > 0 ? argc - 1 : 0);
  for (int i = 1; i < argc; i++) {
    snprintf(name, sizeof name, "BERTH_ARG_%d", i - 1);
    if (setenv(name, argv[i], 1) < 0) { perror("berth: setenv"); exit(125); }
  }
  if (setenv("BERTH_ARGC", num, 1) < 0) { perror("berth: setenv"); exit(125); }
  char *args[] = {"node", script, NULL};
  execvp("node", args);
  fprintf(stderr, "berth: exec node %s: %s\n", script, strerror(errno));
  exit(125);
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len) {
    ssize_t r = read(fd, p, len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    len -= (size_t)r;
  }
  return 0;
}

static int send_frame(int fd, char type, const void *data, uint32_t len) {
  unsigned char head[5] = {(unsigned char)type, len >> 24, len >> 16, len >> 8, len};
  if (write_all(fd, head, 5) < 0) return -1;
  return len ? write_all(fd, data, len) : 0;
}

struct buf { char *p; size_t len, cap; };

static void put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) exit(125);
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len++] = 0;
}

static void puts0(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void on_signal(int sig) {
  int saved = errno;
  unsigned char c = (unsigned char)sig;
  if (write(sigpipe_fds[1], &c, 1) < 0) { /* full: dropped */ }
  errno = saved;
}

/* How a session with a warm process ended when it did not run the command. */
enum { DECLINED = 1, STALE, OLD, GONE };

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

/* Signals act on this process again (the command was not handed over). */
static int unforward(int r) {
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) signal(forwarded[i], SIG_DFL);
  return r;
}

/*
 * Hand the command to the warm process on fd: returns only when it did not take the command
 * (DECLINED: it needs this terminal; STALE: it runs another build of berth and retires; OLD: it
 * speaks an older protocol; GONE: it closed before answering); once it accepted, the command's exit status
 * ends this process.
 */
static int session(int fd, int argc, char **argv, const char *build) {
  /* hello: magic[ build], cwd, umask, ttys, rows, cols, argc, argv…, env… */
  struct buf b = {0};
  char cwd[PATH_MAX], num[64 + PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return DECLINED;
  mode_t um = umask(0);
  umask(um);
  struct winsize ws = {0};
  if (ioctl(1, TIOCGWINSZ, &ws) < 0 && ioctl(2, TIOCGWINSZ, &ws) < 0) memset(&ws, 0, sizeof ws);
  if (*build) { snprintf(num, sizeof num, "%s %s", MAGIC, build); puts0(&b, num); }
  else puts0(&b, MAGIC);
  puts0(&b, cwd);
  snprintf(num, sizeof num, "%o", (unsigned)um); puts0(&b, num);
  for (int i = 0; i < 3; i++) puts0(&b, isatty(i) ? "1" : "0");
  snprintf(num, sizeof num, "%u", ws.ws_row); puts0(&b, num);
  snprintf(num, sizeof num, "%u", ws.ws_col); puts0(&b, num);
  snprintf(num, sizeof num, "%d", argc - 1); puts0(&b, num);
  for (int i = 1; i < argc; i++) puts0(&b, argv[i]);
  for (char **e = environ; *e; e++) puts0(&b, *e);
  signal(SIGPIPE, SIG_IGN);
  int sent = send_frame(fd, 'H', b.p, (uint32_t)b.len);
  free(b.p);
  if (sent < 0) return GONE;

  if (sigpipe_fds[0] < 0 && pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) { perror("berth: pipe"); exit(125); }
  struct sigaction act = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
  sigemptyset(&act.sa_mask);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaction(forwarded[i], &act, NULL);

  int accepted = 0, stdin_on = 0, out_ok = 1;
  char *payload = NULL;
  size_t cap = 0;
  for (;;) {
    struct pollfd p[3] = {{.fd = fd, .events = POLLIN}, {.fd = sigpipe_fds[0], .events = POLLIN}, {.fd = stdin_on ? 0 : -1, .events = POLLIN}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      perror("berth: poll");
      exit(125);
    }
    if (p[1].revents & POLLIN) {
      unsigned char c;
      while (read(sigpipe_fds[0], &c, 1) == 1) {
        if (!accepted) {
          /* not the worker's yet: a signal before it took the command acts here, as on node */
          if (c != SIGWINCH) { signal(c, SIG_DFL); raise(c); }
          continue;
        }
        snprintf(num, sizeof num, "%d", c);
        send_frame(fd, 'S', num, (uint32_t)strlen(num));
      }
    }
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      char data[65536];
      ssize_t r = read(0, data, sizeof data);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) { send_frame(fd, 'I', NULL, 0); stdin_on = 0; }
      else send_frame(fd, 'I', data, (uint32_t)r);
    }
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    unsigned char head[5];
    if (read_all(fd, head, 5) < 0) {
      if (!accepted) return unforward(GONE);
      fprintf(stderr, "berth: the worker closed the connection before the command ended\n");
      exit(125);
    }
    uint32_t len = (uint32_t)head[1] << 24 | (uint32_t)head[2] << 16 | (uint32_t)head[3] << 8 | head[4];
    if (len > cap) {
      cap = len;
      payload = realloc(payload, cap);
      if (!payload) exit(125);
    }
    if (len && read_all(fd, payload, len) < 0) {
      if (!accepted) return unforward(GONE);
      fprintf(stderr, "berth: the worker closed the connection before the command ended\n");
      exit(125);
    }
    switch (head[0]) {
    case 'A': accepted = 1; break;
    /* a worker of this protocol says why it declines; one of the older protocol cannot read
     * the hello and declines with no reason */
    case 'D': free(payload); return unforward(len ? DECLINED : OLD);
    case 'V': free(payload); return unforward(STALE);
    case 'O':
      if (out_ok && write_all(1, payload, len) < 0) {
        out_ok = 0;
        snprintf(num, sizeof num, "%d", SIGPIPE);
        send_frame(fd, 'S', num, (uint32_t)strlen(num));
      }
      break;
    case 'E': (void)write_all(2, payload, len); break;
    case 'R': stdin_on = 1; break;
    case 'X': {
      char code[16] = {0};
      memcpy(code, payload, len < 15 ? len : 15);
      exit(atoi(code));
    }
    default:
      fprintf(stderr, "berth: unknown frame %d from the worker\n", head[0]);
      exit(125);
    }
  }
}

/* The pid of the process on the other end of a unix socket (0 if unknown). */
static pid_t peer_pid(int fd) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
}

int main(int argc, char **argv) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  const char *base = strrchr(exe, '/');
  is_runtime = base && strncmp(base + 1, "berth-runtime", 13) == 0;
  if (is_runtime) fallback(argv, NULL);
  struct front_target t;
  front_target(&t, argc - 1, argv + 1);
  const char *no = getenv("BERTH_NO_WORKER");
  if (no && *no && strcmp(no, "0") != 0) fallback(argv, t.command);
  if (t.disabled || !*t.socket) fallback(argv, t.command);
  char dir[PATH_MAX], build[128] = "";
  self_dir(dir, sizeof dir);
  /* a warm process this front manages must run this front's build; one managed by hand is used as it is */
  if (!t.explicit_socket) front_build_id(dir, build, sizeof build);
  /* BERTH_WORKER_WAIT=0: a first command runs in Node while the warm process starts (measured in
   * bench/serve.ts against waiting for it) */
  const char *w = getenv("BERTH_WORKER_WAIT");
  int wait = !(w && !strcmp(w, "0")) && !t.own_process;
  for (int attempt = 0; attempt < 3; attempt++) {
    int fd = front_connect(t.socket);
    if (fd < 0) fd = front_start(&t, dir, wait);
    if (fd < 0) break;
    pid_t peer = peer_pid(fd);
    int r = session(fd, argc, argv, build);
    close(fd);
    /* another build: a current one retires itself on `V` (a `berth serve` only leaves the
     * socket); a `berth worker` of the older protocol is told to stop */
    if (t.explicit_socket || !t.auto_start || (r != STALE && r != OLD)) break;
    if (r == OLD && peer > 0 && kill(peer, SIGTERM) == 0) {
      for (int i = 0; i < 200 && (fd = front_connect(t.socket)) >= 0; i++) { close(fd); usleep(10000); }
    }
  }
  fallback(argv, t.command);
}
