/*
 * The data plane's main thread: its context, shared by dp_main.c
 * (options, start-up order, signals, the control plane, reports, systemd)
 * and dp_upgrade.c (SIGUSR2, the hitless upgrade, on both sides). Only
 * those two include it; the workers never see struct dp.
 */
#ifndef TCPFWD_DP_H
#define TCPFWD_DP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/config.h"
#include "../common/evloop.h"
#include "../common/ipc.h"
#include "../proto/proto.h"
#include "activeset.h"
#include "handover.h"
#include "worker.h"

/* One listener per worker, and every listener fits one handover. */
#define DP_MAX_WORKERS HANDOVER_MAX_FDS

struct dp {
	struct config cfg;
	struct evloop *loop;
	struct ipc *ipc;
	struct evloop_io ipc_io;
	struct evloop_io peer_io;
	struct ipc_watch ipc_watch;  /* is the channel still redialling? */
	struct evloop_io sig_io;
	struct workers *workers;
	struct backend_registry registry;
	struct activeset *set;       /* the set being served, or NULL */
	char dp_id[PROTO_ID_LEN + 1];
	uint64_t start_ms;
	uint64_t ipc_dropped;
	uint64_t ipc_dropped_logged;
	bool stopping;
	uint64_t stop_deadline_ms;
	struct evloop_timer report_timer;
	struct evloop_timer drain_timer;
	struct proto_report *report;
	struct proto_active_set *msg;
	char *set_buf;               /* dp->set encoded, for an upgrade */
	size_t set_len;
	/* listeners the workers accept on: valid until they stop accepting */
	int listen_fds[DP_MAX_WORKERS];
	unsigned nlisten;
	char exe[PATH_MAX];          /* this binary as named at start-up */
	char **argv;
	struct handover *upgrade;    /* in progress, or NULL */
	uint64_t upgrade_ms;         /* when SIGUSR2 came */
	pid_t successor;             /* took over from us, or 0 */
	bool handed_over;            /* draining for a successor */
	bool stop_signalled;         /* SIGTERM or SIGINT came */
	uint64_t watchdog_ms;        /* ping period, 0 = no watchdog */
	uint64_t workers_ok_ms;      /* every worker last seen progressing */
	bool watchdog_held;          /* pings withheld (logged once) */
	struct evloop_timer watchdog_timer;
};


/* ---- dp_main.c ---------------------------------------------------------- */

/* Workers dataplane.workers asks for ("auto": one per core), 1..64. */
unsigned dp_worker_count(const struct config *cfg);

/* Makes m the served set, kept encoded in dp->set_buf; persist also
 * writes it to the state file. Returns 0, or -1 when memory ran out. */
int dp_apply_set(struct dp *dp, const struct proto_active_set *m,
    bool persist, const char *source);

/* Serves the state file's set, if there is a valid one (logs why not). */
void dp_load_state(struct dp *dp);

/* Opens listeners until there are n. Returns 0, or -1 with err (the ones
 * opened by this call closed again). */
int dp_open_listeners(struct dp *dp, unsigned n, char *err, size_t errlen);

/* Stops accepting and lets open connections finish for drain_timeout,
 * then stops the loop. */
void dp_begin_drain(struct dp *dp);

/* STATUS= for systemctl status (none once a successor took over). */
void dp_notify_status(struct dp *dp);

/* ---- dp_upgrade.c ------------------------------------------------------- */

/* Remembers the binary and the arguments an upgrade starts again. */
void dp_upgrade_remember_exe(struct dp *dp, char **argv);

/* SIGUSR2: starts an upgrade, or logs why not (one in progress, stopping).
 * The outcome comes later, from the loop. */
void dp_upgrade_start(struct dp *dp);

/* SIGCHLD: reaps every child (the upgrade's process, or the one that took
 * over from us and has ended). */
void dp_upgrade_reap(struct dp *dp);

/* In a process started by an upgrade: takes the listeners and the set
 * from the old process over chan. Returns the number of workers to run,
 * or -1 after telling the old process why not. */
int dp_upgrade_take_over(struct dp *dp, int chan);

#endif
