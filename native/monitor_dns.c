/* Embedded DNS (docs/PLAN.md, "Monitor mode"): post `dns CONFPATH`, served by the monitor loop.
 * The step binds 127.0.0.11:53 (UDP and TCP) inside the container's network namespace and comes
 * back to the helper's own (the host's) namespace: the sockets keep their namespace, and every
 * upstream query goes out from the host's, so a host resolver on loopback (127.0.0.53) works.
 * Names of the engine's tables are answered from monitor_dns_table.c; the rest is forwarded by
 * monitor_dns_up.c. This file: the step, the UDP and TCP clients, the poll hooks. Memory is
 * bounded: fixed slots for queries in flight and TCP clients, in one mapping given back when quiet. */
#include "monitor_dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static int udp = -1, tcpl = -1;
/* slots beyond these were never used: not even read, so an idle monitor touches none of their pages */
int phigh, thigh;
/* the working memory (monitor_dns.h) */
struct work *W;
int dirty;

char *dns_scratch(void)
{
	dirty = 1;
	return W->scratch;
}
/* what each poll entry of the last dns_fill was */
static struct { char kind; short idx; } ent[DNS_POLL];

int dns_fds(int *out)
{
	int n = 0;
	if (udp >= 0)
		out[n++] = udp;
	if (tcpl >= 0)
		out[n++] = tcpl;
	return n;
}

static int bind_in(int type)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
	int one = 1;
	sa.sin_addr.s_addr = htonl(0x7f00000b); /* 127.0.0.11 */
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* lo may still be down (the container brings it up later): bind anyway */
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || (type == SOCK_STREAM && listen(fd, 16) < 0)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int op_dns(struct step *s)
{
	const char *conf = F(s, 1);
	char ns[64];
	if (S.child <= 0)
		return failm(ESRCH, "", "bad plan", "dns without a container process");
	if (udp >= 0)
		return failm(EINVAL, "", "bad plan", "dns given twice");
	if (*conf != '/') /* the monitor moves to / */
		return failm(EINVAL, "", "bad plan", "dns: the conf path \"%.64s\" is not absolute", conf);
	/* our own network namespace, to come back to: the host's, or the rootless network namespace
	 * a rootless monitor joined in its pre steps (it may not return to the host's) */
	s->fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return fail(errno, "/proc/self/ns/net", "opening the helper's network namespace");
	snprintf(ns, sizeof ns, "/proc/%d/ns/net", (int)S.child);
	int cfd = open(ns, O_RDONLY | O_CLOEXEC);
	if (cfd < 0) {
		int e = errno;
		close(s->fd);
		s->fd = -1;
		return fail(e, ns, "opening the container's network namespace");
	}
	if (setns(cfd, CLONE_NEWNET) < 0) {
		int e = errno;
		close(cfd);
		close(s->fd);
		s->fd = -1;
		return fail(e, ns, "joining the container's network namespace");
	}
	close(cfd);
	udp = bind_in(SOCK_DGRAM);
	int e = errno;
	if (udp >= 0) {
		tcpl = bind_in(SOCK_STREAM);
		e = errno;
	}
	if (setns(s->fd, CLONE_NEWNET) < 0) {
		/* stuck in the container's namespace: upstream queries would go out from there */
		return fail(errno, "/proc/self/ns/net", "returning to the helper's network namespace");
	}
	close(s->fd);
	s->fd = -1;
	if (udp < 0 || tcpl < 0) {
		if (udp >= 0)
			close(udp);
		udp = -1;
		return fail(e, "127.0.0.11:53", "binding the embedded DNS server");
	}
	W = mmap(NULL, sizeof *W, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (W == MAP_FAILED) {
		int e2 = errno;
		close(udp);
		close(tcpl);
		udp = tcpl = -1;
		W = NULL;
		return fail(e2, "", "mapping the embedded DNS server's memory");
	}
	dns_conf_path(conf);
	return 0;
}

static void tcp_close(int k)
{
	struct tcpc *t = &T[k];
	close(t->fd);
	t->fd = 0;
	free(t->out);
	t->out = NULL;
	for (int j = 0; j < phigh; j++)
		if (P[j].fd > 0 && P[j].tcp == k) /* nobody to answer */
			dns_pend_close(&P[j]);
}

static void tcp_flush(int k)
{
	struct tcpc *t = &T[k];
	while (t->out && t->ooff < t->olen) {
		ssize_t w = write(t->fd, t->out + t->ooff, t->olen - t->ooff);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			tcp_close(k);
			return;
		}
		t->ooff += (size_t)w;
	}
	free(t->out);
	t->out = NULL;
	t->busy = 0; /* ready for the next query on this connection */
	t->have = 0;
	t->deadline = mon_now_ms() + DNS_TCP_IDLE_MS;
}

void dns_reply(int tcp, const struct sockaddr_storage *to, socklen_t alen, const unsigned char *m, size_t n)
{
	if (!n)
		return;
	if (tcp < 0) {
		/* from 127.0.0.11 explicitly: the kernel would pick 127.0.0.1 for a socket bound while the
		 * address was not local yet (IP_FREEBIND), and a connected client would drop the answer */
		union {
			char b[CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} cb;
		struct iovec iov = { (void *)m, n };
		struct msghdr mh = { .msg_name = (void *)to, .msg_namelen = alen, .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cb.b, .msg_controllen = sizeof cb.b };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		struct in_pktinfo pi = { .ipi_ifindex = 0 };
		pi.ipi_spec_dst.s_addr = htonl(0x7f00000b);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof pi);
		memcpy(CMSG_DATA(c), &pi, sizeof pi);
		sendmsg(udp, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		return;
	}
	struct tcpc *t = &T[tcp];
	if (t->fd <= 0)
		return;
	t->out = malloc(n + 2);
	if (!t->out) {
		tcp_close(tcp);
		return;
	}
	t->out[0] = (unsigned char)(n >> 8);
	t->out[1] = (unsigned char)n;
	memcpy(t->out + 2, m, n);
	t->olen = n + 2;
	t->ooff = 0;
	tcp_flush(tcp);
}

void dns_servfail_to(int tcp, const struct sockaddr_storage *to, socklen_t alen, const unsigned char *q, size_t n)
{
	dns_reply(tcp, to, alen, obuf, dns_servfail(q, n, obuf, sizeof obuf));
}

static void query(const unsigned char *q, size_t n, int tcp, const struct sockaddr_storage *from, socklen_t alen)
{
	size_t olen = 0;
	dirty = 1;
	if (dns_local(q, n, obuf, tcp < 0 ? 512 : sizeof obuf, &olen) == DNS_ANSWER) {
		dns_reply(tcp, from, alen, obuf, olen);
		return;
	}
	if (n < 12 || (q[2] & 0x80))
		return; /* not even a query: nothing to answer */
	struct pend *p = NULL;
	for (int k = 0; k < DNS_PENDING && !p; k++)
		if (P[k].fd <= 0) {
			p = &P[k];
			if (k >= phigh)
				phigh = k + 1;
		}
	if (!p || n > DNS_QMAX) {
		dns_servfail_to(tcp, from, alen, q, n);
		return;
	}
	memcpy(p->q, q, n);
	p->qlen = n;
	p->cid = (uint16_t)(q[0] << 8 | q[1]);
	p->tcp = tcp;
	p->up = -1;
	p->alen = alen;
	if (alen)
		memcpy(&p->addr, from, alen);
	dns_next_upstream(p);
}

static void udp_queries(void)
{
	dirty = 1;
	for (int k = 0; k < 16; k++) {
		struct sockaddr_storage from;
		socklen_t alen = sizeof from;
		ssize_t n = recvfrom(udp, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &alen);
		if (n < 0)
			return;
		query(buf, (size_t)n, -1, &from, alen);
	}
}

static void tcp_accept(void)
{
	dirty = 1;
	for (int k = 0; k < DNS_TCP; k++) {
		if (T[k].fd > 0)
			continue;
		int fd = accept4(tcpl, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		T[k] = (struct tcpc){ .fd = fd, .deadline = mon_now_ms() + DNS_TCP_IDLE_MS };
		if (k >= thigh)
			thigh = k + 1;
		return;
	}
}

/* Read the 2-byte length, then the query (exactly: nothing of the next one). */
static void tcp_read(int k)
{
	struct tcpc *t = &T[k];
	size_t want = t->have < 2 ? 2 : 2 + (size_t)(t->in[0] << 8 | t->in[1]);
	ssize_t r;
	do
		r = read(t->fd, t->in + t->have, want - t->have);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0) {
		tcp_close(k);
		return;
	}
	t->have += (size_t)r;
	if (t->have == 2) {
		size_t len = (size_t)(t->in[0] << 8 | t->in[1]);
		if (len < 12 || len > DNS_QMAX)
			tcp_close(k);
		return;
	}
	if (t->have < want)
		return;
	t->busy = 1;
	query(t->in + 2, t->have - 2, k, NULL, 0);
}

int dns_fill(struct pollfd *p, int n)
{
	int e = 0;
	if (udp < 0)
		return n;
	ent[e].kind = 'u';
	p[n + e++] = (struct pollfd){ udp, POLLIN, 0 };
	int room = thigh < DNS_TCP;
	for (int k = 0; k < thigh; k++)
		room |= T[k].fd <= 0;
	if (room) {
		ent[e].kind = 'l';
		p[n + e++] = (struct pollfd){ tcpl, POLLIN, 0 };
	}
	for (int k = 0; k < thigh; k++) {
		short ev = T[k].fd <= 0 ? 0 : T[k].out ? POLLOUT : T[k].busy ? 0 : POLLIN;
		if (!ev)
			continue;
		ent[e].kind = 't';
		ent[e].idx = (short)k;
		p[n + e++] = (struct pollfd){ T[k].fd, ev, 0 };
	}
	for (int k = 0; k < phigh; k++) {
		if (P[k].fd <= 0)
			continue;
		ent[e].kind = 'p';
		ent[e].idx = (short)k;
		p[n + e++] = (struct pollfd){ P[k].fd, dns_pend_poll(&P[k]), 0 };
	}
	return n + e;
}

int dns_timeout(long now, int timeout)
{
	if (udp < 0)
		return timeout;
	long d = -1;
	for (int k = 0; k < phigh; k++)
		if (P[k].fd > 0 && (d < 0 || P[k].deadline < d))
			d = P[k].deadline;
	for (int k = 0; k < thigh; k++)
		if (T[k].fd > 0 && !T[k].busy && (d < 0 || T[k].deadline < d))
			d = T[k].deadline;
	if (d < 0)
		return timeout;
	int t = (int)(d > now ? d - now : 0);
	return timeout < 0 || t < timeout ? t : timeout;
}

void dns_events(struct pollfd *p, int n)
{
	if (udp < 0)
		return;
	for (int e = 0; e < n; e++) {
		short r = p[e].revents;
		int k = ent[e].idx;
		if (!r)
			continue;
		switch (ent[e].kind) {
		case 'u':
			udp_queries();
			break;
		case 'l':
			tcp_accept();
			break;
		case 't':
			if (T[k].fd != p[e].fd)
				break; /* closed meanwhile */
			if (T[k].out)
				tcp_flush(k);
			else if (r & (POLLIN | POLLHUP | POLLERR))
				tcp_read(k);
			break;
		case 'p':
			if (P[k].fd == p[e].fd)
				dns_pend_events(&P[k], r);
			break;
		}
	}
	long now = mon_now_ms();
	for (int k = 0; k < phigh; k++)
		if (P[k].fd > 0 && now >= P[k].deadline)
			dns_next_upstream(&P[k]);
	for (int k = 0; k < thigh; k++)
		if (T[k].fd > 0 && !T[k].busy && now >= T[k].deadline)
			tcp_close(k);
	while (phigh > 0 && P[phigh - 1].fd <= 0)
		phigh--;
	while (thigh > 0 && T[thigh - 1].fd <= 0)
		thigh--;
	if (dirty && !phigh && !thigh) { /* all quiet: the pages go back */
		madvise(W, sizeof *W, MADV_DONTNEED);
		dirty = 0;
	}
}
