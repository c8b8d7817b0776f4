/* Rootless id maps: the distribution's setuid newuidmap/newgidmap write the child's maps from
 * the ranges /etc/subuid and /etc/subgid grant the user (berth has no setuid helper of its own). */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* idmap_exec PROG ARGC ARG…: run PROG CHILDPID ARG… (e.g. newuidmap PID 0 100000 65536) and wait;
 * a non-zero exit is an error whose detail is the program's stderr (first 512 bytes). The child
 * is still blocked in await_release, so its maps are in place before it runs anything. */
int op_idmap_exec(struct step *s)
{
	const char *prog = F(s, 1);
	int i = 2, argc;
	char **av = L(s, &i, &argc);
	char **argv = calloc((size_t)argc + 3, sizeof *argv);
	if (!argv)
		return fail(ENOMEM, prog, NULL);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)S.child);
	/* idmap_exec: PROG PID ARG… (newuidmap's order); pid_exec: PROG ARG… PID (pasta's) */
	int last = !strcmp(s->f[0], "pid_exec");
	argv[0] = (char *)prog;
	for (int k = 0; k < argc; k++)
		argv[k + 1 + !last] = av[k];
	argv[last ? argc + 1 : 1] = pid;
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0) {
		free(argv);
		return fail(errno, prog, "pipe");
	}
	pid_t p = fork();
	if (p < 0) {
		int e = errno;
		free(argv);
		close(ep[0]);
		close(ep[1]);
		return fail(e, prog, "fork");
	}
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_DFL); /* the helper ignores it; pasta refuses to start with it ignored */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || dup2(ep[1], 1) < 0 || dup2(ep[1], 2) < 0)
			_exit(127);
		execve(prog, argv, environ);
		dprintf(2, "exec %s: %s", prog, strerror(errno));
		_exit(127);
	}
	free(argv);
	close(ep[1]);
	char out[512];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(ep[0], out + n, sizeof out - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == sizeof out - 1) { /* drain the rest */
			char sink[256];
			while (read(ep[0], sink, sizeof sink) > 0)
				;
			break;
		}
	}
	close(ep[0]);
	out[n] = 0;
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = 0;
	int st;
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			return fail(errno, prog, "waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		return failm(0, prog, "id map program failed", "exit status %d: %s", WEXITSTATUS(st), out);
	return failm(0, prog, "id map program failed", "signal %d: %s", WTERMSIG(st), out);
}
