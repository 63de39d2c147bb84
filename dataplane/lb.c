/*
 * The three balancing algorithms. Least connections scans from a rotating
 * start so equal counts spread evenly instead of piling on backend 0.
 */
#include "lb.h"

void
lb_init(struct lb *lb, uint64_t seed)
{
	lb->next = 0;
	lb->rng = seed != 0 ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t
lb_random(struct lb *lb)
{
	uint64_t x = lb->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	lb->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static bool
was_tried(unsigned i, const unsigned *tried, unsigned ntried)
{
	unsigned k;

	for (k = 0; k < ntried; k++)
		if (tried[k] == i)
			return true;
	return false;
}

static int
pick_least(struct lb *lb, const uint32_t *conns, unsigned n,
    const unsigned *tried, unsigned ntried)
{
	unsigned k, i, start = lb->next % n;
	int best = -1;

	for (k = 0; k < n; k++) {
		i = (start + k) % n;
		if (was_tried(i, tried, ntried))
			continue;
		if (best == -1 || conns[i] < conns[best])
			best = (int)i;
	}
	lb->next = start + 1;
	return best;
}

static int
pick_round_robin(struct lb *lb, unsigned n, const unsigned *tried,
    unsigned ntried)
{
	unsigned k, i;

	for (k = 0; k < n; k++) {
		i = lb->next++ % n;
		if (!was_tried(i, tried, ntried))
			return (int)i;
	}
	return -1;
}

static int
pick_random(struct lb *lb, unsigned n, const unsigned *tried,
    unsigned ntried)
{
	unsigned left = n, k, i, skip;

	for (k = 0; k < n; k++)
		if (was_tried(k, tried, ntried))
			left--;
	if (left == 0)
		return -1;
	/* Uniform over the untried ones: take the skip-th untried index. */
	skip = (unsigned)(lb_random(lb) % left);
	for (i = 0; i < n; i++) {
		if (was_tried(i, tried, ntried))
			continue;
		if (skip-- == 0)
			return (int)i;
	}
	return -1;
}

int
lb_pick(struct lb *lb, int algo, const uint32_t *conns, unsigned n,
    const unsigned *tried, unsigned ntried)
{
	if (n == 0)
		return -1;
	switch (algo) {
	case LB_LEAST_CONNECTIONS:
		return pick_least(lb, conns, n, tried, ntried);
	case LB_RANDOM:
		return pick_random(lb, n, tried, ntried);
	case LB_ROUND_ROBIN:
	default:
		return pick_round_robin(lb, n, tried, ntried);
	}
}
