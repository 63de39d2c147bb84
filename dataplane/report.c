/*
 * Report assembly: worker counters summed, backends from the registry.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "report.h"

void
report_build(struct proto_report *r, const struct report_source *src,
    uint64_t now_ms)
{
	struct backend_registry *reg = src->registry;
	unsigned i;

	memset(r, 0, offsetof(struct proto_report, backends));
	snprintf(r->dp_id, sizeof(r->dp_id), "%s", src->dp_id);
	r->uptime_ms = now_ms - src->start_ms;
	r->pid = (uint32_t)getpid();
	if (src->serving != NULL) {
		memcpy(r->serving_instance, src->serving->instance,
		    sizeof(r->serving_instance));
		r->serving_generation = src->serving->generation;
	}
	r->workers = workers_count(src->workers);
	workers_stats(src->workers, r);
	r->ipc_dropped = src->ipc_dropped;
	for (i = 0; i < reg->n && i < PROTO_MAX_REPORT_BACKENDS; i++)
		backend_snapshot(reg->items[i], &r->backends[i]);
	r->n_backends = i;
}
