/* Errors, control messages, fd passing and small I/O helpers. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
	int errnum;
	char path[4096];
	char msg[256];
	char detail[1024];
} E;

static void set_err(int errnum, const char *path, const char *msg, const char *fmt, va_list ap)
{
	E.errnum = errnum;
	snprintf(E.path, sizeof E.path, "%s", path ? path : "");
	snprintf(E.msg, sizeof E.msg, "%s", msg ? msg : (errnum ? strerror(errnum) : "failed"));
	E.detail[0] = 0;
	if (fmt)
		vsnprintf(E.detail, sizeof E.detail, fmt, ap);
}

int fail(int errnum, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_err(errnum, path, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int failm(int errnum, const char *path, const char *msg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_err(errnum, path, msg, fmt, ap);
	va_end(ap);
	return -1;
}

size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 8 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = 0;
	return o;
}

size_t error_json(char *buf, size_t cap)
{
	char op[256], path[8200], msg[600], detail[2100];
	json_escape(op, sizeof op, S.cur && S.cur->f ? S.cur->f[0] : "");
	json_escape(path, sizeof path, E.path);
	json_escape(msg, sizeof msg, E.msg);
	json_escape(detail, sizeof detail, E.detail);
	int n = snprintf(buf, cap, "{\"type\":\"error\",\"step\":%d,\"op\":\"%s\",\"path\":\"%s\",\"errno\":%d,\"message\":\"%s\"%s%s%s}\n",
			 S.cur ? S.cur->idx : -1, op, path, E.errnum, msg, E.detail[0] ? ",\"detail\":\"" : "", detail,
			 E.detail[0] ? "\"" : "");
	if (n < 0 || (size_t)n >= cap) {
		/* truncated: keep the line well-formed */
		n = snprintf(buf, cap, "{\"type\":\"error\",\"step\":%d,\"op\":\"%s\",\"path\":\"\",\"errno\":%d,\"message\":\"%s\"}\n",
			     S.cur ? S.cur->idx : -1, op, E.errnum, msg);
	}
	return (size_t)n;
}

int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return 0;
		got += (size_t)r;
	}
	return 1;
}

void ctl_send(const char *line)
{
	if (S.ctl >= 0 && write_full(S.ctl, line, strlen(line)) < 0) {
		/* TypeScript is gone: nobody to report to */
	}
}

void ctl_sendf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	ctl_send(buf);
}

void parent_exit(int code)
{
	if (S.child > 0) {
		kill(S.child, SIGKILL);
		while (waitpid(S.child, NULL, 0) < 0 && errno == EINTR)
			;
		S.child = 0;
	}
	tty_restore();
	_exit(code);
}

void die_step(void)
{
	char line[16384];
	error_json(line, sizeof line);
	if (!S.is_child) {
		ctl_send(line);
		parent_exit(1);
	}
	/* child: report through the parent; if it is gone, as text on fd 2 */
	char msg[16400];
	msg[0] = 'E';
	size_t n = strlen(line);
	memcpy(msg + 1, line, n);
	if (S.sync < 0 || send(S.sync, msg, n + 1, MSG_NOSIGNAL) < 0) {
		char text[8192];
		int k = snprintf(text, sizeof text, "berth-helper: step %d (%s%s%s): %s%s%s\n", S.cur ? S.cur->idx : -1,
				 S.cur && S.cur->f ? S.cur->f[0] : "", E.path[0] ? " " : "", E.path, E.msg,
				 E.detail[0] ? ": " : "", E.detail);
		if (k > 0)
			write_full(2, text, (size_t)k < sizeof text ? (size_t)k : sizeof text - 1);
	}
	_exit(1);
}

ssize_t send_fd(int sock, int fd, const void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	memset(cbuf, 0, sizeof cbuf);
	if (fd >= 0) {
		m.msg_control = cbuf;
		m.msg_controllen = sizeof cbuf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t r;
	do
		r = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r;
}

ssize_t recv_fd(int sock, void *buf, size_t cap, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	*fd = -1;
	ssize_t r;
	do
		r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return r;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int k = 0; k < nfd; k++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = got;
			else
				close(got);
		}
	}
	return r;
}

/*
 * Fill `sa` for `path`. A path too long for sun_path goes through an O_PATH fd of its directory
 * (`/proc/self/fd/N/name`): *dirfd is then that fd, to close after bind/connect, else -1.
 */
int unix_addr(const char *path, struct sockaddr_un *sa, int *dirfd)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	*dirfd = -1;
	if (strlen(path) < sizeof sa->sun_path) {
		strcpy(sa->sun_path, path);
		return 0;
	}
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (!slash || (size_t)(slash - path) >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = 0;
	int fd = open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", fd, slash + 1) >= (int)sizeof sa->sun_path) {
		close(fd);
		errno = ENAMETOOLONG;
		return -1;
	}
	*dirfd = fd;
	return 0;
}

int unix_connect(const char *path)
{
	struct sockaddr_un sa;
	int dirfd, s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (unix_addr(path, &sa, &dirfd) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	int r;
	do
		r = connect(s, (struct sockaddr *)&sa, sizeof sa);
	while (r < 0 && errno == EINTR);
	int e = errno;
	if (dirfd >= 0)
		close(dirfd);
	if (r < 0) {
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

int write_path(int dirfd, const char *path, const char *data, size_t len)
{
	int fd = dirfd >= 0 ? dirfd : open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	ssize_t w;
	do
		w = write(fd, data, len);
	while (w < 0 && errno == EINTR);
	int e = errno;
	if (dirfd < 0)
		close(fd);
	if (w < 0) {
		errno = e;
		return -1;
	}
	if ((size_t)w != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Parent: forward error reports the child left on the sync channel (after it exited). */
void sync_drain_errors(void)
{
	char buf[16400];
	for (;;) {
		ssize_t r;
		do
			r = recv(S.sync, buf, sizeof buf - 1, MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			return;
		buf[r] = 0;
		if (buf[0] == 'E')
			ctl_send(buf + 1);
	}
}
