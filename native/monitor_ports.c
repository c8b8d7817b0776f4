/* Monitor mode: published host ports reserved for the container's life (docs/PLAN.md, "Monitor
 * mode"). pre `port_hold PROTO ADDR PORT` binds a socket in the helper's own network namespace
 * (the host's) and never listens on it; the monitor keeps it open until it exits, so a host process
 * cannot take the port while the container lives, and a port a host process already uses fails the
 * step with EADDRINUSE before the container is created.
 *
 * No SO_REUSEADDR: with it, a host server that sets SO_REUSEADDR itself (most do) could still bind
 * and listen on the port beside the held socket (Linux only refuses reuse next to a listener).
 * The bind is shared with `port_proxy` (monitor_proxy.c, mon_port_bind), whose TCP sockets listen
 * and so take SO_REUSEADDR. */
#include "monitor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int *held;
static int nheld, capheld;

int mon_ports_fds(const int **fds)
{
	*fds = held;
	return nheld;
}

/* Keep fd open for the container's life: the monitor does not close it (close_others). */
int mon_hold_fd(int fd)
{
	if (nheld == capheld) {
		int n = capheld ? capheld * 2 : 8;
		int *p = realloc(held, (size_t)n * sizeof *p);
		if (!p) {
			errno = ENOMEM;
			return -1;
		}
		held = p;
		capheld = n;
	}
	held[nheld++] = fd;
	return 0;
}

/* A socket bound to the host port PROTO ADDR:PORT in the helper's current network namespace (ADDR ''
 * = all: [::] with IPV6_V6ONLY off, 0.0.0.0 without IPv6); `what` gets "tcp 0.0.0.0:8080" for the
 * error reports. -1 with the error recorded (op names the step in "bad plan" errors). Shared with
 * `port_proxy` (monitor_proxy.c): `listener` (it listens on a TCP one) sets SO_REUSEADDR, as every
 * server does — safe next to a listener (nothing else binds there), and its connections' TIME_WAIT
 * then does not keep the next start of the container from binding the port. */
int mon_port_bind(const char *op, const char *proto, const char *addr, uint64_t port, int flags, int listener, char *what, size_t cap)
{
	int type, ipproto;
	if (!strcmp(proto, "tcp"))
		type = SOCK_STREAM, ipproto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		type = SOCK_DGRAM, ipproto = IPPROTO_UDP;
	else if (!strcmp(proto, "sctp"))
		type = SOCK_STREAM, ipproto = IPPROTO_SCTP;
	else
		return failm(EINVAL, "", "bad plan", "%s: protocol \"%.16s\" is not tcp, udp or sctp", op, proto);
	if (port == 0 || port > 65535)
		return failm(EINVAL, "", "bad plan", "%s: port %llu is not in 1-65535", op, (unsigned long long)port);
	struct sockaddr_storage ss;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int dual = !*addr; /* all addresses: [::] with IPV6_V6ONLY off covers IPv4 too */
	memset(&ss, 0, sizeof ss);
	if (!dual && inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		len = sizeof *v4;
		snprintf(what, cap, "%s %s:%u", proto, addr, (unsigned)port);
	} else if (dual || inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		len = sizeof *v6;
		snprintf(what, cap, "%s [%s]:%u", proto, dual ? "::" : addr, (unsigned)port);
	} else {
		return failm(EINVAL, "", "bad plan", "%s: \"%.64s\" is not an IP address", op, addr);
	}
	int fd = socket(ss.ss_family, type | SOCK_CLOEXEC | flags, ipproto);
	if (fd < 0 && dual && errno == EAFNOSUPPORT) {
		/* no IPv6 in this kernel: all addresses is 0.0.0.0 */
		memset(&ss, 0, sizeof ss);
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		len = sizeof *v4;
		dual = 0;
		snprintf(what, cap, "%s 0.0.0.0:%u", proto, (unsigned)port);
		fd = socket(AF_INET, type | SOCK_CLOEXEC | flags, ipproto);
	}
	if (fd < 0) {
		if (ipproto == IPPROTO_SCTP && (errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT))
			return fail(EPROTONOSUPPORT, what, "this kernel has no SCTP (CONFIG_IP_SCTP): the port cannot be reserved");
		return fail(errno, what, "socket");
	}
	int zero = 0, one = 1;
	if (dual)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (listener && type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;
		close(fd);
		return fail(e, what, e == EADDRINUSE ? "the host port is already in use"
			    : e == EACCES ? "binding the host port (one below net.ipv4.ip_unprivileged_port_start needs privileges)"
			    : "binding the host port");
	}
	return fd;
}

int op_port_hold(struct step *s)
{
	char what[96];
	int fd = mon_port_bind("port_hold", F(s, 1), F(s, 2), U(s, 3), 0, 0, what, sizeof what);
	if (fd < 0)
		return -1;
	int small = 1, type = 0;
	socklen_t tl = sizeof type;
	/* a UDP hold: nothing ever reads it: keep what lands there (non-DNATed packets) tiny */
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	if (mon_hold_fd(fd) < 0) {
		close(fd);
		return fail(ENOMEM, what, NULL);
	}
	return 0;
}
