/*
 * Load balancing over the active set: least_connections, round_robin and
 * random. Pure: the caller passes each backend's connection count and the
 * backends already tried for this client. One struct lb per worker.
 */
#ifndef TCPFWD_DP_LB_H
#define TCPFWD_DP_LB_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/config.h"

/* Backends tried for one client (first dial plus at most two retries). */
#define LB_MAX_TRIES 3

struct lb {
	uint32_t next;  /* round-robin cursor; also breaks least-conn ties */
	uint64_t rng;   /* xorshift64* state, never 0 */
};

void lb_init(struct lb *lb, uint64_t seed);

/*
 * Picks an index in [0, n) that is not in tried[0..ntried), using algo
 * (enum lb_algorithm). conns[i] is backend i's open connections (read only
 * by least_connections; may be NULL otherwise). Returns -1 when n is 0 or
 * every backend was tried.
 */
int lb_pick(struct lb *lb, int algo, const uint32_t *conns, unsigned n,
    const unsigned *tried, unsigned ntried);

/* Next pseudo-random value (also used for jitter). */
uint64_t lb_random(struct lb *lb);

#endif
