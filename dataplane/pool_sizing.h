/*
 * How many pre-connected sockets a worker keeps for one backend. Pure
 * functions over the pool settings, so every rule is unit tested:
 *   static:  size_per_remote
 *   dynamic: desired = ceil(recent peak concurrency * (1 + buffer ratio)),
 *            clamped to [min_size, max_size]; the target moves towards it by
 *            at most scale_up_increment / scale_down_increment per interval
 *   none:    0
 * "Peak concurrency" is the most client connections open at once on the
 * backend in this worker, over the last POOL_SIZING_WINDOW intervals. Sizes
 * in the config are per backend for the whole data plane; each of n workers
 * keeps ceil(size / n).
 */
#ifndef TCPFWD_DP_POOL_SIZING_H
#define TCPFWD_DP_POOL_SIZING_H

#include <stdint.h>

#include "../common/config.h"

#define POOL_SIZING_WINDOW 10

struct pool_sizing {
	uint32_t peaks[POOL_SIZING_WINDOW]; /* per-interval peaks, a ring */
	unsigned pos;
	uint32_t cur_peak;   /* peak in the interval under way */
	uint32_t target;     /* what the pool steers its idle count to */
};

/* Starts a backend's sizing: the target begins at the floor (min_size or
 * size_per_remote, per worker). */
void pool_sizing_init(struct pool_sizing *ps, const struct pools_conf *pc,
    unsigned nworkers);

/* Feeds the current concurrency (call whenever it rises). */
void pool_sizing_observe(struct pool_sizing *ps, uint32_t concurrency);

/* The largest peak in the window, including the interval under way. */
uint32_t pool_sizing_recent_peak(const struct pool_sizing *ps);

/* The per-worker target the settings ask for at this peak (no steps). */
uint32_t pool_sizing_desired(const struct pools_conf *pc, unsigned nworkers,
    uint32_t recent_peak);

/*
 * Ends an interval: moves the target one step towards the desired size and
 * starts a new interval whose peak begins at concurrency_now. Returns +1 if
 * the target grew, -1 if it shrank, 0 otherwise.
 */
int pool_sizing_tick(struct pool_sizing *ps, const struct pools_conf *pc,
    unsigned nworkers, uint32_t concurrency_now);

#endif
