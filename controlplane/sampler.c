/*
 * Candidate sampler: weighted draws from CIDR ranges, draws near good
 * addresses, and the per-round plan of what to track. The policy is
 * described in sampler.h. Control plane only; pure code.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

/* Draws per new address before the plan gives that slot up. */
#define SAMPLER_RETRIES		8
/* Draws near an address before falling back to a scan of its /24. */
#define SAMPLER_EXPLOIT_TRIES	64
/* Host bits up to which a range weighs its size (a v4 /16). */
#define SAMPLER_KNEE_BITS	16

struct sampler_range {
	struct addr_prefix	sr_prefix;
	uint8_t			sr_bits;	/* host bits */
	double			sr_cum;		/* weights up to this one */
};

struct sampler {
	uint64_t		s_rng[4];	/* xoshiro256** state */
	double			s_total;	/* sum of the weights */
	size_t			s_nranges;
	struct sampler_range	s_ranges[];	/* sorted as iplist's */
};

/* Open-addressing set of addresses; family 0 marks an empty slot. */
struct addrset {
	struct addr	*as_slots;
	size_t		 as_mask;
};

/* One plan's new addresses and what they must not repeat. */
struct draws {
	struct addrset	 dr_addrs;	/* tracked and chosen addresses */
	struct addrset	 dr_hoods;	/* and their neighbourhoods */
	struct addr	*dr_add;
	unsigned	 dr_nadd;
	unsigned	 dr_nexploit;
};

/* An evictable tracked entry and its rank: class, then key, then index. */
struct rank {
	unsigned	rk_idx;
	unsigned	rk_class;
	double		rk_key;
};

enum sampler_rank_class {
	SAMPLER_RANK_DEAD = 0,
	SAMPLER_RANK_SCORED,
	SAMPLER_RANK_PENDING,
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z;

	z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(struct sampler *s)
{
	uint64_t *r = s->s_rng, result, t;

	result = rotl(r[1] * 5, 7) * 9;
	t = r[1] << 17;
	r[2] ^= r[0];
	r[3] ^= r[1];
	r[1] ^= r[2];
	r[0] ^= r[3];
	r[2] ^= t;
	r[3] = rotl(r[3], 45);
	return result;
}

/* Uniform in [0, n), n >= 1: masked draws, rejecting those >= n. */
static uint64_t
rng_below(struct sampler *s, uint64_t n)
{
	uint64_t mask = n - 1, v;

	mask |= mask >> 1;
	mask |= mask >> 2;
	mask |= mask >> 4;
	mask |= mask >> 8;
	mask |= mask >> 16;
	mask |= mask >> 32;
	do
		v = rng_next(s) & mask;
	while (v >= n);
	return v;
}

/* Uniform in [0, 1). */
static double
rng_unit(struct sampler *s)
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static uint32_t
v4_get(const uint8_t *ip)
{
	return (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 |
	    (uint32_t)ip[2] << 8 | ip[3];
}

static void
v4_put(uint8_t *ip, uint32_t v)
{
	ip[0] = (uint8_t)(v >> 24);
	ip[1] = (uint8_t)(v >> 16);
	ip[2] = (uint8_t)(v >> 8);
	ip[3] = (uint8_t)v;
}

/* Bits of byte i that belong to a prefix of length len. */
static uint8_t
byte_mask(unsigned len, size_t i)
{
	unsigned bits = len > i * 8 ? len - (unsigned)(i * 8) : 0;

	return bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
}

/* The lookup order: family, port, then address. */
static int
key_cmp(const struct addr *a, const struct addr *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if ((c = memcmp(a->ip, b->ip, addr_ip_len(a))) != 0)
		return c < 0 ? -1 : 1;
	return 0;
}

static double
range_weight(const struct addr_prefix *p)
{
	unsigned bits = iplist_range_bits(p);

	if (bits <= SAMPLER_KNEE_BITS)
		return iplist_range_size(p);
	return ldexp(1.0, SAMPLER_KNEE_BITS) * bits / SAMPLER_KNEE_BITS;
}

/* A range iplist_parse() could have produced, in its place in the order. */
static bool
range_valid(const struct addr_prefix *p, const struct addr_prefix *prev)
{
	size_t i, n;

	if (p->base.family != AF_INET && p->base.family != AF_INET6)
		return false;
	n = addr_ip_len(&p->base);
	if (p->prefix_len > n * 8)
		return false;
	for (i = 0; i < n; i++)
		if ((p->base.ip[i] & ~byte_mask(p->prefix_len, i)) != 0)
			return false;
	if (prev == NULL)
		return true;
	if (key_cmp(&prev->base, &p->base) >= 0)
		return false;
	/* Sorted this way, a nested range would follow its container. */
	return prev->base.family != p->base.family ||
	    prev->base.port != p->base.port ||
	    !addr_prefix_contains(prev, &p->base);
}

int
sampler_new(const struct iplist *list, uint64_t seed, struct sampler **out)
{
	struct sampler *s;
	struct sampler_range *r;
	size_t i, n = list->il_nranges;
	uint64_t x = seed;
	double cum = 0;

	if (n > (SIZE_MAX - sizeof(*s)) / sizeof(*r)) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!range_valid(&list->il_ranges[i],
		    i > 0 ? &list->il_ranges[i - 1] : NULL)) {
			errno = EINVAL;
			return -1;
		}
	}
	if ((s = malloc(sizeof(*s) + n * sizeof(*r))) == NULL)
		return -1;
	for (i = 0; i < 4; i++)
		s->s_rng[i] = splitmix64(&x);
	s->s_nranges = n;
	for (i = 0; i < n; i++) {
		r = &s->s_ranges[i];
		r->sr_prefix = list->il_ranges[i];
		r->sr_bits = (uint8_t)iplist_range_bits(&r->sr_prefix);
		cum += range_weight(&r->sr_prefix);
		r->sr_cum = cum;
	}
	s->s_total = cum;
	*out = s;
	return 0;
}

void
sampler_free(struct sampler *s)
{
	free(s);
}

size_t
sampler_nranges(const struct sampler *s)
{
	return s->s_nranges;
}

size_t
sampler_memsize(const struct sampler *s)
{
	return sizeof(*s) + s->s_nranges * sizeof(s->s_ranges[0]);
}

/* The range holding a with a's port, or NULL. */
static const struct sampler_range *
find_range(const struct sampler *s, const struct addr *a)
{
	const struct sampler_range *r;
	size_t lo = 0, hi = s->s_nranges, mid;

	if (a->family != AF_INET && a->family != AF_INET6)
		return NULL;
	/* Ranges of one family and port are disjoint: the last one that
	 * starts at or before a is the only one that can hold it. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (key_cmp(&s->s_ranges[mid].sr_prefix.base, a) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	r = &s->s_ranges[lo - 1];
	if (r->sr_prefix.base.family != a->family ||
	    r->sr_prefix.base.port != a->port ||
	    !addr_prefix_contains(&r->sr_prefix, a))
		return NULL;
	return r;
}

/* The network or broadcast address of an IPv4 range shorter than /31. */
static bool
is_edge(const struct sampler_range *r, const struct addr *a)
{
	uint32_t host, hostmask;

	if (r->sr_prefix.base.family != AF_INET || r->sr_bits < 2)
		return false;
	hostmask = r->sr_bits >= 32 ? UINT32_MAX :
	    ((uint32_t)1 << r->sr_bits) - 1;
	host = v4_get(a->ip) & hostmask;
	return host == 0 || host == hostmask;
}

static void
draw_in_range(struct sampler *s, const struct sampler_range *r,
    struct addr *out)
{
	const struct addr_prefix *p = &r->sr_prefix;
	uint64_t off, span, rnd[2];
	size_t i;

	*out = p->base;
	if (p->base.family == AF_INET) {
		span = (uint64_t)1 << r->sr_bits;
		if (r->sr_bits >= 2)
			off = 1 + rng_below(s, span - 2);
		else
			off = rng_below(s, span);
		v4_put(out->ip, v4_get(p->base.ip) + (uint32_t)off);
		return;
	}
	rnd[0] = rng_next(s);
	rnd[1] = rng_next(s);
	for (i = 0; i < 16; i++)
		out->ip[i] |= (uint8_t)(rnd[i / 8] >> (i % 8 * 8)) &
		    (uint8_t)~byte_mask(p->prefix_len, i);
}

int
sampler_explore(struct sampler *s, struct addr *out)
{
	size_t lo = 0, hi, mid;
	double u;

	if (s->s_nranges == 0)
		return -1;
	u = rng_unit(s) * s->s_total;
	hi = s->s_nranges - 1;
	/* First range whose cumulative weight exceeds u. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->s_ranges[mid].sr_cum > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	draw_in_range(s, &s->s_ranges[lo], out);
	return 0;
}

int
sampler_exploit(struct sampler *s, const struct addr *near,
    struct addr *out)
{
	const struct sampler_range *r;
	struct addr c;
	unsigned full, nbits, n, v, start = 0, k, i, last;
	uint8_t low;

	if ((r = find_range(s, near)) == NULL)
		return -1;
	full = near->family == AF_INET ? 32 : 128;
	/* A /24 or /120 neighbourhood, or the range when it is smaller:
	 * either way only the last byte varies. */
	nbits = r->sr_bits < 8 ? r->sr_bits : 8;
	n = 1u << nbits;
	last = full / 8 - 1;
	low = (uint8_t)(n - 1);
	c = *near;
	for (i = 0; i < SAMPLER_EXPLOIT_TRIES + n; i++) {
		if (i < SAMPLER_EXPLOIT_TRIES) {
			v = (unsigned)rng_below(s, n);
		} else {
			/* Unlucky or nearly full: scan from a random start. */
			if (i == SAMPLER_EXPLOIT_TRIES)
				start = (unsigned)rng_below(s, n);
			k = i - SAMPLER_EXPLOIT_TRIES;
			v = (start + k) % n;
		}
		c.ip[last] = (uint8_t)((near->ip[last] & ~low) | v);
		if (c.ip[last] != near->ip[last] && !is_edge(r, &c)) {
			*out = c;
			return 0;
		}
	}
	return -1;
}

bool
sampler_contains(const struct sampler *s, const struct addr *a)
{
	const struct sampler_range *r;

	if ((r = find_range(s, a)) == NULL)
		return false;
	return !is_edge(r, a);
}

static int
addrset_init(struct addrset *set, size_t n)
{
	size_t cap = 16;

	while (cap < n * 2) {
		if (cap > SIZE_MAX / 4 / sizeof(struct addr))
			return -1;
		cap *= 2;
	}
	if ((set->as_slots = calloc(cap, sizeof(struct addr))) == NULL)
		return -1;
	set->as_mask = cap - 1;
	return 0;
}

static bool
addrset_has(const struct addrset *set, const struct addr *a)
{
	size_t i = (size_t)addr_hash(a) & set->as_mask;

	while (set->as_slots[i].family != 0) {
		if (addr_equal(&set->as_slots[i], a))
			return true;
		i = (i + 1) & set->as_mask;
	}
	return false;
}

/* Adds a; false when it was there already. The set is never full. */
static bool
addrset_add(struct addrset *set, const struct addr *a)
{
	size_t i = (size_t)addr_hash(a) & set->as_mask;

	while (set->as_slots[i].family != 0) {
		if (addr_equal(&set->as_slots[i], a))
			return false;
		i = (i + 1) & set->as_mask;
	}
	set->as_slots[i] = *a;
	return true;
}

static void
addrset_free(struct addrset *set)
{
	free(set->as_slots);
	set->as_slots = NULL;
}

static int
rank_cmp(const void *pa, const void *pb)
{
	const struct rank *a = pa, *b = pb;

	if (a->rk_class != b->rk_class)
		return a->rk_class < b->rk_class ? -1 : 1;
	if (a->rk_key != b->rk_key)
		return a->rk_key < b->rk_key ? -1 : 1;
	if (a->rk_idx != b->rk_idx)
		return a->rk_idx < b->rk_idx ? -1 : 1;
	return 0;
}

/* A score usable in comparisons: NaN sorts as the worst. */
static double
score_key(double score)
{
	return isnan(score) ? -HUGE_VAL : score;
}

/*
 * Indexes of the best scored entries that lie in a range, best first, at
 * most SAMPLER_SEEDS. Returns how many.
 */
static unsigned
pick_seeds(const struct sampler *s, const struct sampler_tracked *tracked,
    unsigned n_tracked, unsigned *seeds)
{
	unsigned i, j, n = 0;
	double key;

	for (i = 0; i < n_tracked; i++) {
		if (!tracked[i].st_scored ||
		    !sampler_contains(s, &tracked[i].st_addr))
			continue;
		key = score_key(tracked[i].st_score);
		if (n == SAMPLER_SEEDS &&
		    key <= score_key(tracked[seeds[n - 1]].st_score))
			continue;
		if (n < SAMPLER_SEEDS)
			n++;
		/* Insertion into the sorted list; the last one falls off. */
		for (j = n - 1; j > 0 &&
		    score_key(tracked[seeds[j - 1]].st_score) < key; j--)
			seeds[j] = seeds[j - 1];
		seeds[j] = i;
	}
	return n;
}

/*
 * Evictable entries in eviction order; returns how many, and through
 * ndead and nscored the size of the first two classes.
 */
static unsigned
rank_evictable(const struct sampler_tracked *tracked, unsigned n_tracked,
    struct rank *ranks, unsigned *ndead, unsigned *nscored)
{
	const struct sampler_tracked *t;
	unsigned i, n = 0;

	*ndead = 0;
	*nscored = 0;
	for (i = 0; i < n_tracked; i++) {
		t = &tracked[i];
		if (t->st_active || t->st_explicit)
			continue;
		ranks[n].rk_idx = i;
		if (t->st_scored) {
			ranks[n].rk_class = SAMPLER_RANK_SCORED;
			ranks[n].rk_key = score_key(t->st_score);
			(*nscored)++;
		} else if (t->st_probes >= SAMPLER_DEAD_PROBES) {
			ranks[n].rk_class = SAMPLER_RANK_DEAD;
			ranks[n].rk_key = -(double)t->st_probes;
			(*ndead)++;
		} else {
			ranks[n].rk_class = SAMPLER_RANK_PENDING;
			ranks[n].rk_key = -(double)t->st_probes;
		}
		n++;
	}
	qsort(ranks, n, sizeof(*ranks), rank_cmp);
	return n;
}

/*
 * The neighbourhood exploit draws from around a (its /24 or /120, or its
 * range when smaller), as a set key. False when a lies in no range.
 */
static bool
hood_of(const struct sampler *s, const struct addr *a, struct addr *key)
{
	const struct sampler_range *r;
	unsigned nbits;

	if ((r = find_range(s, a)) == NULL)
		return false;
	nbits = r->sr_bits < 8 ? r->sr_bits : 8;
	*key = *a;
	key->ip[addr_ip_len(a) - 1] &= (uint8_t)~((1u << nbits) - 1);
	return true;
}

/* Takes a as a new address unless it is tracked or chosen already. */
static bool
take(struct sampler *s, struct draws *d, const struct addr *a)
{
	struct addr key;

	if (!addrset_add(&d->dr_addrs, a))
		return false;
	if (hood_of(s, a, &key))
		addrset_add(&d->dr_hoods, &key);
	d->dr_add[d->dr_nadd++] = *a;
	return true;
}

/*
 * Fills d->dr_add with up to want new addresses: exploit draws around the
 * seeds in turn for half of them when there are seeds, explore draws for
 * the rest. Explore draws first insist on a neighbourhood no tracked or
 * chosen address is in (a dead /24 is not worth a second look, a good one
 * is exploit's business), then settle for any new address.
 */
static void
draw_new(struct sampler *s, const struct sampler_tracked *tracked,
    const unsigned *seeds, unsigned nseeds, unsigned want, struct draws *d)
{
	uint64_t tries, strict, limit;
	unsigned target;
	struct addr a, key;

	target = nseeds > 0 ? want / 2 : 0;
	limit = (uint64_t)target * SAMPLER_RETRIES;
	for (tries = 0; d->dr_nadd < target && tries < limit; tries++)
		if (sampler_exploit(s, &tracked[seeds[tries % nseeds]].st_addr,
		    &a) == 0)
			take(s, d, &a);
	d->dr_nexploit = d->dr_nadd;

	strict = (uint64_t)(want - d->dr_nadd) * SAMPLER_RETRIES;
	limit = strict * 2;
	for (tries = 0; d->dr_nadd < want && tries < limit; tries++) {
		if (sampler_explore(s, &a) == -1)
			break;
		if (tries < strict && hood_of(s, &a, &key) &&
		    addrset_has(&d->dr_hoods, &key))
			continue;
		take(s, d, &a);
	}
}

/*
 * The i-th entry to evict when shrinking: dead ones, then pending ones
 * (nothing known yet), then scored ones from the lowest score up, so the
 * best known addresses are the last to go.
 */
static unsigned
shrink_order(unsigned i, unsigned ndead, unsigned nscored, unsigned nrank)
{
	unsigned npending = nrank - ndead - nscored;

	if (i < ndead)
		return i;
	if (i < ndead + npending)
		return ndead + nscored + (i - ndead);
	return ndead + (i - ndead - npending);
}

/*
 * Chooses up to want new addresses into d; d->dr_add is new memory the
 * caller frees. Returns 0, or -1 when memory runs out (nothing held).
 */
static int
choose_new(struct sampler *s, const struct sampler_tracked *tracked,
    unsigned n_tracked, unsigned want, struct draws *d)
{
	unsigned seeds[SAMPLER_SEEDS], nseeds, i;
	struct addr key;

	if (addrset_init(&d->dr_addrs, (size_t)n_tracked + want) == -1)
		return -1;
	if (addrset_init(&d->dr_hoods, (size_t)n_tracked + want) == -1)
		goto fail_free_addrs;
	if ((d->dr_add = calloc(want, sizeof(*d->dr_add))) == NULL)
		goto fail_free_hoods;
	for (i = 0; i < n_tracked; i++) {
		if (addr_ip_len(&tracked[i].st_addr) == 0)
			continue;
		addrset_add(&d->dr_addrs, &tracked[i].st_addr);
		if (hood_of(s, &tracked[i].st_addr, &key))
			addrset_add(&d->dr_hoods, &key);
	}
	nseeds = pick_seeds(s, tracked, n_tracked, seeds);
	draw_new(s, tracked, seeds, nseeds, want, d);
	addrset_free(&d->dr_hoods);
	addrset_free(&d->dr_addrs);
	return 0;

fail_free_hoods:
	addrset_free(&d->dr_hoods);
fail_free_addrs:
	addrset_free(&d->dr_addrs);
	return -1;
}

int
sampler_plan(struct sampler *s, const struct sampler_tracked *tracked,
    unsigned n_tracked, unsigned max_tracked, unsigned budget,
    struct sampler_plan *out)
{
	struct sampler_plan plan;
	struct draws d;
	struct rank *ranks;
	unsigned nrank, ndead, nscored, i;
	uint64_t room, want = 0, need;
	bool shrinking;

	memset(&plan, 0, sizeof(plan));
	memset(&d, 0, sizeof(d));
	if ((ranks = calloc(n_tracked > 0 ? n_tracked : 1,
	    sizeof(*ranks))) == NULL)
		return -1;
	nrank = rank_evictable(tracked, n_tracked, ranks, &ndead, &nscored);

	shrinking = n_tracked > max_tracked;
	if (shrinking) {
		need = n_tracked - max_tracked;
		if (need > nrank)
			need = nrank;
	} else {
		room = (uint64_t)(max_tracked - n_tracked) + ndead +
		    nscored / 2;
		if (s->s_nranges > 0)
			want = budget < room ? budget : room;
		if (want > 0) {
			if (choose_new(s, tracked, n_tracked, (unsigned)want,
			    &d) == -1)
				goto fail_free_ranks;
			plan.sp_add = d.dr_add;
			plan.sp_nadd = d.dr_nadd;
			plan.sp_nexploit = d.dr_nexploit;
		}
		/* Dead and the worse scored half lead the rank order. */
		need = (uint64_t)n_tracked + plan.sp_nadd > max_tracked ?
		    (uint64_t)n_tracked + plan.sp_nadd - max_tracked : 0;
	}
	if (need > 0) {
		plan.sp_evict = calloc(need, sizeof(*plan.sp_evict));
		if (plan.sp_evict == NULL)
			goto fail_free_add;
		for (i = 0; i < need; i++)
			plan.sp_evict[i] = ranks[shrinking ?
			    shrink_order(i, ndead, nscored, nrank) : i].rk_idx;
		plan.sp_nevict = (unsigned)need;
	}
	free(ranks);
	*out = plan;
	return 0;

fail_free_add:
	free(plan.sp_add);
fail_free_ranks:
	free(ranks);
	errno = ENOMEM;
	return -1;
}

void
sampler_plan_free(struct sampler_plan *p)
{
	if (p == NULL)
		return;
	free(p->sp_evict);
	free(p->sp_add);
	memset(p, 0, sizeof(*p));
}
