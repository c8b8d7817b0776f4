/* The seccomp step: build a libseccomp filter from the plan, load it, and optionally send the
 * notify fd to a listener socket. */
#include "helper.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

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

/* Build the filter of a seccomp step (fields: default, archs, flags, listener, rules); on failure
 * the error is recorded and NULL returned. */
static scmp_filter_ctx build_filter(struct step *s, const char **listener)
{
	int i = 1, narch, nflags;
	uint32_t def = (uint32_t)U(s, i++);
	char **arch = L(s, &i, &narch);
	char **flags = L(s, &i, &nflags);
	*listener = F(s, i++);
	uint64_t nrules = U(s, i++);
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx) {
		failm(EINVAL, "", "seccomp_init failed", "default action 0x%x", def);
		return NULL;
	}
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
	return ctx;
err:
	fail(-r, "", NULL);
out:
	seccomp_release(ctx);
	return NULL;
}

int op_seccomp(struct step *s)
{
	const char *listener;
	scmp_filter_ctx ctx = build_filter(s, &listener);
	if (!ctx)
		return -1;
	int r = seccomp_load(ctx);
	if (r < 0) {
		fail(-r, "", NULL);
		seccomp_release(ctx);
		return -1;
	}
	if (*listener) {
		int sock = s->fd;
		s->fd = -1;
		if (send_listener(ctx, listener, sock) < 0) {
			seccomp_release(ctx);
			return -1;
		}
	}
	seccomp_release(ctx);
	return 0;
}

/* seccomp_bpf FLAGS HEX: load a filter compiled before (`berth-helper seccomp-export`) with
 * seccomp(2) and the SECCOMP_FILTER_FLAG_* bits in FLAGS. */
int op_seccomp_bpf(struct step *s)
{
	uint64_t flags = U(s, 1);
	const char *hex = F(s, 2);
	size_t n = strlen(hex);
	if (n == 0 || n % 16 || n / 16 > BPF_MAXINSNS)
		return failm(EINVAL, "", "bad plan", "seccomp_bpf: %zu hex digits", n);
	size_t count = n / 16;
	struct sock_filter *insns = malloc(count * sizeof *insns);
	if (!insns)
		return fail(ENOMEM, "", "seccomp filter");
	unsigned char *bytes = (unsigned char *)insns;
	for (size_t k = 0; k < n / 2; k++) {
		int hi = hexval(hex[2 * k]), lo = hexval(hex[2 * k + 1]);
		if (hi < 0 || lo < 0) {
			free(insns);
			return failm(EINVAL, "", "bad plan", "seccomp_bpf: not hex at %zu", 2 * k);
		}
		bytes[k] = (unsigned char)(hi << 4 | lo);
	}
	struct sock_fprog prog = { .len = (unsigned short)count, .filter = insns };
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)flags, &prog);
	int e = errno;
	free(insns);
	return r < 0 ? fail(e, "", "load the seccomp filter") : 0;
}

/* `berth-helper seccomp-export`: a plan on stdin whose child list holds one seccomp step; its
 * filter compiled to BPF on stdout. Errors: a JSON line on stderr, exit 1. */
int seccomp_export_main(void)
{
	S.ctl = -1;
	if (read_plan(0) < 0)
		goto die;
	S.ctl = 2;
	for (int k = 0; k < S.chld.n; k++) {
		S.cur = &S.chld.s[k];
		if (strcmp(S.cur->f[0], "seccomp"))
			continue;
		const char *listener;
		scmp_filter_ctx ctx = build_filter(S.cur, &listener);
		if (!ctx)
			goto die;
		int r = seccomp_export_bpf(ctx, 1);
		seccomp_release(ctx);
		if (r < 0) {
			fail(-r, "", "export the seccomp filter");
			goto die;
		}
		return 0;
	}
	failm(EINVAL, "", "bad plan", "%s", "no seccomp step");
die:
	S.ctl = 2;
	die_step();
	return 1;
}
