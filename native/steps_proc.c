/* Child steps that set process attributes: session, names, limits, keyring, personality,
 * LSM labels, scheduling, umask, cwd, fds. */
#include "helper.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int op_setsid(struct step *s)
{
	(void)s;
	return setsid() < 0 ? fail(errno, "", NULL) : 0;
}

int op_sethostname(struct step *s)
{
	const char *n = F(s, 1);
	return sethostname(n, strlen(n)) < 0 ? fail(errno, "", "hostname \"%.64s\"", n) : 0;
}

int op_setdomainname(struct step *s)
{
	const char *n = F(s, 1);
	return setdomainname(n, strlen(n)) < 0 ? fail(errno, "", "domainname \"%.64s\"", n) : 0;
}

/* ifup NAME: set IFF_UP on an interface of the current network namespace (the loopback of a
 * new one starts down; Docker's "none" network has it up). */
int op_ifup(struct step *s)
{
	const char *n = F(s, 1);
	struct ifreq ifr;
	int fd, rc = 0;
	if (strlen(n) >= IFNAMSIZ) return fail(EINVAL, "", "interface name \"%.32s\" too long", n);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) return fail(errno, "", "socket for interface %s", n);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, n);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) rc = fail(errno, "", "get flags of interface %s", n);
	else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) rc = fail(errno, "", "bring up interface %s", n);
	}
	close(fd);
	return rc;
}

int op_rlimit(struct step *s)
{
	int res = (int)U(s, 1);
	struct rlimit rl = { .rlim_cur = (rlim_t)U(s, 2), .rlim_max = (rlim_t)U(s, 3) };
	if (prlimit(0, (__rlimit_resource_t)res, &rl, NULL) < 0)
		return fail(errno, "", "resource %d soft %llu hard %llu", res, (unsigned long long)rl.rlim_cur,
			    (unsigned long long)rl.rlim_max);
	return 0;
}

int op_keyring(struct step *s)
{
	const char *n = F(s, 1);
	long r = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, *n ? n : NULL);
	if (r < 0 && errno != ENOSYS && errno != EACCES)
		return fail(errno, "", "session keyring \"%.64s\"", n);
	return 0;
}

int op_personality(struct step *s)
{
	unsigned long d = (unsigned long)U(s, 1);
	return personality(d) < 0 ? fail(errno, "", "personality 0x%lx", d) : 0;
}

static int write_attr(const char *path, const char *data)
{
	if (write_path(-1, path, data, strlen(data)) < 0)
		return -1;
	return 0;
}

int op_apparmor(struct step *s)
{
	char buf[4200];
	snprintf(buf, sizeof buf, "exec %s", F(s, 1));
	const char *p = "/proc/self/attr/apparmor/exec";
	int r = write_attr(p, buf);
	if (r < 0 && errno == ENOENT) {
		p = "/proc/self/attr/exec";
		r = write_attr(p, buf);
	}
	return r < 0 ? fail(errno, p, "apparmor profile \"%.128s\"", F(s, 1)) : 0;
}

int op_selinux(struct step *s)
{
	const char *p = "/proc/thread-self/attr/exec";
	return write_attr(p, F(s, 1)) < 0 ? fail(errno, p, "selinux label \"%.128s\"", F(s, 1)) : 0;
}

int op_ioprio(struct step *s)
{
	long v = (long)(U(s, 1) << 13 | U(s, 2));
	if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, v) < 0)
		return fail(errno, "", "ioprio 0x%lx", v);
	return 0;
}

struct sched_attr_v1 {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

int op_sched(struct step *s)
{
	struct sched_attr_v1 a = {
		.size = sizeof a,
		.policy = (uint32_t)U(s, 1),
		.nice = (int32_t)I(s, 2),
		.priority = (uint32_t)U(s, 3),
		.flags = U(s, 4),
		.runtime = U(s, 5),
		.deadline = U(s, 6),
		.period = U(s, 7),
	};
	if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
		return fail(errno, "", "policy %u priority %u nice %d", a.policy, a.priority, a.nice);
	return 0;
}

int op_affinity(struct step *s)
{
	const char *list = F(s, 1);
	long max = -1;
	/* two passes: find the highest cpu, then set the bits */
	for (int pass = 0; pass < 2; pass++) {
		cpu_set_t *set = NULL;
		size_t sz = 0;
		if (pass) {
			set = CPU_ALLOC((int)max + 1);
			sz = CPU_ALLOC_SIZE((int)max + 1);
			if (!set)
				return fail(ENOMEM, "", NULL);
			CPU_ZERO_S(sz, set);
		}
		const char *p = list;
		while (*p) {
			char *end;
			long a = strtol(p, &end, 10), b = a;
			if (end == p || a < 0)
				goto bad;
			if (*end == '-') {
				p = end + 1;
				b = strtol(p, &end, 10);
				if (end == p || b < a)
					goto bad;
			}
			if (b > 65535)
				goto bad;
			for (long c = a; c <= b; c++) {
				if (pass)
					CPU_SET_S((size_t)c, sz, set);
				else if (c > max)
					max = c;
			}
			p = end;
			if (*p == ',')
				p++;
			else if (*p)
				goto bad;
			continue;
bad:
			if (set)
				CPU_FREE(set);
			return failm(EINVAL, "", "bad plan", "bad cpu list \"%.64s\"", list);
		}
		if (max < 0)
			return failm(EINVAL, "", "bad plan", "empty cpu list");
		if (pass) {
			int r = sched_setaffinity(0, sz, set);
			int e = errno;
			CPU_FREE(set);
			if (r < 0)
				return fail(e, "", "cpus %.64s", list);
		}
	}
	return 0;
}

int op_umask(struct step *s)
{
	umask((mode_t)U(s, 1) & 0777);
	return 0;
}

int op_chdir(struct step *s)
{
	const char *p = F(s, 1);
	if (S.root_mode == ROOT_FD) {
		int fd = cpath_open(p, O_PATH | O_DIRECTORY, MK_NONE, 0);
		if (fd < 0)
			return fail(errno, p, NULL);
		int r = fchdir(fd);
		int e = errno;
		close(fd);
		if (r < 0)
			return fail(e, p, NULL);
	} else if (chdir(p) < 0) {
		return fail(errno, p, NULL);
	}
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return fail(errno, p, "the working directory is outside the root");
	if (cwd[0] != '/')
		return fail(ENOENT, p, "the working directory is outside the root");
	return 0;
}

int op_close_fds(struct step *s)
{
	unsigned int from = (unsigned int)U(s, 1);
	if (syscall(SYS_close_range, from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return fail(errno, "/proc/self/fd", "marking fds close-on-exec");
	int dfd = dirfd(d);
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || fd < (long)from || fd == dfd)
			continue;
		int fl = fcntl((int)fd, F_GETFD);
		if (fl >= 0)
			fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
	}
	closedir(d);
	return 0;
}
