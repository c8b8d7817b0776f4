/* Child step `lchown_list FD` (docs/PLAN.md): owners set from a list read on FD until its end.
 * Rootless storage: the engine unpacks a layer as the user and records each entry's owner; the
 * list is applied by this step as root of the storage user namespace (the user's own id and the
 * subordinate ones), where chown(2) of those ids is allowed. Records, each ended by a NUL byte:
 * `UID GID MODE PATH` (decimal ids; MODE octal, or `-` to leave the mode: chown clears the
 * setuid/setgid bits, so the engine gives the mode again for entries that have them). The path is
 * not followed (lchown); a mode is set only on what is not a symlink. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_MAX (PATH_MAX + 64)

/* one record (NUL removed): apply it, or fail naming the path */
static int apply_record(char *rec)
{
	char *end;
	errno = 0;
	unsigned long uid = strtoul(rec, &end, 10);
	if (end == rec || *end != ' ' || errno)
		return failm(EINVAL, "", "bad plan", "lchown_list: bad uid in record \"%.64s\"", rec);
	char *p = end + 1;
	unsigned long gid = strtoul(p, &end, 10);
	if (end == p || *end != ' ' || errno)
		return failm(EINVAL, "", "bad plan", "lchown_list: bad gid in record \"%.64s\"", rec);
	p = end + 1;
	long mode = -1;
	if (*p == '-') {
		end = p + 1;
	} else {
		mode = strtol(p, &end, 8);
		if (end == p || errno || mode < 0 || mode > 07777)
			return failm(EINVAL, "", "bad plan", "lchown_list: bad mode in record \"%.64s\"", rec);
	}
	if (*end != ' ' || !end[1])
		return failm(EINVAL, "", "bad plan", "lchown_list: no path in record \"%.64s\"", rec);
	const char *path = end + 1;
	if (lchown(path, (uid_t)uid, (gid_t)gid) < 0)
		return fail(errno, path, "lchown to %lu:%lu", uid, gid);
	if (mode >= 0 && fchmodat(AT_FDCWD, path, (mode_t)mode, 0) < 0)
		return fail(errno, path, "chmod %lo", mode);
	return 0;
}

int op_lchown_list(struct step *s)
{
	int fd = (int)U(s, 1);
	static char buf[1 << 16];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof buf - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail(errno, "", "reading the owner list");
		}
		if (n == 0)
			break;
		have += (size_t)n;
		size_t start = 0;
		for (;;) {
			char *nul = memchr(buf + start, 0, have - start);
			if (!nul)
				break;
			if (apply_record(buf + start) < 0)
				return -1;
			start = (size_t)(nul - buf) + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have >= REC_MAX)
			return failm(EINVAL, "", "bad plan", "lchown_list: a record longer than %d bytes", REC_MAX);
	}
	if (have)
		return failm(EINVAL, "", "bad plan", "lchown_list: the list ends inside a record");
	return 0;
}
