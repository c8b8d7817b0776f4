/* Network steps (docs/PLAN.md "Network steps"): links, addresses, routes and sysctls through
 * rtnetlink, in the parent (post), the child, or `berth-helper net`. A failing step first deletes
 * the links made by the steps before it in the same group, so a failure leaves nothing behind. */
#include "helper.h"
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS_HERE (-100000) /* `-` or empty: the current netns */

/* Report a failed request (r = -errno) on PATH: undo this group's links; the detail is the
 * kernel's extended-ack text when it gave one (TypeScript names the step from its description). */
static int nfail(int r, const char *path)
{
	char ext[sizeof nl_ext];
	snprintf(ext, sizeof ext, "%s", nl_ext);
	net_rollback();
	return ext[0] ? fail(-r, path, "%s", ext) : fail(-r, path, NULL);
}

static int bad(const char *path, const char *fmt, const char *arg)
{
	net_rollback();
	return failm(EINVAL, path, "bad plan", fmt, arg);
}

/* A netns argument: `-`/empty (here), `child` (the cloned child, parent only) or a path. */
static int ns_open(const char *ns)
{
	if (!*ns || !strcmp(ns, "-"))
		return NS_HERE;
	char buf[64];
	if (!strcmp(ns, "child")) {
		if (S.is_child || S.child <= 0)
			return -ESRCH;
		snprintf(buf, sizeof buf, "/proc/%d/ns/net", (int)S.child);
		ns = buf;
	}
	int fd = open(ns, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int parse_mac(const char *s, unsigned char mac[6])
{
	unsigned v[6];
	char end;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6)
		return -1;
	for (int k = 0; k < 6; k++)
		mac[k] = (unsigned char)v[k];
	return 0;
}

struct cidr {
	int family;
	int len;     /* prefix length */
	unsigned char a[16];
};

/* "ADDR[/LEN]"; LEN defaults to the full length. */
static int parse_cidr(const char *s, struct cidr *c)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n >= sizeof ip)
		return -1;
	memcpy(ip, s, n);
	ip[n] = 0;
	c->family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(c->family, ip, c->a) != 1)
		return -1;
	int max = c->family == AF_INET ? 32 : 128;
	c->len = max;
	if (slash) {
		char *end;
		long l = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || l < 0 || l > max)
			return -1;
		c->len = (int)l;
	}
	return 0;
}

static int name_ok(const char *name)
{
	return *name && strlen(name) < IFNAMSIZ;
}

/* RTM_SETLINK on NAME: flags (IFF_UP) and/or one attribute. */
static int setlink(const char *name, unsigned flags, unsigned change, int attr, const void *d, size_t len)
{
	struct nlreq q;
	struct ifinfomsg i = { .ifi_family = AF_UNSPEC, .ifi_flags = flags, .ifi_change = change };
	nl_init(&q, RTM_SETLINK, 0, &i, sizeof i);
	nl_put(&q, IFLA_IFNAME, name, strlen(name) + 1);
	if (attr)
		nl_put(&q, attr, d, len);
	return nl_talk(&q, NULL, NULL);
}

int op_netns(struct step *s)
{
	const char *t = F(s, 1);
	int r;
	if (!strcmp(t, "self")) {
		r = net_restore();
		return r < 0 ? nfail(r, t) : 0;
	}
	int fd = ns_open(t);
	if (fd == NS_HERE)
		return bad(t, "netns: \"%s\" is not a namespace", t);
	if (fd < 0)
		return nfail(fd, t);
	r = net_enter(fd);
	close(fd);
	return r < 0 ? nfail(r, t) : 0;
}

int op_link_bridge(struct step *s)
{
	const char *name = F(s, 1), *mac = F(s, 3);
	uint32_t mtu = (uint32_t)U(s, 2);
	unsigned char hw[6];
	if (!name_ok(name))
		return bad(name, "bad interface name \"%.32s\"", name);
	if (*mac && parse_mac(mac, hw) < 0)
		return bad(name, "bad MAC address \"%.32s\"", mac);
	struct nlreq q;
	struct ifinfomsg i = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	nl_init(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &i, sizeof i);
	nl_put(&q, IFLA_IFNAME, name, strlen(name) + 1);
	if (mtu)
		nl_put(&q, IFLA_MTU, &mtu, sizeof mtu);
	if (*mac)
		nl_put(&q, IFLA_ADDRESS, hw, 6);
	struct rtattr *li = nl_nest(&q, IFLA_LINKINFO);
	nl_put(&q, IFLA_INFO_KIND, "bridge", 7);
	nl_end(&q, li);
	int r = nl_talk(&q, NULL, NULL);
	if (r == 0) {
		net_made(name);
		return 0;
	}
	if (r != -EEXIST)
		return nfail(r, name);
	struct nl_link l;
	if ((r = nl_link(name, &l)) < 0)
		return nfail(r, name);
	if (strcmp(l.kind, "bridge")) {
		net_rollback();
		return fail(EEXIST, name, "%s is a %s, not a bridge", name, l.kind[0] ? l.kind : "device");
	}
	if (!(l.flags & IFF_UP) && (r = setlink(name, IFF_UP, IFF_UP, 0, NULL, 0)) < 0)
		return nfail(r, name);
	return 0;
}

int op_link_veth(struct step *s)
{
	const char *name = F(s, 1), *peer = F(s, 2), *pns = F(s, 3);
	uint32_t mtu = (uint32_t)U(s, 4);
	if (!name_ok(name) || !name_ok(peer))
		return bad(name, "bad interface name \"%.32s\"", name_ok(name) ? peer : name);
	int fd = ns_open(pns);
	if (fd < 0 && fd != NS_HERE)
		return nfail(fd, pns);
	struct nlreq q;
	struct ifinfomsg i = { .ifi_family = AF_UNSPEC };
	nl_init(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &i, sizeof i);
	nl_put(&q, IFLA_IFNAME, name, strlen(name) + 1);
	if (mtu)
		nl_put(&q, IFLA_MTU, &mtu, sizeof mtu);
	struct rtattr *li = nl_nest(&q, IFLA_LINKINFO);
	nl_put(&q, IFLA_INFO_KIND, "veth", 5);
	struct rtattr *data = nl_nest(&q, IFLA_INFO_DATA);
	struct rtattr *pi = nl_put(&q, VETH_INFO_PEER, &i, sizeof i);
	nl_put(&q, IFLA_IFNAME, peer, strlen(peer) + 1);
	if (mtu)
		nl_put(&q, IFLA_MTU, &mtu, sizeof mtu);
	if (fd >= 0) {
		uint32_t nsfd = (uint32_t)fd;
		nl_put(&q, IFLA_NET_NS_FD, &nsfd, sizeof nsfd);
	}
	nl_end(&q, pi);
	nl_end(&q, data);
	nl_end(&q, li);
	int r = nl_talk(&q, NULL, NULL);
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return nfail(r, name);
	net_made(name);
	return 0;
}

/* macvlan / ipvlan on PARENT (current netns), created directly in NS. */
static int lower_link(struct step *s, const char *kind, int datattr, const void *mode, size_t mlen, const char *ns, uint32_t mtu)
{
	const char *name = F(s, 1), *parent = F(s, 2);
	if (!name_ok(name) || !name_ok(parent))
		return bad(name, "bad interface name \"%.32s\"", name_ok(name) ? parent : name);
	int pidx = nl_index(parent);
	if (pidx < 0)
		return nfail(pidx, parent);
	int fd = ns_open(ns);
	if (fd < 0 && fd != NS_HERE)
		return nfail(fd, ns);
	struct nlreq q;
	struct ifinfomsg i = { .ifi_family = AF_UNSPEC };
	nl_init(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &i, sizeof i);
	nl_put(&q, IFLA_IFNAME, name, strlen(name) + 1);
	uint32_t p = (uint32_t)pidx;
	nl_put(&q, IFLA_LINK, &p, sizeof p);
	if (mtu)
		nl_put(&q, IFLA_MTU, &mtu, sizeof mtu);
	if (fd >= 0) {
		uint32_t nsfd = (uint32_t)fd;
		nl_put(&q, IFLA_NET_NS_FD, &nsfd, sizeof nsfd);
	}
	struct rtattr *li = nl_nest(&q, IFLA_LINKINFO);
	nl_put(&q, IFLA_INFO_KIND, kind, strlen(kind));
	struct rtattr *data = nl_nest(&q, IFLA_INFO_DATA);
	nl_put(&q, datattr, mode, mlen);
	nl_end(&q, data);
	nl_end(&q, li);
	int r = nl_talk(&q, NULL, NULL);
	if (fd >= 0)
		close(fd);
	if (r == -EOPNOTSUPP && !strcmp(kind, "ipvlan")) {
		net_rollback();
		return fail(EOPNOTSUPP, name, "ipvlan: the kernel has no ipvlan support (CONFIG_IPVLAN)");
	}
	if (r < 0)
		return nfail(r, name);
	if (fd == NS_HERE)
		net_made(name);
	return 0;
}

int op_link_macvlan(struct step *s)
{
	static const char *const modes[] = { "private", "vepa", "bridge", "passthru" };
	const char *m = F(s, 3);
	uint32_t mode = 0;
	for (unsigned k = 0; k < 4; k++)
		if (!strcmp(m, modes[k]))
			mode = 1u << k; /* MACVLAN_MODE_PRIVATE 1, VEPA 2, BRIDGE 4, PASSTHRU 8 */
	if (!mode)
		return bad(F(s, 1), "macvlan mode \"%.16s\" (bridge, private, vepa or passthru)", m);
	return lower_link(s, "macvlan", IFLA_MACVLAN_MODE, &mode, sizeof mode, F(s, 4), (uint32_t)U(s, 5));
}

int op_link_ipvlan(struct step *s)
{
	const char *m = F(s, 3);
	uint16_t mode;
	if (!strcmp(m, "l2"))
		mode = 0;
	else if (!strcmp(m, "l3"))
		mode = 1;
	else if (!strcmp(m, "l3s"))
		mode = 2;
	else
		return bad(F(s, 1), "ipvlan mode \"%.16s\" (l2, l3 or l3s)", m);
	return lower_link(s, "ipvlan", IFLA_IPVLAN_MODE, &mode, sizeof mode, F(s, 4), 0);
}

int op_link_master(struct step *s)
{
	const char *name = F(s, 1), *master = F(s, 2);
	uint32_t idx = 0;
	if (*master && strcmp(master, "-")) {
		int r = nl_index(master);
		if (r < 0)
			return nfail(r, master);
		idx = (uint32_t)r;
	}
	int r = setlink(name, 0, 0, IFLA_MASTER, &idx, sizeof idx);
	return r < 0 ? nfail(r, name) : 0;
}

int op_link_up(struct step *s)
{
	int r = setlink(F(s, 1), IFF_UP, IFF_UP, 0, NULL, 0);
	return r < 0 ? nfail(r, s->f[1]) : 0;
}

int op_link_down(struct step *s)
{
	int r = setlink(F(s, 1), 0, IFF_UP, 0, NULL, 0);
	return r < 0 ? nfail(r, s->f[1]) : 0;
}

int op_link_mtu(struct step *s)
{
	uint32_t mtu = (uint32_t)U(s, 2);
	int r = setlink(F(s, 1), 0, 0, IFLA_MTU, &mtu, sizeof mtu);
	return r < 0 ? nfail(r, s->f[1]) : 0;
}

int op_link_mac(struct step *s)
{
	unsigned char hw[6];
	if (parse_mac(F(s, 2), hw) < 0)
		return bad(s->f[1], "bad MAC address \"%.32s\"", s->f[2]);
	int r = setlink(F(s, 1), 0, 0, IFLA_ADDRESS, hw, 6);
	return r < 0 ? nfail(r, s->f[1]) : 0;
}

int op_link_rename(struct step *s)
{
	const char *name = F(s, 1), *nw = F(s, 2);
	if (!name_ok(nw))
		return bad(name, "bad interface name \"%.32s\"", nw);
	int idx = nl_index(name);
	if (idx < 0)
		return nfail(idx, name);
	struct nlreq q;
	struct ifinfomsg i = { .ifi_family = AF_UNSPEC, .ifi_index = idx };
	nl_init(&q, RTM_SETLINK, 0, &i, sizeof i);
	nl_put(&q, IFLA_IFNAME, nw, strlen(nw) + 1);
	int r = nl_talk(&q, NULL, NULL);
	return r < 0 ? nfail(r, name) : 0;
}

int op_link_del(struct step *s)
{
	int r = nl_del(F(s, 1));
	return r < 0 && r != -ENODEV ? nfail(r, s->f[1]) : 0;
}

int op_link_hairpin(struct step *s)
{
	const char *name = F(s, 1);
	uint8_t on = U(s, 2) ? 1 : 0;
	int idx = nl_index(name);
	if (idx < 0)
		return nfail(idx, name);
	struct nlreq q;
	struct ifinfomsg i = { .ifi_family = AF_BRIDGE, .ifi_index = idx };
	nl_init(&q, RTM_SETLINK, 0, &i, sizeof i);
	struct rtattr *pi = nl_put(&q, IFLA_PROTINFO | NLA_F_NESTED, NULL, 0);
	nl_put(&q, IFLA_BRPORT_MODE, &on, sizeof on);
	nl_end(&q, pi);
	int r = nl_talk(&q, NULL, NULL);
	return r < 0 ? nfail(r, name) : 0;
}

int op_addr_add(struct step *s)
{
	const char *name = F(s, 1), *addr = F(s, 2);
	struct cidr c;
	if (parse_cidr(addr, &c) < 0)
		return bad(addr, "bad address \"%.64s\"", addr);
	int idx = nl_index(name);
	if (idx < 0)
		return nfail(idx, name);
	size_t alen = c.family == AF_INET ? 4 : 16;
	struct nlreq q;
	struct ifaddrmsg a = { .ifa_family = (unsigned char)c.family, .ifa_prefixlen = (unsigned char)c.len,
			       .ifa_index = (unsigned)idx, .ifa_scope = RT_SCOPE_UNIVERSE };
	if (c.family == AF_INET6)
		a.ifa_flags = IFA_F_NODAD;
	nl_init(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &a, sizeof a);
	nl_put(&q, IFA_LOCAL, c.a, alen);
	nl_put(&q, IFA_ADDRESS, c.a, alen);
	if (c.family == AF_INET && c.len < 31) { /* as Docker's netlink library: the broadcast address */
		unsigned char b[4];
		uint32_t host = c.len ? 0xffffffffu >> c.len : 0xffffffffu, v;
		memcpy(&v, c.a, 4);
		v = htonl(ntohl(v) | host);
		memcpy(b, &v, 4);
		nl_put(&q, IFA_BROADCAST, b, 4);
	}
	if (c.family == AF_INET6) {
		uint32_t fl = IFA_F_NODAD;
		nl_put(&q, IFA_FLAGS, &fl, sizeof fl);
	}
	int r = nl_talk(&q, NULL, NULL);
	return r < 0 ? nfail(r, name) : 0;
}

int op_route_add(struct step *s)
{
	const char *dst = F(s, 1), *via = F(s, 2), *dev = F(s, 3);
	struct cidr d = { 0 }, g = { 0 };
	if (*via && parse_cidr(via, &g) < 0)
		return bad(dst, "bad gateway \"%.64s\"", via);
	if (!strcmp(dst, "default")) {
		d.family = *via ? g.family : AF_INET;
		d.len = 0;
	} else if (parse_cidr(dst, &d) < 0) {
		return bad(dst, "bad destination \"%.64s\"", dst);
	}
	if (*via && g.family != d.family)
		return bad(dst, "gateway %s is not of the destination's family", via);
	if (!*via && !*dev)
		return bad(dst, "%s: a route needs a gateway or a device", dst);
	int idx = 0;
	if (*dev && (idx = nl_index(dev)) < 0)
		return nfail(idx, dev);
	size_t alen = d.family == AF_INET ? 4 : 16;
	struct nlreq q;
	struct rtmsg m = { .rtm_family = (unsigned char)d.family, .rtm_dst_len = (unsigned char)d.len,
			   .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
			   .rtm_scope = *via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK, .rtm_type = RTN_UNICAST };
	nl_init(&q, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &m, sizeof m);
	if (d.len)
		nl_put(&q, RTA_DST, d.a, alen);
	if (*via)
		nl_put(&q, RTA_GATEWAY, g.a, alen);
	if (idx) {
		uint32_t oif = (uint32_t)idx;
		nl_put(&q, RTA_OIF, &oif, sizeof oif);
	}
	int r = nl_talk(&q, NULL, NULL);
	return r < 0 ? nfail(r, dst) : 0;
}

int op_sysctl(struct step *s)
{
	const char *key = F(s, 1), *val = F(s, 2);
	char path[512];
	int n = snprintf(path, sizeof path, "/proc/sys/%s", key);
	if (n < 0 || (size_t)n >= sizeof path || strstr(key, ".."))
		return bad(key, "bad sysctl \"%.64s\"", key);
	if (!strchr(key, '/'))
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
	if (write_path(-1, path, val, strlen(val)) < 0) {
		int e = errno;
		net_rollback();
		return fail(e, path, NULL);
	}
	return 0;
}

/* `berth-helper net`: the child list of a plan on stdin, run here; errors as seccomp-export. */
int net_main(void)
{
	S.ctl = -1;
	if (read_plan(0) >= 0) {
		S.ctl = 2;
		run_list(&S.chld);
		int r = net_restore();
		if (r >= 0)
			return 0;
		fail(-r, "self", "returning to the helper's network namespace");
	}
	S.ctl = 2;
	die_step();
	return 1;
}

void net_after_step(struct list *l, int k)
{
	if (k + 1 < l->n && (l->s[k + 1].op->lists & F_NET))
		return;
	net_group_done();
	int r = net_restore();
	if (r < 0) {
		fail(-r, "self", "returning to the helper's network namespace");
		die_step();
	}
}
