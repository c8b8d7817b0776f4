/* The monitor's port proxy (pre `port_proxy`), shared by monitor_proxy.c (the step, UDP, the poll
 * hooks) and monitor_proxy_tcp.c (TCP connections). */
#ifndef BERTH_MONITOR_PROXY_H
#define BERTH_MONITOR_PROXY_H

#include "monitor.h"

#include <sys/socket.h>

#define PX_CONNS 256          /* TCP connections relayed at once */
#define PX_UDP 256            /* UDP flows (client addresses) at once */
#define PX_UDP_IDLE_MS 60000
#define PX_BUF 65536          /* per direction of a TCP connection: one splice, or the buffer */
#define PX_ROUNDS 16          /* reads (or accepts, datagrams) per event: the loop stays fair */
#define PX_PAUSE_MS 1000      /* out of fds or memory: accepts wait this long (or for a close) */

struct plisten {
	int fd, udp;
	struct sockaddr_storage target;
	socklen_t tlen;
};
extern struct plisten *LS;
extern int nl;

/* what a poll entry of proxy_fill is: 'l' listener idx, 'c' connection idx (its fd side), 'u' flow idx */
struct pent { char kind; short side; int idx; };

/* monitor_proxy_tcp.c */
int px_accepting(long now);                  /* 0 while accepts are paused (out of fds or memory) */
long px_paused_until(void);
void px_accept(int l, long now);
int px_tcp_fill(struct pollfd *p, struct pent *ent, int e); /* append at p[e] (ent[e]); the new e */
void px_tcp_event(int k, int side, int fd);
void px_tcp_stop(void);                      /* close every connection */

#endif
