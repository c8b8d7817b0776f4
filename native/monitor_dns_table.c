/* Embedded DNS (docs/PLAN.md, "Monitor mode", `dns`): the engine's files and the local answers.
 * CONFPATH: `upstream IP[:PORT]` and `table PATH` lines, re-read when its inode, size or mtime
 * changes. A table: `NAME ADDRESS` lines, scanned per query (the engine replaces them atomically),
 * so a changed table is seen by the next query with no state kept here. */
#include "monitor.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_MAX 4096
#define LINE_MAX_ 512
#define SCAN_MAX (2048 + LINE_MAX_)
#define ANSWERS 64
#define TTL 600

static struct {
	const char *path;
	int read;                  /* the conf was looked at once */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int nup;
	struct sockaddr_storage up[DNS_UPSTREAMS];
	socklen_t uplen[DNS_UPSTREAMS];
	int ntab;
	const char *tab[DNS_TABLES];
	char pool[DNS_TABLES * 128];
} C;

void dns_conf_path(const char *path)
{
	C.path = path;
}

static int parse_upstream(char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	unsigned long port = 53;
	char *p;
	memset(ss, 0, sizeof *ss);
	if (*s == '[') { /* [v6]:port */
		char *e = strchr(s, ']');
		if (!e)
			return -1;
		*e = 0;
		if (e[1] == ':')
			port = strtoul(e + 2, NULL, 10);
		s++;
	} else if ((p = strchr(s, ':')) && !strchr(p + 1, ':')) { /* v4:port */
		*p = 0;
		port = strtoul(p + 1, NULL, 10);
	}
	if (port == 0 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof *v4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof *v6;
		return 0;
	}
	return -1;
}

/* Re-read the conf when it changed (a missing conf: no upstreams, no tables). */
static void conf_refresh(void)
{
	struct stat st;
	int ok = C.path && stat(C.path, &st) == 0;
	if (C.read && ok && st.st_dev == C.dev && st.st_ino == C.ino && st.st_size == C.size &&
	    st.st_mtim.tv_sec == C.mtime.tv_sec && st.st_mtim.tv_nsec == C.mtime.tv_nsec)
		return;
	if (C.read && !ok && !C.ino)
		return;
	C.read = 1;
	C.nup = C.ntab = 0;
	C.ino = 0;
	if (!ok)
		return;
	char *buf = dns_scratch(); /* CONF_MAX bytes */
	int fd = open(C.path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, CONF_MAX - 1);
	close(fd);
	if (n < 0)
		return;
	buf[n] = 0;
	C.dev = st.st_dev;
	C.ino = st.st_ino;
	C.size = st.st_size;
	C.mtime = st.st_mtim;
	size_t used = 0;
	for (char *line = buf, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		char *key = strtok(line, " \t\r"), *val = key ? strtok(NULL, " \t\r") : NULL;
		if (!val)
			continue;
		if (!strcmp(key, "upstream") && C.nup < DNS_UPSTREAMS) {
			if (parse_upstream(val, &C.up[C.nup], &C.uplen[C.nup]) == 0)
				C.nup++;
		} else if (!strcmp(key, "table") && C.ntab < DNS_TABLES) {
			size_t l = strlen(val) + 1;
			if (used + l > sizeof C.pool)
				continue;
			memcpy(C.pool + used, val, l);
			C.tab[C.ntab++] = C.pool + used;
			used += l;
		}
	}
}

int dns_upstreams(const struct sockaddr_storage **up, const socklen_t **len)
{
	conf_refresh();
	*up = C.up;
	*len = C.uplen;
	return C.nup;
}

/* ---- tables ---- */

struct addr {
	int fam;
	unsigned char a[16];
};

static int parse_addr(const char *s, struct addr *a)
{
	if (inet_pton(AF_INET, s, a->a) == 1)
		return a->fam = AF_INET, 0;
	if (inet_pton(AF_INET6, s, a->a) == 1)
		return a->fam = AF_INET6, 0;
	return -1;
}

static int addr_eq(const struct addr *x, const struct addr *y)
{
	return x->fam == y->fam && !memcmp(x->a, y->a, x->fam == AF_INET ? 4 : 16);
}

/* Call fn for every `NAME ADDRESS` line of every table until it returns non-zero. */
static void scan(int (*fn)(void *ctx, char *name, struct addr *a), void *ctx)
{
	char *buf = dns_scratch() + CONF_MAX; /* SCAN_MAX bytes */
	for (int t = 0; t < C.ntab; t++) {
		int fd = open(C.tab[t], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		size_t have = 0;
		int skip = 0, stop = 0; /* skip: inside an over-long line */
		for (;;) {
			ssize_t n = read(fd, buf + have, SCAN_MAX - have - 1);
			if (n < 0 && errno == EINTR)
				continue;
			int eof = n <= 0;
			if (!eof)
				have += (size_t)n;
			else if (have && buf[have - 1] != '\n')
				buf[have++] = '\n'; /* a last line without its newline */
			size_t start = 0;
			for (size_t k = 0; k < have && !stop; k++) {
				if (buf[k] != '\n')
					continue;
				buf[k] = 0;
				char *line = buf + start;
				start = k + 1;
				if (skip) {
					skip = 0;
					continue;
				}
				char *name = strtok(line, " \t\r"), *as = name ? strtok(NULL, " \t\r") : NULL;
				struct addr a;
				if (!as || *name == '#' || parse_addr(as, &a) < 0)
					continue;
				size_t l = strlen(name);
				if (l > 1 && name[l - 1] == '.')
					name[l - 1] = 0;
				stop = fn(ctx, name, &a);
			}
			if (eof || stop)
				break;
			memmove(buf, buf + start, have - start);
			have -= start;
			if (have >= LINE_MAX_) { /* too long to be a table line: drop it */
				have = 0;
				skip = 1;
			}
		}
		close(fd);
		if (stop)
			return;
	}
}

/* ---- messages ---- */

struct q {
	uint16_t id, flags, type, class;
	size_t end;               /* end of the question section */
	char name[256];           /* lower case, no trailing dot ("" for the root) */
};

static int parse_query(const unsigned char *m, size_t n, struct q *q)
{
	if (n < 12)
		return -1;
	q->id = (uint16_t)(m[0] << 8 | m[1]);
	q->flags = (uint16_t)(m[2] << 8 | m[3]);
	if ((q->flags & 0x8000) || ((m[4] << 8 | m[5]) != 1))
		return -1; /* a response, or not exactly one question */
	size_t o = 12, w = 0;
	for (;;) {
		if (o >= n)
			return -1;
		unsigned l = m[o++];
		if (!l)
			break;
		if (l > 63 || o + l > n || w + l + 1 >= sizeof q->name)
			return -1; /* compression pointers have no place in a question */
		if (w)
			q->name[w++] = '.';
		for (unsigned k = 0; k < l; k++)
			q->name[w++] = (char)tolower(m[o + k]);
		o += l;
	}
	q->name[w] = 0;
	if (o + 4 > n)
		return -1;
	q->type = (uint16_t)(m[o] << 8 | m[o + 1]);
	q->class = (uint16_t)(m[o + 2] << 8 | m[o + 3]);
	q->end = o + 4;
	return 0;
}

static size_t header(unsigned char *out, const unsigned char *m, const struct q *q, int rcode, int aa)
{
	uint16_t f = (uint16_t)(0x8000 | (q->flags & 0x7900) | 0x0080 | (aa ? 0x0400 : 0) | rcode);
	out[0] = m[0];
	out[1] = m[1];
	out[2] = (unsigned char)(f >> 8);
	out[3] = (unsigned char)f;
	memset(out + 4, 0, 8);
	out[5] = 1;
	memcpy(out + 12, m + 12, q->end - 12);
	return q->end;
}

size_t dns_servfail(const unsigned char *m, size_t n, unsigned char *out, size_t cap)
{
	struct q q;
	if (parse_query(m, n, &q) < 0 || q.end > cap) {
		if (n < 12 || cap < 12)
			return 0;
		memcpy(out, m, 12);
		out[2] = (unsigned char)(0x80 | (m[2] & 0x79));
		out[3] = 0x80 | 2;
		memset(out + 4, 0, 8);
		return 12;
	}
	return header(out, m, &q, 2, 0);
}

/* wire form of a dotted name; 0 when it does not fit or is malformed */
static size_t put_name(unsigned char *out, size_t cap, const char *name)
{
	size_t o = 0;
	while (*name) {
		size_t l = strcspn(name, ".");
		if (l == 0 || l > 63 || o + 1 + l + 1 > cap || o + l + 2 > 255)
			return 0;
		out[o++] = (unsigned char)l;
		memcpy(out + o, name, l);
		o += l;
		name += l;
		if (*name == '.')
			name++;
	}
	if (o + 1 > cap)
		return 0;
	out[o++] = 0;
	return o;
}

/* One RR after the question, its owner a pointer to the question's name. */
static int put_rr(unsigned char *out, size_t *o, size_t cap, uint16_t type, const void *rd, size_t rdlen)
{
	if (*o + 12 + rdlen > cap)
		return -1;
	unsigned char *p = out + *o;
	p[0] = 0xc0;
	p[1] = 12;
	p[2] = (unsigned char)(type >> 8);
	p[3] = (unsigned char)type;
	p[4] = 0;
	p[5] = 1; /* IN */
	p[6] = 0;
	p[7] = 0;
	p[8] = TTL >> 8;
	p[9] = TTL & 0xff;
	p[10] = (unsigned char)(rdlen >> 8);
	p[11] = (unsigned char)rdlen;
	memcpy(p + 12, rd, rdlen);
	*o += 12 + rdlen;
	return 0;
}

struct byname {
	const char *name;
	int found, fam, n;
	struct addr a[ANSWERS];
};

static int match_name(void *ctx, char *name, struct addr *a)
{
	struct byname *b = ctx;
	if (strcasecmp(name, b->name))
		return 0;
	b->found = 1;
	if (a->fam != b->fam || b->n >= ANSWERS)
		return 0;
	for (int k = 0; k < b->n; k++)
		if (addr_eq(&b->a[k], a))
			return 0;
	b->a[b->n++] = *a;
	return 0;
}

struct byaddr {
	struct addr a;
	char name[256];
};

static int match_addr(void *ctx, char *name, struct addr *a)
{
	struct byaddr *b = ctx;
	if (!addr_eq(&b->a, a))
		return 0;
	snprintf(b->name, sizeof b->name, "%s", name);
	return 1; /* the first name listed for an address answers its PTR */
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* d.c.b.a.in-addr.arpa / 32 nibbles.ip6.arpa → the address; -1 when it is not one */
static int ptr_addr(const char *name, struct addr *a)
{
	size_t l = strlen(name);
	if (l > 13 && !strcmp(name + l - 13, ".in-addr.arpa")) {
		unsigned v[4];
		char tail[16];
		if (sscanf(name, "%u.%u.%u.%u.%15s", &v[3], &v[2], &v[1], &v[0], tail) != 5 || strcmp(tail, "in-addr.arpa"))
			return -1;
		for (int k = 0; k < 4; k++) {
			if (v[k] > 255)
				return -1;
			a->a[k] = (unsigned char)v[k];
		}
		a->fam = AF_INET;
		return 0;
	}
	if (l == 64 + 8 && !strcmp(name + 64, "ip6.arpa")) {
		memset(a->a, 0, 16);
		for (int k = 0; k < 32; k++) {
			int h = hexval(name[2 * k]);
			if (h < 0 || name[2 * k + 1] != '.')
				return -1;
			int nib = 31 - k; /* the first label is the last nibble */
			a->a[nib / 2] |= (unsigned char)(nib % 2 ? h : h << 4);
		}
		a->fam = AF_INET6;
		return 0;
	}
	return -1;
}

int dns_local(const unsigned char *m, size_t n, unsigned char *out, size_t cap, size_t *olen)
{
	struct q q;
	if (parse_query(m, n, &q) < 0)
		return DNS_FORWARD; /* nothing of ours: the upstream judges it */
	if (q.class != 1 || (q.flags & 0x7800) || q.end > cap)
		return DNS_FORWARD;
	conf_refresh();
	if (!C.ntab)
		return DNS_FORWARD;
	size_t o;
	if (q.type == 12) { /* PTR */
		struct byaddr b;
		if (ptr_addr(q.name, &b.a) < 0)
			return DNS_FORWARD;
		b.name[0] = 0;
		scan(match_addr, &b);
		if (!b.name[0])
			return DNS_FORWARD;
		unsigned char rd[256];
		size_t rl = put_name(rd, sizeof rd, b.name);
		if (!rl)
			return DNS_FORWARD;
		o = header(out, m, &q, 0, 1);
		if (put_rr(out, &o, cap, 12, rd, rl) == 0)
			out[7] = 1;
		*olen = o;
		return DNS_ANSWER;
	}
	struct byname *bp = (struct byname *)(dns_scratch() + CONF_MAX + SCAN_MAX);
	_Static_assert(CONF_MAX + SCAN_MAX + sizeof(struct byname) <= DNS_SCRATCH, "DNS_SCRATCH is too small");
	bp->name = q.name;
	bp->found = bp->n = 0;
	bp->fam = q.type == 1 ? AF_INET : q.type == 28 ? AF_INET6 : 0;
	scan(match_name, bp);
	struct byname *b = bp;
	if (!b->found)
		return DNS_FORWARD;
	/* ours: the records of the asked type (maybe none: NOERROR, no answer, never forwarded) */
	o = header(out, m, &q, 0, 1);
	int an = 0;
	for (int k = 0; k < b->n; k++) {
		if (put_rr(out, &o, cap, q.type, b->a[k].a, b->fam == AF_INET ? 4 : 16) < 0) {
			out[2] |= 0x02; /* TC: the client retries over TCP */
			break;
		}
		an++;
	}
	out[6] = (unsigned char)(an >> 8);
	out[7] = (unsigned char)an;
	*olen = o;
	return DNS_ANSWER;
}
