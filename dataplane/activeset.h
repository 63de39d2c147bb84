/*
 * The active set as the data plane serves it: an immutable, reference
 * counted snapshot of backends, published by the main thread and picked up
 * by each worker at its next loop iteration. Workers read the version
 * counter without a lock; the lock is taken only when it changed.
 */
#ifndef TCPFWD_DP_ACTIVESET_H
#define TCPFWD_DP_ACTIVESET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "backend.h"

struct activeset {
	atomic_uint refs;
	char instance[PROTO_ID_LEN + 1];
	uint64_t generation;
	uint64_t changed_at_ms;
	char reason[PROTO_REASON_LEN];
	unsigned n;
	struct backend *backends[]; /* each holds a reference */
};

/* The main thread's list of every backend it knows: in the set or still
 * draining connections. */
struct backend_registry {
	unsigned n, cap;
	struct backend **items; /* each holds a reference */
};

/*
 * Builds a snapshot from a decoded message, reusing the registry's backend
 * objects for addresses it already knows (so their counters and
 * connections carry over) and adding new ones. Returns NULL when memory
 * runs out (registry unchanged then).
 */
struct activeset *activeset_from_proto(const struct proto_active_set *m,
    struct backend_registry *reg);

/* Fills m from a snapshot (for the state file). */
void activeset_to_proto(const struct activeset *set,
    struct proto_active_set *m);

void activeset_ref(struct activeset *set);
/* Drops a reference; frees at zero (dropping backend references). NULL ok. */
void activeset_unref(struct activeset *set);

/* Marks in_set on the registry's backends from set, and drops backends
 * that are neither in it nor hold connections. */
void registry_update(struct backend_registry *reg,
    const struct activeset *set);
void registry_free(struct backend_registry *reg);

/*
 * True when a message should replace the set being served: a different
 * control-plane instance, or the same instance with a newer generation.
 */
bool activeset_is_newer(const struct activeset *cur,
    const struct proto_active_set *m);

#endif
