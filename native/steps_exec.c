/* Child steps around the handshake and the final exec: await_release, ready, fifo_open,
 * fifo_wait, hook, lookup, exec. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void reset_signals(void)
{
	sigset_t none;
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int op_await_release(struct step *s)
{
	(void)s;
	unsigned char hdr[8];
	ssize_t r;
	do
		r = recv(S.sync, hdr, sizeof hdr, 0);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		_exit(1); /* the parent is gone or aborted: nobody to report to */
	if (r != 5 || hdr[0] != 'G')
		return failm(EPROTO, "", "protocol error", "bad release message");
	size_t len = (size_t)hdr[1] | (size_t)hdr[2] << 8 | (size_t)hdr[3] << 16 | (size_t)hdr[4] << 24;
	S.blob = malloc(len + 1);
	if (!S.blob)
		return fail(ENOMEM, "", NULL);
	size_t got = 0;
	while (got < len) {
		do
			r = recv(S.sync, S.blob + got, len - got, 0);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			_exit(1);
		got += (size_t)r;
	}
	S.blob[len] = 0;
	S.bloblen = len;
	/* from now on the container outlives the helper's parent process (create/start) */
	prctl(PR_SET_PDEATHSIG, 0);
	return 0;
}

int op_ready(struct step *s)
{
	(void)s;
	/* if the parent is gone there is nobody to tell */
	send(S.sync, "R", 1, MSG_NOSIGNAL);
	return 0;
}

int op_fifo_open(struct step *s)
{
	const char *p = F(s, 1);
	int fd = open(p, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, p, NULL);
	if (S.fifofd >= 0)
		close(S.fifofd);
	S.fifofd = fd;
	return 0;
}

int op_fifo_wait(struct step *s)
{
	(void)s;
	char p[64];
	if (S.fifofd < 0)
		return failm(EBADF, "", "bad plan", "fifo_wait without fifo_open");
	int fd;
	do
		fd = open(fdpath(S.fifofd, p, sizeof p), O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return fail(errno, p, "opening the exec fifo");
	int r = write_full(fd, "0", 1);
	int e = errno;
	close(fd);
	close(S.fifofd);
	S.fifofd = -1;
	return r < 0 ? fail(e, p, "writing the exec fifo") : 0;
}

/* A NULL-terminated copy of a counted list. */
static char **vec(char **first, int n)
{
	char **v = calloc((size_t)n + 1, sizeof *v);
	if (!v) {
		fail(ENOMEM, "", NULL);
		die_step();
	}
	memcpy(v, first, (size_t)n * sizeof *v);
	return v;
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

int op_hook(struct step *s)
{
	const char *path = F(s, 1);
	uint64_t timeout = U(s, 2);
	int i = 3, argc, envc;
	char **av = L(s, &i, &argc);
	char **argv = vec(av, argc);
	char **ev = L(s, &i, &envc);
	char **envp = vec(ev, envc);
	int in[2], ep[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0)
		return fail(errno, path, "pipe");
	pid_t pid = fork();
	if (pid < 0)
		return fail(errno, path, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(in[0], 0) < 0 || dup2(2, 1) < 0)
			_exit(127);
		reset_signals();
		execve(path, argv, envp);
		int e = errno;
		write_full(ep[1], &e, sizeof e);
		_exit(127);
	}
	close(in[0]);
	close(ep[1]);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	long deadline = timeout ? now_ms() + (long)timeout * 1000L : 0;
	size_t off = 0;
	int timed_out = 0;
	if (S.bloblen == 0) {
		close(in[1]);
		in[1] = -1;
	}
	while (pidfd >= 0) {
		struct pollfd p[2] = { { pidfd, POLLIN, 0 }, { in[1], POLLOUT, 0 } };
		int wait = -1;
		if (deadline) {
			long left = deadline - now_ms();
			wait = left > 0 ? (int)left : 0;
		}
		int r = poll(p, in[1] >= 0 ? 2 : 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (r < 0 || p[0].revents)
			break;
		if (p[1].revents) {
			ssize_t w = write(in[1], S.blob + off, S.bloblen - off);
			if (w > 0)
				off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == S.bloblen) {
				close(in[1]); /* EPIPE: the hook does not read its stdin */
				in[1] = -1;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	if (pidfd >= 0)
		close(pidfd);
	int st = 0, e = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ssize_t n = read(ep[0], &e, sizeof e);
	close(ep[0]);
	free(argv);
	free(envp);
	if (timed_out)
		return failm(ETIMEDOUT, path, "hook timed out", "timeout after %llu seconds", (unsigned long long)timeout);
	if (n == (ssize_t)sizeof e)
		return fail(e, path, "executing the hook");
	if (WIFSIGNALED(st))
		return failm(0, path, "hook failed", "signal %d", WTERMSIG(st));
	if (WEXITSTATUS(st))
		return failm(0, path, "hook failed", "exit status %d", WEXITSTATUS(st));
	return 0;
}

/* An executable regular file: 0, else -1 with errno (EACCES for the wrong kind of file). */
static int executable(const char *p)
{
	struct stat st;
	if (stat(p, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EACCES;
		return -1;
	}
	/* the plain faccessat syscall: glibc's wrapper may use faccessat2, which seccomp profiles often lack */
	return (int)syscall(SYS_faccessat, AT_FDCWD, p, X_OK);
}

int op_lookup(struct step *s)
{
	const char *file = F(s, 1), *pathvar = F(s, 2);
	free(S.exec_path);
	S.exec_path = NULL;
	if (!*file)
		return fail(ENOENT, file, "empty command");
	if (strchr(file, '/')) {
		if (executable(file) < 0)
			return fail(errno, file, NULL);
		S.exec_path = strdup(file);
		return 0;
	}
	if (!*pathvar)
		pathvar = "/bin:/usr/bin"; /* execvpe's default */
	int eacces = 0;
	const char *p = pathvar;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t dl = colon ? (size_t)(colon - p) : strlen(p);
		char cand[4096];
		if (dl == 0)
			snprintf(cand, sizeof cand, "%s", file);
		else
			snprintf(cand, sizeof cand, "%.*s/%s", (int)dl, p, file);
		if (executable(cand) == 0) {
			S.exec_path = strdup(cand);
			return 0;
		}
		if (errno == EACCES)
			eacces = 1;
		if (!colon)
			break;
		p = colon + 1;
	}
	return fail(eacces ? EACCES : ENOENT, file, "executable file not found in $PATH");
}

int op_exec(struct step *s)
{
	const char *file = F(s, 1);
	int i = 2, argc, envc;
	char **av = L(s, &i, &argc);
	char **argv = vec(av, argc);
	char **ev = L(s, &i, &envc);
	char **envp = vec(ev, envc);
	const char *p = S.exec_path ? S.exec_path : file;
	reset_signals();
	execve(p, argv, envp);
	return fail(errno, p, NULL);
}
