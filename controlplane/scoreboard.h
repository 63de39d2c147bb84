/*
 * The control plane's scoreboard: every tracked backend with its score
 * state, probe history, operator flags and the live figures the data
 * planes report for it. Indexed by address (hash) and by a stable id (the
 * selector's). Persisted to controlplane.state_file so scores and the
 * stability bonus survive restarts.
 */
#ifndef TCPFWD_CP_SCOREBOARD_H
#define TCPFWD_CP_SCOREBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/addr.h"
#include "../proto/proto.h"
#include "score.h"

enum sb_state {
	SB_CANDIDATE = 0, /* tracked, not serving */
	SB_ACTIVE,        /* in the active set */
	SB_DISABLED,      /* taken out by the operator */
	SB_DRAINING,      /* left the set, data planes still hold clients */
};

/* What the data planes said about a backend in their latest reports,
 * summed over data planes. */
struct sb_live {
	uint32_t connections;
	uint32_t pool_idle;
	uint32_t pool_target;
	uint32_t pool_peak;
	uint32_t dataplanes;    /* data planes holding it */
};

/* Data-plane counters for a backend, accumulated by the control plane
 * from report deltas: monotonic even when a data plane restarts. */
struct sb_dp_totals {
	uint64_t connections_total;
	uint64_t lb_picks;
	uint64_t pool_hits;
	uint64_t pool_misses;
	uint64_t pool_scale_ups;
	uint64_t pool_scale_downs;
	uint64_t dials_ok;
	uint64_t dials_failed;
	uint64_t dials_timeout;
	uint64_t dial_us_sum;
	uint64_t dial_buckets[PROTO_DIAL_BUCKETS];
	uint64_t bytes_in;
	uint64_t bytes_out;
};

struct sb_entry {
	struct addr addr;
	char name[ADDR_STRLEN];
	uint32_t id;               /* stable while tracked */
	bool listed;               /* named by itself in the IP list */
	bool disabled;             /* operator */
	bool active;               /* member of the set being pushed */
	bool probing;              /* a probe is in flight */
	struct score_state score;
	uint64_t added_ms;         /* monotonic */
	uint64_t last_probe_ms;    /* monotonic; 0 = never probed */
	uint64_t last_probe_unix_ms;
	int last_outcome;          /* enum probe_outcome; -1 = never */
	double last_latency_ms;
	/* probe counters, for metrics */
	uint64_t probes_ok;
	uint64_t probes_failed;
	uint64_t probes_timeout;
	uint64_t probe_buckets[PROTO_DIAL_BUCKETS]; /* not cumulative */
	double probe_seconds_sum;
	struct sb_live live;
	struct sb_dp_totals dp;
};

struct scoreboard;

/* Returns 0 or -1 (out of memory). */
int scoreboard_new(struct scoreboard **out);
void scoreboard_free(struct scoreboard *sb);

/* The entry for a, or NULL. */
struct sb_entry *scoreboard_find(const struct scoreboard *sb,
    const struct addr *a);
struct sb_entry *scoreboard_by_id(const struct scoreboard *sb, uint32_t id);

/* The entry for a, created (fresh score, new id) when missing; NULL when
 * memory runs out. */
struct sb_entry *scoreboard_add(struct scoreboard *sb, const struct addr *a,
    uint64_t now_ms);

/* Forgets e (the pointer dies). */
void scoreboard_remove(struct scoreboard *sb, struct sb_entry *e);

/* Iteration: entries 0 .. count-1. A removal may reorder them. */
unsigned scoreboard_count(const struct scoreboard *sb);
struct sb_entry *scoreboard_at(const struct scoreboard *sb, unsigned i);

/* Bytes the scoreboard holds (for the tracked-memory figure). */
size_t scoreboard_memsize(const struct scoreboard *sb);

enum sb_state sb_entry_state(const struct sb_entry *e);
const char *sb_state_name(enum sb_state s);

/* What the state file holds besides the entries. */
struct sb_saved_set {
	char instance[PROTO_ID_LEN + 1];
	uint64_t generation;
	uint64_t changed_at_ms;       /* unix ms */
	char reason[PROTO_REASON_LEN];
	uint32_t n;
	struct addr members[PROTO_MAX_SET];
};

/*
 * The state file: {"v":1,"saved_at_ms":..,"set":{..},"backends":[{"addr":
 * "..","disabled":..,"listed":..,"score":{every score_state field}}, ...]}.
 * Encode returns a new buffer (caller frees) or NULL.
 */
char *scoreboard_encode(const struct scoreboard *sb,
    const struct sb_saved_set *set, uint64_t now_unix_ms, size_t *len);

/*
 * Restores entries from a state file into sb (which should be empty),
 * keeping only addresses keep() accepts (still covered by the IP list).
 * Entries with bad fields are skipped and counted in *skipped. Returns 0,
 * or -1 with err when the file as a whole is unusable (sb unchanged then).
 */
int scoreboard_decode(struct scoreboard *sb, const char *buf, size_t len,
    bool (*keep)(void *arg, const struct addr *a), void *arg,
    struct sb_saved_set *set, unsigned *skipped, uint64_t now_ms,
    char *err, size_t errlen);

#endif
