/* berth-helper entry point: read the plan, run pre, spawn, then post (parent) / child. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct state S = {
	.ctl = -1, .sync = -1, .pidfd = -1, .rootfd = -1, .fifofd = -1, .consock = -1, .master = -1,
};

void run_list(struct list *l)
{
	for (int k = 0; k < l->n; k++) {
		S.cur = &l->s[k];
		if (S.cur->op->run(S.cur) < 0)
			die_step();
		if (S.cur->op->lists & F_NET)
			net_after_step(l, k);
	}
}

void child_main(void)
{
	run_list(&S.chld);
	S.cur = S.chld.n ? &S.chld.s[S.chld.n - 1] : NULL;
	failm(EINVAL, "", "bad plan", "the child steps ended without exec");
	die_step();
}

static int usage(void)
{
	fputs("usage: berth-helper run --ctl FD | berth-helper seccomp-export | berth-helper net | berth-helper netbench … | berth-helper version\n", stderr);
	return 2;
}

int main(int argc, char **argv, char **envp)
{
	if (argc >= 2 && !strcmp(argv[1], "watch")) /* a restart policy's watcher (watch.c): no container, no copy */
		return watch_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "delay")) /* a restarter's long back-off (watch.c) */
		return delay_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "netbench")) /* a load generator: no plan, no sealing */
		return netbench_main(argc, argv);
	reexec_sealed(argv, envp);
	if (argc >= 2 && !strcmp(argv[1], "version")) {
		printf("berth-helper %d\n", HELPER_VERSION);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "seccomp-export"))
		return seccomp_export_main();
	if (argc == 2 && !strcmp(argv[1], "net")) {
		S.net_mode = 1;
		signal(SIGPIPE, SIG_IGN);
		return net_main();
	}
	if (argc != 4 || strcmp(argv[1], "run") || strcmp(argv[2], "--ctl"))
		return usage();
	char *end;
	long fd = strtol(argv[3], &end, 10);
	if (*end || fd < 3 || fd > 1 << 20 || fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
		return usage();
	S.ctl = (int)fd;
	/* writes to a closed peer must fail with EPIPE, not kill us (restored before any exec) */
	signal(SIGPIPE, SIG_IGN);
	if (read_plan(S.ctl) < 0)
		die_step();
	run_list(&S.pre);
	for (int k = 0; k < S.pre.n; k++)
		if (S.pre.s[k].fd >= 0)
			close(S.pre.s[k].fd);
	run_list(&S.post);
	if (S.child > 0 && S.sync >= 0) {
		/* the child outlives us: its later sends fail (it prints errors on fd 2 instead);
		 * what it sent before is forwarded */
		shutdown(S.sync, SHUT_RD);
		sync_drain_errors();
	}
	tty_restore();
	return 0;
}
