/* Monitor: healthchecks (docs/PLAN.md, "Healthchecks"). The policy comes from TypeScript in the
 * `health` post step; the monitor runs each check on its own timer as an exec in the container:
 * it forks, joins the container's cgroup, changes into /proc/INIT (the exec plan names the
 * namespaces as relative `ns/…` paths) and re-executes its own sealed binary as a helper that
 * runs the prepared exec plan from PLANFILE. Docker's rules: the last 5 results, output cut at
 * 4 KiB, a timeout kills the check and counts as a failure with exit code -1, failures during the
 * start period do not count while the status is still "starting". */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define H_OUT 4096   /* Docker's maxOutputLen */
#define H_LOG 5      /* Docker's maxLogEntries */
#define H_KILL_MS 1000

extern char **environ;

enum { ST_STARTING, ST_HEALTHY, ST_UNHEALTHY };
enum { A_NONE, A_KILL, A_RESTART, A_STOP };
static const char *const STATUS[] = { "starting", "healthy", "unhealthy" };

struct hres {
	struct timespec start, end;
	int code;
	size_t olen;
	char out[H_OUT + 1];
};

static struct {
	int on, begun;
	const char *plan, *state, *events, *procs;
	long interval, timeout, start_period, start_interval, stop_timeout;
	int retries, action, stopsig;
	char **restartcmd;
	long t0, next;       /* monitor start; when the next check starts */
	/* the running check */
	pid_t pid;
	int ctl, out, ictl, iout, timed_out, got_exit;
	long deadline, kill_at;
	char ctlbuf[2048];
	size_t ctllen;
	struct hres cur;
	/* results */
	int status, streak, n;
	struct hres log[H_LOG];
	long stop_at;        /* --health-on-failure=stop: SIGKILL after the stop timeout */
} H = { .ctl = -1, .out = -1, .ictl = -1, .iout = -1 };

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
	H.plan = F(s, 1);
	H.state = F(s, 2);
	H.events = F(s, 3);
	H.procs = F(s, 4);
	H.interval = (long)U(s, 5);
	H.timeout = (long)U(s, 6);
	H.start_period = (long)U(s, 7);
	H.start_interval = (long)U(s, 8);
	H.retries = (int)U(s, 9);
	const char *a = F(s, 10);
	H.action = !strcmp(a, "kill") ? A_KILL : !strcmp(a, "restart") ? A_RESTART : !strcmp(a, "stop") ? A_STOP : A_NONE;
	H.stopsig = (int)U(s, 11);
	H.stop_timeout = (long)U(s, 12);
	H.restartcmd = split_words(s->f[13]);
	if (*H.plan != '/' || *H.state != '/' || H.interval <= 0 || H.timeout <= 0)
		return failm(EINVAL, "", "bad plan", "health: absolute paths and positive times are required");
	if (H.restartcmd && H.restartcmd[0][0] != '/')
		return failm(EINVAL, "", "bad plan", "health: the restart command is not an absolute path");
	if (H.retries <= 0)
		H.retries = 3;
	H.t0 = mon_now_ms();
	H.on = 1;
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
static void write_state(void)
{
	size_t cap = 256 + (size_t)H.n * (160 + 6 * H_OUT);
	/* mapped and unmapped each time: the idle monitor keeps none of it */
	char *b = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return;
	size_t k = (size_t)sprintf(b, "{\"Status\":\"%s\",\"FailingStreak\":%d,\"Log\":[", STATUS[H.status], H.streak);
	for (int i = 0; i < H.n; i++) {
		char t1[48], t2[48];
		mon_rfc3339(t1, sizeof t1, &H.log[i].start);
		mon_rfc3339(t2, sizeof t2, &H.log[i].end);
		k += (size_t)sprintf(b + k, "%s{\"Start\":\"%s\",\"End\":\"%s\",\"ExitCode\":%d,\"Output\":\"", i ? "," : "", t1, t2,
				     H.log[i].code);
		k += esc(b + k, H.log[i].out, H.log[i].olen);
		k += (size_t)sprintf(b + k, "\"}");
	}
	k += (size_t)sprintf(b + k, "]}\n");
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", H.state);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd >= 0) {
		int ok = write_full(fd, b, k) == 0;
		if (close(fd) < 0)
			ok = 0;
		if (!ok || rename(tmp, H.state) < 0)
			unlink(tmp);
	}
	munmap(b, cap);
}

/* One line per status change, appended (the engine takes the file over by renaming it). */
static void append_event(void)
{
	if (!*H.events)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	char line[128];
	int n = snprintf(line, sizeof line, "{\"status\":\"%s\",\"timeNano\":%lld%09ld}\n", STATUS[H.status],
			 (long long)now.tv_sec, now.tv_nsec);
	int fd = open(H.events, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
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
	switch (H.action) {
	case A_KILL:
		kill(M.init, SIGKILL);
		break;
	case A_STOP:
		kill(M.init, H.stopsig > 0 ? H.stopsig : SIGTERM);
		H.stop_at = now + H.stop_timeout;
		break;
	case A_RESTART:
		if (H.restartcmd)
			run_detached(H.restartcmd);
		break;
	}
}

/* ---- one check ---- */

static long interval_now(long now)
{
	if (H.start_period > 0 && now - H.t0 < H.start_period && H.status == ST_STARTING)
		return H.start_interval > 0 ? H.start_interval : 5000;
	return H.interval;
}

static void record(long now)
{
	clock_gettime(CLOCK_REALTIME, &H.cur.end);
	H.cur.out[H.cur.olen] = 0;
	int old = H.status;
	if (H.cur.code == 0) {
		H.streak = 0;
		H.status = ST_HEALTHY;
	} else if (!(H.status == ST_STARTING && now - H.t0 < H.start_period)) {
		/* start period: a failure does not count while the container is still starting */
		if (++H.streak >= H.retries)
			H.status = ST_UNHEALTHY;
	}
	if (H.n == H_LOG) {
		memmove(&H.log[0], &H.log[1], sizeof H.log[0] * (H_LOG - 1));
		H.n--;
	}
	H.log[H.n++] = H.cur;
	write_state();
	if (H.status != old) {
		append_event();
		if (H.status == ST_UNHEALTHY)
			on_unhealthy(now);
	}
}

static void put_out(const char *s, size_t n)
{
	size_t room = H_OUT - H.cur.olen;
	if (n > room)
		n = room;
	memcpy(H.cur.out + H.cur.olen, s, n);
	H.cur.olen += n;
}

static void set_out(const char *s)
{
	H.cur.olen = 0;
	put_out(s, strlen(s));
}

/* Docker runs no check while the container is paused: its cgroup is frozen (v2 cgroup.freeze,
 * v1 freezer.state). */
static int frozen(void)
{
	for (const char *f = H.procs; *f; ) {
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

static void start_check(long now)
{
	int sv[2], op[2];
	if (frozen()) {
		H.next = now + interval_now(now); /* paused: look again later */
		return;
	}
	H.next = 0;
	memset(&H.cur, 0, sizeof H.cur);
	clock_gettime(CLOCK_REALTIME, &H.cur.start);
	H.cur.code = -1;
	struct stat st;
	int pf = open(H.plan, O_RDONLY | O_CLOEXEC);
	if (pf < 0 || fstat(pf, &st) < 0 || st.st_size <= 0) {
		if (pf >= 0)
			close(pf);
		set_out("health check: cannot read the exec plan");
		record(now);
		H.next = now + interval_now(now);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		close(pf);
		set_out("health check: socketpair failed");
		record(now);
		H.next = now + interval_now(now);
		return;
	}
	if (pipe2(op, O_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		close(pf);
		set_out("health check: pipe failed");
		record(now);
		H.next = now + interval_now(now);
		return;
	}
	pid_t p = fork();
	if (p == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGXFSZ, SIG_DFL);
		/* join the container's cgroup (every hierarchy on v1) */
		char pid[32];
		int pl = snprintf(pid, sizeof pid, "%d", (int)getpid());
		for (const char *f = H.procs; *f; ) {
			size_t l = strcspn(f, "\n");
			char path[4200];
			if (l < sizeof path) {
				memcpy(path, f, l);
				path[l] = 0;
				write_path(-1, path, pid, (size_t)pl);
			}
			f += l + (f[l] == '\n');
		}
		dup2(op[1], 1);
		dup2(op[1], 2);
		dup2(sv[1], 3);
		fcntl(3, F_SETFD, 0);
		syscall(SYS_close_range, 4u, ~0u, 0);
		char dir[64];
		snprintf(dir, sizeof dir, "/proc/%d", (int)M.init);
		if (chdir(dir) < 0)
			_exit(126);
		int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		char *argv[] = { "berth-helper", "run", "--ctl", "3", NULL };
		syscall(SYS_execveat, exe, "", argv, environ, AT_EMPTY_PATH);
		_exit(127);
	}
	close(sv[1]);
	close(op[1]);
	if (p < 0) {
		close(sv[0]);
		close(op[0]);
		close(pf);
		set_out("health check: fork failed");
		record(now);
		H.next = now + interval_now(now);
		return;
	}
	/* the plan goes from the file to the helper without passing through our memory */
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t w = sendfile(sv[0], pf, &off, (size_t)(st.st_size - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
	}
	int ok = off == st.st_size;
	close(pf);
	H.pid = p;
	H.ctl = sv[0];
	H.out = op[0];
	fcntl(H.ctl, F_SETFL, O_NONBLOCK);
	fcntl(H.out, F_SETFL, O_NONBLOCK);
	H.ctllen = 0;
	H.timed_out = H.got_exit = 0;
	H.kill_at = 0;
	H.deadline = now + H.timeout;
	if (!ok)
		kill(p, SIGKILL);
}

static void read_ctl(void)
{
	while (H.ctl >= 0) {
		ssize_t r = read(H.ctl, H.ctlbuf + H.ctllen, sizeof H.ctlbuf - 1 - H.ctllen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 || errno != EAGAIN) {
				close(H.ctl);
				H.ctl = -1;
			}
			break;
		}
		H.ctllen += (size_t)r;
		if (H.ctllen >= sizeof H.ctlbuf - 1) { /* keep the last part: the exit line comes last */
			memmove(H.ctlbuf, H.ctlbuf + H.ctllen / 2, H.ctllen - H.ctllen / 2);
			H.ctllen -= H.ctllen / 2;
		}
	}
	H.ctlbuf[H.ctllen] = 0;
}

static void read_out(void)
{
	char buf[4096];
	while (H.out >= 0) {
		ssize_t r = read(H.out, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 || errno != EAGAIN) {
				close(H.out);
				H.out = -1;
			}
			break;
		}
		if (!H.timed_out)
			put_out(buf, (size_t)r);
	}
}

/* A JSON string field of a helper message, unescaped only for \" \\ \n (enough for messages). */
static void field(const char *line, const char *key, char *o, size_t cap)
{
	char k[32];
	snprintf(k, sizeof k, "\"%s\":\"", key);
	const char *p = strstr(line, k);
	size_t n = 0;
	if (p)
		for (p += strlen(k); *p && *p != '"' && n + 1 < cap; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				o[n++] = *p == 'n' ? '\n' : *p;
			} else {
				o[n++] = *p;
			}
		}
	o[n] = 0;
}

/* The helper is gone: its exit line gives the check's exit code, an error line the reason. */
static void check_done(long now)
{
	read_ctl();
	read_out();
	if (H.ctl >= 0)
		close(H.ctl);
	if (H.out >= 0)
		close(H.out);
	H.ctl = H.out = -1;
	H.pid = 0;
	if (!H.timed_out && !M.exited) { /* a check killed because the container ended is no result */
		char *e = strstr(H.ctlbuf, "{\"type\":\"exit\"");
		char *er = strstr(H.ctlbuf, "{\"type\":\"error\"");
		if (e && strstr(e, "\"code\":"))
			H.cur.code = atoi(strstr(e, "\"code\":") + 7);
		else if (e && strstr(e, "\"signal\":"))
			H.cur.code = 128 + atoi(strstr(e, "\"signal\":") + 9);
		else {
			char op[32], path[512], msg[256], text[900];
			H.cur.code = -1;
			if (er) {
				field(er, "op", op, sizeof op);
				field(er, "path", path, sizeof path);
				field(er, "message", msg, sizeof msg);
				if (!strcmp(op, "lookup") || !strcmp(op, "exec"))
					snprintf(text, sizeof text, "OCI runtime exec failed: exec failed: unable to start container process: exec: \"%s\": %s", path,
						 strstr(er, "\"errno\":2,") ? (strchr(path, '/') ? "no such file or directory" : "executable file not found in $PATH") : msg);
				else
					snprintf(text, sizeof text, "OCI runtime exec failed: %s %s: %s", op, path, msg);
			} else {
				snprintf(text, sizeof text, "OCI runtime exec failed: the exec helper ended without an exit status");
			}
			set_out(text);
		}
		record(now);
	}
	H.next = now + interval_now(now);
}

int mh_poll(struct pollfd *p, int n)
{
	H.ictl = H.iout = -1;
	if (!H.on || !H.pid)
		return n;
	if (H.ctl >= 0) {
		H.ictl = n;
		p[n++] = (struct pollfd){ H.ctl, POLLIN, 0 };
	}
	if (H.out >= 0) {
		H.iout = n;
		p[n++] = (struct pollfd){ H.out, POLLIN, 0 };
	}
	return n;
}

int mh_timeout(long now, int timeout)
{
	if (!H.on)
		return timeout;
	if (!H.begun) {
		H.begun = 1;
		write_state(); /* {"Status":"starting","FailingStreak":0,"Log":[]} */
		H.next = now + interval_now(now);
	}
	long d = -1;
	if (M.exited) {
		if (H.pid && !H.kill_at) {
			kill(H.pid, SIGKILL);
			H.kill_at = now;
		}
		return timeout;
	}
	if (H.pid)
		d = H.kill_at ? H.kill_at : H.deadline;
	else if (H.next)
		d = H.next;
	if (H.stop_at && (d < 0 || H.stop_at < d))
		d = H.stop_at;
	if (d < 0)
		return timeout;
	int t = (int)(d > now ? d - now : 0);
	return timeout < 0 || t < timeout ? t : timeout;
}

void mh_events(struct pollfd *p, long now)
{
	if (!H.on)
		return;
	if (H.ictl >= 0 && p[H.ictl].revents)
		read_ctl();
	if (H.iout >= 0 && p[H.iout].revents)
		read_out();
	if (H.stop_at && now >= H.stop_at) {
		H.stop_at = 0;
		if (!M.exited)
			kill(M.init, SIGKILL);
	}
	if (M.exited)
		return;
	if (H.pid) {
		if (!H.timed_out && now >= H.deadline && frozen()) {
			/* paused while checking: Docker cancels the probe and keeps no result */
			H.timed_out = 1;
			if (H.ctl >= 0 && write(H.ctl, "A", 1) < 0) {
				/* the helper is going anyway */
			}
			H.kill_at = now + H_KILL_MS;
		} else if (!H.timed_out && now >= H.deadline) {
			/* Docker: the check failed with -1; the process is killed (abort, then the helper) */
			H.timed_out = 1;
			char text[96];
			long t = H.timeout;
			if (t % 1000 == 0)
				snprintf(text, sizeof text, "Health check exceeded timeout (%lds)", t / 1000);
			else
				snprintf(text, sizeof text, "Health check exceeded timeout (%ldms)", t);
			set_out(text);
			H.cur.code = -1;
			if (H.ctl >= 0 && write(H.ctl, "A", 1) < 0) {
				/* the helper is going anyway */
			}
			H.kill_at = now + H_KILL_MS;
			record(now);
		} else if (H.kill_at && now >= H.kill_at) {
			kill(H.pid, SIGKILL);
			H.kill_at = now + 60000;
		}
		return;
	}
	if (H.next && now >= H.next)
		start_check(now);
}

int mh_reaped(pid_t p, long now)
{
	if (!H.on || !H.pid || p != H.pid)
		return 0;
	check_done(now);
	return 1;
}
