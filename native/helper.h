/* berth-helper: executes a plan compiled in TypeScript (see docs/PLAN.md). */
#ifndef BERTH_HELPER_H
#define BERTH_HELPER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <termios.h>

#define HELPER_VERSION 1

/* Which list a step belongs to (bit mask for the op table). */
enum { L_PRE = 1, L_POST = 2, L_CHILD = 4 };
/* A network step (also in the op table's mask): allowed by `berth-helper net`. */
enum { F_NET = 8 };

struct step {
	int idx;      /* global index */
	int nf;       /* number of fields, field 0 is the op */
	char **f;     /* NUL-terminated copies */
	int fd;       /* setns: the pre-opened namespace fd */
	const struct op *op;
};

struct op {
	const char *name;
	int lists;    /* L_* mask */
	int minf;     /* minimum number of fields including the op */
	int (*run)(struct step *s);
};

struct list {
	int n;
	struct step *s;
};

/* Root modes for container paths. */
enum { ROOT_HOST = 0, ROOT_FD = 1, ROOT_PIVOTED = 2 };

struct state {
	int ctl;              /* control socket (parent only) */
	int sync;             /* our end of the sync channel */
	int is_child;
	int net_mode;         /* `berth-helper net`: only network steps, run in the helper itself */
	pid_t child;          /* parent: child pid (0 once reaped or none) */
	int pidfd;            /* parent: pidfd of the child */
	struct list pre, post, chld;
	struct step *cur;     /* step being executed (for error reports) */
	/* the go blob (hook stdin, seccomp listener payload) */
	char *blob;
	size_t bloblen;
	/* child */
	int root_mode;
	int rootfd;
	char *rootpath;       /* HPATH of the rootfs step (re-opened after a mount onto the root) */
	int fifofd;
	int consock;
	char *exec_path;
	/* parent: console */
	int master;
	char ptyname[64];
	struct termios saved_tty;
	int tty_saved;
};

extern struct state S;

/* ---- errors (util.c) ---- */
/* Record an error for the current step; returns -1. */
int fail(int errnum, const char *path, const char *detail_fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record an error with a custom message (errno 0 unless given). */
int failm(int errnum, const char *path, const char *msg, const char *detail_fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Report the recorded error for S.cur and exit 1 (kills the child in the parent). */
void die_step(void) __attribute__((noreturn));
/* Parent: kill and reap the child, restore the tty, exit with code. */
void parent_exit(int code) __attribute__((noreturn));
/* Format the recorded error as a JSON line into buf. */
size_t error_json(char *buf, size_t cap);

/* ---- messages (util.c) ---- */
void ctl_send(const char *line);                /* one JSON line, one write */
void ctl_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int read_full(int fd, void *buf, size_t n);      /* 1 ok, 0 EOF, -1 error */
int write_full(int fd, const void *buf, size_t n);
ssize_t send_fd(int sock, int fd, const void *data, size_t len);
/* recv a message with at most one fd; *fd = -1 when none. */
ssize_t recv_fd(int sock, void *buf, size_t cap, int *fd);
struct sockaddr_un;
int unix_addr(const char *path, struct sockaddr_un *sa, int *dirfd);
int unix_connect(const char *path);              /* CLOEXEC, -1 + errno */
int write_path(int dirfd, const char *path, const char *data, size_t len); /* -1 + errno */
size_t json_escape(char *out, size_t cap, const char *s);
void sync_drain_errors(void);                    /* parent: forward pending child errors */

/* ---- numbers (plan.c) ---- */
uint64_t U(struct step *s, int i);               /* unsigned field, dies on a bad number */
int64_t I(struct step *s, int i);                /* signed field */
const char *F(struct step *s, int i);            /* string field (bounds-checked) */
/* A counted list at field *i: returns the first element, sets *n, advances *i past it. */
char **L(struct step *s, int *i, int *n);
int read_plan(int fd);
const struct op *find_op(const char *name);

/* ---- paths (path.c) ---- */
enum { MK_NONE = 0, MK_DIR = 1, MK_FILE = 2 };
/* Resolve a container path in the current root; returns an fd opened with oflags|O_CLOEXEC. */
int cpath_open(const char *path, int oflags, int mk, mode_t mode);
/* Resolve the parent directory of path (created 0755 when missing); *base gets the last component. */
int cpath_parent(const char *path, char *base, size_t cap);
/* "/proc/self/fd/N" */
const char *fdpath(int fd, char *buf, size_t cap);

/* ---- steps ---- */
/* parent (steps_parent.c) */
int op_setns(struct step *s);
int op_unshare(struct step *s);
int op_mkfifo(struct step *s);
void reexec_sealed(char **argv, char **envp);
int op_write(struct step *s);
int op_spawn(struct step *s);
int op_idmap(struct step *s);
int op_setgroups(struct step *s);
int op_idmap_exec(struct step *s);           /* steps_idmap.c */
int op_pid_spawn(struct step *s);            /* steps_spawn.c */
int op_unix_call(struct step *s);
int op_cgroup_add(struct step *s);
int op_report_pid(struct step *s);
int op_await_go(struct step *s);
int op_release(struct step *s);
int op_await_ready(struct step *s);
int op_wait_exit(struct step *s);
int ctl_poll_abort(void);                        /* handle a readable ctl: 1 abort/EOF seen */
/* console (console.c) */
int op_console_recv(struct step *s);
int op_console_send(struct step *s);
int op_console_connect(struct step *s);
int op_console(struct step *s);
int op_relay(struct step *s);
void tty_restore(void);
/* mounts (steps_mount.c) */
int op_rootfs(struct step *s);
int op_mount(struct step *s);
int op_mkdir(struct step *s);
int op_mknod(struct step *s);
int op_symlink(struct step *s);
int op_lchown_list(struct step *s);
int op_mask(struct step *s);
int op_readonly(struct step *s);
int op_mount_setattr(struct step *s);
int op_pivot_root(struct step *s);
int op_chroot(struct step *s);
/* process attributes (steps_proc.c) */
int op_setsid(struct step *s);
int op_sethostname(struct step *s);
int op_setdomainname(struct step *s);
int op_ifup(struct step *s);
int op_rlimit(struct step *s);
int op_keyring(struct step *s);
int op_personality(struct step *s);
int op_apparmor(struct step *s);
int op_selinux(struct step *s);
int op_ioprio(struct step *s);
int op_sched(struct step *s);
int op_affinity(struct step *s);
int op_umask(struct step *s);
int op_chdir(struct step *s);
int op_close_fds(struct step *s);
/* credentials (steps_cred.c) */
int op_bounding(struct step *s);
int op_keepcaps(struct step *s);
int op_user(struct step *s);
int op_caps(struct step *s);
int op_ambient(struct step *s);
int op_no_new_privs(struct step *s);
/* exec and sync (steps_exec.c) */
int op_await_release(struct step *s);
int op_hook(struct step *s);
int op_fifo_open(struct step *s);
int op_fifo_wait(struct step *s);
int op_ready(struct step *s);
int op_lookup(struct step *s);
int op_exec(struct step *s);
void reset_signals(void);
/* monitor mode (monitor*.c) */
int op_subreaper(struct step *s);
int op_stdio_pipes(struct step *s);
int op_monitor(struct step *s);
int op_dns(struct step *s);
int op_port_hold(struct step *s);
int op_exit_runner(struct step *s);
void trim_text(int text_only); /* monitor.c: drop the page-table entries of the binary's read-only mappings */
int op_port_proxy(struct step *s);            /* monitor_proxy.c */
int mon_hold_fd(int fd);                      /* kept open by the monitor; -1 + errno */
int op_health(struct step *s);
/* seccomp (seccomp.c) */
int op_seccomp(struct step *s);
int op_seccomp_bpf(struct step *s);
int seccomp_export_main(void);
int watch_main(int argc, char **argv);
int delay_main(int argc, char **argv);

/* network steps (steps_net.c, rtnetlink in netlink.c) */
int op_netns(struct step *s);
int op_link_bridge(struct step *s);
int op_link_veth(struct step *s);
int op_link_macvlan(struct step *s);
int op_link_ipvlan(struct step *s);
int op_link_master(struct step *s);
int op_link_up(struct step *s);
int op_link_down(struct step *s);
int op_link_mtu(struct step *s);
int op_link_mac(struct step *s);
int op_link_rename(struct step *s);
int op_link_del(struct step *s);
int op_link_hairpin(struct step *s);
int op_addr_add(struct step *s);
int op_route_add(struct step *s);
int op_sysctl(struct step *s);
int net_main(void);
int netbench_main(int argc, char **argv);
/* after each step: a finished group of network steps returns to the helper's own netns */
void net_after_step(struct list *l, int k);

/* main.c */
void run_list(struct list *l);
void child_main(void) __attribute__((noreturn));

#endif
