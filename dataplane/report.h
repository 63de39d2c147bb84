/*
 * The data plane's report to the control plane: its identity, the set it
 * serves, its counters and, per backend it holds, connections, pool
 * figures, bytes and dial outcomes. Built by the main thread once a second.
 */
#ifndef TCPFWD_DP_REPORT_H
#define TCPFWD_DP_REPORT_H

#include <stdint.h>

#include "../proto/proto.h"
#include "activeset.h"
#include "worker.h"

struct report_source {
	const char *dp_id;
	uint64_t start_ms;          /* monotonic */
	struct workers *workers;
	struct backend_registry *registry;
	const struct activeset *serving;
	uint64_t ipc_dropped;
};

/* Fills r (cleared first). */
void report_build(struct proto_report *r, const struct report_source *src,
    uint64_t now_ms);

#endif
