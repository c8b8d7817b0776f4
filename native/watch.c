/*
 * berth-helper watch PID EXITFILE -- CMD [ARG...]: the watcher of a container with a restart
 * policy. A monitor that is killed (kill -9) cannot run its exit command, and berth has no
 * daemon to notice: this tiny process waits, without polling (a pidfd), for the monitor PID to
 * end. When it ended without its exit record (EXITFILE absent: it did not see the container
 * exit, so it did not run the exit command either), it execs CMD — the container's exit command
 * `berth container cleanup ID` — which finds the container orphaned, kills it (as containerd does
 * when a shim dies) and restarts it by its policy. A monitor that ended normally ran the exit
 * command itself: the watcher just leaves. It holds no fd of anyone and never enters a container.
 *
 * berth-helper delay MS -- CMD [ARG...]: sleep MS milliseconds, then exec CMD. A restarter whose
 * back-off is long (up to a minute) waits in this instead of in Node (a few hundred KiB, not tens
 * of MiB), then runs the exit command again, which restarts the container if it still should.
 */
#include "helper.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int delay_main(int argc, char **argv)
{
	if (argc < 5 || strcmp(argv[3], "--"))
		return 2;
	char *end;
	long long ms = strtoll(argv[2], &end, 10);
	if (*end || ms < 0)
		return 2;
	struct timespec t = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
	syscall(SYS_close_range, 3u, ~0u, 0);
	execv(argv[4], argv + 4);
	return 127;
}

int watch_main(int argc, char **argv)
{
	if (argc < 6 || strcmp(argv[4], "--"))
		return 2;
	char *end;
	long pid = strtol(argv[2], &end, 10);
	if (*end || pid <= 0)
		return 2;
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	trim_text(1); /* it may wait for days: keep only the few code pages its wait uses */
	if (fd >= 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		while (poll(&p, 1, -1) < 0 && errno == EINTR)
			;
		close(fd);
	} else if (errno != ESRCH) {
		return 1;
	}
	if (access(argv[3], F_OK) == 0)
		return 0; /* a normal end: the monitor ran the exit command */
	syscall(SYS_close_range, 3u, ~0u, 0);
	execv(argv[5], argv + 5);
	return 127;
}
