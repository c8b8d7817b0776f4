/* Monitor mode (docs/PLAN.md, "Monitor mode"): state shared by the monitor*.c files. */
#ifndef BERTH_MONITOR_H
#define BERTH_MONITOR_H

#include "helper.h"

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#define MON_CHUNK 8192        /* one read of container output */
#define MON_OBUF 24576        /* per-client output queue (a chunk, or the longest replayed record) */
#define MON_IBUF 512          /* per-client input buffer */
#define MON_LINE 16384        /* longest log record (Docker splits longer lines the same way) */
#define MON_STDIN 4096        /* stdin queue towards the container */
#define MON_CLIENTS 64
#define MON_DRAIN_MS 2000     /* after the exit: how long a blocked client may hold up the drain */
#define MON_LINGER_MS 5000    /* after the exit frame: how long clients get to read what is queued */
#define MON_CLEANUP_MS 60000  /* after the exit frame: how long cleanup=1 clients get to answer */

/* client flags */
enum {
	CF_HELLO = 1,     /* the attach line was read */
	CF_STDIN = 2,
	CF_STDOUT = 4,
	CF_STDERR = 8,
	CF_LOGS = 16,
	CF_REPLAY = 32,   /* logs are being replayed; live output waits */
	CF_IN_EOF = 64,   /* the client shut its side down */
	CF_EXIT = 128,    /* the exit frame is owed to this client */
	CF_DONE = 256,    /* the exit frame is queued: close once it is sent */
	CF_HELD = 512,    /* input parsing stopped: the stdin queue is full */
	CF_CLEANUP = 1024, /* cleanup=1: the client may take over the exit command (frame 6) */
	CF_CLEANED = 2048, /* it sent frame 6 after the exit: the exit command is skipped */
};

/* Streaming parser of one json-file line (monitor_replay.c). */
struct replay {
	int file;         /* index of the file being replayed: k = LOG.k, 0 = LOG, -1 partial lines, -2 done */
	int fd;
	uint64_t off;
	int st, esc, field, klen, slen, depth, instr, got, inrec;
	unsigned u, hi;
	char key[8], strm[8];
	size_t start, dlen;
};

struct client {
	int fd;
	unsigned flags;
	/* input: the attach line, then frames */
	char ib[MON_IBUF];
	size_t ilen;
	unsigned char hdr[8];
	int hlen;
	int stream;       /* stream of the frame whose payload is being read */
	uint32_t left;    /* payload bytes still to come */
	char cbuf[32];    /* resize payload */
	size_t clen;
	/* output */
	char *obuf;
	size_t olen, ooff;
	struct replay rp;
};

struct mon {
	pid_t init;
	int out[2];       /* container stdout, stderr (read ends; out[0] is the pty master with a pty) */
	int in;           /* container stdin (write end, or the pty master); -1 when closed */
	int pty;
	int sfd, lfd;     /* signalfd (SIGCHLD), listening socket */
	int accept_off;   /* out of fds or memory: stop polling lfd until a client leaves */
	int exitfd;       /* EXITFILE.tmp, created (and its space reserved) at start */
	const char *sock;
	/* stdin queue */
	char inbuf[MON_STDIN];
	size_t inlen, inoff;
	int in_close;     /* close stdin once the queue is written */
	/* exit */
	int exited, drained, closing;
	int status;
	uint64_t ooms;    /* OOM kills in the container's cgroup, read when the init was reaped */
	struct timespec finished;
	long drain_deadline, linger_deadline, cleanup_deadline;
	char **exitcmd;   /* EXITCMD argv (NULL: none) */
	int cleaned;      /* a cleanup=1 client sent frame 6: skip the exit command */
	char exitjson[320];
	size_t exitlen;
	struct client *cl[MON_CLIENTS]; /* allocated on accept */
};

extern struct mon M;

/* monitor.c */
long mon_now_ms(void);
void mon_exit_status(int status);       /* the init was reaped: note status, time, OOM kills */
void mon_exit_record(void);             /* write EXITFILE and build the exit frame */
void mon_exit_command(void);            /* run EXITCMD (unless a client took over), not waited for */
char **mon_split_words(char *cmd);      /* "\n"-separated words split in place (NULL: no memory) */

/* monitor_runner.c: the exit command's runner, forked before any namespace is joined */
int mon_runner_exec(char **argv);       /* hand EXITCMD to it: 0, or -1 when there is none */
void mon_runner_close(void);            /* end it with nothing run */

/* monitor_log.c: Docker json-file log */
int mlog_open(const char *path, uint64_t maxsize, int maxfiles); /* -1 + errno */
int mlog_enabled(void);
void mlog_data(int stream, const char *buf, size_t n);  /* stream 0 stdout, 1 stderr */
void mlog_flush(void);                   /* write out partial lines */
size_t mlog_partial(int stream, const char **p);
int mlog_maxfiles(void);
void mlog_file(int k, char *buf, size_t cap); /* path of LOG (k = 0) or LOG.k */
uint64_t mlog_dropped(void);
size_t mon_rfc3339(char *buf, size_t cap, const struct timespec *t);

/* monitor_attach.c */
int mon_listen(const char *path);        /* -1 + errno */
void mon_accept(void);
int mon_room(void);                      /* every output client can take one more chunk */
void mon_broadcast(int stream, const char *buf, size_t n);
void mon_client_events(struct client *c, short revents);
short mon_client_poll(struct client *c);
void mon_client_close(struct client *c);   /* closes the fd now (fd = -1), frees in mon_clients_reap */
void mon_clients_reap(void);
int mon_clients(void);                   /* clients still open */
int mon_client_put(struct client *c, int stream, const char *data, size_t n);
void mon_client_flush(struct client *c);
void mon_stdin_resume(void);             /* the stdin queue has room again: parse held input */
void mon_drop_blocking(void);            /* close clients that hold back the container's output */
void mon_clients_expire(int all);        /* after the exit: close the clients (all, or all but the
                                            cleanup=1 ones that still owe frame 6) */

/* monitor_replay.c */
void replay_start(struct client *c);
void replay_more(struct client *c);

/* monitor_dns.c, monitor_dns_table.c: embedded DNS (post `dns CONFPATH`) */
#define DNS_PENDING 32        /* queries forwarded and not answered yet */
#define DNS_TCP 8             /* TCP clients */
#define DNS_POLL (2 + DNS_TCP + DNS_PENDING)
#define DNS_UPSTREAMS 8
#define DNS_TABLES 32
#define DNS_SCRATCH 8192      /* working memory of monitor_dns_table.c (dns_scratch) */
enum { DNS_FORWARD = 0, DNS_ANSWER = 1 };
struct pollfd;
int dns_fds(int *out);                   /* the server's sockets (at most 2) */
int dns_fill(struct pollfd *p, int n);   /* append its poll entries at p[n]; returns the new n */
int dns_timeout(long now, int timeout);  /* the poll timeout, shortened to its next deadline */
void dns_events(struct pollfd *p, int n); /* its entries (as filled) after poll, then deadlines */
void dns_conf_path(const char *path);
char *dns_scratch(void);                 /* DNS_SCRATCH bytes, valid while a query is handled */
int dns_upstreams(const struct sockaddr_storage **up, const socklen_t **len);
int dns_local(const unsigned char *m, size_t n, unsigned char *out, size_t cap, size_t *olen);
size_t dns_servfail(const unsigned char *m, size_t n, unsigned char *out, size_t cap);

/* monitor_ports.c: pre `port_hold` sockets (and `port_proxy`'s), kept by the monitor */
int mon_ports_fds(const int **fds);
/* a socket bound to a host port (SOCK_* flags added; listener: a TCP one gets SO_REUSEADDR); -1 with the error recorded */
int mon_port_bind(const char *op, const char *proto, const char *addr, uint64_t port, int flags, int listener, char *what, size_t cap);
/* monitor_proxy.c: pre `port_proxy`, relayed by the monitor loop */
int proxy_poll_max(void);                    /* poll entries it may add (0: none) */
int proxy_fill(struct pollfd *p, int n);     /* append its poll entries at p[n]; returns the new n */
int proxy_timeout(long now, int timeout);    /* the poll timeout, shortened to its next deadline */
void proxy_events(struct pollfd *p, int n);  /* its entries (as filled) after poll */
void proxy_stop(int all);                    /* close the host sockets (the ports are free); all: every socket */
/* monitor_health.c: healthchecks on the monitor's timer */
int mh_poll(struct pollfd *p, int n);        /* add the running check's fds (at most 2) */
int mh_timeout(long now, int timeout);       /* poll timeout, shortened for the next health event */
void mh_events(struct pollfd *p, long now);  /* after poll: output, timers, the next check */
int mh_reaped(pid_t p, long now);            /* 1: p was the running check's helper */

/* monitor_loop.c */
void mon_loop(void) __attribute__((noreturn));
void mon_stdin_write(void);

#endif
