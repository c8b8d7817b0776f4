/* The seccomp step: build a libseccomp filter from the plan, load it, and optionally send the
 * notify fd to a listener socket. */
#include "helper.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <unistd.h>

static int set_flag(scmp_filter_ctx ctx, const char *f)
{
	enum scmp_filter_attr a;
	if (!strcmp(f, "log"))
		a = SCMP_FLTATR_CTL_LOG;
	else if (!strcmp(f, "spec_allow"))
		a = SCMP_FLTATR_CTL_SSB;
	else if (!strcmp(f, "tsync"))
		a = SCMP_FLTATR_CTL_TSYNC;
	else if (!strcmp(f, "wait_killable_recv")) {
#ifdef SCMP_FLTATR_CTL_WAITKILL
		a = SCMP_FLTATR_CTL_WAITKILL;
#else
		return failm(EOPNOTSUPP, "", "seccomp flag not supported", "wait_killable_recv needs libseccomp >= 2.6");
#endif
	} else
		return failm(EINVAL, "", "bad plan", "unknown seccomp flag \"%.32s\"", f);
	int r = seccomp_attr_set(ctx, a, 1);
	return r < 0 ? fail(-r, "", "seccomp flag %s", f) : 0;
}

static int add_rule(scmp_filter_ctx ctx, const char *name, uint32_t act, int nargs, struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* unknown to libseccomp: skipped, as runc does */
	int count[6] = { 0 }, multi = 0;
	for (int k = 0; k < nargs; k++)
		if (++count[args[k].arg] > 1)
			multi = 1;
	int r;
	if (!multi) {
		r = seccomp_rule_add_array(ctx, act, nr, (unsigned)nargs, args);
	} else {
		/* libseccomp refuses two conditions on one argument in a rule: like runc, add one rule
		 * per condition */
		r = 0;
		for (int k = 0; k < nargs && r == 0; k++)
			r = seccomp_rule_add_array(ctx, act, nr, 1, &args[k]);
	}
	return r < 0 ? fail(-r, "", "seccomp rule for %s", name) : 0;
}

/* The listener socket was connected when the plan was read (a host path). */
static int send_listener(scmp_filter_ctx ctx, const char *path, int sock)
{
	int nfd = seccomp_notify_fd(ctx);
	if (nfd < 0) {
		close(sock);
		return failm(-nfd, path, "no seccomp notify fd", "the filter has no notify action");
	}
	const char *data = S.bloblen ? S.blob : "{}";
	size_t len = S.bloblen ? S.bloblen : 2;
	ssize_t w = send_fd(sock, nfd, data, len);
	int e = errno;
	if (w > 0 && (size_t)w < len)
		w = write_full(sock, data + w, len - (size_t)w) < 0 ? -1 : (ssize_t)len;
	e = errno;
	close(sock);
	close(nfd);
	return w < 0 ? fail(e, path, "sending the seccomp notify fd") : 0;
}

int op_seccomp(struct step *s)
{
	int i = 1, narch, nflags;
	uint32_t def = (uint32_t)U(s, i++);
	char **arch = L(s, &i, &narch);
	char **flags = L(s, &i, &nflags);
	const char *listener = F(s, i++);
	uint64_t nrules = U(s, i++);
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return failm(EINVAL, "", "seccomp_init failed", "default action 0x%x", def);
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); /* no_new_privs is a step of its own */
	if (r < 0)
		goto err;
	for (int k = 0; k < narch; k++) {
		uint32_t a = seccomp_arch_resolve_name(arch[k]);
		if (!a) {
			failm(EINVAL, "", "unknown seccomp architecture", "\"%.32s\"", arch[k]);
			goto out;
		}
		r = seccomp_arch_add(ctx, a);
		if (r < 0 && r != -EEXIST) {
			fail(-r, "", "seccomp architecture %s", arch[k]);
			goto out;
		}
	}
	for (int k = 0; k < nflags; k++)
		if (set_flag(ctx, flags[k]) < 0)
			goto out;
	for (uint64_t n = 0; n < nrules; n++) {
		int nnames;
		char **names = L(s, &i, &nnames);
		uint32_t act = (uint32_t)U(s, i++);
		uint64_t nargs = U(s, i++);
		if (nargs > 6 || (int)nargs * 4 > s->nf - i) {
			failm(EINVAL, "", "bad plan", "seccomp rule %llu: bad argument count", (unsigned long long)n);
			goto out;
		}
		struct scmp_arg_cmp args[6];
		for (int k = 0; k < (int)nargs; k++, i += 4) {
			uint64_t idx = U(s, i), op = U(s, i + 3);
			if (idx > 5 || op < SCMP_CMP_NE || op > SCMP_CMP_MASKED_EQ) {
				failm(EINVAL, "", "bad plan", "seccomp rule %llu: bad argument %d", (unsigned long long)n, k);
				goto out;
			}
			args[k] = (struct scmp_arg_cmp){ .arg = (unsigned)idx, .op = (enum scmp_compare)op,
							 .datum_a = U(s, i + 1), .datum_b = U(s, i + 2) };
		}
		if (act == def)
			continue; /* redundant with the default action (libseccomp would refuse it) */
		for (int k = 0; k < nnames; k++)
			if (add_rule(ctx, names[k], act, (int)nargs, args) < 0)
				goto out;
	}
	r = seccomp_load(ctx);
	if (r < 0)
		goto err;
	if (*listener) {
		int sock = s->fd;
		s->fd = -1;
		if (send_listener(ctx, listener, sock) < 0)
			goto out;
	}
	seccomp_release(ctx);
	return 0;
err:
	fail(-r, "", NULL);
out:
	seccomp_release(ctx);
	return -1;
}
