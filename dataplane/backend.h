/*
 * A backend as the data plane's workers share it: its address and the
 * counters every worker updates (atomics, relaxed). Reference counted: the
 * active-set snapshots, the registry and every session hold a reference.
 */
#ifndef TCPFWD_DP_BACKEND_H
#define TCPFWD_DP_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/addr.h"
#include "../proto/proto.h"

struct backend {
	struct addr addr;
	char name[ADDR_STRLEN];
	atomic_uint refs;
	atomic_bool in_set;          /* member of the newest active set */
	atomic_uint conns;           /* client connections on it now */
	atomic_uint pool_idle;       /* summed over workers */
	atomic_uint pool_target;
	atomic_uint pool_peak;
	atomic_uint_least64_t connections_total;
	atomic_uint_least64_t lb_picks;
	atomic_uint_least64_t pool_hits;
	atomic_uint_least64_t pool_misses;
	atomic_uint_least64_t pool_scale_ups;
	atomic_uint_least64_t pool_scale_downs;
	atomic_uint_least64_t dials_ok;
	atomic_uint_least64_t dials_failed;
	atomic_uint_least64_t dials_timeout;
	atomic_uint_least64_t dial_us_sum;
	atomic_uint_least64_t dial_buckets[PROTO_DIAL_BUCKETS];
	atomic_uint_least64_t bytes_in;
	atomic_uint_least64_t bytes_out;
};

/* A new backend with one reference, or NULL when memory runs out. */
struct backend *backend_new(const struct addr *addr);
void backend_ref(struct backend *be);
/* Drops a reference; frees at zero. Accepts NULL. */
void backend_unref(struct backend *be);

/* Records the outcome of one real dial (pool or direct). */
enum backend_dial {
	BACKEND_DIAL_OK = 0,
	BACKEND_DIAL_FAILED,
	BACKEND_DIAL_TIMEOUT,
};
void backend_dial_result(struct backend *be, enum backend_dial r,
    uint64_t dial_us);

/* Copies the counters into a report entry (active from in_set). */
void backend_snapshot(struct backend *be, struct proto_report_backend *out);

#define counter_add(c, n) atomic_fetch_add_explicit((c), (n), \
    memory_order_relaxed)
#define counter_sub(c, n) atomic_fetch_sub_explicit((c), (n), \
    memory_order_relaxed)
#define counter_get(c) atomic_load_explicit((c), memory_order_relaxed)

#endif
