/* Background programs for the container's life (rootless slirp4netns): started for the child's pid,
 * waited for until they say they are ready, left running; and one request to a unix socket. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

extern char **environ;

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* The first bytes of the program's log, for an error's detail. */
static void log_head(const char *log, char *out, size_t cap)
{
	out[0] = 0;
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, out, cap - 1);
	close(fd);
	if (n < 0)
		n = 0;
	out[n] = 0;
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = 0;
	for (ssize_t k = 0; k < n; k++)
		if (out[k] == '\n')
			out[k] = ' ';
}

/* In the new process: fds, session, signals, then exec. Never returns. */
static void spawned(const char *prog, char **argv, const char *dir, int logfd, int ready, int readyfd, int exitr, int exitfd)
{
	reset_signals();
	setsid();
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* out of the way of the target numbers first */
	int r = fcntl(ready, F_DUPFD_CLOEXEC, 100), x = exitr >= 0 ? fcntl(exitr, F_DUPFD_CLOEXEC, 100) : -1;
	if (null < 0 || r < 0 || (exitr >= 0 && x < 0) || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(127);
	if (dup2(r, readyfd) < 0 || (x >= 0 && dup2(x, exitfd) < 0))
		_exit(127);
	int keep[2] = { readyfd, x >= 0 ? exitfd : readyfd }, from = 3;
	if (keep[1] < keep[0]) {
		int t = keep[0];
		keep[0] = keep[1];
		keep[1] = t;
	}
	for (int k = 0; k < 2; k++) {
		if (keep[k] > from)
			syscall(SYS_close_range, (unsigned)from, (unsigned)keep[k] - 1, 0);
		if (keep[k] >= from)
			from = keep[k] + 1;
	}
	syscall(SYS_close_range, (unsigned)from, ~0u, 0);
	if (*dir && chdir(dir) < 0) {
		dprintf(2, "chdir %s: %s", dir, strerror(errno));
		_exit(127);
	}
	execve(prog, argv, environ);
	dprintf(2, "exec %s: %s", prog, strerror(errno));
	_exit(127);
}

/* pid_spawn PROG DIR LOG PIDFILE PIDPOS READYFD EXITFD TIMEOUTMS ARGC ARG…: run PROG with ARG…, the
 * child's pid inserted as argument PIDPOS (0 = first after PROG), in its own session, cwd DIR,
 * stdin /dev/null, stdout+stderr to LOG (created 0600). Its pid goes to PIDFILE. READYFD is the
 * write end of a pipe in it; the step waits (TIMEOUTMS) until a byte comes. EXITFD >= 0: the read
 * end of a pipe whose write end the helper (the monitor) keeps until it exits. Not a ready byte:
 * the program is killed and reaped, the error's detail is its exit and LOG's first bytes. */
int op_pid_spawn(struct step *s)
{
	const char *prog = F(s, 1), *dir = F(s, 2), *log = F(s, 3), *pidfile = F(s, 4);
	uint64_t pidpos = U(s, 5), readyfd = U(s, 6);
	int64_t exitfd = I(s, 7);
	uint64_t timeout = U(s, 8);
	int i = 9, argc;
	char **av = L(s, &i, &argc);
	if (pidpos > (uint64_t)argc || readyfd < 3 || readyfd > 1000 || exitfd > 1000 || (exitfd >= 0 && (exitfd < 3 || (uint64_t)exitfd == readyfd)))
		return failm(EINVAL, prog, "bad plan", "pid_spawn: pid position %llu, ready fd %llu, exit fd %lld",
			(unsigned long long)pidpos, (unsigned long long)readyfd, (long long)exitfd);
	char **argv = calloc((size_t)argc + 3, sizeof *argv);
	if (!argv)
		return fail(ENOMEM, prog, NULL);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)S.child);
	argv[0] = (char *)prog;
	for (int k = 0, j = 1; k <= argc; k++) {
		if ((uint64_t)k == pidpos)
			argv[j++] = pid;
		if (k < argc)
			argv[j++] = av[k];
	}
	int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (logfd < 0) {
		free(argv);
		return fail(errno, log, "creating the log");
	}
	int rp[2], xp[2] = { -1, -1 };
	if (pipe2(rp, O_CLOEXEC) < 0 || (exitfd >= 0 && pipe2(xp, O_CLOEXEC) < 0)) {
		int e = errno;
		free(argv);
		close(logfd);
		return fail(e, prog, "pipe");
	}
	pid_t p = fork();
	if (p == 0)
		spawned(prog, argv, dir, logfd, rp[1], (int)readyfd, xp[0], (int)exitfd);
	int e = errno;
	free(argv);
	close(logfd);
	close(rp[1]);
	if (xp[0] >= 0)
		close(xp[0]);
	if (p < 0) {
		close(rp[0]);
		if (xp[1] >= 0)
			close(xp[1]);
		return fail(e, prog, "fork");
	}
	char num[32];
	int n = snprintf(num, sizeof num, "%d\n", (int)p);
	int pf = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int ok = pf >= 0 && write_full(pf, num, (size_t)n) == 0;
	e = errno;
	if (pf >= 0)
		close(pf);
	const char *why = NULL;
	char c = 0;
	if (!ok) {
		why = "writing the pid file";
	} else {
		long end = now_ms() + (long)timeout;
		for (;;) {
			long left = end - now_ms();
			struct pollfd pfd = { .fd = rp[0], .events = POLLIN };
			int r = poll(&pfd, 1, left < 0 ? 0 : (int)left);
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0) {
				why = "timeout";
				break;
			}
			ssize_t got = r < 0 ? -1 : read(rp[0], &c, 1);
			if (got < 0 && errno == EINTR)
				continue;
			if (got != 1)
				why = "exited";
			break;
		}
	}
	close(rp[0]);
	if (!why) {
		/* the monitor keeps the write end: the program's exit fd reads EOF when the monitor is gone */
		if (xp[1] >= 0 && mon_hold_fd(xp[1]) < 0) {
			close(xp[1]);
			why = "holding the exit fd";
		} else {
			return 0;
		}
	}
	if (xp[1] >= 0)
		close(xp[1]);
	int st = 0;
	if (strcmp(why, "exited"))
		kill(p, SIGKILL);
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	unlink(pidfile);
	char out[512];
	log_head(log, out, sizeof out);
	if (!ok)
		return fail(e, pidfile, "%s", why);
	if (WIFEXITED(st))
		return failm(0, prog, "program failed", "exit status %d: %s", WEXITSTATUS(st), out);
	return failm(0, prog, "program failed", "%s (signal %d): %s", why, WTERMSIG(st), out);
}

/* unix_call HPATH REQUEST EXPECT TIMEOUTMS: connect to the unix socket HPATH, send REQUEST, shut
 * down the write side, read the reply (at most 4 KiB) until EOF; a reply without EXPECT in it is
 * an error whose detail is the reply. */
int op_unix_call(struct step *s)
{
	const char *path = F(s, 1), *req = F(s, 2), *expect = F(s, 3);
	uint64_t timeout = U(s, 4);
	int fd = unix_connect(path);
	if (fd < 0)
		return fail(errno, path, "connect");
	if (write_full(fd, req, strlen(req)) < 0) {
		int e = errno;
		close(fd);
		return fail(e, path, "write");
	}
	shutdown(fd, SHUT_WR);
	char reply[4096];
	size_t n = 0;
	long end = now_ms() + (long)timeout;
	for (;;) {
		long left = end - now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, left < 0 ? 0 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			close(fd);
			return failm(ETIMEDOUT, path, "request failed", "no reply: %.256s", req);
		}
		ssize_t got = r < 0 ? -1 : read(fd, reply + n, sizeof reply - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
		if (n == sizeof reply - 1)
			break;
	}
	close(fd);
	reply[n] = 0;
	while (n && (reply[n - 1] == '\n' || reply[n - 1] == ' '))
		reply[--n] = 0;
	if (!strstr(reply, expect))
		return failm(0, path, "request failed", "%s", reply);
	return 0;
}
