/* Monitor: the attach server. A client sends
 * `attach stdin=0|1 stdout=0|1 stderr=0|1 logs=0|1[ cleanup=0|1]\n`, then both sides exchange
 * frames [stream u8][0 0 0][len u32 BE][data]: the monitor sends 1 stdout, 2 stderr, 5 the exit
 * JSON; the client sends 0 stdin data, 3 resize ("rows cols"), 4 close stdin, and (cleanup=1,
 * after the exit frame) 6 "cleanup done": the monitor then skips its exit command. A cleanup=1
 * client stays connected after the exit frame until it sends frame 6 or goes away.
 * Everything is non-blocking: a client that does not read holds back the container's output
 * (as with Docker) but never the monitor; a client that goes away is simply dropped. */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int mon_listen(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int dirfd = -1;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* left over from an earlier run of this container */
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (unix_addr(path, &sa, &dirfd) < 0)
		goto fail;
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0600) < 0 || listen(s, 32) < 0) {
		int e = errno;
		unlink(path);
		errno = e;
		goto fail;
	}
	if (dirfd >= 0)
		close(dirfd);
	return s;
fail:;
	int e = errno;
	if (dirfd >= 0)
		close(dirfd);
	close(s);
	errno = e;
	return -1;
}

void mon_accept(void)
{
	for (;;) {
		int fd = accept4(M.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				M.accept_off = 1; /* out of fds or memory: a pending connection would spin poll */
			return;
		}
		int k = 0;
		while (k < MON_CLIENTS && M.cl[k])
			k++;
		struct client *c = k < MON_CLIENTS ? calloc(1, sizeof *c) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->rp.fd = -1;
		M.cl[k] = c;
	}
}

void mon_client_close(struct client *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	if (c->rp.fd >= 0)
		close(c->rp.fd);
	c->rp.fd = -1;
}

void mon_clients_reap(void)
{
	for (int k = 0; k < MON_CLIENTS; k++) {
		struct client *c = M.cl[k];
		if (c && c->fd < 0) {
			free(c->obuf);
			free(c);
			M.cl[k] = NULL;
			M.accept_off = 0;
		}
	}
}

int mon_clients(void)
{
	int n = 0;
	for (int k = 0; k < MON_CLIENTS; k++)
		n += M.cl[k] && M.cl[k]->fd >= 0;
	return n;
}

static int wants_output(const struct client *c)
{
	return (c->flags & CF_HELLO) && (c->flags & (CF_STDOUT | CF_STDERR));
}

static size_t room(const struct client *c)
{
	return c->obuf ? MON_OBUF - (c->olen - c->ooff) : 0;
}

int mon_room(void)
{
	for (int k = 0; k < MON_CLIENTS; k++) {
		struct client *c = M.cl[k];
		if (c && c->fd >= 0 && wants_output(c) && ((c->flags & CF_REPLAY) || room(c) < MON_CHUNK + 8))
			return 0;
	}
	return 1;
}

/* Queue one frame; 0 when it does not fit (nothing queued). */
int mon_client_put(struct client *c, int stream, const char *data, size_t n)
{
	if (!c->obuf || room(c) < n + 8)
		return 0;
	if (MON_OBUF - c->olen < n + 8) {
		memmove(c->obuf, c->obuf + c->ooff, c->olen - c->ooff);
		c->olen -= c->ooff;
		c->ooff = 0;
	}
	unsigned char *h = (unsigned char *)c->obuf + c->olen;
	h[0] = (unsigned char)stream;
	h[1] = h[2] = h[3] = 0;
	h[4] = (unsigned char)(n >> 24);
	h[5] = (unsigned char)(n >> 16);
	h[6] = (unsigned char)(n >> 8);
	h[7] = (unsigned char)n;
	memcpy(c->obuf + c->olen + 8, data, n);
	c->olen += n + 8;
	return 1;
}

/* A cleanup=1 client that can still send frame 6 (it has neither sent it nor shut its side). */
static int owes_cleanup(const struct client *c)
{
	return (c->flags & CF_CLEANUP) && !(c->flags & (CF_CLEANED | CF_IN_EOF));
}

/* Send what is queued, refilling from the replay and adding the exit frame when it is due;
 * the client is closed when it went away or got its exit frame. */
void mon_client_flush(struct client *c)
{
	for (;;) {
		if (c->fd < 0 || !c->obuf)
			return;
		if (c->flags & CF_REPLAY)
			replay_more(c);
		if ((c->flags & (CF_EXIT | CF_REPLAY)) == CF_EXIT && mon_client_put(c, 5, M.exitjson, M.exitlen))
			c->flags = (c->flags & ~(unsigned)CF_EXIT) | CF_DONE | (c->flags & CF_CLEANUP ? 0 : CF_IN_EOF);
		if (c->ooff == c->olen) {
			c->ooff = c->olen = 0;
			if ((c->flags & CF_DONE) && !owes_cleanup(c))
				mon_client_close(c);
			return;
		}
		ssize_t w = send(c->fd, c->obuf + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			mon_client_close(c);
			return;
		}
		c->ooff += (size_t)w;
	}
}

void mon_broadcast(int stream, const char *buf, size_t n)
{
	unsigned want = stream == 1 ? CF_STDOUT : CF_STDERR;
	for (int k = 0; k < MON_CLIENTS; k++) {
		struct client *c = M.cl[k];
		if (!c || c->fd < 0 || !(c->flags & CF_HELLO) || !(c->flags & want) || (c->flags & CF_REPLAY))
			continue;
		if (!mon_client_put(c, stream, buf, n)) {
			mon_client_close(c); /* not expected: output is read only when everyone has room */
			continue;
		}
		mon_client_flush(c);
	}
}

/* The attach line; -1 when the client was refused (closed). */
static int hello(struct client *c, char *line)
{
	static const struct { const char *key; unsigned flag; } keys[] = {
		{ "stdin", CF_STDIN }, { "stdout", CF_STDOUT }, { "stderr", CF_STDERR }, { "logs", CF_LOGS },
		{ "cleanup", CF_CLEANUP },
	};
	char *save = NULL, *tok = strtok_r(line, " \t\r", &save);
	if (!tok || strcmp(tok, "attach") || !(c->obuf = malloc(MON_OBUF))) {
		mon_client_close(c);
		return -1;
	}
	while ((tok = strtok_r(NULL, " \t\r", &save))) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = 0;
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
			if (!strcmp(tok, keys[k].key) && !strcmp(eq + 1, "1"))
				c->flags |= keys[k].flag;
	}
	c->flags |= CF_HELLO;
	/* stream 7, empty: "attached" — output from now on reaches this client (a client that
	 * releases the container after this frame misses nothing) */
	mon_client_put(c, 7, "", 0);
	if ((c->flags & CF_LOGS) && wants_output(c))
		replay_start(c);
	mon_client_flush(c);
	return c->fd < 0 ? -1 : 0;
}

/* "rows cols" (no scanf: it would pull floating point parsing into the static binary) */
static void resize(struct client *c)
{
	char *p = c->cbuf, *end;
	c->cbuf[c->clen < sizeof c->cbuf ? c->clen : sizeof c->cbuf - 1] = 0;
	unsigned long rows = strtoul(p, &end, 10);
	if (end == p || *end != ' ')
		return;
	p = end + 1;
	unsigned long cols = strtoul(p, &end, 10);
	if (end == p || (*end && *end != '\n' && *end != ' '))
		return;
	if (M.pty && M.out[0] >= 0 && rows < 65536 && cols < 65536) {
		struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
		ioctl(M.out[0], TIOCSWINSZ, &ws);
	}
}

/* Consume the client's input buffer; stops when stdin data finds no room in the stdin queue. */
static void parse(struct client *c)
{
	size_t p = 0;
	c->flags &= ~(unsigned)CF_HELD;
	while (p < c->ilen && c->fd >= 0) {
		if (!(c->flags & CF_HELLO)) {
			char *nl = memchr(c->ib + p, '\n', c->ilen - p);
			if (!nl) {
				if (p == 0 && c->ilen == MON_IBUF) {
					mon_client_close(c); /* no attach line */
					return;
				}
				break;
			}
			*nl = 0;
			size_t next = (size_t)(nl - c->ib) + 1;
			if (hello(c, c->ib + p) < 0)
				return;
			p = next;
			continue;
		}
		if (c->left == 0 && c->hlen < 8) {
			while (c->hlen < 8 && p < c->ilen)
				c->hdr[c->hlen++] = (unsigned char)c->ib[p++];
			if (c->hlen < 8)
				break;
			c->stream = c->hdr[0];
			c->left = (uint32_t)c->hdr[4] << 24 | (uint32_t)c->hdr[5] << 16 | (uint32_t)c->hdr[6] << 8 | c->hdr[7];
			c->clen = 0;
		}
		size_t avail = c->ilen - p, n = avail < c->left ? avail : c->left;
		if (c->stream == 0 && (c->flags & CF_STDIN) && M.in >= 0 && !M.in_close && !M.exited) {
			if (M.inoff && M.inlen == MON_STDIN) {
				memmove(M.inbuf, M.inbuf + M.inoff, M.inlen - M.inoff);
				M.inlen -= M.inoff;
				M.inoff = 0;
			}
			size_t r = MON_STDIN - M.inlen;
			if (n > r)
				n = r;
			if (n == 0 && c->left) {
				c->flags |= CF_HELD; /* until the container reads its stdin */
				break;
			}
			memcpy(M.inbuf + M.inlen, c->ib + p, n);
			M.inlen += n;
		} else if (c->stream == 3) {
			for (size_t k = 0; k < n; k++)
				if (c->clen < sizeof c->cbuf - 1)
					c->cbuf[c->clen++] = c->ib[p + k];
		}
		p += n;
		c->left -= (uint32_t)n;
		if (c->left == 0) {
			c->hlen = 0;
			if (c->stream == 3)
				resize(c);
			else if (c->stream == 4 && (c->flags & CF_STDIN))
				M.in_close = 1;
			else if (c->stream == 6 && (c->flags & CF_CLEANUP) && M.drained) {
				c->flags |= CF_CLEANED; /* frame 6 before the exit means nothing */
				M.cleaned = 1;
			}
		}
	}
	memmove(c->ib, c->ib + p, c->ilen - p);
	c->ilen -= p;
}

/* Input is held back (not read) while a stdin frame waits for room in the stdin queue. */
static int held(const struct client *c)
{
	return (c->flags & CF_HELD) != 0;
}

short mon_client_poll(struct client *c)
{
	short ev = 0;
	if (!(c->flags & CF_IN_EOF) && c->ilen < MON_IBUF && !held(c))
		ev |= POLLIN;
	if (c->olen > c->ooff)
		ev |= POLLOUT;
	return ev;
}

/* After the exit frame went out: a client is closed once it owes nothing more. */
static void settle(struct client *c)
{
	if (c->fd >= 0 && (c->flags & CF_DONE) && c->olen == c->ooff && !owes_cleanup(c))
		mon_client_close(c);
}

void mon_client_events(struct client *c, short revents)
{
	if ((revents & POLLOUT) || ((revents & (POLLHUP | POLLERR)) && c->olen > c->ooff)) {
		mon_client_flush(c);
		if (c->fd < 0)
			return;
	}
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !(c->flags & CF_IN_EOF) && c->ilen < MON_IBUF && !held(c)) {
		ssize_t r;
		do
			r = recv(c->fd, c->ib + c->ilen, MON_IBUF - c->ilen, MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r > 0) {
			c->ilen += (size_t)r;
			parse(c);
			settle(c);
			return;
		}
		if (r < 0 && errno == EAGAIN)
			return;
		c->flags |= CF_IN_EOF;
		if (!(c->flags & CF_HELLO) || r < 0) {
			mon_client_close(c);
			return;
		}
	}
	if ((revents & (POLLHUP | POLLERR)) && (c->flags & CF_IN_EOF))
		mon_client_close(c); /* gone for good: nothing more to read, nothing can be written */
	else
		settle(c);
}

void mon_drop_blocking(void)
{
	for (int k = 0; k < MON_CLIENTS; k++) {
		struct client *c = M.cl[k];
		if (c && c->fd >= 0 && wants_output(c) && ((c->flags & CF_REPLAY) || room(c) < MON_CHUNK + 8))
			mon_client_close(c);
	}
}

void mon_stdin_resume(void)
{
	for (int k = 0; k < MON_CLIENTS; k++)
		if (M.cl[k] && M.cl[k]->fd >= 0 && held(M.cl[k]))
			parse(M.cl[k]);
}

void mon_clients_expire(int all)
{
	for (int k = 0; k < MON_CLIENTS; k++) {
		struct client *c = M.cl[k];
		if (c && c->fd >= 0 && (all || !owes_cleanup(c)))
			mon_client_close(c);
	}
}
