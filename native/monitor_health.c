/* Monitor: healthchecks (docs/PLAN.md, "Healthchecks"). The policy comes from TypeScript in the
 * `health` post step; the monitor runs each check on its own timer as an exec in the container:
 * it forks, joins the container's cgroup, changes into /proc/INIT (the exec plan names the
 * namespaces as relative `ns/…` paths) and re-executes its own sealed binary as a helper that
 * runs the prepared exec plan from PLANFILE. A timeout kills the check and counts as a failure
 * with exit code -1. Results: monitor_health_state.c. */
#include "monitor_health.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

extern char **environ;

static void put_out(const char *s, size_t n)
{
	size_t room = H_OUT - HC.cur.olen;
	if (n > room)
		n = room;
	memcpy(HC.cur.out + HC.cur.olen, s, n);
	HC.cur.olen += n;
}

static void set_out(const char *s)
{
	HC.cur.olen = 0;
	put_out(s, strlen(s));
}


static void start_check(long now)
{
	int sv[2], op[2];
	if (mh_frozen()) {
		HC.next = now + mh_interval(now); /* paused: look again later */
		return;
	}
	HC.next = 0;
	memset(&HC.cur, 0, sizeof HC.cur);
	clock_gettime(CLOCK_REALTIME, &HC.cur.start);
	HC.cur.code = -1;
	struct stat st;
	int pf = open(HC.plan, O_RDONLY | O_CLOEXEC);
	if (pf < 0 || fstat(pf, &st) < 0 || st.st_size <= 0) {
		if (pf >= 0)
			close(pf);
		set_out("health check: cannot read the exec plan");
		mh_record(now);
		HC.next = now + mh_interval(now);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		close(pf);
		set_out("health check: socketpair failed");
		mh_record(now);
		HC.next = now + mh_interval(now);
		return;
	}
	if (pipe2(op, O_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		close(pf);
		set_out("health check: pipe failed");
		mh_record(now);
		HC.next = now + mh_interval(now);
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
		for (const char *f = HC.procs; *f; ) {
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
		mh_record(now);
		HC.next = now + mh_interval(now);
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
	HC.pid = p;
	HC.ctl = sv[0];
	HC.out = op[0];
	fcntl(HC.ctl, F_SETFL, O_NONBLOCK);
	fcntl(HC.out, F_SETFL, O_NONBLOCK);
	HC.ctllen = 0;
	HC.timed_out = HC.got_exit = 0;
	HC.kill_at = 0;
	HC.deadline = now + HC.timeout;
	if (!ok)
		kill(p, SIGKILL);
}

static void read_ctl(void)
{
	while (HC.ctl >= 0) {
		ssize_t r = read(HC.ctl, HC.ctlbuf + HC.ctllen, sizeof HC.ctlbuf - 1 - HC.ctllen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 || errno != EAGAIN) {
				close(HC.ctl);
				HC.ctl = -1;
			}
			break;
		}
		HC.ctllen += (size_t)r;
		if (HC.ctllen >= sizeof HC.ctlbuf - 1) { /* keep the last part: the exit line comes last */
			memmove(HC.ctlbuf, HC.ctlbuf + HC.ctllen / 2, HC.ctllen - HC.ctllen / 2);
			HC.ctllen -= HC.ctllen / 2;
		}
	}
	HC.ctlbuf[HC.ctllen] = 0;
}

static void read_out(void)
{
	char buf[4096];
	while (HC.out >= 0) {
		ssize_t r = read(HC.out, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 || errno != EAGAIN) {
				close(HC.out);
				HC.out = -1;
			}
			break;
		}
		if (!HC.timed_out)
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
	if (HC.ctl >= 0)
		close(HC.ctl);
	if (HC.out >= 0)
		close(HC.out);
	HC.ctl = HC.out = -1;
	HC.pid = 0;
	if (!HC.timed_out && !M.exited) { /* a check killed because the container ended is no result */
		char *e = strstr(HC.ctlbuf, "{\"type\":\"exit\"");
		char *er = strstr(HC.ctlbuf, "{\"type\":\"error\"");
		if (e && strstr(e, "\"code\":"))
			HC.cur.code = atoi(strstr(e, "\"code\":") + 7);
		else if (e && strstr(e, "\"signal\":"))
			HC.cur.code = 128 + atoi(strstr(e, "\"signal\":") + 9);
		else {
			char op[32], path[512], msg[256], text[900];
			HC.cur.code = -1;
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
		mh_record(now);
	}
	HC.next = now + mh_interval(now);
}

int mh_poll(struct pollfd *p, int n)
{
	HC.ictl = HC.iout = -1;
	if (!HC.on || !HC.pid)
		return n;
	if (HC.ctl >= 0) {
		HC.ictl = n;
		p[n++] = (struct pollfd){ HC.ctl, POLLIN, 0 };
	}
	if (HC.out >= 0) {
		HC.iout = n;
		p[n++] = (struct pollfd){ HC.out, POLLIN, 0 };
	}
	return n;
}

int mh_timeout(long now, int timeout)
{
	if (!HC.on)
		return timeout;
	if (!HC.begun) {
		HC.begun = 1;
		mh_write_state(); /* {"Status":"starting","FailingStreak":0,"Log":[]} */
		HC.next = now + mh_interval(now);
	}
	long d = -1;
	if (M.exited) {
		if (HC.pid && !HC.kill_at) {
			kill(HC.pid, SIGKILL);
			HC.kill_at = now;
		}
		return timeout;
	}
	if (HC.pid)
		d = HC.kill_at ? HC.kill_at : HC.deadline;
	else if (HC.next)
		d = HC.next;
	if (HC.stop_at && (d < 0 || HC.stop_at < d))
		d = HC.stop_at;
	if (d < 0)
		return timeout;
	int t = (int)(d > now ? d - now : 0);
	return timeout < 0 || t < timeout ? t : timeout;
}

void mh_events(struct pollfd *p, long now)
{
	if (!HC.on)
		return;
	if (HC.ictl >= 0 && p[HC.ictl].revents)
		read_ctl();
	if (HC.iout >= 0 && p[HC.iout].revents)
		read_out();
	if (HC.stop_at && now >= HC.stop_at) {
		HC.stop_at = 0;
		if (!M.exited)
			kill(M.init, SIGKILL);
	}
	if (M.exited)
		return;
	if (HC.pid) {
		if (!HC.timed_out && now >= HC.deadline && mh_frozen()) {
			/* paused while checking: Docker cancels the probe and keeps no result */
			HC.timed_out = 1;
			if (HC.ctl >= 0 && write(HC.ctl, "A", 1) < 0) {
				/* the helper is going anyway */
			}
			HC.kill_at = now + H_KILL_MS;
		} else if (!HC.timed_out && now >= HC.deadline) {
			/* Docker: the check failed with -1; the process is killed (abort, then the helper) */
			HC.timed_out = 1;
			char text[96];
			long t = HC.timeout;
			if (t % 1000 == 0)
				snprintf(text, sizeof text, "Health check exceeded timeout (%lds)", t / 1000);
			else
				snprintf(text, sizeof text, "Health check exceeded timeout (%ldms)", t);
			set_out(text);
			HC.cur.code = -1;
			if (HC.ctl >= 0 && write(HC.ctl, "A", 1) < 0) {
				/* the helper is going anyway */
			}
			HC.kill_at = now + H_KILL_MS;
			mh_record(now);
		} else if (HC.kill_at && now >= HC.kill_at) {
			kill(HC.pid, SIGKILL);
			HC.kill_at = now + 60000;
		}
		return;
	}
	if (HC.next && now >= HC.next)
		start_check(now);
}

int mh_reaped(pid_t p, long now)
{
	if (!HC.on || !HC.pid || p != HC.pid)
		return 0;
	check_done(now);
	return 1;
}
