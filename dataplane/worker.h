/*
 * Data-plane workers: one thread, one event loop, one SO_REUSEPORT
 * listener each; a worker owns its sessions, pools and pipes and never
 * locks on the data path. struct worker is shared by the modules that run
 * inside a worker thread (session, pool, listener); dp_main uses only the
 * workers_* group API.
 */
#ifndef TCPFWD_DP_WORKER_H
#define TCPFWD_DP_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/config.h"
#include "../common/evloop.h"
#include "../proto/proto.h"
#include "activeset.h"
#include "lb.h"
#include "listener.h"

struct pool;
struct pipes;
struct session;
struct workers;

/* What a worker takes from the configuration; swapped whole on reload. */
struct dp_settings {
	struct pools_conf pools;
	struct limits_conf limits;
	uint64_t keepalive_ms;
	uint32_t max_connections;
	size_t pipe_size;
	unsigned nworkers;
};

/* Counters a worker alone writes and the main thread reads. */
struct worker_stats {
	atomic_uint_least64_t connections_total;
	atomic_uint_least64_t bytes_in;
	atomic_uint_least64_t bytes_out;
	atomic_uint_least64_t errors[PROTO_ERR_COUNT];
	atomic_uint_least64_t duration_buckets[PROTO_DURATION_BUCKETS];
	atomic_uint_least64_t duration_count;
	atomic_uint_least64_t duration_ms_sum;
	atomic_uint sessions;   /* open client connections */
	atomic_uint waiting;    /* clients held for lack of a set */
};

/* An intrusive list of sessions. */
struct session_list {
	struct session *head, *tail;
	unsigned n;
};

struct worker {
	unsigned id;
	pthread_t thread;
	struct workers *group;
	struct evloop *loop;
	struct listener listener;
	struct dp_settings settings;
	struct activeset *set;      /* the snapshot served; may be NULL */
	struct pool **pools;        /* index-aligned with set->backends */
	struct pipes *pipes;
	struct lb lb;
	uint64_t seen_version;      /* of the group's published state */
	uint64_t next_session_id;
	bool draining;              /* a departed backend still has sessions */
	bool stopping;              /* listener closed, finishing sessions */
	struct session_list established; /* least recently active first */
	struct session_list dialing;     /* oldest dial first */
	struct session_list waiting;     /* oldest first: no set yet */
	struct session *ready_head;      /* budget used up: pump again */
	struct session *ready_tail;
	struct evloop_timer sweep_timer;
	struct evloop_timer scale_timer;
	struct worker_stats stats;
	atomic_uint_least64_t beats;  /* sweeps run; read by the watchdog */
	uint64_t beats_seen;          /* main thread only */
};

/* Starts n workers, one per listening fd (the workers take the fds).
 * Returns 0, or -1 with err (no worker left running). */
int workers_start(unsigned n, const int *listen_fds,
    const struct dp_settings *settings, struct activeset *set,
    struct workers **out, char *err, size_t errlen);

/* Hands a new set to every worker (takes a reference of its own). */
void workers_publish_set(struct workers *g, struct activeset *set);
/* Hands new settings to every worker (copied). */
void workers_publish_settings(struct workers *g, const struct dp_settings *s);
/* Workers close their listeners and finish the sessions they have. */
void workers_stop_accepting(struct workers *g);
/* Sum of every worker's counters. */
void workers_stats(struct workers *g, struct proto_report *r);
/* Client connections open, all workers. */
unsigned workers_sessions(struct workers *g);
/* True when every worker's loop has run (its sweep timer fired) since the
 * previous call or the start; otherwise false with the first that has not
 * in *stuck. For the watchdog: main thread only. */
bool workers_progressed(struct workers *g, unsigned *stuck);
/* Number of workers. */
unsigned workers_count(const struct workers *g);
/* Stops the loops (closing what is left), joins the threads, frees. */
void workers_free(struct workers *g);

/* ---- used inside worker threads ----------------------------------------- */

/* The group-wide count of client connections, for max_connections. */
atomic_uint *worker_conn_gauge(struct worker *w);

/* The per-client-IP limits shared by the group's workers. */
struct limits *worker_limits(struct worker *w);

void session_list_append(struct session_list *l, struct session *s);
void session_list_remove(struct session_list *l, struct session *s);

/* Counts one error of kind k. */
static inline void
worker_count_error(struct worker *w, enum proto_err_kind k)
{
	atomic_fetch_add_explicit(&w->stats.errors[k], 1,
	    memory_order_relaxed);
}

#endif
