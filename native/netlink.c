/* rtnetlink: one NETLINK_ROUTE socket per network namespace (cached), requests built in place,
 * every request acknowledged (NLM_F_ACK) and its error returned (-errno) with the kernel's
 * extended-ack text when there is one. The steps that use it are in steps_net.c. */
#include "helper.h"
#include "netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

#define MAXNS 16

/* A network namespace we have been in: its identity and the rtnetlink socket made there. */
struct nsent {
	dev_t dev;
	ino_t ino;
	int sock;
};

static struct nsent ents[MAXNS];
static int nents;
static int cur = -1;     /* entry of the current netns (-1: not known yet) */
static int self_fd = -1; /* the netns we started in */
static int self_ent = -1;
static uint32_t seq;
char nl_ext[256];        /* the kernel's extended-ack message of the last error */

static int ent_for_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	for (int k = 0; k < nents; k++)
		if (ents[k].dev == st.st_dev && ents[k].ino == st.st_ino)
			return k;
	if (nents == MAXNS)
		return -EMFILE;
	ents[nents] = (struct nsent){ st.st_dev, st.st_ino, -1 };
	return nents++;
}

/* Learn where we are (the first time a net step runs): that netns is "self". */
static int net_init(void)
{
	if (self_fd >= 0)
		return 0;
	self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_fd < 0)
		return -errno;
	int e = ent_for_fd(self_fd);
	if (e < 0)
		return e;
	cur = self_ent = e;
	return 0;
}

int net_enter(int nsfd)
{
	int r = net_init();
	if (r < 0)
		return r;
	int e = ent_for_fd(nsfd);
	if (e < 0)
		return e;
	if (e == cur)
		return 0;
	if (setns(nsfd, CLONE_NEWNET) < 0)
		return -errno;
	cur = e;
	return 0;
}

int net_foreign(void)
{
	return self_fd >= 0 && cur != self_ent;
}

int net_restore(void)
{
	if (!net_foreign())
		return 0;
	if (setns(self_fd, CLONE_NEWNET) < 0)
		return -errno;
	cur = self_ent;
	return 0;
}

static int sock_here(void)
{
	int r = net_init();
	if (r < 0)
		return r;
	if (ents[cur].sock >= 0)
		return ents[cur].sock;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	ents[cur].sock = fd;
	return fd;
}

/* ---- building requests ---- */

void nl_init(struct nlreq *q, int type, int flags, const void *hdr, size_t hlen)
{
	memset(q, 0, sizeof q->h + NLMSG_ALIGN(hlen));
	q->h.nlmsg_type = (uint16_t)type;
	q->h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
	q->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(hlen);
	memcpy(NLMSG_DATA(&q->h), hdr, hlen);
}

struct rtattr *nl_put(struct nlreq *q, int type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(q->h.nlmsg_len);
	if (off + RTA_SPACE(len) > sizeof *q)
		return NULL; /* requests are small: cannot happen with the steps we build */
	struct rtattr *a = (struct rtattr *)((char *)q + off);
	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	q->h.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return a;
}

struct rtattr *nl_nest(struct nlreq *q, int type)
{
	return nl_put(q, type | NLA_F_NESTED, NULL, 0);
}

void nl_end(struct nlreq *q, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)q + q->h.nlmsg_len - (char *)nest);
}

/* ---- talking ---- */

static void ext_ack(const struct nlmsghdr *h)
{
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	const struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off = NLMSG_LENGTH(sizeof *e);
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
	const char *end = (const char *)h + h->nlmsg_len;
	for (const char *p = (const char *)h + off; p + sizeof(struct nlattr) <= end;) {
		const struct nlattr *a = (const struct nlattr *)p;
		if (a->nla_len < sizeof *a || p + a->nla_len > end)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
			snprintf(nl_ext, sizeof nl_ext, "%.*s", (int)(a->nla_len - sizeof *a), p + sizeof *a);
			return;
		}
		p += NLA_ALIGN(a->nla_len);
	}
}

int nl_talk(struct nlreq *q, nl_reply_fn fn, void *arg)
{
	int fd = sock_here();
	if (fd < 0)
		return fd;
	nl_ext[0] = 0;
	q->h.nlmsg_seq = ++seq;
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	ssize_t w;
	do
		w = sendto(fd, q, q->h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	static char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != q->h.nlmsg_seq)
				continue; /* a late answer to an earlier request */
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (e->error)
					ext_ack(h);
				return e->error;
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (fn)
				fn(h, arg);
		}
	}
}

/* ---- lookups ---- */

static void link_reply(struct nlmsghdr *h, void *arg)
{
	struct nl_link *l = arg;
	if (h->nlmsg_type != RTM_NEWLINK)
		return;
	struct ifinfomsg *i = NLMSG_DATA(h);
	l->index = i->ifi_index;
	l->flags = i->ifi_flags;
	int len = (int)IFLA_PAYLOAD(h);
	for (struct rtattr *a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type != IFLA_LINKINFO)
			continue;
		int l2 = (int)RTA_PAYLOAD(a);
		for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, l2); b = RTA_NEXT(b, l2))
			if (b->rta_type == IFLA_INFO_KIND)
				snprintf(l->kind, sizeof l->kind, "%.*s", (int)RTA_PAYLOAD(b), (char *)RTA_DATA(b));
	}
}

int nl_link(const char *name, struct nl_link *out)
{
	struct nlreq q;
	struct ifinfomsg i = { .ifi_family = AF_UNSPEC };
	memset(out, 0, sizeof *out);
	if (strlen(name) >= 16)
		return -EINVAL;
	nl_init(&q, RTM_GETLINK, 0, &i, sizeof i);
	uint32_t mask = RTEXT_FILTER_SKIP_STATS;
	nl_put(&q, IFLA_EXT_MASK, &mask, sizeof mask);
	nl_put(&q, IFLA_IFNAME, name, strlen(name) + 1);
	int r = nl_talk(&q, link_reply, out);
	if (r < 0)
		return r;
	return out->index > 0 ? 0 : -ENODEV;
}

int nl_index(const char *name)
{
	struct nl_link l;
	int r = nl_link(name, &l);
	return r < 0 ? r : l.index;
}

int nl_del(const char *name)
{
	struct nlreq q;
	struct ifinfomsg i = { .ifi_family = AF_UNSPEC };
	nl_init(&q, RTM_DELLINK, 0, &i, sizeof i);
	nl_put(&q, IFLA_IFNAME, name, strlen(name) + 1);
	return nl_talk(&q, NULL, NULL);
}

/* ---- links created by this group of steps (undone when a later net step fails) ---- */

#define MAXMADE 32
static struct {
	int ent;
	char name[16];
} made[MAXMADE];
static int nmade;

void net_made(const char *name)
{
	if (nmade < MAXMADE && cur >= 0) {
		made[nmade].ent = cur;
		snprintf(made[nmade].name, sizeof made[nmade].name, "%s", name);
		nmade++;
	}
}

void net_group_done(void)
{
	nmade = 0;
}

void net_rollback(void)
{
	int keep = cur;
	while (nmade > 0) {
		nmade--;
		cur = made[nmade].ent; /* deleting needs only that netns's socket, not a setns */
		if (ents[cur].sock >= 0)
			nl_del(made[nmade].name);
	}
	cur = keep;
}
