/*
 * Draws candidate addresses from the CIDR ranges of the IP list, so the
 * control plane can look for the good part of a big range while tracking
 * a bounded number of addresses (remotes.provider.max_tracked). Pure code:
 * no sockets, no clock; a seeded PRNG makes every draw reproducible.
 *
 * Sampling. A range holds its addresses with its port: "10.0.0.0/16:443"
 * never yields 10.0.1.2:80. IPv4 ranges shorter than /31 never yield
 * their network and broadcast addresses.
 *
 * Weighting (explore). A range is picked with weight w(b), b its host
 * bits: w = its candidate count while b <= 16 (every range up to a v4 /16
 * or a v6 /112 is sampled in proportion to its size, so the union of such
 * ranges is sampled uniformly), and w = 65536 * b / 16 beyond (each
 * further doubling adds a sixteenth of a /16). Pure size weighting would
 * let a v6 /32 (2^96 addresses) take all but 2^-80 of the draws from a
 * v4 /16 listed beside it; a probing round has tens of draws, so the /16
 * would never be looked at. With w, a v6 /32 gets 6 shares to the /16's
 * one and a v4 /8 1.5 shares: bigger ranges still get more draws, but
 * every range a user lists gets a steady part of every round.
 *
 * Exploit. Draws near a good address: inside its /24 (IPv4) or /120
 * (IPv6), or inside its range when the range is smaller, never the
 * address itself.
 *
 * Planning (sampler_plan). Per round, with room for up to budget new
 * addresses:
 *   - Active and explicit (listed one by one) entries are never evicted.
 *   - Evictable entries rank: "dead" (no answer after SAMPLER_DEAD_PROBES
 *     probes or more; most probes first), then scored ones (lowest score
 *     first), then "pending" ones (fewer probes than that, no answer yet).
 *   - To make room, only dead entries and the worse half of the scored
 *     evictable ones may go, and only as many as the new ones need: the
 *     better half stays to seed exploit draws, pending ones get their
 *     probes first.
 *   - When there are more entries than max_tracked (max_tracked lowered
 *     by a reload), the plan only shrinks, down to max_tracked or to the
 *     unevictable entries: dead ones first, then pending ones, then scored
 *     ones from the lowest score up, so the best known go last.
 *   - New addresses: when some scored address lies in a range, half of
 *     them are exploit draws around the SAMPLER_SEEDS best such addresses
 *     in turn, the rest explore draws; otherwise all explore. Explore
 *     draws first look for a neighbourhood (/24, /120) no tracked or
 *     chosen address is in: a dead /24 is not worth a second look, a good
 *     one is exploit's business. Draws that hit a tracked or already
 *     chosen address are retried a few times, then given up (a small
 *     range runs out of new addresses).
 * The result never exceeds max_tracked and never holds a duplicate.
 */
#ifndef TCPFWD_SAMPLER_H
#define TCPFWD_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/addr.h"
#include "../common/iplist.h"

/* Probes without any answer after which an address counts as dead. */
#define SAMPLER_DEAD_PROBES	3
/* How many of the best scored range addresses seed exploit draws. */
#define SAMPLER_SEEDS		8

struct sampler;

/* One tracked address, as the caller knows it. Higher scores are better. */
struct sampler_tracked {
	struct addr	st_addr;
	double		st_score;	/* meaningful when st_scored */
	unsigned	st_probes;	/* probes sent so far */
	bool		st_scored;	/* has answered at least once */
	bool		st_active;	/* in the active set */
	bool		st_explicit;	/* listed one by one in the IP list */
};

/*
 * One round's plan. sp_evict holds indexes into the tracked array, worst
 * first; sp_add holds new addresses, the sp_nexploit exploit draws first.
 * Both arrays belong to the plan: release them with sampler_plan_free().
 */
struct sampler_plan {
	unsigned	*sp_evict;
	unsigned	 sp_nevict;
	struct addr	*sp_add;
	unsigned	 sp_nadd;
	unsigned	 sp_nexploit;
};

/*
 * Builds a sampler over list's ranges (single addresses are not its
 * business) with the PRNG seeded from seed. The sampler copies what it
 * needs and keeps no pointer into list. A list without ranges is fine
 * (every draw then fails). Returns 0 with *out set, or -1 with errno:
 * ENOMEM, or EINVAL when the ranges are not sorted and nest-free as
 * iplist_parse() leaves them; *out is untouched on failure.
 */
int sampler_new(const struct iplist *list, uint64_t seed,
    struct sampler **out);

/* Frees the sampler; accepts NULL. */
void sampler_free(struct sampler *s);

/*
 * Draws a candidate from the union of the ranges, weighted as described
 * above, uniform inside the chosen range. Returns 0 with *out set, or -1
 * when there are no ranges.
 */
int sampler_explore(struct sampler *s, struct addr *out);

/*
 * Draws a candidate other than near from near's neighbourhood (/24 or
 * /120, clipped to the range). Returns 0 with *out set, or -1 when near
 * lies in no range (same port) or its neighbourhood holds no other
 * candidate.
 */
int sampler_exploit(struct sampler *s, const struct addr *near,
    struct addr *out);

/* True when a is a candidate some range could yield (port included). */
bool sampler_contains(const struct sampler *s, const struct addr *a);

/* Number of ranges the sampler draws from. */
size_t sampler_nranges(const struct sampler *s);

/* Bytes the sampler holds: a fixed part plus one entry per range. */
size_t sampler_memsize(const struct sampler *s);

/*
 * Plans one probing round over the n_tracked entries of tracked (never
 * modified), following the policy above: at most budget additions, never
 * more than max_tracked entries after the plan is applied (evictions
 * first, then additions), unless active and explicit entries alone
 * exceed it. Uses the PRNG, so equal seeds and equal inputs give equal
 * plans. Returns 0 with *out filled, or -1 (ENOMEM) with *out untouched.
 */
int sampler_plan(struct sampler *s, const struct sampler_tracked *tracked,
    unsigned n_tracked, unsigned max_tracked, unsigned budget,
    struct sampler_plan *out);

/* Frees a plan's arrays and zeroes it; accepts NULL and a zeroed plan. */
void sampler_plan_free(struct sampler_plan *p);

#endif
