/* Embedded DNS, shared by monitor_dns.c (the server side) and monitor_dns_up.c (upstreams). */
#ifndef BERTH_MONITOR_DNS_H
#define BERTH_MONITOR_DNS_H

#include "monitor.h"

#define DNS_QMAX 512         /* longest query taken (a name is at most 255 bytes; EDNS options fit) */
#define DNS_UP_MS 1000       /* per upstream */
#define DNS_TCP_IDLE_MS 10000
#define DNS_LOCAL_MAX 4096   /* a local answer: at most 64 records */

struct pend {
	int fd;                  /* connected to upstream `up`; 0: slot free (fd 0 is never a socket of ours) */
	int up, tcp;             /* tcp: client slot, or -1 for a UDP client */
	int st;                  /* TCP upstream (for a TCP client): 0 connecting, 1 sending, 2 receiving */
	size_t off;              /* TCP upstream: bytes sent, or received (length prefix included) */
	unsigned char lenb[2];
	unsigned char *ans;      /* TCP upstream: the answer being received (malloc) */
	long deadline;
	uint16_t id, cid;        /* the id sent upstream, the client's */
	socklen_t alen;
	struct sockaddr_storage addr;
	size_t qlen;
	unsigned char q[DNS_QMAX];
};

struct tcpc {
	int fd;                  /* 0: slot free (the slots stay untouched, off the RSS, until used) */
	int busy;                /* a query is being answered: no reading */
	long deadline;
	size_t have;
	unsigned char in[2 + DNS_QMAX];
	unsigned char *out;
	size_t olen, ooff;
};

/* The working memory: mapped at the step, touched by a burst of queries, given back to the kernel
 * (MADV_DONTNEED) once every query is answered and every TCP client gone: an idle monitor pays only
 * for the sockets. */
struct work {
	struct pend P[DNS_PENDING];
	struct tcpc T[DNS_TCP];
	unsigned char obuf[DNS_LOCAL_MAX];
	char scratch[DNS_SCRATCH];       /* monitor_dns_table.c: conf, table lines, answers */
	unsigned char buf[65536];        /* datagrams in, upstream answers */
};
extern struct work *W;
extern int dirty;                    /* W was touched since it was last given back */
extern int phigh, thigh;             /* slots at and beyond these were never used since */
#define P (W->P)
#define T (W->T)
#define obuf (W->obuf)
#define buf (W->buf)

/* monitor_dns.c */
void dns_reply(int tcp, const struct sockaddr_storage *to, socklen_t alen, const unsigned char *m, size_t n);
void dns_servfail_to(int tcp, const struct sockaddr_storage *to, socklen_t alen, const unsigned char *q, size_t n);
/* monitor_dns_up.c */
void dns_next_upstream(struct pend *p);     /* send to the next upstream; none left: SERVFAIL */
void dns_pend_close(struct pend *p);        /* free the slot */
short dns_pend_poll(struct pend *p);
void dns_pend_events(struct pend *p, short revents);

#endif
