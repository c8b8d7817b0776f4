/* Monitor mode: published host ports reserved for the container's life (docs/PLAN.md, "Monitor
 * mode"). pre `port_hold PROTO ADDR PORT` binds a socket in the helper's own network namespace
 * (the host's) and never listens on it; the monitor keeps it open until it exits, so a host process
 * cannot take the port while the container lives, and a port a host process already uses fails the
 * step with EADDRINUSE before the container is created.
 *
 * No SO_REUSEADDR: with it, a host server that sets SO_REUSEADDR itself (most do) could still bind
 * and listen on the port beside the held socket (Linux only refuses reuse next to a listener). */
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

int op_port_hold(struct step *s)
{
	const char *proto = F(s, 1), *addr = F(s, 2);
	uint64_t port = U(s, 3);
	char what[96];
	int type, ipproto;
	if (!strcmp(proto, "tcp"))
		type = SOCK_STREAM, ipproto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		type = SOCK_DGRAM, ipproto = IPPROTO_UDP;
	else if (!strcmp(proto, "sctp"))
		type = SOCK_STREAM, ipproto = IPPROTO_SCTP;
	else
		return failm(EINVAL, "", "bad plan", "port_hold: protocol \"%.16s\" is not tcp, udp or sctp", proto);
	if (port == 0 || port > 65535)
		return failm(EINVAL, "", "bad plan", "port_hold: port %llu is not in 1-65535", (unsigned long long)port);
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
		snprintf(what, sizeof what, "%s %s:%u", proto, addr, (unsigned)port);
	} else if (dual || inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		len = sizeof *v6;
		snprintf(what, sizeof what, "%s [%s]:%u", proto, dual ? "::" : addr, (unsigned)port);
	} else {
		return failm(EINVAL, "", "bad plan", "port_hold: \"%.64s\" is not an IP address", addr);
	}
	int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, ipproto);
	if (fd < 0 && dual && errno == EAFNOSUPPORT) {
		/* no IPv6 in this kernel: all addresses is 0.0.0.0 */
		memset(&ss, 0, sizeof ss);
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		len = sizeof *v4;
		dual = 0;
		snprintf(what, sizeof what, "%s 0.0.0.0:%u", proto, (unsigned)port);
		fd = socket(AF_INET, type | SOCK_CLOEXEC, ipproto);
	}
	if (fd < 0) {
		if (ipproto == IPPROTO_SCTP && (errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT))
			return fail(EPROTONOSUPPORT, what, "this kernel has no SCTP (CONFIG_IP_SCTP): the port cannot be reserved");
		return fail(errno, what, "socket");
	}
	int zero = 0, small = 1;
	if (dual)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (type == SOCK_DGRAM) /* nothing ever reads it: keep what lands there (non-DNATed packets) tiny */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;
		close(fd);
		return fail(e, what, e == EADDRINUSE ? "the host port is already in use" : "binding the host port");
	}
	if (mon_hold_fd(fd) < 0) {
		close(fd);
		return fail(ENOMEM, what, NULL);
	}
	return 0;
}
