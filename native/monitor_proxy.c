/* Monitor mode: published host ports relayed by the monitor itself (docs/PLAN.md, "Relayed
 * ports"; rootless containers on a user-defined network, like docker-proxy or podman's
 * rootlessport, with no process of their own). pre `port_proxy PROTO HOSTADDR HOSTPORT TARGETADDR
 * TARGETPORT` runs first in pre, before any setns: its socket is bound (and, for TCP, listening,
 * with SO_REUSEADDR: see mon_port_bind) in the host's network namespace. The monitor then lives in
 * the rootless network namespace (its later pre steps), so every socket it opens towards
 * TARGETADDR:TARGETPORT (the container's address on its bridge) is opened there.
 *
 * This file: the step, the poll hooks and UDP: per client address a socket connected to the
 * target; its replies go back from the host socket (sendto the client); a flow idle for
 * PX_UDP_IDLE_MS goes, and a new client when the table is full takes the place of the least
 * recently used flow. TCP: monitor_proxy_tcp.c.
 *
 * Everything is non-blocking, in the monitor's poll loop (proxy_fill, proxy_timeout,
 * proxy_events), and bounded per round, so a busy relay never holds up the monitor's other duties.
 * When the container exits, the host sockets are closed (proxy_stop): the host ports are free again
 * before the exit record is written. */
#include "monitor_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pflow {
	int fd;                   /* connected to the target; 0: slot free */
	int l;                    /* its listener */
	long last;
	socklen_t plen;
	struct sockaddr_storage peer;
};

struct plisten *LS;
int nl;
static int capl;
static struct pflow FL[PX_UDP];
static int uhigh;             /* slots at and beyond it are free */
static unsigned char dgram[65536];
static struct pent *ent;      /* what each poll entry of the last proxy_fill was */

static int parse_target(const char *addr, uint64_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof *ss);
	if (port == 0 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1)
		v4->sin_family = AF_INET, *len = sizeof *v4;
	else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1)
		v6->sin6_family = AF_INET6, *len = sizeof *v6;
	else
		return -1;
	v4->sin_port = htons((uint16_t)port); /* sin_port and sin6_port are at the same place */
	return 0;
}

int op_port_proxy(struct step *s)
{
	const char *proto = F(s, 1), *taddr = F(s, 4);
	uint64_t tport = U(s, 5);
	char what[96];
	struct sockaddr_storage target;
	socklen_t tlen;
	if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
		return failm(EINVAL, "", "bad plan", "port_proxy: protocol \"%.16s\" is not tcp or udp", proto);
	if (parse_target(taddr, tport, &target, &tlen) < 0)
		return failm(EINVAL, "", "bad plan", "port_proxy: target \"%.64s\" port %llu is not an IP address and a port in 1-65535",
			     taddr, (unsigned long long)tport);
	if (nl == capl) {
		int n = capl ? capl * 2 : 8;
		struct plisten *p = realloc(LS, (size_t)n * sizeof *p);
		if (!p)
			return fail(ENOMEM, "", "port_proxy");
		LS = p;
		capl = n;
	}
	int udp = !strcmp(proto, "udp");
	int fd = mon_port_bind("port_proxy", proto, F(s, 2), U(s, 3), SOCK_NONBLOCK, 1, what, sizeof what);
	if (fd < 0)
		return -1;
	if (!udp && listen(fd, SOMAXCONN) < 0) {
		int e = errno;
		close(fd);
		return fail(e, what, e == EADDRINUSE ? "the host port is already in use" : "listening on the host port");
	}
	if (mon_hold_fd(fd) < 0) { /* survives the monitor's "close every other fd" */
		close(fd);
		return fail(ENOMEM, what, NULL);
	}
	LS[nl++] = (struct plisten){ .fd = fd, .udp = udp, .target = target, .tlen = tlen };
	return 0;
}

int proxy_poll_max(void)
{
	if (!nl)
		return 0;
	if (!ent && !(ent = calloc((size_t)nl + 2 * PX_CONNS + PX_UDP, sizeof *ent))) {
		proxy_stop(1); /* no room to serve: the ports go rather than hang */
		return 0;
	}
	return nl + 2 * PX_CONNS + PX_UDP;
}

/* ---- UDP ---- */

static void flow_close(int k)
{
	close(FL[k].fd);
	FL[k].fd = 0;
	while (uhigh > 0 && FL[uhigh - 1].fd <= 0)
		uhigh--;
}

static int same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) &&
	       x->sin6_scope_id == y->sin6_scope_id;
}

/* The flow of a client of listener l (made when new); -1 when none can be made. */
static int flow_of(int l, const struct sockaddr_storage *peer, socklen_t plen, long now)
{
	int free_k = -1, lru = -1;
	for (int k = 0; k < uhigh; k++) {
		if (FL[k].fd <= 0) {
			if (free_k < 0)
				free_k = k;
			continue;
		}
		if (FL[k].l == l && same_peer(&FL[k].peer, peer))
			return k;
		if (lru < 0 || FL[k].last < FL[lru].last)
			lru = k;
	}
	if (free_k < 0 && uhigh < PX_UDP)
		free_k = uhigh;
	if (free_k < 0) { /* full: the least recently used flow makes room */
		flow_close(lru);
		free_k = lru;
	}
	int fd = socket(LS[l].target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&LS[l].target, LS[l].tlen) < 0) {
		close(fd);
		return -1;
	}
	FL[free_k] = (struct pflow){ .fd = fd, .l = l, .last = now, .plen = plen };
	memcpy(&FL[free_k].peer, peer, plen);
	if (free_k >= uhigh)
		uhigh = free_k + 1;
	return free_k;
}

static void udp_in(int l, long now)
{
	for (int round = 0; round < PX_ROUNDS; round++) {
		struct sockaddr_storage from;
		socklen_t alen = sizeof from;
		ssize_t n = recvfrom(LS[l].fd, dgram, sizeof dgram, MSG_DONTWAIT, (struct sockaddr *)&from, &alen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		if (alen > sizeof from)
			continue;
		int k = flow_of(l, &from, alen, now);
		if (k < 0)
			continue; /* dropped, as a full queue would */
		FL[k].last = now;
		send(FL[k].fd, dgram, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

static void udp_back(int k, long now)
{
	for (int round = 0; round < PX_ROUNDS; round++) {
		ssize_t n = recv(FL[k].fd, dgram, sizeof dgram, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			continue; /* ECONNREFUSED (nothing listening yet) and the like: the flow stays */
		FL[k].last = now;
		sendto(LS[FL[k].l].fd, dgram, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&FL[k].peer, FL[k].plen);
	}
}

/* ---- the poll loop's hooks ---- */

int proxy_fill(struct pollfd *p, int n)
{
	int e = 0;
	if (!ent)
		return n;
	long now = mon_now_ms();
	for (int l = 0; l < nl; l++) {
		if (LS[l].fd < 0 || (!LS[l].udp && !px_accepting(now)))
			continue;
		ent[e] = (struct pent){ 'l', 0, l };
		p[n + e++] = (struct pollfd){ LS[l].fd, POLLIN, 0 };
	}
	e = px_tcp_fill(p + n, ent, e);
	for (int k = 0; k < uhigh; k++) {
		if (FL[k].fd <= 0)
			continue;
		ent[e] = (struct pent){ 'u', 0, k };
		p[n + e++] = (struct pollfd){ FL[k].fd, POLLIN, 0 };
	}
	return n + e;
}

int proxy_timeout(long now, int timeout)
{
	long d = -1;
	if (!ent)
		return timeout;
	if (!px_accepting(now))
		d = px_paused_until();
	for (int k = 0; k < uhigh; k++)
		if (FL[k].fd > 0 && (d < 0 || FL[k].last + PX_UDP_IDLE_MS < d))
			d = FL[k].last + PX_UDP_IDLE_MS;
	if (d < 0)
		return timeout;
	int t = (int)(d > now ? d - now : 0);
	return timeout < 0 || t < timeout ? t : timeout;
}

void proxy_events(struct pollfd *p, int n)
{
	if (!ent)
		return;
	long now = mon_now_ms();
	for (int e = 0; e < n; e++) {
		int k = ent[e].idx;
		if (!p[e].revents)
			continue;
		switch (ent[e].kind) {
		case 'l':
			if (LS[k].fd != p[e].fd)
				break;
			if (LS[k].udp)
				udp_in(k, now);
			else
				px_accept(k, now);
			break;
		case 'c':
			px_tcp_event(k, ent[e].side, p[e].fd);
			break;
		case 'u':
			if (FL[k].fd == p[e].fd)
				udp_back(k, now);
			break;
		}
	}
	for (int k = 0; k < uhigh; k++)
		if (FL[k].fd > 0 && now - FL[k].last >= PX_UDP_IDLE_MS)
			flow_close(k);
}

/* The container is gone: nothing to forward to. The host sockets and the UDP flows are closed now
 * (the host ports are free before the exit record is written); with all, the TCP connections too
 * (else they relay what is left while the monitor finishes). */
void proxy_stop(int all)
{
	if (all)
		px_tcp_stop();
	for (int k = 0; k < uhigh; k++)
		if (FL[k].fd > 0)
			flow_close(k);
	for (int l = 0; l < nl; l++) {
		if (LS[l].fd >= 0)
			close(LS[l].fd);
		LS[l].fd = -1;
	}
	if (all) {
		free(ent);
		ent = NULL;
	}
}
