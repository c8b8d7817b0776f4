/* Console: the child opens a pty and hands the master over (to a console socket or to the
 * parent); the parent can pass it on (console_send) or relay it to its own stdio (relay). */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- child ---- */

int op_console_connect(struct step *s)
{
	const char *p = F(s, 1);
	int fd = unix_connect(p);
	if (fd < 0)
		return fail(errno, p, "connecting to the console socket");
	if (S.consock >= 0)
		close(S.consock);
	S.consock = fd;
	return 0;
}

int op_console(struct step *s)
{
	unsigned short rows = (unsigned short)U(s, 1), cols = (unsigned short)U(s, 2);
	int m = cpath_open("/dev/ptmx", O_RDWR | O_NOCTTY, MK_NONE, 0);
	if (m < 0)
		return fail(errno, "/dev/ptmx", NULL);
	int unlock = 0, n;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0 || ioctl(m, TIOCGPTN, &n) < 0)
		return fail(errno, "/dev/ptmx", "unlockpt");
	int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sl < 0)
		return fail(errno, "/dev/ptmx", "opening the pty slave");
	char name[64], sp[64];
	snprintf(name, sizeof name, "/dev/pts/%d", n);
	/* an optional 4th field "noconsole" (exec): the pty is not bound onto /dev/console */
	if (!(s->nf > 3 && !strcmp(F(s, 3), "noconsole"))) {
		int con = cpath_open("/dev/console", O_PATH, MK_FILE, 0644);
		if (con < 0)
			return fail(errno, "/dev/console", NULL);
		char cp[64];
		if (mount(fdpath(sl, sp, sizeof sp), fdpath(con, cp, sizeof cp), NULL, MS_BIND, NULL) < 0)
			return fail(errno, "/dev/console", "binding %s", name);
		close(con);
	}
	(void)sp;
	if (rows > 0 && cols > 0) {
		struct winsize ws = { .ws_row = rows, .ws_col = cols };
		if (ioctl(m, TIOCSWINSZ, &ws) < 0)
			return fail(errno, name, "setting the window size");
	}
	if (S.consock >= 0) {
		if (send_fd(S.consock, m, name, strlen(name)) < 0)
			return fail(errno, "", "sending the pty master to the console socket");
		close(S.consock);
		S.consock = -1;
	} else {
		char msg[80];
		int l = snprintf(msg, sizeof msg, "M%s", name);
		if (send_fd(S.sync, m, msg, (size_t)l) < 0)
			return fail(errno, "", "sending the pty master to the parent");
	}
	close(m);
	for (int fd = 0; fd < 3; fd++)
		if (dup2(sl, fd) < 0)
			return fail(errno, name, "dup2 onto fd %d", fd);
	close(sl);
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		return fail(errno, name, "making it the controlling terminal");
	return 0;
}

/* ---- parent ---- */

int op_console_recv(struct step *s)
{
	(void)s;
	for (;;) {
		struct pollfd p[2] = { { S.sync, POLLIN, 0 }, { S.ctl, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail(errno, "", "poll");
		}
		if (p[1].revents && !p[0].revents) {
			int c = ctl_poll_abort();
			if (c == 'A' || c == 'E')
				parent_exit(1);
			return failm(EPROTO, "", "protocol error", "unexpected control message 0x%02x", c);
		}
		char buf[16400];
		int fd;
		ssize_t r = recv_fd(S.sync, buf, sizeof buf - 1, &fd);
		if (r < 0)
			return fail(errno, "", "reading the sync channel");
		if (r == 0)
			return failm(EPIPE, "", "the container process ended before sending its console", NULL);
		buf[r] = 0;
		if (buf[0] == 'E') {
			if (fd >= 0)
				close(fd);
			ctl_send(buf + 1);
			parent_exit(1);
		}
		if (buf[0] != 'M' || fd < 0) {
			if (fd >= 0)
				close(fd);
			return failm(EPROTO, "", "protocol error", "expected the console from the child, got '%c'", buf[0]);
		}
		if (S.master >= 0)
			close(S.master);
		S.master = fd;
		snprintf(S.ptyname, sizeof S.ptyname, "%.63s", buf + 1);
		return 0;
	}
}

int op_console_send(struct step *s)
{
	const char *p = F(s, 1);
	if (S.master < 0)
		return failm(EBADF, p, "bad plan", "console_send without console_recv");
	/* connected when the plan was read (before any setns) */
	int fd = s->fd;
	s->fd = -1;
	if (fd < 0 && (fd = unix_connect(p)) < 0)
		return fail(errno, p, "connecting to the console socket");
	ssize_t r = send_fd(fd, S.master, S.ptyname, strlen(S.ptyname));
	int e = errno;
	close(fd);
	close(S.master);
	S.master = -1;
	return r < 0 ? fail(e, p, "sending the pty master") : 0;
}

void tty_restore(void)
{
	if (S.tty_saved) {
		tcsetattr(0, TCSANOW, &S.saved_tty);
		S.tty_saved = 0;
	}
}

static void copy_winsize(void)
{
	struct winsize ws;
	if (ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(S.master, TIOCSWINSZ, &ws);
}

/* Read what the master has (non-blocking) and write it to fd 1; 0 when it hit EOF/EIO. */
static int pump_out(void)
{
	char buf[4096];
	for (;;) {
		ssize_t r = read(S.master, buf, sizeof buf);
		if (r > 0) {
			if (write_full(1, buf, (size_t)r) < 0)
				return 1; /* nobody listens on fd 1: drop */
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 1;
		return 0;
	}
}

int op_relay(struct step *s)
{
	(void)s;
	if (S.master < 0)
		return failm(EBADF, "", "bad plan", "relay without console_recv");
	if (isatty(0) && tcgetattr(0, &S.saved_tty) == 0) {
		struct termios raw = S.saved_tty;
		cfmakeraw(&raw);
		if (tcsetattr(0, TCSANOW, &raw) == 0)
			S.tty_saved = 1;
		copy_winsize();
	}
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, &old);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	fcntl(S.master, F_SETFL, fcntl(S.master, F_GETFL) | O_NONBLOCK);
	char in[4096];
	size_t inlen = 0, inoff = 0;
	int in_open = 1, out_open = 1, ctl_open = S.ctl >= 0;
	for (;;) {
		struct pollfd p[5] = {
			{ S.pidfd, POLLIN, 0 },
			{ sfd, POLLIN, 0 },
			{ out_open ? S.master : -1, (short)(POLLIN | (inlen ? POLLOUT : 0)), 0 },
			{ in_open && !inlen ? 0 : -1, POLLIN, 0 },
			{ ctl_open ? S.ctl : -1, POLLIN, 0 },
		};
		if (poll(p, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			if (out_open)
				pump_out();
			break;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0)
				;
			copy_winsize();
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
			out_open = pump_out();
		if (inlen && (p[2].revents & POLLOUT)) {
			ssize_t w = write(S.master, in + inoff, inlen - inoff);
			if (w > 0)
				inoff += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				inoff = inlen;
			if (inoff == inlen)
				inlen = inoff = 0;
		}
		if (p[3].revents) {
			ssize_t r = read(0, in, sizeof in);
			if (r > 0)
				inlen = (size_t)r;
			else if (r == 0 || (errno != EINTR && errno != EAGAIN))
				in_open = 0;
		}
		if (p[4].revents) {
			int c = ctl_poll_abort();
			if (c == 'A')
				kill(S.child, SIGKILL);
			else
				ctl_open = 0;
		}
		if (!out_open && !in_open && S.pidfd < 0)
			break;
	}
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	tty_restore();
	return 0;
}
