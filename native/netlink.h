/* rtnetlink for the network steps (netlink.c, steps_net.c). */
#ifndef BERTH_NETLINK_H
#define BERTH_NETLINK_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

struct nlreq {
	struct nlmsghdr h;
	char body[2048];
} __attribute__((aligned(NLMSG_ALIGNTO)));

struct nl_link {
	int index;
	unsigned flags;
	char kind[16];
};

typedef void (*nl_reply_fn)(struct nlmsghdr *h, void *arg);

extern char nl_ext[256];

void nl_init(struct nlreq *q, int type, int flags, const void *hdr, size_t hlen);
struct rtattr *nl_put(struct nlreq *q, int type, const void *data, size_t len);
struct rtattr *nl_nest(struct nlreq *q, int type);
void nl_end(struct nlreq *q, struct rtattr *nest);
/* Send q on the current netns's socket, wait for its ack: 0 or -errno (nl_ext: the kernel's text). */
int nl_talk(struct nlreq *q, nl_reply_fn fn, void *arg);
int nl_link(const char *name, struct nl_link *out);
int nl_index(const char *name);
int nl_del(const char *name);

/* Network namespaces: enter one (by fd), know whether we are away, go back (-errno on error). */
int net_enter(int nsfd);
int net_foreign(void);
int net_restore(void);
/* Links made by the current group of net steps, deleted when a later one fails. */
void net_made(const char *name);
void net_rollback(void);
void net_group_done(void);

#endif
