/* Monitor: the single-threaded poll() loop. Container output goes to the log and to attached
 * clients (read only while every client has room: a slow client slows the container, as with
 * Docker, but never blocks the loop); stdin frames go to the container; SIGCHLD (signalfd)
 * reaps every child, the container init included. The embedded DNS (monitor_dns.c), the
 * healthcheck (monitor_health.c) and the port proxy (monitor_proxy.c; its host sockets close when
 * the init is reaped) hook into the same poll. When the init is gone: drain the output left,
 * write the exit file, send the exit frame, wait for the clients to have it (and for cleanup=1
 * clients to say whether they did the cleanup), run the exit command unless one did, and leave. */
#include "monitor.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static char chunk[MON_CHUNK];

static void reap(void)
{
	struct signalfd_siginfo si;
	while (read(M.sfd, &si, sizeof si) > 0)
		;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0 && errno == ECHILD && !M.exited) {
			st = 255 << 8; /* not expected: the init was reaped elsewhere */
			p = M.init;
		}
		if (p <= 0)
			return;
		if (p == M.init && !M.exited) {
			mon_exit_status(st);
			proxy_stop(0); /* nothing to forward to: the published host ports are free now */
		}
		else
			mh_reaped(p, mon_now_ms());
	}
}

static void stdin_gone(void)
{
	if (M.in >= 0 && !M.pty)
		close(M.in);
	M.in = -1;
	M.inlen = M.inoff = 0;
	M.in_close = 0;
}

static void close_out(int k)
{
	if (M.out[k] < 0)
		return;
	if (M.pty)
		M.in = -1; /* the master is gone for input too */
	close(M.out[k]);
	M.out[k] = -1;
}

/* One read of stream k (0 stdout, 1 stderr): 1 data, 0 ended (closed), -1 nothing now. */
static int pump(int k)
{
	ssize_t r;
	do
		r = read(M.out[k], chunk, sizeof chunk);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		mlog_data(k, chunk, (size_t)r);
		mon_broadcast(k + 1, chunk, (size_t)r);
		return 1;
	}
	if (r < 0 && errno == EAGAIN)
		return -1;
	close_out(k); /* EOF, or EIO from a pty master whose slave is closed */
	return 0;
}

void mon_stdin_write(void)
{
	if (M.in < 0) {
		stdin_gone();
		return;
	}
	while (M.inoff < M.inlen) {
		ssize_t w = write(M.in, M.inbuf + M.inoff, M.inlen - M.inoff);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			stdin_gone(); /* the container closed its stdin */
			return;
		}
		M.inoff += (size_t)w;
	}
	M.inoff = M.inlen = 0;
	if (M.in_close) {
		if (M.pty) {
			/* a pty has no separate input to close: send the EOF character instead */
			struct termios t;
			char eof = tcgetattr(M.in, &t) == 0 && t.c_cc[VEOF] ? (char)t.c_cc[VEOF] : 4;
			if (write(M.in, &eof, 1) < 0) {
				/* nothing else to do */
			}
		}
		stdin_gone();
	}
}

/* After the init exited: read what is left (as clients make room), then finish. */
static void drain(long now)
{
	if (now >= M.drain_deadline)
		mon_drop_blocking();
	for (int k = 0; k < 2; k++)
		while (M.out[k] >= 0 && mon_room())
			if (pump(k) < 0)
				close_out(k); /* nothing more is coming from a dead container */
	if (M.out[0] >= 0 || M.out[1] >= 0)
		return;
	M.drained = 1;
	mlog_flush();
	stdin_gone();
	mon_exit_record();
	if (M.lfd >= 0) {
		close(M.lfd);
		M.lfd = -1;
		unlink(M.sock);
	}
	for (int k = 0; k < MON_CLIENTS; k++) {
		struct client *c = M.cl[k];
		if (c && c->fd >= 0) {
			c->flags |= CF_EXIT;
			mon_client_flush(c);
		}
	}
	M.closing = 1;
	M.linger_deadline = now + MON_LINGER_MS;
	M.cleanup_deadline = now + MON_CLEANUP_MS;
}

void mon_loop(void)
{
	static struct pollfd base[6 + MON_CLIENTS + DNS_POLL];
	struct pollfd *p = base;
	struct client *pc[6 + MON_CLIENTS];
	int extra = proxy_poll_max(); /* the port proxy's entries follow the DNS server's */
	if (extra && !(p = calloc(sizeof base / sizeof base[0] + (size_t)extra, sizeof *p))) {
		proxy_stop(1); /* the ports go rather than hang */
		p = base;
	}
	reap(); /* the init may be gone already */
	for (;;) {
		long now = mon_now_ms();
		if (M.exited && !M.drained)
			drain(now);
		if (M.closing) {
			if (now >= M.linger_deadline || now >= M.cleanup_deadline)
				mon_clients_expire(now >= M.cleanup_deadline);
			if (mon_clients() == 0)
				break;
		}
		mon_clients_reap();
		int n = 0, io[2] = { -1, -1 }, ii = -1, il = -1, room = mon_room();
		p[n++] = (struct pollfd){ M.sfd, POLLIN, 0 };
		if (M.lfd >= 0 && !M.accept_off) {
			il = n;
			p[n++] = (struct pollfd){ M.lfd, POLLIN, 0 };
		}
		int pending_in = M.in >= 0 && M.inlen > M.inoff;
		for (int k = 0; k < 2; k++) {
			short ev = 0;
			if (M.out[k] < 0)
				continue;
			if (room && !M.exited)
				ev |= POLLIN;
			if (M.pty && pending_in)
				ev |= POLLOUT;
			if (ev) {
				io[k] = n;
				p[n++] = (struct pollfd){ M.out[k], ev, 0 };
			}
		}
		if (!M.pty && pending_in) {
			ii = n;
			p[n++] = (struct pollfd){ M.in, POLLOUT, 0 };
		}
		n = mh_poll(p, n);
		int nfixed = n;
		for (int k = 0; k < MON_CLIENTS; k++) {
			struct client *c = M.cl[k];
			short ev = c && c->fd >= 0 ? mon_client_poll(c) : 0;
			if (ev) {
				pc[n] = c;
				p[n++] = (struct pollfd){ c->fd, ev, 0 };
			}
		}
		int nd = n; /* the embedded DNS server's entries follow the clients' */
		n = dns_fill(p, n);
		int npx = n;
		n = proxy_fill(p, n);
		int timeout = -1;
		if (M.exited && !M.drained)
			timeout = (int)(M.drain_deadline > now ? M.drain_deadline - now : 0);
		else if (M.closing) {
			long d = M.cleanup_deadline; /* the next deadline still ahead */
			if (now < M.linger_deadline && M.linger_deadline < d)
				d = M.linger_deadline;
			timeout = (int)(d > now ? d - now : 0);
		}
		timeout = dns_timeout(now, timeout);
		timeout = proxy_timeout(now, timeout);
		timeout = mh_timeout(now, timeout);
		if (poll(p, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break; /* not expected: give up serving, still record the exit below */
		}
		if (p[0].revents)
			reap();
		mh_events(p, mon_now_ms());
		for (int k = 0; k < 2; k++) {
			short r = io[k] >= 0 ? p[io[k]].revents : 0;
			if (!r)
				continue;
			if ((p[io[k]].events & POLLIN) && (r & (POLLIN | POLLHUP | POLLERR)))
				pump(k);
			else if (r & (POLLHUP | POLLERR))
				stdin_gone(); /* pty without a slave, output held back: input is pointless */
			if ((r & POLLOUT) && M.pty)
				mon_stdin_write();
		}
		if (ii >= 0 && p[ii].revents)
			mon_stdin_write();
		if (il >= 0 && p[il].revents)
			mon_accept();
		dns_events(p + nd, npx - nd);
		proxy_events(p + npx, n - npx);
		for (int k = nfixed; k < nd; k++)
			if (p[k].revents && pc[k]->fd >= 0)
				mon_client_events(pc[k], p[k].revents);
		if ((M.inlen > M.inoff || M.in_close) && M.in >= 0)
			mon_stdin_write();
		mon_stdin_resume();
	}
	if (!M.drained) {
		/* the loop broke early: still leave a complete record behind */
		while (!M.exited) {
			int st = 255 << 8;
			if (waitpid(M.init, &st, 0) == M.init || errno != EINTR)
				mon_exit_status(st);
		}
		mlog_flush();
		mon_exit_record();
	}
	for (int k = 0; k < MON_CLIENTS; k++)
		if (M.cl[k])
			mon_client_close(M.cl[k]);
	if (M.lfd >= 0 && M.sock)
		unlink(M.sock);
	mon_exit_command();
	_exit(0);
}
