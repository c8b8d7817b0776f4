/* Monitor: healthchecks (docs/PLAN.md, "Healthchecks"): state shared by monitor_health*.c. */
#ifndef BERTH_MONITOR_HEALTH_H
#define BERTH_MONITOR_HEALTH_H

#include "monitor.h"

#define H_OUT 4096   /* Docker's maxOutputLen */
#define H_LOG 5      /* Docker's maxLogEntries */
#define H_KILL_MS 1000

enum { ST_STARTING, ST_HEALTHY, ST_UNHEALTHY };
enum { A_NONE, A_KILL, A_RESTART, A_STOP };

struct hres {
	struct timespec start, end;
	int code;
	size_t olen;
	char out[H_OUT + 1];
};

struct health {
	int on, begun;
	const char *plan, *state, *events, *procs;
	long interval, timeout, start_period, start_interval, stop_timeout;
	int retries, action, stopsig;
	char **restartcmd;
	long t0, next;       /* monitor start; when the next check starts */
	/* the running check */
	pid_t pid;
	int ctl, out, ictl, iout, timed_out, got_exit;
	long deadline, kill_at;
	char ctlbuf[2048];
	size_t ctllen;
	struct hres cur;
	/* results */
	int status, streak, n;
	struct hres log[H_LOG];
	long stop_at;        /* --health-on-failure=stop: SIGKILL after the stop timeout */
};

extern struct health HC;

/* monitor_health_state.c: the policy's results */
void mh_write_state(void);       /* STATE, atomically */
void mh_record(long now);        /* HC.cur is a result: streak, status, STATE, events, action */
long mh_interval(long now);      /* until the next check */
int mh_frozen(void);             /* the container is paused */

#endif
