/*
 * Active-set selection, the rules of selector.h. One pass over the
 * candidates keeps only the best few answering ones in a small sorted
 * array (2 * active_set_size is all rules 3 and 4 can need) and finds the
 * current members by binary search, so a scoreboard of a million backends
 * costs no allocation.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"

#define TOP_MAX (2 * SELECTOR_MAX)

/* One member of the current set. */
struct member {
	uint32_t id;
	const struct selector_candidate *cand; /* NULL: gone */
	bool dup;                              /* id listed earlier */
	bool healthy;                          /* in the pool */
	bool kept;                             /* in the new set */
};

/* Index of a member, sorted by id (then position) for lookup. */
struct member_key {
	uint32_t id;
	unsigned idx;
};

struct detail {
	char *buf;
	size_t size;
	size_t len;
};

/* One evaluation's working data. */
struct eval {
	const struct selector_conf *conf;
	struct selector_result *out;
	unsigned k; /* effective active_set_size */
	/* The best answering candidates, ranked; top[0..pool) is the pool. */
	const struct selector_candidate *top[TOP_MAX];
	unsigned ntop;
	unsigned pool;
	struct member mem[SELECTOR_MAX];
	struct member_key keys[SELECTOR_MAX];
	unsigned nmem;
	unsigned nhealthy;
	struct detail d;
};

static void detail_add(struct detail *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static bool
answering(const struct selector_candidate *c)
{
	return c->eligible && !c->disabled && !c->failing &&
	    isfinite(c->score);
}

/* True when a ranks before b: higher score, then lower id. */
static bool
ranks_before(const struct selector_candidate *a,
    const struct selector_candidate *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	return a->id < b->id;
}

static int
member_key_cmp(const void *a, const void *b)
{
	const struct member_key *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return 0;
}

static int
member_key_find(const void *a, const void *b)
{
	const struct member_key *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/* Inserts c into top[0..*n), kept sorted by rank and at most cap long. */
static void
top_insert(const struct selector_candidate **top, unsigned *n, unsigned cap,
    const struct selector_candidate *c)
{
	unsigned lo = 0, hi = *n, mid;

	if (*n == cap && !ranks_before(c, top[*n - 1]))
		return;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ranks_before(top[mid], c))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (*n < cap)
		(*n)++;
	memmove(&top[lo + 1], &top[lo], (*n - 1 - lo) * sizeof(top[0]));
	top[lo] = c;
}

static bool
contains(const uint32_t *ids, unsigned n, uint32_t id)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static void
detail_add(struct detail *d, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (d->len + 1 >= d->size)
		return;
	va_start(ap, fmt);
	r = vsnprintf(d->buf + d->len, d->size - d->len, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	d->len += (size_t)r;
	if (d->len >= d->size)
		d->len = d->size - 1;
}

/* Appends up to three ids, then "+N more". */
static void
detail_ids(struct detail *d, const uint32_t *ids, unsigned n)
{
	unsigned i;

	for (i = 0; i < n && i < 3; i++)
		detail_add(d, "%s%u", i > 0 ? ", " : "", (unsigned)ids[i]);
	if (n > 3)
		detail_add(d, " +%u more", n - 3);
}

static const char *
member_problem(const struct member *m, double threshold)
{
	if (m->dup)
		return "listed twice";
	if (m->cand == NULL)
		return "gone";
	if (m->cand->disabled)
		return "disabled";
	if (m->cand->failing)
		return "failing";
	if (!m->cand->eligible || !isfinite(m->cand->score))
		return "without score";
	if (m->cand->score < threshold)
		return "below threshold";
	return "over active_set_size";
}

/* The score of id, from the current members or the ranking. */
static bool
score_of(const struct eval *ev, uint32_t id, double *score)
{
	unsigned i;

	for (i = 0; i < ev->nmem; i++) {
		if (ev->mem[i].id == id && ev->mem[i].cand != NULL &&
		    isfinite(ev->mem[i].cand->score)) {
			*score = ev->mem[i].cand->score;
			return true;
		}
	}
	for (i = 0; i < ev->ntop; i++) {
		if (ev->top[i]->id == id) {
			*score = ev->top[i]->score;
			return true;
		}
	}
	return false;
}

/* Mean score of the ids that have one; 0 when none has. */
static double
avg_of(const struct eval *ev, const uint32_t *ids, unsigned n)
{
	double sum = 0.0, s;
	unsigned i, cnt = 0;

	for (i = 0; i < n; i++) {
		if (score_of(ev, ids[i], &s)) {
			sum += s;
			cnt++;
		}
	}
	return cnt > 0 ? sum / cnt : 0.0;
}

static void
set_result(struct selector_result *out, enum selector_reason reason,
    const uint32_t *ids, unsigned n)
{
	out->reason = reason;
	out->changed = true;
	memcpy(out->ids, ids, n * sizeof(ids[0]));
	out->n = n;
}

/* Loads the current set and ranks the answering candidates. */
static void
collect(struct eval *ev, const struct selector_candidate *c, unsigned n,
    const struct selector_state *cur)
{
	struct member_key key, *hit;
	unsigned i;

	ev->nmem = cur != NULL ? cur->n : 0;
	if (ev->nmem > SELECTOR_MAX)
		ev->nmem = SELECTOR_MAX;
	for (i = 0; i < ev->nmem; i++) {
		memset(&ev->mem[i], 0, sizeof(ev->mem[i]));
		ev->mem[i].id = cur->ids[i];
		ev->keys[i].id = cur->ids[i];
		ev->keys[i].idx = i;
		ev->out->ids[i] = cur->ids[i];
	}
	ev->out->n = ev->nmem;
	qsort(ev->keys, ev->nmem, sizeof(ev->keys[0]), member_key_cmp);
	for (i = 1; i < ev->nmem; i++)
		if (ev->keys[i].id == ev->keys[i - 1].id)
			ev->mem[ev->keys[i].idx].dup = true;

	ev->ntop = 0;
	for (i = 0; i < n; i++) {
		if (answering(&c[i]))
			top_insert(ev->top, &ev->ntop, 2 * ev->k, &c[i]);
		if (ev->nmem == 0)
			continue;
		key.id = c[i].id;
		key.idx = 0;
		hit = bsearch(&key, ev->keys, ev->nmem, sizeof(ev->keys[0]),
		    member_key_find);
		if (hit == NULL)
			continue;
		/* A repeated member id: the first listing is the member. */
		while (hit > ev->keys && hit[-1].id == key.id)
			hit--;
		if (ev->mem[hit->idx].cand == NULL)
			ev->mem[hit->idx].cand = &c[i];
	}
}

/*
 * Rule 3: healthy members stay (the best k when there are more), broken
 * ones go, the best of the pool fills the rest, all at once.
 */
static void
repair(struct eval *ev)
{
	struct selector_result *out = ev->out;
	uint32_t ids[SELECTOR_MAX], gone[SELECTOR_MAX], added[SELECTOR_MAX];
	const struct member *first_bad = NULL;
	double thr = ev->conf->min_score_threshold;
	unsigned i, j, nids = 0, ngone = 0, nadded = 0, nkept;

	for (i = 0; i < ev->nmem; i++)
		ev->mem[i].kept = ev->mem[i].healthy;
	for (nkept = ev->nhealthy; nkept > ev->k; nkept--) {
		j = ev->nmem;
		for (i = 0; i < ev->nmem; i++)
			if (ev->mem[i].kept && (j == ev->nmem ||
			    ranks_before(ev->mem[j].cand, ev->mem[i].cand)))
				j = i;
		ev->mem[j].kept = false;
	}
	for (i = 0; i < ev->nmem; i++) {
		if (ev->mem[i].kept) {
			ids[nids++] = ev->mem[i].id;
			continue;
		}
		gone[ngone++] = ev->mem[i].id;
		if (first_bad == NULL && !ev->mem[i].healthy)
			first_bad = &ev->mem[i];
	}
	for (i = 0; i < ev->pool && nids < ev->k; i++) {
		if (contains(ids, nids, ev->top[i]->id))
			continue;
		ids[nids++] = ev->top[i]->id;
		added[nadded++] = ev->top[i]->id;
	}
	out->new_avg = avg_of(ev, ids, nids);

	if (ngone == 0 && nadded == 0) {
		/* Short, and the pool has nobody else. */
		detail_add(&ev->d, "%u of %u, no other backend qualifies",
		    ev->nmem, ev->k);
	} else if (ev->nmem == 0) {
		set_result(out, SELECTOR_INITIAL, ids, nids);
		detail_add(&ev->d, "initial: ");
		detail_ids(&ev->d, ids, nids);
	} else if (first_bad == NULL && ngone > 0) {
		set_result(out, SELECTOR_RESIZED, ids, nids);
		detail_add(&ev->d, "active_set_size %u, dropped ", ev->k);
		detail_ids(&ev->d, gone, ngone);
	} else if (first_bad != NULL) {
		set_result(out, nadded > 0 ? SELECTOR_REPLACED :
		    SELECTOR_REMOVED, ids, nids);
		detail_add(&ev->d, "backend %u %s", (unsigned)first_bad->id,
		    member_problem(first_bad, thr));
		if (ngone > 1)
			detail_add(&ev->d, " +%u more", ngone - 1);
		if (nadded > 0) {
			detail_add(&ev->d, ", replaced by ");
			detail_ids(&ev->d, added, nadded);
		} else {
			detail_add(&ev->d, ", no replacement");
		}
	} else {
		set_result(out, SELECTOR_FILLED, ids, nids);
		detail_add(&ev->d, "%u of %u, added ", ev->nmem, ev->k);
		detail_ids(&ev->d, added, nadded);
	}
}

/*
 * Rule 4: a full, healthy set moves to the pool's top k only when both
 * debounce checks pass. The pool holds at least k: it holds the set.
 */
static void
improve(struct eval *ev, uint64_t last_switch_ms, uint64_t now_ms)
{
	const struct selector_conf *conf = ev->conf;
	struct selector_result *out = ev->out;
	uint32_t ideal[SELECTOR_MAX], ids[SELECTOR_MAX];
	uint64_t elapsed, debounce = conf->switching.debounce_interval_ms;
	double gain = conf->switching.score_improvement_threshold;
	unsigned i, nids = 0;
	bool time_ok, gain_ok;

	for (i = 0; i < ev->k; i++)
		ideal[i] = ev->top[i]->id;
	for (i = 0; i < ev->k; i++)
		if (!contains(out->ids, ev->nmem, ideal[i]))
			break;
	if (i == ev->k) {
		out->new_avg = out->old_avg;
		return;
	}

	out->new_avg = avg_of(ev, ideal, ev->k);
	elapsed = now_ms >= last_switch_ms ? now_ms - last_switch_ms : 0;
	time_ok = now_ms < last_switch_ms || elapsed >= debounce;
	gain_ok = out->new_avg >= out->old_avg + gain;
	if (!gain_ok) {
		detail_add(&ev->d, "best avg %.1f vs %.1f, gain below %.1f",
		    out->new_avg, out->old_avg, gain);
		return;
	}
	if (!time_ok) {
		detail_add(&ev->d, "avg %.1f -> %.1f held, debounce %.1fs "
		    "left", out->old_avg, out->new_avg,
		    (double)(debounce - elapsed) / 1000.0);
		return;
	}
	for (i = 0; i < ev->nmem; i++)
		if (contains(ideal, ev->k, ev->mem[i].id))
			ids[nids++] = ev->mem[i].id;
	for (i = 0; i < ev->k; i++)
		if (!contains(ids, nids, ideal[i]))
			ids[nids++] = ideal[i];
	set_result(out, SELECTOR_IMPROVED, ids, nids);
	detail_add(&ev->d, "avg %.1f -> %.1f", out->old_avg, out->new_avg);
}

void
selector_evaluate(const struct selector_conf *conf,
    const struct selector_candidate *c, unsigned n,
    const struct selector_state *cur, uint64_t now_ms,
    struct selector_result *out)
{
	struct eval ev;
	double thr = conf->min_score_threshold;
	unsigned i;

	memset(out, 0, sizeof(*out));
	ev.conf = conf;
	ev.out = out;
	ev.d.buf = out->detail;
	ev.d.size = sizeof(out->detail);
	ev.d.len = 0;
	ev.k = conf->active_set_size;
	if (ev.k == 0)
		ev.k = 1;
	if (ev.k > SELECTOR_MAX)
		ev.k = SELECTOR_MAX;

	collect(&ev, c, n, cur);
	out->old_avg = avg_of(&ev, out->ids, ev.nmem);

	/* Rule 2: the ranking is by score, so the pool is its prefix. */
	for (ev.pool = 0; ev.pool < ev.ntop &&
	    ev.top[ev.pool]->score >= thr; ev.pool++)
		;
	if (ev.ntop == 0) {
		out->degraded = true;
		out->new_avg = out->old_avg;
		if (ev.nmem > 0)
			detail_add(&ev.d, "no backend answering, keeping the "
			    "current %u", ev.nmem);
		else
			detail_add(&ev.d, "no backend answering");
		return;
	}
	if (ev.pool == 0) {
		out->degraded = true;
		ev.pool = ev.ntop;
	}

	ev.nhealthy = 0;
	for (i = 0; i < ev.nmem; i++) {
		ev.mem[i].healthy = !ev.mem[i].dup && ev.mem[i].cand != NULL &&
		    answering(ev.mem[i].cand) &&
		    (out->degraded || ev.mem[i].cand->score >= thr);
		if (ev.mem[i].healthy)
			ev.nhealthy++;
	}

	if (ev.nmem == ev.k && ev.nhealthy == ev.k)
		improve(&ev, cur->last_switch_ms, now_ms);
	else
		repair(&ev);

	if (out->degraded)
		detail_add(&ev.d, "%sdegraded: none above %.1f",
		    ev.d.len > 0 ? "; " : "", thr);
}

void
selector_apply(struct selector_state *st, const struct selector_result *r,
    uint64_t now_ms)
{
	if (!r->changed)
		return;
	memcpy(st->ids, r->ids, r->n * sizeof(r->ids[0]));
	st->n = r->n;
	st->last_switch_ms = now_ms;
}

const char *
selector_reason_name(enum selector_reason reason)
{
	switch (reason) {
	case SELECTOR_NO_CHANGE:
		return "no_change";
	case SELECTOR_INITIAL:
		return "initial";
	case SELECTOR_REPLACED:
		return "replaced";
	case SELECTOR_REMOVED:
		return "removed";
	case SELECTOR_FILLED:
		return "filled";
	case SELECTOR_RESIZED:
		return "resized";
	case SELECTOR_IMPROVED:
		return "improved";
	}
	return "unknown";
}
