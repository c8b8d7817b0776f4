/* `berth-helper netbench`: the small load generator of `berth bench net` (no iperf needed).
 *
 *   netbench server PORT                 accept forever; per connection a first byte says the
 *                                        mode: 'S' sink (read to EOF, then close), 'R' echo
 *                                        1-byte requests (TCP_NODELAY)
 *   netbench stream ADDR PORT N SECONDS  N parallel TCP streams (threads) of 128 KiB writes;
 *                                        the time runs until the server saw EOF on every stream
 *   netbench rr ADDR PORT SECONDS        1-byte request/response, one at a time: p50/p99
 *   netbench ping ADDR SECONDS           ICMP echo (raw socket), one at a time: p50/p99
 *
 * Each client prints one line of JSON. Clients retry a refused connect for 10 s (the server
 * may still be starting in its container). IPv4 only. */
#include "helper.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (128 * 1024)
#define MAXSTREAMS 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int nb_fail(const char *what)
{
	fprintf(stderr, "berth-helper netbench: %s: %s\n", what, strerror(errno));
	return 1;
}

static int parse_addr(const char *a, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(port ? port : "0"));
	if (inet_pton(AF_INET, a, &sa->sin_addr) != 1) {
		fprintf(stderr, "berth-helper netbench: %s: not an IPv4 address\n", a);
		return -1;
	}
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int dial(const struct sockaddr_in *sa, char mode)
{
	double end = now() + 10;
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (mode == 'R')
			nodelay(fd);
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
			if (write(fd, &mode, 1) == 1)
				return fd;
		}
		int e = errno;
		close(fd);
		if ((e != ECONNREFUSED && e != ECONNRESET && e != EHOSTUNREACH) || now() > end) {
			errno = e;
			return -1;
		}
		usleep(50000);
	}
}

static void serve_one(int c)
{
	static char buf[CHUNK];
	char mode;
	if (read(c, &mode, 1) != 1)
		_exit(0);
	if (mode == 'S') {
		while (read(c, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	nodelay(c);
	for (;;) {
		ssize_t n = read(c, buf, 1);
		if (n <= 0 || write(c, buf, 1) != 1)
			_exit(0);
	}
}

static int server(const char *port)
{
	signal(SIGCHLD, SIG_IGN); /* no zombies (we may be a container's PID 1) */
	int one = 1;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa;
	parse_addr("0.0.0.0", port, &sa);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 64) < 0)
		return nb_fail("listen");
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return nb_fail("accept");
		}
		pid_t p = fork();
		if (p == 0) {
			close(s);
			serve_one(c);
		}
		close(c);
	}
}

struct stream {
	int fd;
	double until;
	unsigned long long bytes;
	double done;
	int err;
};

static pthread_barrier_t go;

static void *stream_run(void *arg)
{
	static char buf[CHUNK];
	struct stream *st = arg;
	pthread_barrier_wait(&go);
	while (now() < st->until) {
		ssize_t n = write(st->fd, buf, sizeof(buf));
		if (n < 0) {
			st->err = errno;
			return NULL;
		}
		st->bytes += (unsigned long long)n;
	}
	/* the data counts once the server has read it all: it closes after EOF */
	shutdown(st->fd, SHUT_WR);
	while (read(st->fd, buf, sizeof(buf)) > 0)
		;
	st->done = now();
	return NULL;
}

static int stream(const char *addr, const char *port, int n, double secs)
{
	struct sockaddr_in sa;
	if (parse_addr(addr, port, &sa) < 0 || n < 1 || n > MAXSTREAMS || secs <= 0)
		return 2;
	struct stream st[MAXSTREAMS];
	pthread_t th[MAXSTREAMS];
	memset(st, 0, sizeof(st));
	for (int i = 0; i < n; i++)
		if ((st[i].fd = dial(&sa, 'S')) < 0)
			return nb_fail("connect");
	pthread_barrier_init(&go, NULL, (unsigned)n + 1);
	double t0 = now();
	for (int i = 0; i < n; i++) {
		st[i].until = t0 + secs;
		if (pthread_create(&th[i], NULL, stream_run, &st[i]) != 0)
			return nb_fail("thread");
	}
	t0 = now();
	pthread_barrier_wait(&go);
	unsigned long long bytes = 0;
	double end = t0;
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (st[i].err) {
			errno = st[i].err;
			return nb_fail("write");
		}
		bytes += st[i].bytes;
		if (st[i].done > end)
			end = st[i].done;
	}
	double t = end - t0;
	printf("{\"mode\":\"stream\",\"streams\":%d,\"bytes\":%llu,\"seconds\":%.6f,\"bits_per_second\":%.0f}\n",
	       n, bytes, t, (double)bytes * 8 / t);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void print_lat(const char *mode, double *v, size_t n, size_t lost)
{
	qsort(v, n, sizeof(double), cmp_double);
	double p50 = n ? v[n / 2] : 0, p99 = n ? v[(size_t)((double)(n - 1) * 0.99)] : 0;
	printf("{\"mode\":\"%s\",\"samples\":%zu,\"lost\":%zu,\"p50_us\":%.2f,\"p99_us\":%.2f,\"min_us\":%.2f}\n",
	       mode, n, lost, p50 * 1e6, p99 * 1e6, n ? v[0] * 1e6 : 0);
}

static double *grow(double *v, size_t *cap, size_t n)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 65536;
	double *w = realloc(v, *cap * sizeof(double));
	if (!w) {
		fputs("berth-helper netbench: out of memory\n", stderr);
		exit(1);
	}
	return w;
}

static int rr(const char *addr, const char *port, double secs)
{
	struct sockaddr_in sa;
	if (parse_addr(addr, port, &sa) < 0 || secs <= 0)
		return 2;
	int fd = dial(&sa, 'R');
	if (fd < 0)
		return nb_fail("connect");
	double *v = NULL, end = now() + secs;
	size_t n = 0, cap = 0;
	char b = 'x';
	for (int k = 0; k < 100; k++) /* warm-up */
		if (write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1)
			return nb_fail("request");
	for (double t = now(); t < end;) {
		if (write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1)
			return nb_fail("request");
		double t2 = now();
		v = grow(v, &cap, n);
		v[n++] = t2 - t;
		t = t2;
	}
	close(fd);
	print_lat("rr", v, n, 0);
	free(v);
	return 0;
}

static uint16_t csum(const void *p, size_t len)
{
	const uint16_t *w = p;
	uint32_t s = 0;
	for (; len > 1; len -= 2)
		s += *w++;
	if (len)
		s += *(const uint8_t *)w;
	s = (s >> 16) + (s & 0xffff);
	s += s >> 16;
	return (uint16_t)~s;
}

static int ping(const char *addr, double secs)
{
	struct sockaddr_in sa;
	if (parse_addr(addr, NULL, &sa) < 0 || secs <= 0)
		return 2;
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		return nb_fail("icmp socket");
	uint16_t id = (uint16_t)getpid();
	double *v = NULL, end = now() + secs;
	size_t n = 0, cap = 0, lost = 0;
	for (uint16_t seq = 1; now() < end && n + lost < 20000; seq++) {
		struct icmphdr h = { .type = ICMP_ECHO, .un.echo.id = htons(id), .un.echo.sequence = htons(seq) };
		h.checksum = csum(&h, sizeof(h));
		double t = now();
		if (sendto(fd, &h, sizeof(h), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return nb_fail("send echo");
		for (;;) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			int left = (int)((t + 1 - now()) * 1000);
			if (left <= 0 || poll(&pf, 1, left) <= 0) {
				lost++;
				break;
			}
			char buf[1500];
			ssize_t r = recv(fd, buf, sizeof(buf), 0);
			if (r < (ssize_t)sizeof(struct iphdr))
				continue;
			const struct iphdr *ip = (const void *)buf;
			const struct icmphdr *e = (const void *)(buf + ip->ihl * 4);
			if (r < ip->ihl * 4 + (ssize_t)sizeof(*e) || e->type != ICMP_ECHOREPLY ||
			    e->un.echo.id != htons(id) || e->un.echo.sequence != htons(seq))
				continue;
			v = grow(v, &cap, n);
			v[n++] = now() - t;
			break;
		}
	}
	close(fd);
	print_lat("ping", v, n, lost);
	free(v);
	return 0;
}

int netbench_main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	const char *m = argc > 2 ? argv[2] : "";
	if (!strcmp(m, "server") && argc == 4)
		return server(argv[3]);
	if (!strcmp(m, "stream") && argc == 7)
		return stream(argv[3], argv[4], atoi(argv[5]), atof(argv[6]));
	if (!strcmp(m, "rr") && argc == 6)
		return rr(argv[3], argv[4], atof(argv[5]));
	if (!strcmp(m, "ping") && argc == 5)
		return ping(argv[3], atof(argv[4]));
	fputs("usage: berth-helper netbench server PORT | stream ADDR PORT STREAMS SECONDS | rr ADDR PORT SECONDS | ping ADDR SECONDS\n", stderr);
	return 2;
}
