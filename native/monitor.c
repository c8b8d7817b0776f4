/* Monitor mode (docs/PLAN.md): the helper parent stays as the container's monitor, like conmon.
 * pre `subreaper`, pre `stdio_pipes STDIN`,
 * post `monitor LOG MAXSIZE MAXFILES EXITFILE SOCKET OOMFILE EXITCMD`.
 * This file sets the monitor up, records the exit and runs the exit command; monitor_loop.c
 * serves until the end. */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

struct mon M; /* zero (bss); the fds are set to -1 by mon_init */

static void mon_init(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	M.out[0] = M.out[1] = M.in = M.sfd = M.lfd = M.exitfd = -1;
}

static const char *exitfile, *oomfile;

long mon_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

int op_subreaper(struct step *s)
{
	(void)s;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return fail(errno, "", NULL);
	return 0;
}

/* An fd of at least 3, close-on-exec (the original is closed). */
static int high(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	errno = e;
	return h;
}

/* The child's ends go to our own fds 0, 1, 2 (inherited by the clone; the monitor step later points
 * ours at /dev/null), our ends stay close-on-exec above 2. */
int op_stdio_pipes(struct step *s)
{
	int want_in = U(s, 1) != 0;
	int o[2], e[2], i[2] = { -1, -1 };
	mon_init();
	if (M.out[0] >= 0)
		return failm(EINVAL, "", "bad plan", "stdio_pipes given twice");
	if (pipe2(o, O_CLOEXEC) < 0)
		return fail(errno, "", "stdout pipe");
	if (pipe2(e, O_CLOEXEC) < 0)
		return fail(errno, "", "stderr pipe");
	if (want_in && pipe2(i, O_CLOEXEC) < 0)
		return fail(errno, "", "stdin pipe");
	if (!want_in && (i[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		return fail(errno, "/dev/null", NULL);
	int fds[6] = { i[0], i[1], o[0], o[1], e[0], e[1] };
	for (int k = 0; k < 6; k++)
		if (fds[k] >= 0 && (fds[k] = high(fds[k])) < 0)
			return fail(errno, "", "moving the stdio pipes");
	if (dup2(fds[0], 0) < 0 || dup2(fds[3], 1) < 0 || dup2(fds[5], 2) < 0)
		return fail(errno, "", "dup2 of the stdio pipes");
	close(fds[0]);
	close(fds[3]);
	close(fds[5]);
	M.in = fds[1];
	M.out[0] = fds[2];
	M.out[1] = fds[4];
	return 0;
}

static uint64_t oom_kills(void)
{
	if (!oomfile || !*oomfile)
		return 0;
	char buf[4096];
	int fd = open(oomfile, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, "oom_kill ", 9))
			return strtoull(p + 9, NULL, 10);
	return 0;
}

void mon_exit_status(int status)
{
	M.exited = 1;
	M.status = status;
	clock_gettime(CLOCK_REALTIME, &M.finished);
	M.ooms = oom_kills();
	M.drain_deadline = mon_now_ms() + MON_DRAIN_MS;
}

/* Build the exit JSON (for the exit frame) and write EXITFILE atomically (tmp + rename). */
void mon_exit_record(void)
{
	char ts[48];
	uint64_t ooms = M.ooms;
	int sig = WIFSIGNALED(M.status) ? WTERMSIG(M.status) : 0;
	int code = WIFEXITED(M.status) ? WEXITSTATUS(M.status) : 0;
	mon_rfc3339(ts, sizeof ts, &M.finished);
	int n = snprintf(M.exitjson, sizeof M.exitjson,
			 "{\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"finishedAt\":\"%s\",\"oomKillCount\":%llu,"
			 "\"logDroppedBytes\":%llu}",
			 code, sig, ooms ? "true" : "false", ts, (unsigned long long)ooms,
			 (unsigned long long)mlog_dropped());
	M.exitlen = n > 0 && (size_t)n < sizeof M.exitjson ? (size_t)n : 0;
	if (M.exitfd < 0 || !M.exitlen)
		return;
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", exitfile);
	M.exitjson[M.exitlen] = '\n';
	int ok = pwrite(M.exitfd, M.exitjson, M.exitlen + 1, 0) == (ssize_t)M.exitlen + 1 &&
		 ftruncate(M.exitfd, (off_t)M.exitlen + 1) == 0 && fsync(M.exitfd) == 0;
	M.exitjson[M.exitlen] = 0;
	if (close(M.exitfd) < 0)
		ok = 0;
	M.exitfd = -1;
	if (!ok || rename(tmp, exitfile) < 0)
		unlink(tmp);
}

/* EXITFILE.tmp is created now with room for the record, so a full disk later cannot lose it. */
static int exit_reserve(void)
{
	char tmp[4200], pad[sizeof M.exitjson];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", exitfile) >= sizeof tmp)
		return fail(ENAMETOOLONG, exitfile, NULL);
	M.exitfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (M.exitfd < 0)
		return fail(errno, tmp, "creating the exit file");
	memset(pad, ' ', sizeof pad);
	if (write_full(M.exitfd, pad, sizeof pad) < 0) {
		int e = errno;
		close(M.exitfd);
		M.exitfd = -1;
		unlink(tmp);
		return fail(e, tmp, "creating the exit file");
	}
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every fd but the ones the monitor uses (inherited extras would keep pipes open). */
static void close_others(int logfd)
{
	const int *ports;
	int np = mon_ports_fds(&ports), n = 8;
	int *keep = malloc((size_t)(n + 2 + np) * sizeof *keep);
	if (!keep)
		return; /* keeps everything rather than the wrong things */
	int base[8] = { 2, M.out[0], M.out[1], M.in, M.sfd, M.lfd, logfd, M.exitfd };
	memcpy(keep, base, sizeof base);
	n += dns_fds(keep + n); /* the embedded DNS server's sockets and the held ports */
	memcpy(keep + n, ports, (size_t)np * sizeof *keep);
	n += np;
	qsort(keep, (size_t)n, sizeof keep[0], cmp_int);
	int from = 3;
	for (int k = 0; k < n; k++) {
		if (keep[k] < from)
			continue;
		if (keep[k] > from)
			syscall(SYS_close_range, (unsigned)from, (unsigned)keep[k] - 1, 0);
		from = keep[k] + 1;
	}
	syscall(SYS_close_range, (unsigned)from, ~0u, 0);
	free(keep);
}

/* The container is gone, EXITFILE written, the clients served: run EXITCMD (fork, setsid, execv),
 * unless a cleanup=1 client said it did the cleanup. Not waited for: the monitor exits next and
 * the command is re-parented. */
void mon_exit_command(void)
{
	if (!M.exitcmd || M.cleaned) {
		mon_runner_close();
		return;
	}
	if (mon_runner_exec(M.exitcmd) == 0)
		return; /* run by the runner forked before the namespaces were joined (monitor_runner.c) */
	pid_t p = fork();
	if (p != 0)
		return; /* the monitor; a failed fork just loses the command */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* SIGCHLD was blocked for the signalfd */
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	setsid();
	syscall(SYS_close_range, 3u, ~0u, 0); /* fds 0-2 are /dev/null already */
	execv(M.exitcmd[0], M.exitcmd);
	_exit(127);
}

/* EXITCMD: argv words separated by "\n" (an empty word is an empty argument); "" = none.
 * The plan's own copy is split in place. */
static int exit_command_parse(char *cmd)
{
	if (!*cmd)
		return 0;
	if (*cmd != '/') {
		int w = (int)strcspn(cmd, "\n");
		return failm(EINVAL, "", "bad plan", "monitor: exit command \"%.*s\": not an absolute path", w > 64 ? 64 : w, cmd);
	}
	char **argv = mon_split_words(cmd);
	if (!argv)
		return fail(ENOMEM, "", "exit command");
	M.exitcmd = argv;
	return 0;
}

/* Words separated by "\n", split in place into a NULL-ended argv (calloc'd; NULL: no memory). */
char **mon_split_words(char *cmd)
{
	size_t n = 1;
	for (char *p = cmd; *p; p++)
		n += *p == '\n';
	char **argv = calloc(n + 1, sizeof *argv);
	if (!argv)
		return NULL;
	size_t k = 0;
	for (char *p = cmd;;) {
		argv[k++] = p;
		p = strchr(p, '\n');
		if (!p)
			break;
		*p++ = 0;
	}
	argv[k] = NULL;
	return argv;
}

static int abs_or_empty(const char *p)
{
	return !*p || *p == '/';
}

/* Drop the page-table entries of our own read-only file mappings (the binary's text and rodata):
 * the start-up touched code the monitor never runs again, and a long-lived monitor should hold
 * only what its loop uses (refaulted from the page cache on demand). Writable mappings are left
 * alone: MADV_DONTNEED would reset them; so is the read-only one right before the writable one
 * (PT_GNU_RELRO starts the RW segment: pages relocated at start-up, then made read-only).
 * `text_only`: the executable ones only (a watcher). */
void trim_text(int text_only)
{
	static char buf[8192];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	char exe[256] = "";
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		unsigned long lo, hi;
		char perms[8], path[256] = "";
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255[^\n]", &lo, &hi, perms, path) < 3)
			continue;
		if (!exe[0])
			snprintf(exe, sizeof(exe), "%s", path); /* the first mapping is the executable's */
		if (!exe[0] || strcmp(path, exe) != 0 || perms[1] == 'w' || (text_only && perms[2] != 'x'))
			continue;
		char nperms[8], npath[256] = "";
		if (next && perms[2] != 'x' && sscanf(next, "%*[0-9a-f]-%*[0-9a-f] %7s %*s %*s %*s %255[^\n]", nperms, npath) == 2 &&
		    nperms[1] == 'w' && strcmp(npath, exe) == 0)
			continue; /* RELRO */
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
}

int op_monitor(struct step *s)
{
	const char *log = F(s, 1), *sock = F(s, 5);
	uint64_t maxsize = U(s, 2), maxfiles = U(s, 3);
	exitfile = F(s, 4);
	oomfile = F(s, 6);
	F(s, 7);
	mon_init();
	if (S.child <= 0)
		return failm(ESRCH, "", "bad plan", "monitor without a container process");
	if (exit_command_parse(s->f[7]) < 0)
		return -1;
	if (S.master >= 0) {
		if (M.out[0] >= 0)
			return failm(EINVAL, "", "bad plan", "monitor: both stdio_pipes and a console");
		M.pty = 1;
		M.out[0] = M.in = S.master;
	}
	int logfd = -1;
	if (*log && (logfd = mlog_open(log, maxsize, maxfiles > 1000 ? 1000 : (int)maxfiles)) < 0)
		return fail(errno, log, "opening the log file");
	if (*sock && (M.lfd = mon_listen(sock)) < 0)
		return fail(errno, sock, "listening on the attach socket");
	M.sock = *sock ? sock : NULL;
	if (*exitfile && exit_reserve() < 0) {
		if (M.sock)
			unlink(M.sock);
		return -1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	M.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	int devnull = M.sfd < 0 ? -1 : open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		int e = errno;
		if (M.sock)
			unlink(M.sock);
		if (M.exitfd >= 0) {
			char tmp[4200];
			snprintf(tmp, sizeof tmp, "%s.tmp", exitfile);
			unlink(tmp);
		}
		return fail(e, M.sfd < 0 ? "" : "/dev/null", M.sfd < 0 ? "signalfd" : NULL);
	}
	for (int k = 0; k < 2; k++)
		if (M.out[k] >= 0)
			fcntl(M.out[k], F_SETFL, fcntl(M.out[k], F_GETFL) | O_NONBLOCK);
	if (M.in >= 0 && !M.pty)
		fcntl(M.in, F_SETFL, fcntl(M.in, F_GETFL) | O_NONBLOCK);
	M.init = S.child;
	/* errors the child sent so far still go to TypeScript; later ones go to its stderr (the log) */
	if (S.sync >= 0) {
		shutdown(S.sync, SHUT_RD);
		sync_drain_errors();
	}
	/* named before the engine hears of it: the engine recognises a live monitor by this name */
	prctl(PR_SET_NAME, "berth-monitor", 0, 0, 0);
	ctl_sendf("{\"type\":\"monitor\",\"pid\":%d}\n", (int)getpid());
	/* from here on nobody hears about errors: the monitor carries on as best it can */
	setsid();
	if (abs_or_empty(log) && abs_or_empty(exitfile) && abs_or_empty(sock) && abs_or_empty(oomfile) &&
	    chdir("/") < 0) {
		/* stays where it was */
	}
	for (int fd = 0; fd < 3; fd++)
		dup2(devnull, fd);
	close(devnull);
	close_others(logfd); /* also the control socket, sync, pidfd and inherited extras */
	S.ctl = S.sync = S.pidfd = S.master = -1;
	signal(SIGHUP, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a file size limit makes log writes fail (counted), not kill us */
	trim_text(0);
	mon_loop();
}
