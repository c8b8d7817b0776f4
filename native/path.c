/* Container path resolution: openat2(RESOLVE_IN_ROOT) under the current root, with creation. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAXCOMP 512
#define MAXLINKS 40

const char *fdpath(int fd, char *buf, size_t cap)
{
	snprintf(buf, cap, "/proc/self/fd/%d", fd);
	return buf;
}

static int open_in_root(const char *path, int flags, mode_t mode)
{
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	int dirfd = AT_FDCWD;
	if (S.root_mode != ROOT_HOST) {
		how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
		dirfd = S.rootfd;
	}
	long r;
	do
		r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
	while (r < 0 && errno == EAGAIN);
	return (int)r;
}

/* Lexically clean an absolute path into components (".." above the root stays at the root). */
static int split(const char *path, char *buf, size_t cap, char **comp)
{
	if (strlen(path) >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	int n = 0;
	for (char *save = NULL, *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		if (!strcmp(t, "..")) {
			if (n)
				n--;
			continue;
		}
		if (n == MAXCOMP) {
			errno = ENAMETOOLONG;
			return -1;
		}
		comp[n++] = t;
	}
	return n;
}

static void join(char *out, size_t cap, char **comp, int n)
{
	size_t o = 0;
	out[0] = '/';
	out[1] = 0;
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, cap - o, "/%s", comp[i]);
	if (!n)
		o = 1;
	out[o < cap ? o : cap - 1] = 0;
}

static int open_mk(const char *path, int oflags, int mk, mode_t mode, int depth);

/* comp[j] of the directory dfd exists but did not resolve: follow it if it is a symlink
 * (a dangling one: runc creates its target inside the root), else fail with err. */
static int follow(int dfd, char **comp, int j, int n, int oflags, int mk, mode_t mode, int depth, int err)
{
	char link[PATH_MAX], np[PATH_MAX * 2];
	ssize_t l = readlinkat(dfd, comp[j], link, sizeof link - 1);
	if (l < 0) {
		errno = err;
		return -1;
	}
	link[l] = 0;
	if (depth >= MAXLINKS) {
		errno = ELOOP;
		return -1;
	}
	char prefix[PATH_MAX];
	join(prefix, sizeof prefix, comp, j);
	size_t o = (size_t)snprintf(np, sizeof np, "%s/%s", link[0] == '/' ? "" : prefix, link);
	for (int k = j + 1; k < n && o < sizeof np; k++)
		o += (size_t)snprintf(np + o, sizeof np - o, "/%s", comp[k]);
	if (o >= sizeof np) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open_mk(np, oflags, mk, mode, depth + 1);
}

static int open_mk(const char *path, int oflags, int mk, mode_t mode, int depth)
{
	char buf[PATH_MAX], clean[PATH_MAX], *comp[MAXCOMP];
	int n = split(path, buf, sizeof buf, comp);
	if (n < 0)
		return -1;
	join(clean, sizeof clean, comp, n);
	int fd = open_in_root(clean, oflags, 0);
	if (fd >= 0 || errno != ENOENT || mk == MK_NONE)
		return fd;
	/* the longest existing prefix */
	int i, dfd = -1;
	for (i = n - 1; i >= 0; i--) {
		char pre[PATH_MAX];
		join(pre, sizeof pre, comp, i);
		dfd = open_in_root(pre, O_PATH | O_DIRECTORY, 0);
		if (dfd >= 0)
			break;
		if (errno != ENOENT)
			return -1;
	}
	if (dfd < 0)
		return -1;
	mode_t dmode = mk == MK_DIR ? mode : 0755;
	mode_t old = umask(0);
	int r = 0;
	for (int j = i; j < n && r == 0; j++) {
		int last = j == n - 1;
		if (!last || mk == MK_DIR) {
			int made = mkdirat(dfd, comp[j], dmode) == 0;
			if (!made && errno != EEXIST) {
				r = -1;
				break;
			}
			int nfd = openat(dfd, comp[j], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0) {
				int e = errno;
				umask(old);
				int res = follow(dfd, comp, j, n, oflags, mk, mode, depth, e);
				e = errno;
				close(dfd);
				errno = e;
				return res;
			}
			close(dfd);
			dfd = nfd;
		} else {
			int ffd = openat(dfd, comp[j], O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
			if (ffd >= 0) {
				close(ffd);
			} else if (errno == EEXIST) {
				int e = errno;
				struct stat st;
				if (fstatat(dfd, comp[j], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
					umask(old);
					int res = follow(dfd, comp, j, n, oflags, mk, mode, depth, e);
					e = errno;
					close(dfd);
					errno = e;
					return res;
				}
			} else {
				r = -1;
			}
		}
	}
	int e = errno;
	umask(old);
	close(dfd);
	if (r < 0) {
		errno = e;
		return -1;
	}
	return open_in_root(clean, oflags, 0);
}

int cpath_open(const char *path, int oflags, int mk, mode_t mode)
{
	return open_mk(path, oflags, mk, mode, 0);
}

int cpath_parent(const char *path, char *base, size_t cap)
{
	char buf[PATH_MAX], parent[PATH_MAX], *comp[MAXCOMP];
	int n = split(path, buf, sizeof buf, comp);
	if (n < 0)
		return -1;
	if (n == 0 || strlen(comp[n - 1]) >= cap) {
		errno = EINVAL;
		return -1;
	}
	strcpy(base, comp[n - 1]);
	join(parent, sizeof parent, comp, n - 1);
	return open_mk(parent, O_PATH | O_DIRECTORY, MK_DIR, 0755, 0);
}
