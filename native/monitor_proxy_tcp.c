/* The monitor's port proxy, TCP (docs/PLAN.md, "Relayed ports"; monitor_proxy.c has the step).
 * A connection accepted on the host socket gets a socket connected (non-blocking) to the target,
 * made before the accept (short of fds, the client waits in the backlog rather than being taken
 * with nothing to connect it to); bytes are relayed both ways, spliced through a pipe per
 * direction (no copy), or, when the fds for the pipes are lacking, copied through a buffer per
 * direction (mapped per connection, unmapped when it closes). An end of stream on one side is
 * passed on with shutdown(SHUT_WR) once the bytes before it are written; an error on either side
 * closes both (the client gets a reset). At most PX_CONNS connections: one more is reset at once. */
#include "monitor_proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct pdir {                 /* one direction: read from fd[i], written to fd[1 - i] */
	size_t off, len;
	int eof, shut;
};

struct pconn {
	int used, connecting;
	int fd[2];                /* 0: the client (host side), 1: the target */
	struct pdir d[2];
	int pp[2][2];             /* per direction a pipe the bytes are spliced through (+1: 0 = none) */
	unsigned char *mem;       /* else a buffer per direction: 2 * PX_BUF */
};

static struct pconn C[PX_CONNS];
static int chigh;             /* slots at and beyond it are free */
static long paused_until;     /* accepts paused (EMFILE, ENOMEM) until then */

int px_accepting(long now)
{
	return paused_until <= now;
}

long px_paused_until(void)
{
	return paused_until;
}

static void conn_close(int k, int reset)
{
	struct pconn *c = &C[k];
	struct linger lg = { 1, 0 };
	if (reset) /* the client sees the failure (a reset) rather than an empty answer */
		setsockopt(c->fd[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(c->fd[0]);
	if (c->fd[1] >= 0)
		close(c->fd[1]);
	for (int i = 0; i < 4; i++)
		if (c->pp[i / 2][i % 2])
			close(c->pp[i / 2][i % 2] - 1);
	if (c->mem)
		munmap(c->mem, 2 * PX_BUF);
	memset(c, 0, sizeof *c);
	paused_until = 0; /* an fd is free again */
	while (chigh > 0 && !C[chigh - 1].used)
		chigh--;
}

/* Move bytes of direction i (read from fd[i], written to fd[1 - i]). 0, or -1 once the connection is closed. */
static int pump(int k, int i)
{
	struct pconn *c = &C[k];
	struct pdir *d = &c->d[i];
	unsigned char *b = c->mem ? c->mem + (size_t)i * PX_BUF : NULL;
	int pin = c->pp[i][0] - 1, pout = c->pp[i][1] - 1; /* splice through the pipe (no copy), or through b */
	for (int round = 0; round < PX_ROUNDS;) {
		if (d->off < d->len) {
			ssize_t w = pin >= 0 ? splice(pin, NULL, c->fd[1 - i], NULL, d->len - d->off, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
					     : send(c->fd[1 - i], b + d->off, d->len - d->off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EAGAIN)
				return 0;
			if (w < 0) {
				conn_close(k, 1);
				return -1;
			}
			d->off += (size_t)w;
			continue;
		}
		d->off = d->len = 0;
		if (d->eof) {
			if (!d->shut) {
				shutdown(c->fd[1 - i], SHUT_WR);
				d->shut = 1;
			}
			return 0;
		}
		ssize_t r = pout >= 0 ? splice(c->fd[i], NULL, pout, NULL, PX_BUF, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
				      : recv(c->fd[i], b, PX_BUF, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r < 0) {
			conn_close(k, 1);
			return -1;
		}
		if (r == 0)
			d->eof = 1;
		d->len = (size_t)r;
		round++;
	}
	return 0;
}

static void relay(int k)
{
	if (pump(k, 0) < 0 || pump(k, 1) < 0)
		return;
	if (C[k].d[0].shut && C[k].d[1].shut)
		conn_close(k, 0);
}

static void connected(int k)
{
	struct pconn *c = &C[k];
	int err = 0, one = 1;
	socklen_t el = sizeof err;
	if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err) {
		conn_close(k, 1);
		return;
	}
	setsockopt(c->fd[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->connecting = 0;
	relay(k);
}

static int spare = -1, spare_fam; /* the next connection's target socket, made before its accept */

/* A connection for listener l in the free slot k, its client cfd, its target socket tfd: connecting. */
static void conn_open(int k, int l, int cfd, int tfd)
{
	int one = 1, p0[2], p1[2];
	struct pconn *c = &C[k];
	memset(c, 0, sizeof *c);
	c->fd[0] = cfd;
	c->fd[1] = tfd;
	c->used = 1;
	if (k >= chigh)
		chigh = k + 1;
	if (pipe2(p0, O_CLOEXEC | O_NONBLOCK) == 0) {
		if (pipe2(p1, O_CLOEXEC | O_NONBLOCK) == 0) {
			c->pp[0][0] = p0[0] + 1, c->pp[0][1] = p0[1] + 1, c->pp[1][0] = p1[0] + 1, c->pp[1][1] = p1[1] + 1;
		} else {
			close(p0[0]);
			close(p0[1]);
		}
	}
	if (!c->pp[0][0]) { /* out of fds for the pipes: copied through a buffer */
		c->mem = mmap(NULL, 2 * PX_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c->mem == MAP_FAILED) {
			c->mem = NULL;
			conn_close(k, 1);
			return;
		}
	}
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(tfd, (struct sockaddr *)&LS[l].target, LS[l].tlen) == 0) {
		connected(k);
		return;
	}
	if (errno != EINPROGRESS) {
		conn_close(k, 1);
		return;
	}
	c->connecting = 1;
}

void px_accept(int l, long now)
{
	int fam = LS[l].target.ss_family;
	for (int round = 0; round < PX_ROUNDS; round++) {
		int k = 0;
		while (k < PX_CONNS && C[k].used)
			k++;
		/* the target socket first: short of fds, the client waits in the backlog rather than
		 * being accepted with nothing to connect it to */
		if (k < PX_CONNS && spare >= 0 && spare_fam != fam) {
			close(spare);
			spare = -1;
		}
		if (k < PX_CONNS && spare < 0) {
			spare = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			spare_fam = fam;
			if (spare < 0) {
				paused_until = now + PX_PAUSE_MS;
				return;
			}
		}
		int fd = accept4(LS[l].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0 && k == PX_CONNS) {
			struct linger lg = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			close(fd); /* refused: too many at once */
			continue;
		}
		if (fd >= 0) {
			conn_open(k, l, fd, spare);
			spare = -1;
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			paused_until = now + PX_PAUSE_MS; /* the connection waits in the backlog */
		if (errno != EINTR && errno != ECONNABORTED)
			return;
	}
}

int px_tcp_fill(struct pollfd *p, struct pent *ent, int e)
{
	for (int k = 0; k < chigh; k++) {
		struct pconn *c = &C[k];
		if (!c->used)
			continue;
		if (c->connecting) {
			ent[e] = (struct pent){ 'c', 1, k };
			p[e++] = (struct pollfd){ c->fd[1], POLLOUT, 0 };
			continue;
		}
		for (int i = 0; i < 2; i++) {
			/* fd[i]: read when its direction's buffer is empty, written when the other's is not */
			short ev = (!c->d[i].eof && c->d[i].len == 0 ? POLLIN : 0) |
				   (c->d[1 - i].off < c->d[1 - i].len ? POLLOUT : 0);
			if (!ev)
				continue;
			ent[e] = (struct pent){ 'c', (short)i, k };
			p[e++] = (struct pollfd){ c->fd[i], ev, 0 };
		}
	}
	return e;
}

void px_tcp_event(int k, int side, int fd)
{
	/* closed meanwhile (by its other entry); a slot is reused only by an accept, and the
	 * listeners' entries come first */
	if (!C[k].used || C[k].fd[side] != fd)
		return;
	if (C[k].connecting)
		connected(k);
	else
		relay(k);
}

void px_tcp_stop(void)
{
	for (int k = 0; k < chigh; k++)
		if (C[k].used)
			conn_close(k, 0);
	if (spare >= 0)
		close(spare);
	spare = -1;
}
