/*
 * Backends shared by the data plane's workers: creation, references,
 * dial accounting and report snapshots.
 */
#include <stdlib.h>

#include "backend.h"

struct backend *
backend_new(const struct addr *addr)
{
	struct backend *be;

	be = calloc(1, sizeof(*be));
	if (be == NULL)
		return NULL;
	be->addr = *addr;
	addr_format(addr, be->name, sizeof(be->name));
	atomic_init(&be->refs, 1);
	return be;
}

void
backend_ref(struct backend *be)
{
	atomic_fetch_add_explicit(&be->refs, 1, memory_order_relaxed);
}

void
backend_unref(struct backend *be)
{
	if (be == NULL)
		return;
	if (atomic_fetch_sub_explicit(&be->refs, 1, memory_order_acq_rel) == 1)
		free(be);
}

void
backend_dial_result(struct backend *be, enum backend_dial r, uint64_t dial_us)
{
	unsigned i;

	switch (r) {
	case BACKEND_DIAL_OK:
		counter_add(&be->dials_ok, 1);
		counter_add(&be->dial_us_sum, dial_us);
		/* Slower than the last bound: only in dials_ok (+Inf). */
		for (i = 0; i < PROTO_DIAL_BUCKETS; i++)
			if (dial_us <= proto_dial_bounds_us[i])
				break;
		if (i < PROTO_DIAL_BUCKETS)
			counter_add(&be->dial_buckets[i], 1);
		break;
	case BACKEND_DIAL_FAILED:
		counter_add(&be->dials_failed, 1);
		break;
	case BACKEND_DIAL_TIMEOUT:
		counter_add(&be->dials_timeout, 1);
		break;
	}
}

void
backend_snapshot(struct backend *be, struct proto_report_backend *out)
{
	unsigned i;

	out->addr = be->addr;
	out->active = atomic_load(&be->in_set);
	out->connections = counter_get(&be->conns);
	out->pool_idle = counter_get(&be->pool_idle);
	out->pool_target = counter_get(&be->pool_target);
	out->pool_peak = counter_get(&be->pool_peak);
	out->connections_total = counter_get(&be->connections_total);
	out->lb_picks = counter_get(&be->lb_picks);
	out->pool_hits = counter_get(&be->pool_hits);
	out->pool_misses = counter_get(&be->pool_misses);
	out->pool_scale_ups = counter_get(&be->pool_scale_ups);
	out->pool_scale_downs = counter_get(&be->pool_scale_downs);
	out->dials_ok = counter_get(&be->dials_ok);
	out->dials_failed = counter_get(&be->dials_failed);
	out->dials_timeout = counter_get(&be->dials_timeout);
	out->dial_us_sum = counter_get(&be->dial_us_sum);
	for (i = 0; i < PROTO_DIAL_BUCKETS; i++)
		out->dial_buckets[i] = counter_get(&be->dial_buckets[i]);
	out->bytes_in = counter_get(&be->bytes_in);
	out->bytes_out = counter_get(&be->bytes_out);
}
