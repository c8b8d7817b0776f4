/* Monitor mode: the exit command's runner (docs/PLAN.md, pre `exit_runner`). A monitor that joins
 * a user namespace (a rootless container on a user-defined network joins the rootless network
 * namespace's) cannot leave it, and a program it runs there has no capability in it: the exit
 * command (the engine's cleanup, a restart) could enter no namespace. So, first in pre, the helper
 * forks a runner that stays in the caller's namespaces and credentials, holding only the read end
 * of a pipe: at the exit the monitor writes the command there and the runner execs it; EOF
 * without a command (the cleanup was taken over, or the monitor died) ends it. */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CMD_MAX (64 << 10)

static int runner = -1; /* the pipe's write end (the monitor keeps it: mon_hold_fd) */

static void run(int rfd)
{
	int null = open("/dev/null", O_RDWR);
	if (null < 0)
		_exit(127);
	for (int k = 0; k < 3; k++)
		dup2(null, k);
	if (rfd != 3) {
		dup2(rfd, 3);
	}
	syscall(SYS_close_range, 4u, ~0u, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	setsid();
	static char cmd[CMD_MAX + 1];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(3, cmd + n, CMD_MAX - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == CMD_MAX)
			_exit(126);
	}
	if (!n || cmd[0] != '/')
		_exit(0); /* nothing to run */
	cmd[n] = 0;
	char **argv = mon_split_words(cmd);
	if (!argv)
		_exit(127);
	close(3);
	execv(argv[0], argv);
	_exit(127);
}

int op_exit_runner(struct step *s)
{
	(void)s;
	if (runner >= 0)
		return failm(EINVAL, "", "bad plan", "exit_runner given twice");
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return fail(errno, "", "pipe for the exit command's runner");
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return fail(e, "", "fork of the exit command's runner");
	}
	if (pid == 0) {
		close(p[1]);
		run(p[0]);
	}
	close(p[0]);
	if (mon_hold_fd(p[1]) < 0) {
		close(p[1]);
		return fail(ENOMEM, "", "exit_runner");
	}
	runner = p[1];
	return 0;
}

/* Hand argv to the runner (0), or -1 when there is none (the caller forks the command itself). */
int mon_runner_exec(char **argv)
{
	if (runner < 0)
		return -1;
	size_t len = 0;
	for (char **a = argv; a && *a; a++)
		len += strlen(*a) + 1;
	char *buf = malloc(len + 1);
	if (buf) {
		size_t o = 0;
		for (char **a = argv; a && *a; a++) {
			size_t w = strlen(*a);
			memcpy(buf + o, *a, w);
			o += w;
			buf[o++] = '\n';
		}
		if (o)
			o--; /* no newline after the last word */
		for (size_t off = 0; off < o;) {
			ssize_t r = write(runner, buf + off, o - off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			off += (size_t)r;
		}
		free(buf);
	}
	close(runner);
	runner = -1;
	return 0;
}

/* The runner ends without running anything (the exit command is skipped). */
void mon_runner_close(void)
{
	if (runner >= 0)
		close(runner);
	runner = -1;
}
