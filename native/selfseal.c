/*
 * CVE-2019-5736 class: a process in a container must never be able to write the helper's own
 * binary through /proc/PID/exe. Before doing anything, the helper re-executes itself from a
 * sealed memfd copy (as runc does), so /proc/PID/exe of every helper process is an immutable
 * anonymous file, and marks itself non-dumpable so container processes cannot ptrace it or open
 * its /proc files while it sets the container up.
 */
#define _GNU_SOURCE
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static int is_sealed_self(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int seals = fcntl(fd, F_GET_SEALS);
	close(fd);
	return seals >= 0 && (seals & SEALS) == SEALS;
}

/* Returns only when re-executing is impossible (then the caller goes on as it is). */
void reexec_sealed(char **argv, char **envp)
{
	/* Rootless: the parent (same uid, no privileges) must still write the child's id maps,
	 * which /proc only allows while the child is dumpable. */
	if (geteuid() == 0)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (is_sealed_self())
		return;
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return;
	struct stat st;
	int mfd = (int)syscall(SYS_memfd_create, "berth-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0 || fstat(src, &st) < 0) {
		close(src);
		if (mfd >= 0)
			close(mfd);
		return;
	}
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
		if (n <= 0)
			break;
	}
	close(src);
	if (off != st.st_size || fcntl(mfd, F_ADD_SEALS, SEALS) < 0) {
		close(mfd);
		return;
	}
	syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
	close(mfd); /* exec failed: carry on unsealed */
}
