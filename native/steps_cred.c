/* Child steps for credentials: bounding set, keepcaps, user, caps (capset directly), ambient,
 * no_new_privs. */
#include "helper.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int op_bounding(struct step *s)
{
	uint64_t keep = U(s, 1);
	for (int cap = 0; cap < 64; cap++) {
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r < 0)
			break; /* EINVAL: past the kernel's last capability */
		if (r == 1 && !(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return fail(errno, "", "dropping capability %d from the bounding set", cap);
	}
	return 0;
}

int op_keepcaps(struct step *s)
{
	unsigned long v = (unsigned long)U(s, 1);
	return prctl(PR_SET_KEEPCAPS, v, 0, 0, 0) < 0 ? fail(errno, "", NULL) : 0;
}

int op_user(struct step *s)
{
	uid_t uid = (uid_t)U(s, 1);
	gid_t gid = (gid_t)U(s, 2);
	int64_t ng = I(s, 3);
	if (ng >= 0) {
		if (ng > s->nf - 4)
			return failm(EINVAL, "", "bad plan", "user: %lld groups but %d fields", (long long)ng, s->nf - 4);
		gid_t *g = calloc((size_t)ng + 1, sizeof *g);
		if (!g)
			return fail(ENOMEM, "", NULL);
		for (int k = 0; k < ng; k++)
			g[k] = (gid_t)U(s, 4 + k);
		int r = setgroups((size_t)ng, g);
		int e = errno;
		free(g);
		if (r < 0)
			return fail(e, "", "setgroups (%lld groups)", (long long)ng);
	}
	if (setresgid(gid, gid, gid) < 0)
		return fail(errno, "", "setresgid %u", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return fail(errno, "", "setresuid %u", (unsigned)uid);
	return 0;
}

int op_caps(struct step *s)
{
	uint64_t e = U(s, 1), p = U(s, 2), i = U(s, 3);
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2] = {
		{ .effective = (uint32_t)e, .permitted = (uint32_t)p, .inheritable = (uint32_t)i },
		{ .effective = (uint32_t)(e >> 32), .permitted = (uint32_t)(p >> 32), .inheritable = (uint32_t)(i >> 32) },
	};
	if (syscall(SYS_capset, &h, d) < 0)
		return fail(errno, "", "capset effective 0x%llx permitted 0x%llx inheritable 0x%llx", (unsigned long long)e,
			    (unsigned long long)p, (unsigned long long)i);
	return 0;
}

int op_ambient(struct step *s)
{
	uint64_t mask = U(s, 1);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
		if (errno == EINVAL && !mask)
			return 0; /* kernel without ambient capabilities */
		return fail(errno, "", "clearing the ambient set");
	}
	/* like runc, a capability that cannot be raised (not in permitted and inheritable, or past
	 * the kernel's last) is skipped rather than an error */
	for (int cap = 0; cap < 64; cap++)
		if (mask & (1ULL << cap))
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
	return 0;
}

int op_no_new_privs(struct step *s)
{
	(void)s;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? fail(errno, "", NULL) : 0;
}
