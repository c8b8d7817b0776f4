/* Monitor: the container log in Docker's json-file format, with size-based rotation.
 * One record per line of output: {"log":"…","stream":"stdout"|"stderr","time":"RFC3339Nano"}.
 * Lines longer than MON_LINE are split into records without a trailing newline, as Docker does.
 * The records of one read are written together (one write when they fit the staging buffer).
 * A failed write (full disk) is rolled back with ftruncate so the file stays line-structured;
 * the bytes are counted as dropped and logging goes on with the next read. */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
	const char *path;
	uint64_t maxsize;
	int maxfiles;
	int fd;           /* valid when on; -1 while the file cannot be opened */
	int on;
	uint64_t size;
	uint64_t dropped;
	char line[2][MON_LINE]; /* a partial line per stream, waiting for its newline */
	size_t llen[2];
	/* the batch being written: staged bytes, its length in the file, its output bytes */
	char stg[8192];
	size_t sl;
	uint64_t pend, raw;
	int werr;
} G; /* bss: nothing here is used before mlog_open */

/* RFC 3339 with nanoseconds in UTC, trailing zeros of the fraction removed (Go's RFC3339Nano). */
size_t mon_rfc3339(char *buf, size_t cap, const struct timespec *t)
{
	int64_t s = t->tv_sec, days = s / 86400, rem = s % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	/* civil from days (H. Hinnant) */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	char frac[12] = "";
	if (t->tv_nsec) {
		snprintf(frac, sizeof frac, ".%09ld", t->tv_nsec);
		size_t k = strlen(frac);
		while (frac[k - 1] == '0')
			frac[--k] = 0;
	}
	int n = snprintf(buf, cap, "%04lld-%02u-%02uT%02d:%02d:%02d%sZ", (long long)y, m, d, (int)(rem / 3600),
			 (int)(rem / 60 % 60), (int)(rem % 60), frac);
	return n < 0 ? 0 : (size_t)n;
}

int mlog_open(const char *path, uint64_t maxsize, int maxfiles)
{
	G.path = path;
	G.maxsize = maxsize;
	G.maxfiles = maxfiles < 1 ? 1 : maxfiles;
	G.on = 1;
	G.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	if (G.fd < 0)
		return -1;
	struct stat st;
	G.size = fstat(G.fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return G.fd;
}

int mlog_enabled(void) { return G.on; }
int mlog_maxfiles(void) { return G.maxfiles; }
uint64_t mlog_dropped(void) { return G.dropped; }

void mlog_file(int k, char *buf, size_t cap)
{
	if (k == 0)
		snprintf(buf, cap, "%s", G.path);
	else
		snprintf(buf, cap, "%s.%d", G.path, k);
}

size_t mlog_partial(int stream, const char **p)
{
	*p = G.line[stream];
	return G.llen[stream];
}

/* LOG.(n-2) → LOG.(n-1) … LOG → LOG.1 (or truncate when only one file is kept). */
static void rotate(void)
{
	char a[4200], b[4200];
	if (G.fd >= 0)
		close(G.fd);
	G.fd = -1;
	if (G.maxfiles > 1) {
		for (int k = G.maxfiles - 1; k >= 1; k--) {
			mlog_file(k - 1, a, sizeof a);
			mlog_file(k, b, sizeof b);
			if (rename(a, b) < 0 && errno != ENOENT) {
				/* cannot rotate: keep appending rather than lose output */
			}
		}
		G.fd = open(G.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	} else {
		G.fd = open(G.path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	}
	struct stat st;
	G.size = G.fd >= 0 && fstat(G.fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void stg_flush(void)
{
	if (G.sl && !G.werr && write_full(G.fd, G.stg, G.sl) < 0)
		G.werr = errno ? errno : EIO;
	G.sl = 0;
}

static void put(const char *s, size_t n)
{
	while (n) {
		if (G.sl == sizeof G.stg)
			stg_flush();
		size_t k = sizeof G.stg - G.sl < n ? sizeof G.stg - G.sl : n;
		memcpy(G.stg + G.sl, s, k);
		G.sl += k;
		s += k;
		n -= k;
	}
}

/* Length of a valid UTF-8 sequence at p (at most n bytes) and its code point; 0 when invalid. */
static size_t utf8(const unsigned char *p, size_t n, unsigned *cp)
{
	unsigned c = p[0], need, min;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, min = 0x80, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, min = 0x800, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, min = 0x10000, c &= 0x07;
	else
		return 0;
	if (n < need + 1)
		return 0;
	for (unsigned k = 1; k <= need; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return need + 1;
}

/* Docker's json string escaping (jsonlog.ffjsonWriteJSONBytesAsString); emit == 0 only counts. */
static size_t escape(const char *s, size_t n, int emit)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t out = 0, i = 0;
	while (i < n) {
		unsigned c = p[i];
		char e[8];
		size_t el = 0, adv = 1;
		if (c < 0x80) {
			if (c >= 0x20 && c != '\\' && c != '"' && c != '<' && c != '>' && c != '&') {
				size_t j = i;
				while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '\\' && p[j] != '"' && p[j] != '<' &&
				       p[j] != '>' && p[j] != '&')
					j++;
				if (emit)
					put(s + i, j - i);
				out += j - i;
				i = j;
				continue;
			}
			e[0] = '\\';
			if (c == '\\' || c == '"')
				e[1] = (char)c, el = 2;
			else if (c == '\n')
				e[1] = 'n', el = 2;
			else if (c == '\r')
				e[1] = 'r', el = 2;
			else if (c == '\t')
				e[1] = 't', el = 2;
			else
				memcpy(e + 1, "u00", 3), e[4] = hex[c >> 4], e[5] = hex[c & 15], el = 6;
		} else {
			unsigned cp = 0;
			size_t k = utf8(p + i, n - i, &cp);
			if (!k)
				memcpy(e, "\\ufffd", 6), el = 6;
			else if (cp == 0x2028 || cp == 0x2029)
				memcpy(e, cp == 0x2028 ? "\\u2028" : "\\u2029", 6), el = 6, adv = k;
			else
				memcpy(e, s + i, k), el = k, adv = k;
		}
		if (emit)
			put(e, el);
		out += el;
		i += adv;
	}
	return out;
}

static int reopen(void)
{
	G.fd = open(G.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	struct stat st;
	G.size = G.fd >= 0 && fstat(G.fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return G.fd >= 0 ? 0 : -1;
}

/* Write the batch; on failure take the partial writes back and count its bytes as dropped. */
static void batch_flush(void)
{
	stg_flush();
	if (G.werr) {
		if (ftruncate(G.fd, (off_t)G.size) < 0) {
			close(G.fd); /* reopened (and measured) at the next record */
			G.fd = -1;
		}
		G.dropped += G.raw;
	} else {
		G.size += G.pend;
	}
	G.werr = 0;
	G.pend = G.raw = 0;
}

static void record(int stream, const char *p, size_t n, const char *ts, size_t tl)
{
	static const char pre[] = "{\"log\":\"", out[] = "\",\"stream\":\"stdout\",\"time\":\"",
			  err[] = "\",\"stream\":\"stderr\",\"time\":\"", end[] = "\"}\n";
	if (!n)
		return;
	if (G.fd < 0 && reopen() < 0) {
		G.dropped += n;
		return;
	}
	uint64_t total = sizeof pre - 1 + escape(p, n, 0) + sizeof out - 1 + tl + sizeof end - 1;
	if (G.maxsize && G.size + G.pend && G.size + G.pend + total > G.maxsize) {
		batch_flush();
		rotate();
		if (G.fd < 0) {
			G.dropped += n;
			return;
		}
	}
	if (G.sl + total > sizeof G.stg)
		batch_flush(); /* a long record starts a batch of its own (written in pieces) */
	put(pre, sizeof pre - 1);
	escape(p, n, 1);
	put(stream ? err : out, sizeof out - 1);
	put(ts, tl);
	put(end, sizeof end - 1);
	G.pend += total;
	G.raw += n;
}

void mlog_data(int stream, const char *buf, size_t n)
{
	if (!G.on || !n)
		return;
	struct timespec now;
	char ts[48];
	clock_gettime(CLOCK_REALTIME, &now);
	size_t tl = mon_rfc3339(ts, sizeof ts, &now);
	char *line = G.line[stream];
	size_t *ll = &G.llen[stream];
	while (n) {
		const char *nl = memchr(buf, '\n', n);
		size_t upto = nl ? (size_t)(nl - buf) + 1 : n;
		if (*ll == 0 && (nl || n >= MON_LINE)) {
			size_t k = upto < MON_LINE ? upto : MON_LINE;
			record(stream, buf, k, ts, tl);
			buf += k;
			n -= k;
			continue;
		}
		size_t k = upto < MON_LINE - *ll ? upto : MON_LINE - *ll;
		memcpy(line + *ll, buf, k);
		*ll += k;
		buf += k;
		n -= k;
		if (*ll == MON_LINE || (nl && k == upto)) {
			record(stream, line, *ll, ts, tl);
			*ll = 0;
		}
	}
	if (G.fd >= 0)
		batch_flush();
}

void mlog_flush(void)
{
	if (!G.on)
		return;
	struct timespec now;
	char ts[48];
	clock_gettime(CLOCK_REALTIME, &now);
	size_t tl = mon_rfc3339(ts, sizeof ts, &now);
	for (int s = 0; s < 2; s++) {
		record(s, G.line[s], G.llen[s], ts, tl);
		G.llen[s] = 0;
	}
	if (G.fd >= 0)
		batch_flush();
}
