/* Monitor: healthchecks, the results (docs/PLAN.md, "Healthchecks"): the `health` step, Docker's
 * status rules, the state file, the events file and the on-failure action. monitor_health.c
 * runs the checks. */
#include "monitor_health.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

extern char **environ;

static const char *const STATUS[] = { "starting", "healthy", "unhealthy" };

struct health HC = { .ctl = -1, .out = -1, .ictl = -1, .iout = -1 };

/* RESTARTCMD: argv words separated by "\n"; "" = none. */
static char **split_words(char *s)
{
	if (!*s)
		return NULL;
	size_t n = 2;
	for (char *p = s; *p; p++)
		n += *p == '\n';
	char **v = calloc(n, sizeof *v);
	if (!v)
		return NULL;
	size_t k = 0;
	for (char *p = s; p; ) {
		v[k++] = p;
		if ((p = strchr(p, '\n')))
			*p++ = 0;
	}
	return v;
}

/* health PLAN STATE EVENTS PROCS INTERVAL TIMEOUT START_PERIOD START_INTERVAL RETRIES ACTION
 *        STOPSIG STOP_TIMEOUT RESTARTCMD   (times in milliseconds) */
int op_health(struct step *s)
{
	HC.plan = F(s, 1);
	HC.state = F(s, 2);
	HC.events = F(s, 3);
	HC.procs = F(s, 4);
	HC.interval = (long)U(s, 5);
	HC.timeout = (long)U(s, 6);
	HC.start_period = (long)U(s, 7);
	HC.start_interval = (long)U(s, 8);
	HC.retries = (int)U(s, 9);
	const char *a = F(s, 10);
	HC.action = !strcmp(a, "kill") ? A_KILL : !strcmp(a, "restart") ? A_RESTART : !strcmp(a, "stop") ? A_STOP : A_NONE;
	HC.stopsig = (int)U(s, 11);
	HC.stop_timeout = (long)U(s, 12);
	HC.restartcmd = split_words(s->f[13]);
	if (*HC.plan != '/' || *HC.state != '/' || HC.interval <= 0 || HC.timeout <= 0)
		return failm(EINVAL, "", "bad plan", "health: absolute paths and positive times are required");
	if (HC.restartcmd && HC.restartcmd[0][0] != '/')
		return failm(EINVAL, "", "bad plan", "health: the restart command is not an absolute path");
	if (HC.retries <= 0)
		HC.retries = 3;
	HC.t0 = mon_now_ms();
	HC.on = 1;
	return 0;
}

/* ---- the state file ---- */

static size_t esc(char *o, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			o[k++] = '\\';
			o[k++] = (char)c;
		} else if (c == '\n') {
			o[k++] = '\\';
			o[k++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			k += (size_t)sprintf(o + k, "\\u%04x", c);
		} else {
			o[k++] = (char)c;
		}
	}
	return k;
}

/* Atomically (tmp + rename): Docker's State.Health. */
void mh_write_state(void)
{
	size_t cap = 256 + (size_t)HC.n * (160 + 6 * H_OUT);
	/* mapped and unmapped each time: the idle monitor keeps none of it */
	char *b = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return;
	size_t k = (size_t)sprintf(b, "{\"Status\":\"%s\",\"FailingStreak\":%d,\"Log\":[", STATUS[HC.status], HC.streak);
	for (int i = 0; i < HC.n; i++) {
		char t1[48], t2[48];
		mon_rfc3339(t1, sizeof t1, &HC.log[i].start);
		mon_rfc3339(t2, sizeof t2, &HC.log[i].end);
		k += (size_t)sprintf(b + k, "%s{\"Start\":\"%s\",\"End\":\"%s\",\"ExitCode\":%d,\"Output\":\"", i ? "," : "", t1, t2,
				     HC.log[i].code);
		k += esc(b + k, HC.log[i].out, HC.log[i].olen);
		k += (size_t)sprintf(b + k, "\"}");
	}
	k += (size_t)sprintf(b + k, "]}\n");
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", HC.state);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd >= 0) {
		int ok = write_full(fd, b, k) == 0;
		if (close(fd) < 0)
			ok = 0;
		if (!ok || rename(tmp, HC.state) < 0)
			unlink(tmp);
	}
	munmap(b, cap);
}

/* One line per status change, appended (the engine takes the file over by renaming it). */
static void append_event(void)
{
	if (!*HC.events)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	char line[128];
	int n = snprintf(line, sizeof line, "{\"status\":\"%s\",\"timeNano\":%lld%09ld}\n", STATUS[HC.status],
			 (long long)now.tv_sec, now.tv_nsec);
	int fd = open(HC.events, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd >= 0) {
		if (write_full(fd, line, (size_t)n) < 0) {
			/* lost: the state file still has the status */
		}
		close(fd);
	}
}

/* ---- the on-failure action ---- */

static void run_detached(char **argv)
{
	pid_t p = fork();
	if (p != 0)
		return;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	setsid();
	syscall(SYS_close_range, 3u, ~0u, 0);
	execve(argv[0], argv, environ);
	_exit(127);
}

static void on_unhealthy(long now)
{
	if (M.exited)
		return;
	switch (HC.action) {
	case A_KILL:
		kill(M.init, SIGKILL);
		break;
	case A_STOP:
		kill(M.init, HC.stopsig > 0 ? HC.stopsig : SIGTERM);
		HC.stop_at = now + HC.stop_timeout;
		break;
	case A_RESTART:
		if (HC.restartcmd)
			run_detached(HC.restartcmd);
		break;
	}
}

/* ---- one check ---- */

long mh_interval(long now)
{
	if (HC.start_period > 0 && now - HC.t0 < HC.start_period && HC.status == ST_STARTING)
		return HC.start_interval > 0 ? HC.start_interval : 5000;
	return HC.interval;
}

void mh_record(long now)
{
	clock_gettime(CLOCK_REALTIME, &HC.cur.end);
	HC.cur.out[HC.cur.olen] = 0;
	int old = HC.status;
	if (HC.cur.code == 0) {
		HC.streak = 0;
		HC.status = ST_HEALTHY;
	} else if (!(HC.status == ST_STARTING && now - HC.t0 < HC.start_period)) {
		/* start period: a failure does not count while the container is still starting */
		if (++HC.streak >= HC.retries)
			HC.status = ST_UNHEALTHY;
	}
	if (HC.n == H_LOG) {
		memmove(&HC.log[0], &HC.log[1], sizeof HC.log[0] * (H_LOG - 1));
		HC.n--;
	}
	HC.log[HC.n++] = HC.cur;
	mh_write_state();
	if (HC.status != old) {
		append_event();
		if (HC.status == ST_UNHEALTHY)
			on_unhealthy(now);
	}
}
/* Docker runs no check while the container is paused: its cgroup is frozen (v2 cgroup.freeze,
 * v1 freezer.state). */
int mh_frozen(void)
{
	for (const char *f = HC.procs; *f; ) {
		size_t l = strcspn(f, "\n");
		char path[4200], buf[16];
		const char *slash = memrchr(f, '/', l);
		size_t d = slash ? (size_t)(slash - f) : 0;
		static const char *const files[] = { "cgroup.freeze", "freezer.state" };
		for (int k = 0; k < 2 && d + 16 < sizeof path; k++) {
			snprintf(path, sizeof path, "%.*s/%s", (int)d, f, files[k]);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t n = read(fd, buf, sizeof buf - 1);
			close(fd);
			if (n > 0 && (buf[0] == '1' || !strncmp(buf, "FROZEN", 6) || !strncmp(buf, "FREEZING", 8)))
				return 1;
		}
		f += l + (f[l] == '\n');
	}
	return 0;
}
