/* Monitor: `logs=1` replay. The log files (LOG.(n-1) … LOG.1, LOG) are read back with a small
 * streaming parser of json-file lines, decoded straight into the client's output queue, then
 * the partial lines not yet logged follow; live output for that client waits until the end
 * (no output is read from the container meanwhile, so nothing is lost or repeated). */
#include "monitor.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

enum { R_OBJ, R_KEY0, R_KEY, R_COLON, R_VAL, R_STR, R_SKIP, R_END };

static void reset(struct replay *r)
{
	r->st = R_OBJ;
	r->esc = r->field = r->klen = r->slen = r->depth = r->instr = r->got = r->inrec = 0;
	r->hi = r->u = 0;
	r->dlen = 0;
}

void replay_start(struct client *c)
{
	struct replay *r = &c->rp;
	reset(r);
	r->fd = -1;
	r->off = 0;
	r->file = mlog_enabled() ? mlog_maxfiles() - 1 : -1;
	c->flags |= CF_REPLAY;
}

static void out(struct client *c, unsigned char b)
{
	struct replay *r = &c->rp;
	if (r->field == 1 && r->dlen < MON_LINE)
		c->obuf[r->start + 8 + r->dlen++] = (char)b;
	else if (r->field == 2 && r->slen < (int)sizeof r->strm - 1)
		r->strm[r->slen++] = (char)b;
}

static void out_cp(struct client *c, unsigned cp)
{
	if (cp < 0x80) {
		out(c, (unsigned char)cp);
	} else if (cp < 0x800) {
		out(c, (unsigned char)(0xc0 | cp >> 6));
		out(c, (unsigned char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		out(c, (unsigned char)(0xe0 | cp >> 12));
		out(c, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
		out(c, (unsigned char)(0x80 | (cp & 0x3f)));
	} else {
		out(c, (unsigned char)(0xf0 | cp >> 18));
		out(c, (unsigned char)(0x80 | (cp >> 12 & 0x3f)));
		out(c, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
		out(c, (unsigned char)(0x80 | (cp & 0x3f)));
	}
}

/* End of a line: queue the frame when it was a complete record of a stream the client wants. */
static void commit(struct client *c)
{
	struct replay *r = &c->rp;
	r->strm[r->slen] = 0;
	int stream = !strcmp(r->strm, "stdout") ? 1 : !strcmp(r->strm, "stderr") ? 2 : 0;
	unsigned want = stream == 1 ? CF_STDOUT : CF_STDERR;
	if ((r->got & 3) == 3 && stream && (c->flags & want) && r->dlen) {
		unsigned char *h = (unsigned char *)c->obuf + r->start;
		h[0] = (unsigned char)stream;
		h[1] = h[2] = h[3] = 0;
		h[4] = (unsigned char)(r->dlen >> 24);
		h[5] = (unsigned char)(r->dlen >> 16);
		h[6] = (unsigned char)(r->dlen >> 8);
		h[7] = (unsigned char)r->dlen;
		c->olen = r->start + 8 + r->dlen;
	}
	reset(r);
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
		return (ch | 0x20) - 'a' + 10;
	return 0;
}

static void str_byte(struct client *c, unsigned char ch)
{
	struct replay *r = &c->rp;
	if (r->esc == 0) {
		if (r->hi && ch != '\\') {
			out_cp(c, 0xfffd); /* lone high surrogate */
			r->hi = 0;
		}
		if (ch == '\\') {
			r->esc = 1;
		} else if (ch == '"') {
			if (r->hi)
				out_cp(c, 0xfffd);
			r->hi = 0;
			r->got |= r->field == 1 ? 1 : r->field == 2 ? 2 : 0;
			r->st = R_KEY0;
		} else {
			out(c, ch);
		}
		return;
	}
	if (r->esc == 1) {
		static const char from[] = "nrtbf", to[] = "\n\r\t\b\f";
		const char *k = ch ? strchr(from, ch) : NULL;
		if (ch == 'u') {
			r->esc = 2;
			r->u = 0;
			return;
		}
		if (r->hi) {
			out_cp(c, 0xfffd);
			r->hi = 0;
		}
		out(c, k ? (unsigned char)to[k - from] : ch);
		r->esc = 0;
		return;
	}
	r->u = r->u << 4 | (unsigned)hexval(ch);
	if (++r->esc < 6)
		return;
	r->esc = 0;
	if (r->u >= 0xd800 && r->u < 0xdc00) {
		if (r->hi)
			out_cp(c, 0xfffd);
		r->hi = r->u;
	} else if (r->u >= 0xdc00 && r->u < 0xe000) {
		out_cp(c, r->hi ? 0x10000 + ((r->hi - 0xd800) << 10) + (r->u - 0xdc00) : 0xfffd);
		r->hi = 0;
	} else {
		if (r->hi)
			out_cp(c, 0xfffd);
		r->hi = 0;
		out_cp(c, r->u);
	}
}

/* One byte of a json-file line; 1 at the end of the line. */
static int feed(struct client *c, unsigned char ch)
{
	struct replay *r = &c->rp;
	if (ch == '\n') {
		commit(c);
		return 1;
	}
	switch (r->st) {
	case R_OBJ:
		if (ch == '{')
			r->st = R_KEY0;
		break;
	case R_KEY0:
		if (ch == '"') {
			r->st = R_KEY;
			r->klen = 0;
		} else if (ch == '}') {
			r->st = R_END;
		}
		break;
	case R_KEY:
		if (ch == '"') {
			r->key[r->klen < (int)sizeof r->key ? r->klen : 0] = 0;
			r->st = R_COLON;
		} else if (r->klen < (int)sizeof r->key - 1) {
			r->key[r->klen++] = (char)ch;
		} else {
			r->klen = (int)sizeof r->key; /* too long: not a key we know */
		}
		break;
	case R_COLON:
		if (ch == ':')
			r->st = R_VAL;
		break;
	case R_VAL:
		if (ch == '"') {
			r->st = R_STR;
			r->field = !strcmp(r->key, "log") ? 1 : !strcmp(r->key, "stream") ? 2 : 0;
			if (r->field == 2)
				r->slen = 0;
		} else if (ch != ' ' && ch != '\t' && ch != '\r') {
			r->st = R_SKIP;
			r->depth = ch == '{' || ch == '[';
			r->instr = 0;
		}
		break;
	case R_STR:
		str_byte(c, ch);
		break;
	case R_SKIP:
		if (r->instr) {
			if (r->esc)
				r->esc = 0;
			else if (ch == '\\')
				r->esc = 1;
			else if (ch == '"')
				r->instr = 0;
		} else if (ch == '"') {
			r->instr = 1;
		} else if (ch == '{' || ch == '[') {
			r->depth++;
		} else if (ch == '}' || ch == ']') {
			if (r->depth == 0)
				r->st = R_END;
			else
				r->depth--;
		} else if (ch == ',' && r->depth == 0) {
			r->st = R_KEY0;
		}
		break;
	default:
		break;
	}
	return 0;
}

/* Room for the largest record, contiguous at the end of the queue. */
static int space(struct client *c)
{
	if (MON_OBUF - c->olen >= MON_LINE + 8)
		return 1;
	if (c->ooff) {
		memmove(c->obuf, c->obuf + c->ooff, c->olen - c->ooff);
		c->olen -= c->ooff;
		c->ooff = 0;
	}
	return MON_OBUF - c->olen >= MON_LINE + 8;
}

/* Queue as much of the replay as fits; clears CF_REPLAY at the end. */
void replay_more(struct client *c)
{
	struct replay *r = &c->rp;
	char buf[4096];
	while (c->fd >= 0 && (c->flags & CF_REPLAY)) {
		if (r->file >= 0) {
			if (r->fd < 0) {
				char path[4200];
				mlog_file(r->file, path, sizeof path);
				r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
				r->off = 0;
				reset(r);
				if (r->fd < 0) {
					r->file--;
					continue;
				}
			}
			ssize_t n = pread(r->fd, buf, sizeof buf, (off_t)r->off);
			if (n <= 0) {
				close(r->fd); /* a last line without its newline is not a record */
				r->fd = -1;
				r->file--;
				continue;
			}
			for (ssize_t i = 0; i < n;) {
				if (!r->inrec) {
					if (!space(c)) {
						r->off += (uint64_t)i;
						return;
					}
					r->start = c->olen;
					r->inrec = 1;
				}
				if (feed(c, (unsigned char)buf[i++]))
					r->inrec = 0;
			}
			r->off += (uint64_t)n;
			continue;
		}
		if (r->file == -1 || r->file == -2) {
			int stream = r->file == -1 ? 1 : 2;
			const char *p;
			size_t n = mlog_partial(stream - 1, &p);
			if (n && (c->flags & (stream == 1 ? CF_STDOUT : CF_STDERR)) && !mon_client_put(c, stream, p, n))
				return;
			r->file--;
			continue;
		}
		c->flags &= ~(unsigned)CF_REPLAY;
	}
}
