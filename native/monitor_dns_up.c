/* Embedded DNS: forwarding to the upstreams (docs/PLAN.md, "Monitor mode", `dns`). Each query goes
 * from its own socket, opened in the monitor's own (the host's) network namespace and connected to
 * the upstream: a fresh source port and a fresh random id per query, only that upstream's packets
 * arrive, and a refusal shows at once as an error. A UDP client's query goes over UDP, a TCP
 * client's over TCP (so answers beyond 512 bytes reach it, as with Docker). The upstreams are tried
 * in order, each for DNS_UP_MS; none left → SERVFAIL. */
#include "monitor_dns.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

void dns_pend_close(struct pend *p)
{
	if (p->fd > 0)
		close(p->fd);
	p->fd = 0;
	free(p->ans);
	p->ans = NULL;
}

static int stream(const struct pend *p)
{
	return p->tcp >= 0;
}

void dns_next_upstream(struct pend *p)
{
	const struct sockaddr_storage *up;
	const socklen_t *len;
	int nup = dns_upstreams(&up, &len);
	dns_pend_close(p);
	while (++p->up < nup) {
		int type = stream(p) ? SOCK_STREAM : SOCK_DGRAM;
		int fd = socket(up[p->up].ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		uint16_t id;
		if (getrandom(&id, sizeof id, 0) != sizeof id)
			id = (uint16_t)(mon_now_ms() ^ (p->cid + p->up));
		p->id = id;
		p->q[0] = (unsigned char)(id >> 8);
		p->q[1] = (unsigned char)id;
		int c = connect(fd, (const struct sockaddr *)&up[p->up], len[p->up]);
		if (type == SOCK_DGRAM ? c < 0 || send(fd, p->q, p->qlen, MSG_NOSIGNAL) < 0 : c < 0 && errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		p->fd = fd;
		p->st = 0; /* TCP: connecting; its query is written once the connection is up */
		p->off = 0;
		p->deadline = mon_now_ms() + DNS_UP_MS;
		return;
	}
	p->q[0] = (unsigned char)(p->cid >> 8);
	p->q[1] = (unsigned char)p->cid;
	p->fd = 0;
	dns_servfail_to(p->tcp, &p->addr, p->alen, p->q, p->qlen);
}

short dns_pend_poll(struct pend *p)
{
	return stream(p) && p->st < 2 ? POLLOUT : POLLIN;
}

/* The answer to relay: our id checked, the client's put back. */
static void answer(struct pend *p, unsigned char *m, size_t n)
{
	if (n < 12 || !(m[2] & 0x80) || (uint16_t)(m[0] << 8 | m[1]) != p->id) {
		if (stream(p)) /* a stream carries nothing else: this upstream is confused */
			dns_next_upstream(p);
		return; /* UDP: not the answer to our query, keep waiting */
	}
	m[0] = (unsigned char)(p->cid >> 8);
	m[1] = (unsigned char)p->cid;
	int tcp = p->tcp;
	struct sockaddr_storage to = p->addr;
	socklen_t alen = p->alen;
	unsigned char *ans = p->ans;
	p->ans = NULL; /* relayed before the slot is freed (ans may be m) */
	if (p->fd > 0)
		close(p->fd);
	p->fd = 0;
	dns_reply(tcp, &to, alen, m, n);
	free(ans);
}

static void udp_answer(struct pend *p)
{
	ssize_t n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) { /* ECONNREFUSED and the like: this upstream is out */
		dns_next_upstream(p);
		return;
	}
	answer(p, buf, (size_t)n);
}

/* TCP upstream: connect, write [len][query], read [len][answer]. */
static void tcp_step(struct pend *p, short revents)
{
	if (p->st == 0) {
		int err = 0;
		socklen_t l = sizeof err;
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err || (revents & (POLLERR | POLLHUP))) {
			dns_next_upstream(p);
			return;
		}
		p->st = 1;
	}
	if (p->st == 1) {
		unsigned char out[2 + sizeof p->q];
		out[0] = (unsigned char)(p->qlen >> 8);
		out[1] = (unsigned char)p->qlen;
		memcpy(out + 2, p->q, p->qlen);
		ssize_t w = send(p->fd, out + p->off, 2 + p->qlen - p->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w <= 0) {
			dns_next_upstream(p);
			return;
		}
		p->off += (size_t)w;
		if (p->off == 2 + p->qlen) {
			p->st = 2;
			p->off = 0;
		}
		return;
	}
	size_t need = p->off < 2 ? 2 : 2 + (size_t)(p->lenb[0] << 8 | p->lenb[1]);
	unsigned char *dst = p->off < 2 ? p->lenb + p->off : p->ans + (p->off - 2);
	ssize_t r = recv(p->fd, dst, need - p->off, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		dns_next_upstream(p);
		return;
	}
	p->off += (size_t)r;
	if (p->off == 2) {
		size_t n = (size_t)(p->lenb[0] << 8 | p->lenb[1]);
		if (n < 12 || !(p->ans = malloc(n))) {
			dns_next_upstream(p);
			return;
		}
	} else if (p->off == need) {
		answer(p, p->ans, need - 2);
	}
}

void dns_pend_events(struct pend *p, short revents)
{
	if (stream(p))
		tcp_step(p, revents);
	else
		udp_answer(p);
}
