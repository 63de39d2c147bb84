/*
 * Per-client-IP admission (see limits.h). A slot holds an IP, its open
 * connections and its bucket (milli-tokens, refilled lazily on use).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "limits.h"

#define STRIPES 64
#define PROBES 8           /* slots looked at per IP */
#define MILLI 1000u

struct slot {
	struct addr ip;      /* family 0: free */
	uint32_t conns;
	uint64_t tokens;     /* milli-tokens */
	uint64_t last_ms;    /* last refill */
};

struct stripe {
	pthread_mutex_t lock;
	struct slot *slots;
	uint32_t mask;       /* slots - 1 */
	uint32_t used;
};

struct limits {
	atomic_uint max_conns;
	atomic_uint rate;
	atomic_uint burst;
	/*
	 * Every stripe's slots, one anonymous mapping: a page costs memory
	 * only once a client IP hashed into it (64k slots would otherwise
	 * be 2.5 MiB of zeroes in an idle data plane with limits off).
	 */
	void *map;
	size_t map_len;
	struct stripe stripes[STRIPES];
};

static uint32_t
pow2_at_least(uint32_t n)
{
	uint32_t p = 8;

	while (p < n && p < (1u << 24))
		p <<= 1;
	return p;
}

void
limits_configure(struct limits *l, const struct limits_conf *lc)
{
	atomic_store(&l->max_conns, lc->per_source_max_connections);
	atomic_store(&l->rate, lc->per_source_rate);
	atomic_store(&l->burst, lc->per_source_burst != 0 ?
	    lc->per_source_burst : lc->per_source_rate);
}

int
limits_new(const struct limits_conf *lc, struct limits **out)
{
	struct limits *l;
	uint32_t per, i;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -1;
	per = pow2_at_least((lc->per_source_tracked + STRIPES - 1) / STRIPES);
	l->map_len = (size_t)per * STRIPES * sizeof(struct slot);
	l->map = mmap(NULL, l->map_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->map == MAP_FAILED) {
		free(l);
		return -1;
	}
	for (i = 0; i < STRIPES; i++) {
		l->stripes[i].slots = (struct slot *)l->map + (size_t)i * per;
		l->stripes[i].mask = per - 1;
		pthread_mutex_init(&l->stripes[i].lock, NULL);
	}
	limits_configure(l, lc);
	*out = l;
	return 0;
}

void
limits_free(struct limits *l)
{
	unsigned i;

	if (l == NULL)
		return;
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&l->stripes[i].lock);
	munmap(l->map, l->map_len);
	free(l);
}

bool
limits_per_source(const struct limits *l)
{
	return atomic_load_explicit(&l->max_conns, memory_order_relaxed) != 0 ||
	    atomic_load_explicit(&l->rate, memory_order_relaxed) != 0;
}

static bool
same_ip(const struct addr *a, const struct addr *b)
{
	return a->family == b->family &&
	    memcmp(a->ip, b->ip, addr_ip_len(a)) == 0;
}

static uint64_t
ip_hash(const struct addr *ip)
{
	struct addr k = *ip;

	k.port = 0;
	return addr_hash(&k);
}

/* Brings the bucket up to now; a full bucket is burst tokens. */
static void
refill(struct slot *s, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)burst * MILLI, add;

	if (now_ms > s->last_ms) {
		/* rate tokens per second = rate milli-tokens per ms */
		add = (now_ms - s->last_ms) * rate;
		s->tokens = s->tokens + add > cap ? cap : s->tokens + add;
		s->last_ms = now_ms;
	}
	if (s->tokens > cap)
		s->tokens = cap;
}

/* An entry with nothing open and a full bucket carries no state. */
static bool
idle(struct slot *s, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
	if (s->conns != 0)
		return false;
	if (rate == 0)
		return true;
	refill(s, rate, burst, now_ms);
	return s->tokens >= (uint64_t)burst * MILLI;
}

enum limits_verdict
limits_admit(struct limits *l, const struct addr *ip, uint64_t now_ms)
{
	uint32_t max = atomic_load_explicit(&l->max_conns,
	    memory_order_relaxed);
	uint32_t rate = atomic_load_explicit(&l->rate, memory_order_relaxed);
	uint32_t burst = atomic_load_explicit(&l->burst,
	    memory_order_relaxed);
	uint64_t h = ip_hash(ip);
	struct stripe *st = &l->stripes[h % STRIPES];
	struct slot *s = NULL, *free_slot = NULL, *c;
	enum limits_verdict v = LIMITS_OK;
	uint32_t i;

	if (max == 0 && rate == 0)
		return LIMITS_OK;
	pthread_mutex_lock(&st->lock);
	for (i = 0; i < PROBES; i++) {
		c = &st->slots[(uint32_t)(h / STRIPES + i) & st->mask];
		if (c->ip.family != 0 && same_ip(&c->ip, ip)) {
			s = c;
			break;
		}
		if (free_slot == NULL && (c->ip.family == 0 ||
		    idle(c, rate, burst, now_ms)))
			free_slot = c;
	}
	if (s == NULL) {
		if (free_slot == NULL) {
			/* Every slot busy: admit untracked (fail open). */
			pthread_mutex_unlock(&st->lock);
			return LIMITS_OK;
		}
		s = free_slot;
		if (s->ip.family == 0)
			st->used++;
		memset(s, 0, sizeof(*s));
		s->ip = *ip;
		s->ip.port = 0;
		s->tokens = (uint64_t)burst * MILLI;
		s->last_ms = now_ms;
	}
	if (max != 0 && s->conns >= max) {
		v = LIMITS_CONNS;
	} else if (rate != 0) {
		refill(s, rate, burst, now_ms);
		if (s->tokens < MILLI)
			v = LIMITS_RATE;
		else
			s->tokens -= MILLI;
	}
	if (v == LIMITS_OK)
		s->conns++;
	pthread_mutex_unlock(&st->lock);
	return v;
}

void
limits_release(struct limits *l, const struct addr *ip)
{
	uint64_t h = ip_hash(ip);
	struct stripe *st = &l->stripes[h % STRIPES];
	struct slot *c;
	uint32_t i;

	pthread_mutex_lock(&st->lock);
	for (i = 0; i < PROBES; i++) {
		c = &st->slots[(uint32_t)(h / STRIPES + i) & st->mask];
		if (c->ip.family != 0 && same_ip(&c->ip, ip)) {
			if (c->conns > 0)
				c->conns--;
			break;
		}
	}
	/* Not found: it was admitted untracked. */
	pthread_mutex_unlock(&st->lock);
}

unsigned
limits_tracked(struct limits *l)
{
	unsigned i, n = 0;

	for (i = 0; i < STRIPES; i++) {
		pthread_mutex_lock(&l->stripes[i].lock);
		n += l->stripes[i].used;
		pthread_mutex_unlock(&l->stripes[i].lock);
	}
	return n;
}
