/*
 * The front's warm process: which socket it answers on (one per run root, <run root>/cli.sock,
 * unless $BERTH_WORKER_SOCKET names one managed by hand), and starting it when none answers:
 * `node <dir>/berth.cjs worker --auto --socket <run root>/cli.sock`, detached (a session of its
 * own, stdin /dev/null, stdout and stderr appended to <run root>/cli.log), with an idle timeout of its own
 * (worker.ts). <run root>/cli.lock serialises the fronts that race to start one: the starter
 * takes it and hands it to the worker (fd 3), which lets go once it listens (or dies). A start
 * that came to nothing (the worker died before it listened) is noted in <run root>/cli.failed:
 * no front tries again for a minute, and commands run in a process of their own meanwhile.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "front.h"

#define DEFAULT_RUN_ROOT "/run/berth"
#define DEFAULT_CONFIG "/etc/berth/config.json"
#define LOCK_FD 3

extern char **environ;

/* ---- /etc/berth/config.json: the few top-level keys the front reads (run-root, worker) ---- */

static const char *ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* A JSON string at p ('"'): decoded into out (ASCII escapes; others as '?') when out is given;
 * the position after it, or NULL when malformed. */
static const char *jstring(const char *p, char *out, size_t size) {
  size_t n = 0;
  if (*p++ != '"') return NULL;
  while (*p && *p != '"') {
    char c = *p++;
    if (c == '\\') {
      char e = *p++;
      switch (e) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u': {
        unsigned v = 0;
        for (int i = 0; i < 4; i++, p++) {
          if (!isxdigit((unsigned char)*p)) return NULL;
          v = v * 16 + (unsigned)(isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10));
        }
        c = v && v < 0x80 ? (char)v : '?';
        break;
      }
      case 0: return NULL;
      default: c = e;
      }
    }
    if (out && n + 1 < size) out[n++] = c;
  }
  if (*p != '"') return NULL;
  if (out) out[n] = 0;
  return p + 1;
}

/* Past any JSON value at p; NULL when malformed. */
static const char *jskip(const char *p) {
  p = ws(p);
  if (*p == '"') return jstring(p, NULL, 0);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (*p) {
      if (*p == '"') {
        if (!(p = jstring(p, NULL, 0))) return NULL;
        continue;
      }
      if (*p == '{' || *p == '[') depth++;
      else if ((*p == '}' || *p == ']') && --depth == 0) return p + 1;
      p++;
    }
    return NULL;
  }
  const char *s = p;
  while (*p && *p != ',' && *p != '}' && *p != ']' && !isspace((unsigned char)*p)) p++;
  return p > s ? p : NULL;
}

/* Read run-root and worker from the config file; a missing or malformed file says nothing
 * (the command reports a malformed one itself). */
static void read_config(const char *path, char *run_root, size_t size, int *disabled) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  static char text[1 << 16];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return;
  text[n] = 0;
  const char *p = ws(text);
  if (*p++ != '{') return;
  char key[64], val[PATH_MAX];
  for (;;) {
    p = ws(p);
    if (*p == '}') return;
    if (!(p = jstring(p, key, sizeof key))) return;
    p = ws(p);
    if (*p++ != ':') return;
    p = ws(p);
    if (!strcmp(key, "run-root") && *p == '"') {
      if (!(p = jstring(p, val, sizeof val))) return;
      snprintf(run_root, size, "%s", val);
    } else if (!strcmp(key, "worker") && !strncmp(p, "false", 5)) {
      *disabled = 1;
      p += 5;
    } else if (!(p = jskip(p))) {
      return;
    }
    p = ws(p);
    if (*p == ',') p++;
    else return;
  }
}

/* ---- where ---- */

void front_target(struct front_target *t, int argc, char **argv) {
  memset(t, 0, sizeof *t);
  /* the global flags before the command, as commands.ts's takeGlobals reads them */
  const char *run_root = NULL, *config = NULL;
  int i = 0;
  while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--help") && strcmp(argv[i], "--version") &&
         strcmp(argv[i], "-h") && strcmp(argv[i], "-v")) {
    const char *a = argv[i];
    if (!strcmp(a, "-D") || !strcmp(a, "--debug")) { i++; continue; }
    const char *names[] = {"--data-root", "--run-root", "--config"};
    int which = -1;
    const char *value = NULL;
    for (int k = 0; k < 3; k++) {
      size_t l = strlen(names[k]);
      if (!strncmp(a, names[k], l) && (a[l] == 0 || a[l] == '=')) { which = k; value = a[l] ? a + l + 1 : NULL; }
    }
    if (which < 0) break; /* an unknown flag: the command reports it */
    if (!value) {
      if (i + 1 >= argc) break;
      value = argv[++i];
    }
    if (which == 0) snprintf(t->data_root, sizeof t->data_root, "%s", value);
    if (which == 1) run_root = value;
    if (which == 2) config = value;
    i++;
  }
  t->command = i < argc ? argv[i] : NULL;
  if (config) snprintf(t->config, sizeof t->config, "%s", config);
  if (!config) config = getenv("BERTH_CONFIG");
  /* an ordinary user's defaults, as engine/rootless/paths.ts's defaultRoots */
  static char user_config[PATH_MAX], user_run_root[PATH_MAX];
  int rootless = geteuid() != 0;
  if ((!config || !*config) && rootless) {
    const char *xc = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xc && *xc) snprintf(user_config, sizeof user_config, "%s/berth/config.json", xc);
    else if (home && *home) snprintf(user_config, sizeof user_config, "%s/.config/berth/config.json", home);
    if (*user_config) config = user_config;
  }
  if (!config || !*config) config = DEFAULT_CONFIG;

  char cfg_run_root[PATH_MAX] = "";
  read_config(config, cfg_run_root, sizeof cfg_run_root, &t->disabled);
  if (!run_root) run_root = getenv("BERTH_RUN_ROOT");
  if (!run_root || !*run_root) {
    if (*cfg_run_root) run_root = cfg_run_root;
    else if (!rootless) run_root = DEFAULT_RUN_ROOT;
    else {
      /* $XDG_RUNTIME_DIR/berth; else the private /tmp/berth-run-UID/berth once a command has made
       * it (with its warning): until then, no warm process (an empty run root starts none) */
      const char *xr = getenv("XDG_RUNTIME_DIR");
      struct stat st;
      char dir[64];
      snprintf(dir, sizeof dir, "/tmp/berth-run-%u", (unsigned)geteuid());
      if (xr && *xr) snprintf(user_run_root, sizeof user_run_root, "%s/berth", xr);
      else if (!lstat(dir, &st) && S_ISDIR(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 077))
        snprintf(user_run_root, sizeof user_run_root, "%s/berth", dir);
      run_root = user_run_root;
    }
  }
  if (run_root[0] == '/' && strlen(run_root) + 16 < sizeof t->run_root) snprintf(t->run_root, sizeof t->run_root, "%s", run_root);

  const char *sock = getenv("BERTH_WORKER_SOCKET");
  if (sock && *sock) {
    t->explicit_socket = 1;
    snprintf(t->socket, sizeof t->socket, "%s", sock);
  } else if (*t->run_root) {
    snprintf(t->socket, sizeof t->socket, "%s/cli.sock", t->run_root);
  }
  /* as worker.ts's needsOwnProcess: such a command is declined, so the front starts the warm
   * process for the next ones without waiting for it */
  if (t->command) {
    const char *c = t->command;
    int k = i + 1;
    if (!strcmp(c, "container") && k < argc) c = argv[k++];
    if (!strcmp(c, "attach") || !strcmp(c, "exec") || !strcmp(c, "login")) t->own_process = 1;
    if (!strcmp(c, "run") || !strcmp(c, "create") || !strcmp(c, "start")) {
      for (; k < argc && strcmp(argv[k], "--"); k++) {
        const char *a = argv[k];
        int shortf = a[0] == '-' && a[1] && a[1] != '-' && strspn(a + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(a + 1);
        if (!strcmp(a, "--tty") || !strncmp(a, "--tty=", 6) || (shortf && strchr(a + 1, 't'))) t->own_process = 1;
        if (isatty(0) && (!strcmp(a, "--interactive") || !strncmp(a, "--interactive=", 14) || (shortf && strchr(a + 1, 'i')))) t->own_process = 1;
      }
    }
  }
  /* no warm process is started for the commands that are one (worker, serve), nor by a
   * container's exit command (`container cleanup`, run by its monitor: it uses one that runs) */
  int internal = t->command && !strcmp(t->command, "container") && i + 1 < argc && !strcmp(argv[i + 1], "cleanup");
  /* (a socket path too long for sun_path could never be listened on: nothing to start) */
  t->auto_start = !t->explicit_socket && !t->disabled && *t->run_root && strlen(t->socket) < 108 && !internal &&
                  !(t->command && (!strcmp(t->command, "worker") || !strcmp(t->command, "serve")));
}

void front_build_id(const char *dir, char *out, size_t size) {
  char path[PATH_MAX + 32];
  struct stat st;
  snprintf(path, sizeof path, "%s/berth-main.cjs", dir);
  if (stat(path, &st) < 0) { if (size) out[0] = 0; return; }
  snprintf(out, size, "%llu:%lld:%lld.%09ld", (unsigned long long)st.st_ino, (long long)st.st_size,
           (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
}

int front_connect(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (!*path || strlen(path) >= sizeof sa.sun_path) return -1;
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(fd); return -1; }
  return fd;
}

/* ---- starting one ---- */

static int mkdirs(const char *path, mode_t mode) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s", path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, mode) < 0 && errno != EEXIST) return -1;
    *s = '/';
  }
  return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}

/* The worker's environment: what it needs to find Node, its roots and config; commands bring their own. */
static char **worker_env(const struct front_target *t) {
  static const char *keep[] = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", NULL};
  size_t n = 0;
  for (char **e = environ; *e; e++) n++;
  char **env = calloc(n + 16, sizeof *env);
  if (!env) return NULL;
  size_t k = 0;
  for (char **e = environ; *e; e++) {
    int ok = !strncmp(*e, "BERTH_", 6) && strncmp(*e, "BERTH_ARG", 9) && strncmp(*e, "BERTH_NO_WORKER=", 16) &&
             strncmp(*e, "BERTH_WORKER_SOCKET=", 20);
    for (const char **w = keep; !ok && *w; w++) {
      size_t l = strlen(*w);
      ok = !strncmp(*e, *w, l) && (*e)[l] == '=';
    }
    if (ok) env[k++] = *e;
  }
  /* the global flags of this command, as the environment the worker starts in */
  char *v;
  if (asprintf(&v, "BERTH_RUN_ROOT=%s", t->run_root) > 0) env[k++] = v;
  if (*t->data_root && asprintf(&v, "BERTH_ROOT=%s", t->data_root) > 0) env[k++] = v;
  if (*t->config && asprintf(&v, "BERTH_CONFIG=%s", t->config) > 0) env[k++] = v;
  if (asprintf(&v, "BERTH_WORKER_LOCK_FD=%d", LOCK_FD) > 0) env[k++] = v;
  if (!getenv("MALLOC_ARENA_MAX")) env[k++] = "MALLOC_ARENA_MAX=1"; /* one malloc arena: client.c */
  env[k++] = "BERTH_ARGC=4";
  env[k++] = "BERTH_ARG_0=worker";
  env[k++] = "BERTH_ARG_1=--auto";
  env[k++] = "BERTH_ARG_2=--socket";
  if (asprintf(&v, "BERTH_ARG_3=%s", t->socket) > 0) env[k++] = v;
  env[k] = NULL;
  /* later entries win: drop earlier duplicates of a name */
  for (size_t a = 0; a < k; a++) {
    const char *eq = strchr(env[a], '=');
    size_t l = eq ? (size_t)(eq - env[a]) + 1 : strlen(env[a]);
    for (size_t b = a + 1; b < k; b++) {
      if (!strncmp(env[a], env[b], l)) { memmove(env + a, env + a + 1, (k - a) * sizeof *env); k--; a--; break; }
    }
  }
  return env;
}

/* In the grandchild: the worker, detached, holding the start lock as fd 3. */
static void exec_worker(const struct front_target *t, const char *dir, int lock) {
  char path[PATH_MAX + 32];
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  snprintf(path, sizeof path, "%s/cli.log", t->run_root);
  int log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  struct stat st;
  if (log >= 0 && fstat(log, &st) == 0 && st.st_size > (1 << 20) && ftruncate(log, 0) < 0) { /* keeps growing */ }
  lock = fcntl(lock, F_DUPFD_CLOEXEC, 10); /* clear of 0-3, whatever was open */
  if (null < 0 || lock < 0) _exit(127);
  if (log < 0) log = null;
  if (dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0 || dup2(lock, LOCK_FD) < 0) _exit(127);
  /* nothing else of the caller's (a pipe a test harness waits on, say) */
  if (syscall(SYS_close_range, LOCK_FD + 1, ~0U, 0) < 0) {
    for (int fd = LOCK_FD + 1; fd < 4096; fd++) close(fd);
  }
  if (chdir("/") < 0) _exit(127);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < 32; s++) signal(s, SIG_DFL);
  char **env = worker_env(t);
  if (!env) _exit(127);
  environ = env;
  snprintf(path, sizeof path, "%s/berth.cjs", dir);
  char *args[] = {"node", path, NULL};
  execvp("node", args);
  fprintf(stderr, "berth: start the warm process: exec node %s: %s\n", path, strerror(errno));
  _exit(127);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Whether a start is under way (someone holds the lock). */
static int starting(const char *lockpath) {
  int fd = open(lockpath, O_RDWR | O_CLOEXEC);
  if (fd < 0) return 0;
  int held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
  close(fd); /* (releases it if we took it) */
  return held;
}

/* After a start that came to nothing, no new one for this long: each command would pay for it. */
#define FAILED_BACKOFF_S 60

/* Whether a start failed less than FAILED_BACKOFF_S ago (<run root>/cli.failed's time). */
static int failed_lately(const char *failpath) {
  struct stat st;
  if (stat(failpath, &st) < 0) return 0;
  time_t now = time(NULL);
  return st.st_mtime <= now && now - st.st_mtime < FAILED_BACKOFF_S;
}

int front_start(const struct front_target *t, const char *dir, int wait) {
  char lockpath[PATH_MAX + 16], failpath[PATH_MAX + 16];
  if (!t->auto_start) return -1;
  if (mkdirs(t->run_root, 0711) < 0) return -1;
  snprintf(failpath, sizeof failpath, "%s/cli.failed", t->run_root);
  if (failed_lately(failpath)) return -1; /* its log says why (cli.log) */
  snprintf(lockpath, sizeof lockpath, "%s/cli.lock", t->run_root);
  int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) return -1;
  if (flock(lock, LOCK_EX | LOCK_NB) == 0) {
    /* ours: unless one came up since the caller looked, start it */
    int fd = front_connect(t->socket);
    if (fd >= 0) { close(lock); return fd; }
    pid_t child = fork();
    if (child == 0) {
      setsid();
      pid_t worker = fork();
      if (worker != 0) _exit(worker < 0 ? 1 : 0);
      exec_worker(t, dir, lock);
    }
    if (child > 0) while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
  }
  close(lock); /* the worker holds it now, until it listens */
  if (!wait) return -1;
  /* wait for it: a few hundred ms normally; give up (and run the command here) after 10 s */
  long end = now_ms() + 10000;
  for (;;) {
    int fd = front_connect(t->socket);
    if (fd >= 0) { unlink(failpath); return fd; }
    if (!starting(lockpath)) {
      fd = front_connect(t->socket); /* up, or it failed */
      if (fd >= 0) { unlink(failpath); return fd; }
      int f = open(failpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (f >= 0) close(f);
      return -1;
    }
    if (now_ms() > end) return -1;
    usleep(5000);
  }
}
