/*
 * Pool sizing rules (see pool_sizing.h); no sockets, no clocks.
 */
#include <math.h>
#include <string.h>

#include "pool_sizing.h"

static uint32_t
per_worker(uint32_t size, unsigned nworkers)
{
	if (nworkers <= 1)
		return size;
	return (uint32_t)(((uint64_t)size + nworkers - 1) / nworkers);
}

uint32_t
pool_sizing_desired(const struct pools_conf *pc, unsigned nworkers,
    uint32_t recent_peak)
{
	uint32_t lo, hi;
	double want;

	switch (pc->strategy.type) {
	case POOL_STRATEGY_STATIC:
		return per_worker(pc->strategy.static_.size_per_remote,
		    nworkers);
	case POOL_STRATEGY_DYNAMIC:
		break;
	default:
		return 0;
	}
	lo = per_worker(pc->strategy.dynamic.min_size, nworkers);
	hi = per_worker(pc->strategy.dynamic.max_size, nworkers);
	want = ceil((double)recent_peak *
	    (1.0 + pc->strategy.dynamic.scaling.target_buffer_ratio));
	if (want < lo)
		return lo;
	if (want > hi)
		return hi;
	return (uint32_t)want;
}

void
pool_sizing_init(struct pool_sizing *ps, const struct pools_conf *pc,
    unsigned nworkers)
{
	memset(ps, 0, sizeof(*ps));
	ps->target = pool_sizing_desired(pc, nworkers, 0);
}

void
pool_sizing_observe(struct pool_sizing *ps, uint32_t concurrency)
{
	if (concurrency > ps->cur_peak)
		ps->cur_peak = concurrency;
}

uint32_t
pool_sizing_recent_peak(const struct pool_sizing *ps)
{
	uint32_t peak = ps->cur_peak;
	unsigned i;

	for (i = 0; i < POOL_SIZING_WINDOW; i++)
		if (ps->peaks[i] > peak)
			peak = ps->peaks[i];
	return peak;
}

int
pool_sizing_tick(struct pool_sizing *ps, const struct pools_conf *pc,
    unsigned nworkers, uint32_t concurrency_now)
{
	uint32_t desired, step, old = ps->target;

	desired = pool_sizing_desired(pc, nworkers,
	    pool_sizing_recent_peak(ps));
	if (pc->strategy.type != POOL_STRATEGY_DYNAMIC) {
		ps->target = desired;
	} else if (desired > ps->target) {
		step = pc->strategy.dynamic.scaling.scale_up_increment;
		ps->target = desired - ps->target > step ? ps->target + step :
		    desired;
	} else if (desired < ps->target) {
		step = pc->strategy.dynamic.scaling.scale_down_increment;
		ps->target = ps->target - desired > step ? ps->target - step :
		    desired;
	}
	ps->peaks[ps->pos] = ps->cur_peak;
	ps->pos = (ps->pos + 1) % POOL_SIZING_WINDOW;
	ps->cur_peak = concurrency_now;
	if (ps->target > old)
		return 1;
	return ps->target < old ? -1 : 0;
}
