/*
 * The data planes the control plane hears from: one record per data-plane
 * process (by dp_id), built from its reports. Folding a report turns its
 * cumulative counters into deltas (a restarted data plane starts again
 * from zero) that are added to the control plane's own totals, sums the
 * live figures per backend into the scoreboard, and feeds real dial
 * outcomes into the scores (passive health).
 */
#ifndef TCPFWD_CP_DATAPLANES_H
#define TCPFWD_CP_DATAPLANES_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/config.h"
#include "../proto/proto.h"
#include "scoreboard.h"

/* A data plane silent this long is considered gone. */
#define DATAPLANES_TIMEOUT_MS 5000
/* ... or this long when its process is known to have exited. */
#define DATAPLANES_EXITED_MS 2000

/* Totals over every data plane ever heard, monotonic. */
struct dp_totals {
	uint64_t connections_total;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t errors[PROTO_ERR_COUNT];
	uint64_t duration_buckets[PROTO_DURATION_BUCKETS]; /* not cumul. */
	uint64_t duration_count;
	uint64_t duration_ms_sum;
	uint64_t ipc_dropped;
	uint64_t reports;
};

/* One data plane as last reported (read-only outside dataplanes.c). */
struct dp_info {
	char dp_id[PROTO_ID_LEN + 1];
	uint32_t pid;
	uint32_t workers;
	uint64_t uptime_ms;
	uint64_t first_seen_ms;       /* monotonic */
	uint64_t last_seen_ms;        /* monotonic */
	char serving_instance[PROTO_ID_LEN + 1];
	uint64_t serving_generation;
	uint32_t connections_active;
	uint32_t clients_waiting;
	uint64_t connections_total;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint32_t n_backends;          /* backends it holds */
	uint32_t n_active;            /* of which in its served set */
};

struct dataplanes;

int dataplanes_new(struct dataplanes **out);
void dataplanes_free(struct dataplanes *d);

/*
 * Folds one decoded report received at now_ms: updates (or creates) the
 * data plane's record, adds its counter deltas to the totals and to the
 * scoreboard entries of its backends, feeds dial outcomes into their
 * scores (score_passive), and refreshes every entry's live figures.
 * Backends the report names that the scoreboard does not track are added
 * when add_unknown is set (a restarted control plane learning the set).
 */
void dataplanes_fold(struct dataplanes *d, const struct proto_report *r,
    uint64_t now_ms, struct scoreboard *sb, const struct scoring_conf *sc,
    bool add_unknown);

/*
 * Forgets data planes silent for DATAPLANES_TIMEOUT_MS, with a warning, or
 * for DATAPLANES_EXITED_MS when the pids are local and the process is gone
 * (an upgrade's old process, a clean stop), quietly (their live figures
 * leave the scoreboard). Returns how many were dropped.
 */
unsigned dataplanes_expire(struct dataplanes *d, uint64_t now_ms,
    struct scoreboard *sb);

/*
 * The reports' pids are this host's (an ipc:// channel), so a silent data
 * plane's process can be looked up. Off by default: a pid from another
 * host or pid namespace means nothing here.
 */
void dataplanes_set_local(struct dataplanes *d, bool local);

/* Recomputes every scoreboard entry's live figures from the records. */
void dataplanes_refresh_live(struct dataplanes *d, struct scoreboard *sb);

/* Data planes heard within the timeout. */
unsigned dataplanes_count(const struct dataplanes *d);
const struct dp_info *dataplanes_at(const struct dataplanes *d, unsigned i);
const struct dp_totals *dataplanes_totals(const struct dataplanes *d);

/* The set the data planes serve, as the newest report says: fills ids and
 * returns 1 when one exists, 0 when none serves a set. The backends are
 * those its latest report marks active. */
int dataplanes_served_set(const struct dataplanes *d,
    char instance[PROTO_ID_LEN + 1], uint64_t *generation,
    struct addr *members, unsigned *n, unsigned max);

#endif
