/* The berth front (client.c) and how it finds or starts the warm process of a run root (front_auto.c). */
#ifndef BERTH_FRONT_H
#define BERTH_FRONT_H
#include <limits.h>
#include <stddef.h>

/* What the front needs to know before talking to a warm process. */
struct front_target {
  char socket[PATH_MAX + 16]; /* the warm process's socket: $BERTH_WORKER_SOCKET or <run root>/cli.sock */
  char run_root[PATH_MAX]; /* --run-root, $BERTH_RUN_ROOT, config run-root or /run/berth ("" if unusable) */
  char data_root[PATH_MAX];/* --data-root, when given as a flag ("" otherwise) */
  char config[PATH_MAX];   /* --config, when given as a flag ("" otherwise) */
  int explicit_socket;     /* $BERTH_WORKER_SOCKET: a worker its user manages (never started or replaced here) */
  int auto_start;          /* start a warm process when none answers */
  int disabled;            /* config "worker": false — never a warm process */
  const char *command;     /* the command's name after the global flags (NULL if none) */
  int own_process;         /* the command needs this terminal (worker.ts needsOwnProcess): a warm process declines it */
};

/* Work out the socket, the run root and whether to start a warm process (argv after the program name). */
void front_target(struct front_target *t, int argc, char **argv);

/* The identity of the code a warm process must run to serve this front: <dir>/berth-main.cjs's
 * inode, size and modification time ("" when there is no bundle). */
void front_build_id(const char *dir, char *out, size_t size);

/* Connect to a unix socket: the fd, or -1. */
int front_connect(const char *path);

/*
 * Start the warm process of t->run_root when no start is under way (a lock file serialises the
 * fronts that race here), detached: its own session, stdio on /dev/null and <run root>/cli.log.
 * Then, when `wait` is set, wait until it listens: a connected fd, or -1 (it did not come up in
 * time, or it failed: the caller runs the command itself).
 */
int front_start(const struct front_target *t, const char *dir, int wait);

#endif
