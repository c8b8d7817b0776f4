/* Child steps that build the root filesystem: rootfs, mount, mkdir, mknod, symlink, mask,
 * readonly, pivot_root, chroot. Targets are resolved with cpath_open and mounted through
 * /proc/self/fd/N so that a symlink can never lead out of the root. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int set_root(int fd, int mode)
{
	if (S.rootfd >= 0)
		close(S.rootfd);
	S.rootfd = fd;
	S.root_mode = mode;
	return 0;
}

int op_rootfs(struct step *s)
{
	const char *p = F(s, 1);
	int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, p, NULL);
	S.rootpath = s->f[1];
	return set_root(fd, ROOT_FD);
}

static int same_file(int a, int b)
{
	struct stat x, y;
	if (a < 0 || b < 0 || fstat(a, &x) < 0 || fstat(b, &y) < 0)
		return 0;
	return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* After mounting onto the root itself, the root fd still points below the new mount. */
static int reopen_root(void)
{
	if (S.root_mode != ROOT_FD)
		return 0;
	int fd = open(S.rootpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, S.rootpath, "re-opening the root after a mount on it");
	return set_root(fd, ROOT_FD);
}

/* The flags statvfs reports that a remount must keep (they may be locked in a user namespace). */
static unsigned long locked_flags(int fd)
{
	struct statvfs v;
	unsigned long f = 0;
	if (fstatvfs(fd, &v) < 0)
		return 0;
	if (v.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (v.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (v.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (v.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (v.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (v.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static const char *nz(const char *s)
{
	return *s ? s : NULL;
}

int op_mount(struct step *s)
{
	const char *src = F(s, 1), *path = F(s, 2), *type = F(s, 3), *data = F(s, 5), *opts = F(s, 6);
	unsigned long flags = (unsigned long)U(s, 4);
	int mk = MK_NONE, keep = 0, optional = 0;
	char ob[256], *save = NULL;
	if (strlen(opts) >= sizeof ob)
		return failm(EINVAL, path, "bad plan", "mount options too long");
	strcpy(ob, opts);
	for (char *o = strtok_r(ob, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strcmp(o, "mkdir"))
			mk = MK_DIR;
		else if (!strcmp(o, "mkfile"))
			mk = MK_FILE;
		else if (!strcmp(o, "keep_locked"))
			keep = 1;
		else if (!strcmp(o, "optional"))
			optional = 1;
		else
			return failm(EINVAL, path, "bad plan", "unknown mount option \"%.32s\"", o);
	}
	int fd = cpath_open(path, O_PATH, mk, mk == MK_DIR ? 0755 : 0644);
	if (fd < 0) {
		if (errno == ENOENT && optional)
			return 0;
		return fail(errno, path, "resolving the mount target");
	}
	if (keep)
		flags |= locked_flags(fd);
	int onroot = S.root_mode == ROOT_FD && same_file(fd, S.rootfd);
	char tgt[64];
	int r = mount(nz(src), fdpath(fd, tgt, sizeof tgt), nz(type), flags, nz(data));
	int e = errno;
	close(fd);
	if (r < 0)
		return fail(e, path, NULL);
	return onroot ? reopen_root() : 0;
}

int op_mkdir(struct step *s)
{
	const char *path = F(s, 1);
	int fd = cpath_open(path, O_PATH | O_DIRECTORY, MK_DIR, (mode_t)U(s, 2) & 07777);
	if (fd < 0)
		return fail(errno, path, NULL);
	close(fd);
	return 0;
}

int op_mknod(struct step *s)
{
	const char *path = F(s, 1), *type = F(s, 2);
	mode_t kind;
	switch (type[0] && !type[1] ? type[0] : 0) {
	case 'c':
	case 'u':
		kind = S_IFCHR;
		break;
	case 'b':
		kind = S_IFBLK;
		break;
	case 'p':
		kind = S_IFIFO;
		break;
	default:
		return failm(EINVAL, path, "bad plan", "unknown device type \"%.8s\"", type);
	}
	dev_t dev = makedev((unsigned)U(s, 3), (unsigned)U(s, 4));
	mode_t mode = (mode_t)U(s, 5) & 07777;
	uid_t uid = (uid_t)U(s, 6);
	gid_t gid = (gid_t)U(s, 7);
	char base[256];
	int dfd = cpath_parent(path, base, sizeof base);
	if (dfd < 0)
		return fail(errno, path, "resolving the parent directory");
	mode_t old = umask(0);
	int r = mknodat(dfd, base, kind | mode, kind == S_IFIFO ? 0 : dev);
	int e = errno;
	umask(old);
	if (r < 0 && e != EEXIST) {
		close(dfd);
		return fail(e, path, NULL);
	}
	r = fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW);
	e = errno;
	close(dfd);
	return r < 0 ? fail(e, path, "chown %u:%u", (unsigned)uid, (unsigned)gid) : 0;
}

int op_symlink(struct step *s)
{
	const char *target = F(s, 1), *path = F(s, 2);
	char base[256];
	int dfd = cpath_parent(path, base, sizeof base);
	if (dfd < 0)
		return fail(errno, path, "resolving the parent directory");
	int r = symlinkat(target, dfd, base);
	int e = errno;
	close(dfd);
	return r < 0 && e != EEXIST ? fail(e, path, NULL) : 0;
}

int op_mask(struct step *s)
{
	const char *path = F(s, 1);
	int fd = cpath_open(path, O_PATH, MK_NONE, 0);
	if (fd < 0)
		return errno == ENOENT ? 0 : fail(errno, path, NULL);
	struct stat st;
	char tgt[64];
	int r;
	if (fstat(fd, &st) < 0)
		r = -1;
	else if (S_ISDIR(st.st_mode))
		r = mount("tmpfs", fdpath(fd, tgt, sizeof tgt), "tmpfs", MS_RDONLY, NULL);
	else
		r = mount("/dev/null", fdpath(fd, tgt, sizeof tgt), NULL, MS_BIND, NULL);
	int e = errno;
	close(fd);
	if (r < 0 && e == ENOENT && !S_ISDIR(st.st_mode))
		return fail(e, path, "binding /dev/null over it: the container has no /dev/null");
	return r < 0 ? fail(e, path, NULL) : 0;
}

int op_readonly(struct step *s)
{
	const char *path = F(s, 1);
	char p[64];
	int fd = cpath_open(path, O_PATH, MK_NONE, 0);
	if (fd < 0)
		return errno == ENOENT ? 0 : fail(errno, path, NULL);
	int r = mount(fdpath(fd, p, sizeof p), p, NULL, MS_BIND | MS_REC, NULL);
	int e = errno;
	close(fd);
	if (r < 0)
		return fail(e, path, "bind");
	fd = cpath_open(path, O_PATH, MK_NONE, 0);
	if (fd < 0)
		return fail(errno, path, NULL);
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | locked_flags(fd);
	r = mount(NULL, fdpath(fd, p, sizeof p), NULL, flags, NULL);
	e = errno;
	close(fd);
	return r < 0 ? fail(e, path, "remount read-only") : 0;
}

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

/* struct mount_attr of mount_setattr(2) (linux/mount.h, 5.12) */
struct mattr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* mount_setattr CPATH SET CLR: change the attributes of the mount at CPATH and of every mount
 * below it (the recursive mount options rro, rnosuid, …); the kernel needs 5.12. */
int op_mount_setattr(struct step *s)
{
	const char *path = F(s, 1);
	struct mattr a = { .attr_set = U(s, 2), .attr_clr = U(s, 3) };
	int fd = cpath_open(path, O_PATH, MK_NONE, 0);
	if (fd < 0)
		return fail(errno, path, NULL);
	long r = syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a);
	int e = errno;
	close(fd);
	if (r < 0)
		return fail(e, path, e == ENOSYS ? "mount_setattr (recursive mount options need Linux 5.12)" : "mount_setattr");
	return 0;
}

/* pivot_root and chroot start the same way: a rootfs step must have opened the root; go into it. */
static int enter_root(const char *op)
{
	if (S.root_mode != ROOT_FD)
		return failm(EINVAL, "", "bad plan", "%s needs a rootfs step first", op);
	if (fchdir(S.rootfd) < 0)
		return fail(errno, S.rootpath, "fchdir");
	return 0;
}

int op_pivot_root(struct step *s)
{
	(void)s;
	if (enter_root("pivot_root") < 0)
		return -1;
	const char *rp = S.rootpath;
	/* After pivot_root(".", ".") the old root is stacked on the new one and which of the two "."
	 * names is up to the kernel: go to the old root explicitly (as runc does), so that making it
	 * rslave before detaching it cannot touch the container's own mounts (an rshared volume
	 * would become a slave of the host and stop propagating back to it). */
	int old = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (old < 0)
		return fail(errno, "/", "opening the old root");
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		int e = errno;
		close(old);
		return fail(e, rp, "pivot_root");
	}
	int r = fchdir(old);
	int e = errno;
	close(old);
	if (r < 0)
		return fail(e, rp, "fchdir to the old root");
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return fail(errno, rp, "making the old root a slave");
	if (umount2(".", MNT_DETACH) < 0)
		return fail(errno, rp, "detaching the old root");
	if (chdir("/") < 0)
		return fail(errno, "/", "chdir");
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, "/", NULL);
	return set_root(fd, ROOT_PIVOTED);
}

int op_chroot(struct step *s)
{
	(void)s;
	if (enter_root("chroot") < 0)
		return -1;
	const char *rp = S.rootpath;
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return fail(errno, rp, "moving the root onto /");
	if (chroot(".") < 0)
		return fail(errno, rp, "chroot");
	if (chdir("/") < 0)
		return fail(errno, "/", "chdir");
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, "/", NULL);
	return set_root(fd, ROOT_PIVOTED);
}
