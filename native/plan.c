/* Reading and validating the plan (wire format: docs/PLAN.md). */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLAN_MAX (64u << 20)

static const struct op ops[] = {
	/* pre */
	{ "setns", L_PRE, 3, op_setns },
	{ "unshare", L_PRE | L_CHILD, 2, op_unshare },
	{ "mkfifo", L_PRE, 3, op_mkfifo },
	{ "write", L_PRE | L_CHILD, 3, op_write },
	{ "spawn", L_PRE, 2, op_spawn },
	{ "subreaper", L_PRE, 1, op_subreaper },
	{ "stdio_pipes", L_PRE, 2, op_stdio_pipes },
	{ "port_hold", L_PRE, 4, op_port_hold },
	{ "exit_runner", L_PRE, 1, op_exit_runner },
	{ "port_proxy", L_PRE, 6, op_port_proxy },
	/* post */
	{ "idmap", L_POST, 3, op_idmap },
	{ "setgroups", L_POST, 2, op_setgroups },
	{ "idmap_exec", L_POST, 3, op_idmap_exec },
	{ "pid_exec", L_POST, 3, op_idmap_exec }, /* the same: PROG CHILDPID ARG… (rootless pasta) */
	{ "pid_spawn", L_POST, 10, op_pid_spawn }, /* rootless slirp4netns, left running */
	{ "unix_call", L_POST, 5, op_unix_call },
	{ "cgroup_add", L_POST, 2, op_cgroup_add },
	{ "report_pid", L_POST, 1, op_report_pid },
	{ "await_go", L_POST, 1, op_await_go },
	{ "release", L_POST, 1, op_release },
	{ "console_recv", L_POST, 1, op_console_recv },
	{ "console_send", L_POST, 2, op_console_send },
	{ "await_ready", L_POST, 1, op_await_ready },
	{ "relay", L_POST, 1, op_relay },
	{ "wait_exit", L_POST, 1, op_wait_exit },
	{ "monitor", L_POST, 8, op_monitor },
	{ "dns", L_POST, 2, op_dns },
	{ "health", L_POST, 14, op_health },
	/* child */
	{ "await_release", L_CHILD, 1, op_await_release },
	{ "setsid", L_CHILD, 1, op_setsid },
	{ "rootfs", L_CHILD, 2, op_rootfs },
	{ "mount", L_CHILD, 7, op_mount },
	{ "mkdir", L_CHILD, 3, op_mkdir },
	{ "mknod", L_CHILD, 8, op_mknod },
	{ "symlink", L_CHILD, 3, op_symlink },
	{ "lchown_list", L_CHILD, 2, op_lchown_list },
	{ "mask", L_CHILD, 2, op_mask },
	{ "readonly", L_CHILD, 2, op_readonly },
	{ "mount_setattr", L_CHILD, 4, op_mount_setattr },
	{ "hook", L_CHILD, 5, op_hook },
	{ "fifo_open", L_CHILD, 2, op_fifo_open },
	{ "console_connect", L_CHILD, 2, op_console_connect },
	{ "pivot_root", L_CHILD, 1, op_pivot_root },
	{ "chroot", L_CHILD, 1, op_chroot },
	{ "console", L_CHILD, 3, op_console },
	{ "sethostname", L_CHILD, 2, op_sethostname },
	{ "setdomainname", L_CHILD, 2, op_setdomainname },
	{ "ifup", L_CHILD, 2, op_ifup },
	{ "rlimit", L_CHILD, 4, op_rlimit },
	{ "keyring", L_CHILD, 2, op_keyring },
	{ "personality", L_CHILD, 2, op_personality },
	{ "apparmor", L_CHILD, 2, op_apparmor },
	{ "selinux", L_CHILD, 2, op_selinux },
	{ "ioprio", L_CHILD, 3, op_ioprio },
	{ "sched", L_CHILD, 8, op_sched },
	{ "affinity", L_CHILD, 2, op_affinity },
	{ "bounding", L_CHILD, 2, op_bounding },
	{ "keepcaps", L_CHILD, 2, op_keepcaps },
	{ "user", L_CHILD, 4, op_user },
	{ "caps", L_CHILD, 4, op_caps },
	{ "ambient", L_CHILD, 2, op_ambient },
	{ "no_new_privs", L_CHILD, 1, op_no_new_privs },
	{ "seccomp", L_CHILD, 7, op_seccomp },
	{ "seccomp_bpf", L_CHILD, 3, op_seccomp_bpf },
	{ "umask", L_CHILD, 2, op_umask },
	{ "chdir", L_CHILD, 2, op_chdir },
	{ "close_fds", L_CHILD, 2, op_close_fds },
	{ "ready", L_CHILD, 1, op_ready },
	{ "fifo_wait", L_CHILD, 1, op_fifo_wait },
	{ "lookup", L_CHILD, 3, op_lookup },
	{ "exec", L_CHILD, 4, op_exec },
	/* network (post, child, or `berth-helper net`) */
#define NET (L_POST | L_CHILD | F_NET)
	{ "netns", NET, 2, op_netns },
	{ "link_bridge", NET, 4, op_link_bridge },
	{ "link_veth", NET, 5, op_link_veth },
	{ "link_macvlan", NET, 6, op_link_macvlan },
	{ "link_ipvlan", NET, 5, op_link_ipvlan },
	{ "link_master", NET, 3, op_link_master },
	{ "link_up", NET, 2, op_link_up },
	{ "link_down", NET, 2, op_link_down },
	{ "link_mtu", NET, 3, op_link_mtu },
	{ "link_mac", NET, 3, op_link_mac },
	{ "link_rename", NET, 3, op_link_rename },
	{ "link_del", NET, 2, op_link_del },
	{ "link_hairpin", NET, 3, op_link_hairpin },
	{ "addr_add", NET, 3, op_addr_add },
	{ "route_add", NET, 4, op_route_add },
	{ "sysctl", NET, 3, op_sysctl },
#undef NET
};

const struct op *find_op(const char *name)
{
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (!strcmp(ops[i].name, name))
			return &ops[i];
	return NULL;
}

static int bad_plan(const char *fmt, const char *arg)
{
	return failm(EINVAL, "", "bad plan", fmt, arg);
}

const char *F(struct step *s, int i)
{
	if (i < 0 || i >= s->nf) {
		failm(EINVAL, "", "bad plan", "%s: missing field %d", s->f[0], i);
		die_step();
	}
	return s->f[i];
}

static int parse_num(const char *t, uint64_t *out)
{
	char *end;
	if (!*t)
		return -1;
	errno = 0;
	if (*t == '-')
		*out = (uint64_t)strtoll(t, &end, 0);
	else
		*out = strtoull(t, &end, 0);
	return (errno || *end) ? -1 : 0;
}

uint64_t U(struct step *s, int i)
{
	uint64_t v;
	const char *t = F(s, i);
	if (parse_num(t, &v) < 0) {
		failm(EINVAL, "", "bad plan", "%s: field %d: bad number \"%.64s\"", s->f[0], i, t);
		die_step();
	}
	return v;
}

int64_t I(struct step *s, int i)
{
	return (int64_t)U(s, i);
}

char **L(struct step *s, int *i, int *n)
{
	uint64_t c = U(s, *i);
	if (c > (uint64_t)(s->nf - *i - 1)) {
		failm(EINVAL, "", "bad plan", "%s: list at field %d runs past the step", s->f[0], *i);
		die_step();
	}
	char **first = &s->f[*i + 1];
	*n = (int)c;
	*i += 1 + (int)c;
	return first;
}

/* Cursor over the plan body. */
struct cur {
	const unsigned char *p, *end;
};

static int get_u32(struct cur *c, uint32_t *v)
{
	if (c->end - c->p < 4)
		return -1;
	*v = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[3] << 24;
	c->p += 4;
	return 0;
}

static int parse_list(struct cur *c, struct list *l, int *idx, int which)
{
	uint32_t n;
	if (get_u32(c, &n) < 0 || n > (uint32_t)(c->end - c->p) / 4)
		return bad_plan("%s", "truncated step list");
	l->n = (int)n;
	l->s = calloc(n ? n : 1, sizeof *l->s);
	if (!l->s)
		return fail(ENOMEM, "", "plan");
	for (uint32_t k = 0; k < n; k++) {
		struct step *s = &l->s[k];
		uint32_t nf;
		s->idx = (*idx)++;
		s->fd = -1;
		S.cur = s;
		if (get_u32(c, &nf) < 0 || nf == 0 || nf > (uint32_t)(c->end - c->p) / 4)
			return bad_plan("%s", "truncated step");
		s->nf = (int)nf;
		s->f = calloc(nf + 1, sizeof *s->f);
		if (!s->f)
			return fail(ENOMEM, "", "plan");
		for (uint32_t j = 0; j < nf; j++) {
			uint32_t len;
			if (get_u32(c, &len) < 0 || len > (uint32_t)(c->end - c->p))
				return bad_plan("%s", "truncated field");
			s->f[j] = malloc(len + 1);
			if (!s->f[j])
				return fail(ENOMEM, "", "plan");
			memcpy(s->f[j], c->p, len);
			s->f[j][len] = 0;
			c->p += len;
		}
		s->op = find_op(s->f[0]);
		if (!s->op)
			return bad_plan("unknown step \"%.64s\"", s->f[0]);
		if (!(s->op->lists & which))
			return bad_plan("step \"%s\" is not allowed in this list", s->f[0]);
		if (s->nf < s->op->minf)
			return bad_plan("step \"%s\" has too few fields", s->f[0]);
	}
	return 0;
}

/* Read and validate the plan; pre-open setns paths. Returns -1 with the error recorded. */
int read_plan(int fd)
{
	unsigned char hdr[12];
	static struct step none = { .idx = -1, .nf = 1, .fd = -1 };
	static char *none_f[] = { "plan", NULL };
	none.f = none_f;
	S.cur = &none;
	int r = read_full(fd, hdr, sizeof hdr);
	if (r <= 0)
		return r < 0 ? fail(errno, "", "reading the plan") : bad_plan("%s", "control socket closed before the plan");
	struct cur c = { hdr + 4, hdr + 12 };
	uint32_t ver, len;
	get_u32(&c, &ver);
	get_u32(&c, &len);
	if (memcmp(hdr, "BPLN", 4))
		return bad_plan("%s", "bad magic");
	if (ver != HELPER_VERSION)
		return failm(EINVAL, "", "bad plan", "plan version %u, helper version %d", ver, HELPER_VERSION);
	if (len > PLAN_MAX)
		return bad_plan("%s", "plan too large");
	unsigned char *body = malloc(len ? len : 1);
	if (!body)
		return fail(ENOMEM, "", "plan");
	r = read_full(fd, body, len);
	if (r <= 0)
		return r < 0 ? fail(errno, "", "reading the plan") : bad_plan("%s", "truncated plan");
	c.p = body;
	c.end = body + len;
	int idx = 0;
	if (parse_list(&c, &S.pre, &idx, L_PRE) < 0 || parse_list(&c, &S.post, &idx, L_POST) < 0 ||
	    parse_list(&c, &S.chld, &idx, S.net_mode ? F_NET : L_CHILD) < 0)
		return -1;
	free(body);
	S.cur = &none;
	if (c.p != c.end)
		return bad_plan("%s", "trailing bytes after the plan");
	for (int k = 0; k < S.pre.n; k++) {
		struct step *s = &S.pre.s[k];
		S.cur = s;
		if (!strcmp(s->f[0], "spawn") && k != S.pre.n - 1)
			return bad_plan("%s", "spawn must be the last pre step");
		if (!strcmp(s->f[0], "setns")) {
			s->fd = open(s->f[1], O_RDONLY | O_CLOEXEC);
			if (s->fd < 0)
				return fail(errno, s->f[1], "opening the namespace");
		}
	}
	/* seccomp listeners are host paths: connect now, before any setns or pivot_root */
	for (int k = 0; k < S.chld.n; k++) {
		struct step *s = &S.chld.s[k];
		S.cur = s;
		if (strcmp(s->f[0], "seccomp"))
			continue;
		int i = 2;
		i += 1 + (int)U(s, i); /* architectures */
		i += 1 + (int)U(s, i); /* flags */
		const char *l = F(s, i);
		if (*l && (s->fd = unix_connect(l)) < 0)
			return fail(errno, l, "connecting to the seccomp listener");
	}
	/* console sockets are host paths too (exec joins the container's mount namespace, where the
	 * caller's socket does not exist): connect now, as runc does before it enters the container */
	for (int k = 0; k < S.post.n; k++) {
		struct step *s = &S.post.s[k];
		S.cur = s;
		if (!strcmp(s->f[0], "console_send") && (s->fd = unix_connect(s->f[1])) < 0)
			return fail(errno, s->f[1], "connecting to the console socket");
	}
	if (S.net_mode) {
		S.cur = &none;
		return S.pre.n + S.post.n ? bad_plan("%s", "berth-helper net runs only the child list") : 0;
	}
	if (S.post.n + S.chld.n > 0 && (S.pre.n == 0 || strcmp(S.pre.s[S.pre.n - 1].f[0], "spawn"))) {
		S.cur = &none;
		return bad_plan("%s", "post and child steps need a spawn step at the end of pre");
	}
	return 0;
}
