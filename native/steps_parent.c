/* Steps run by the parent: pre (before the clone) and post (after it). */
#include "helper.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 16384

int op_setns(struct step *s)
{
	if (setns(s->fd, (int)U(s, 2)) < 0)
		return fail(errno, s->f[1], NULL);
	return 0;
}

int op_unshare(struct step *s)
{
	if (unshare((int)U(s, 1)) < 0)
		return fail(errno, "", NULL);
	return 0;
}

int op_mkfifo(struct step *s)
{
	const char *path = F(s, 1);
	if (mkfifo(path, 0) < 0)
		return fail(errno, path, NULL);
	if (chmod(path, (mode_t)U(s, 2)) < 0) {
		int e = errno;
		unlink(path);
		return fail(e, path, NULL);
	}
	return 0;
}

int op_write(struct step *s)
{
	const char *path = F(s, 1), *data = F(s, 2);
	int fd = -1;
	if (S.is_child) {
		fd = cpath_open(path, O_WRONLY | O_NOCTTY, MK_NONE, 0);
		if (fd < 0)
			return fail(errno, path, NULL);
	}
	int r = write_path(fd, path, data, strlen(data));
	int e = errno;
	if (fd >= 0)
		close(fd);
	return r < 0 ? fail(e, path, NULL) : 0;
}

int op_spawn(struct step *s)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return fail(errno, "", "sync socketpair");
	uint64_t flags = U(s, 1);
	long pid = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return fail(e, "", "clone");
	}
	if (pid == 0) {
		S.is_child = 1;
		close(S.ctl);
		S.ctl = -1;
		close(sv[0]);
		S.sync = sv[1];
		/* until release: die with the parent (await_release also sees EOF) */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (int k = 0; k < S.pre.n; k++)
			if (S.pre.s[k].fd >= 0)
				close(S.pre.s[k].fd);
		for (int k = 0; k < S.post.n; k++) /* the parent's pre-connected console sockets */
			if (S.post.s[k].fd >= 0)
				close(S.post.s[k].fd);
		child_main();
	}
	close(sv[1]);
	for (int k = 0; k < S.chld.n; k++) /* the child's pre-connected listener sockets */
		if (S.chld.s[k].fd >= 0) {
			close(S.chld.s[k].fd);
			S.chld.s[k].fd = -1;
		}
	S.sync = sv[0];
	S.child = (pid_t)pid;
	S.pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (S.pidfd >= 0)
		fcntl(S.pidfd, F_SETFD, FD_CLOEXEC);
	return 0;
}

static int write_proc(const char *what, const char *data)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)S.child, what);
	if (write_path(-1, path, data, strlen(data)) < 0)
		return fail(errno, path, NULL);
	return 0;
}

int op_idmap(struct step *s)
{
	const char *which = F(s, 1);
	if (strcmp(which, "uid") && strcmp(which, "gid"))
		return failm(EINVAL, "", "bad plan", "idmap: \"%.16s\" is not uid or gid", which);
	return write_proc(!strcmp(which, "uid") ? "uid_map" : "gid_map", F(s, 2));
}

int op_setgroups(struct step *s)
{
	return write_proc("setgroups", F(s, 1));
}

int op_cgroup_add(struct step *s)
{
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)S.child);
	if (write_path(-1, F(s, 1), pid, strlen(pid)) < 0)
		return fail(errno, s->f[1], NULL);
	return 0;
}

int op_report_pid(struct step *s)
{
	(void)s;
	ctl_sendf("{\"type\":\"pid\",\"pid\":%d}\n", (int)S.child);
	return 0;
}

int op_await_go(struct step *s)
{
	(void)s;
	unsigned char t, l[4];
	int r = read_full(S.ctl, &t, 1);
	if (r <= 0 || t == 'A')
		parent_exit(1);
	if (t != 'G')
		return failm(EPROTO, "", "protocol error", "unexpected control message 0x%02x", t);
	if (read_full(S.ctl, l, 4) <= 0)
		parent_exit(1);
	size_t len = (size_t)l[0] | (size_t)l[1] << 8 | (size_t)l[2] << 16 | (size_t)l[3] << 24;
	if (len > (64u << 20))
		return failm(EPROTO, "", "protocol error", "go blob too large");
	free(S.blob);
	S.blob = malloc(len + 1);
	if (!S.blob)
		return fail(ENOMEM, "", NULL);
	if (read_full(S.ctl, S.blob, len) <= 0)
		parent_exit(1);
	S.blob[len] = 0;
	S.bloblen = len;
	return 0;
}

int op_release(struct step *s)
{
	(void)s;
	unsigned char hdr[5] = { 'G', (unsigned char)S.bloblen, (unsigned char)(S.bloblen >> 8),
				 (unsigned char)(S.bloblen >> 16), (unsigned char)(S.bloblen >> 24) };
	if (send(S.sync, hdr, sizeof hdr, MSG_NOSIGNAL) < 0)
		return fail(errno, "", "releasing the child");
	for (size_t o = 0; o < S.bloblen; o += CHUNK) {
		size_t n = S.bloblen - o < CHUNK ? S.bloblen - o : CHUNK;
		if (send(S.sync, S.blob + o, n, MSG_NOSIGNAL) < 0)
			return fail(errno, "", "releasing the child");
	}
	return 0;
}

/* The control socket is readable while we wait for something else: 'A' or EOF aborts. */
int ctl_poll_abort(void)
{
	unsigned char t;
	ssize_t r;
	do
		r = read(S.ctl, &t, 1);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return 'E';
	return t;
}

int op_await_ready(struct step *s)
{
	(void)s;
	for (;;) {
		struct pollfd p[2] = { { S.sync, POLLIN, 0 }, { S.ctl, POLLIN, 0 } };
		if (poll(p, S.ctl >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail(errno, "", "poll");
		}
		if (p[0].revents) {
			char buf[16400];
			int fd;
			ssize_t r = recv_fd(S.sync, buf, sizeof buf - 1, &fd);
			if (fd >= 0)
				close(fd);
			if (r < 0)
				return fail(errno, "", "reading the sync channel");
			if (r == 0 || buf[0] == 'R') {
				ctl_send("{\"type\":\"ready\"}\n");
				return 0;
			}
			buf[r] = 0;
			if (buf[0] == 'E') {
				ctl_send(buf + 1);
				parent_exit(1);
			}
			return failm(EPROTO, "", "protocol error", "unexpected message '%c' from the child", buf[0]);
		}
		if (p[1].revents) {
			int c = ctl_poll_abort();
			if (c == 'A' || c == 'E')
				parent_exit(1);
			return failm(EPROTO, "", "protocol error", "unexpected control message 0x%02x", c);
		}
	}
}

int op_wait_exit(struct step *s)
{
	(void)s;
	int ctl_open = S.ctl >= 0;
	while (S.pidfd >= 0) {
		struct pollfd p[2] = { { S.pidfd, POLLIN, 0 }, { S.ctl, POLLIN, 0 } };
		if (poll(p, ctl_open ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents) {
			int c = ctl_poll_abort();
			if (c == 'A')
				kill(S.child, SIGKILL);
			else
				ctl_open = 0; /* TypeScript went away: keep waiting, nobody to tell */
		}
	}
	int st;
	pid_t r;
	do
		r = waitpid(S.child, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return fail(errno, "", "waitpid");
	S.child = 0;
	sync_drain_errors();
	if (WIFSIGNALED(st))
		ctl_sendf("{\"type\":\"exit\",\"signal\":%d}\n", WTERMSIG(st));
	else
		ctl_sendf("{\"type\":\"exit\",\"code\":%d}\n", WEXITSTATUS(st));
	return 0;
}
