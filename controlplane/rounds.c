/*
 * Probing rounds (see rounds.h). A round submits its probes to the prober
 * at once; the prober keeps max_concurrency in flight. Each result is
 * folded into its backend's score when it arrives.
 */
#define LOG_MODULE LOGM_PROBING

#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "cp.h"
#include "probe.h"
#include "rounds.h"
#include "sampler.h"
#include "score.h"
#include "selection.h"

struct rounds {
	struct evloop_timer timer;
	unsigned first_left;   /* probes of the first round not back yet */
	bool first_done;
	uint64_t rng;
};

static void periodic_cb(struct evloop *, struct evloop_timer *);

static uint64_t
next_random(struct rounds *r)
{
	uint64_t x = r->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	r->rng = x;
	return x;
}

bool
rounds_failing(const struct cp *cp, const struct sb_entry *e)
{
	(void)cp;
	return e->score.consecutive_failures >= ROUNDS_FAILING ||
	    e->score.passive_consecutive_failures >= ROUNDS_FAILING;
}

static int
addr_cmp(const void *a, const void *b)
{
	return addr_compare(a, b);
}

bool
rounds_covered(const struct cp *cp, const struct addr *a)
{
	/* iplist_parse() leaves the addresses sorted by addr_compare(). */
	if (cp->list.il_naddrs > 0 && bsearch(a, cp->list.il_addrs,
	    cp->list.il_naddrs, sizeof(*a), addr_cmp) != NULL)
		return true;
	return cp->sampler != NULL && sampler_contains(cp->sampler, a);
}

void
rounds_sync_list(struct cp *cp)
{
	uint64_t now = evloop_now(cp->loop);
	struct sb_entry *e;
	unsigned i;

	for (i = 0; i < scoreboard_count(cp->sb); i++)
		scoreboard_at(cp->sb, i)->listed = false;
	for (i = 0; i < cp->list.il_naddrs; i++) {
		e = scoreboard_add(cp->sb, &cp->list.il_addrs[i], now);
		if (e == NULL) {
			log_warnx("out of memory tracking listed backends");
			return;
		}
		e->listed = true;
	}
}

unsigned
rounds_prune(struct cp *cp)
{
	struct sb_entry *e;
	unsigned i = 0, n = 0;

	while (i < scoreboard_count(cp->sb)) {
		e = scoreboard_at(cp->sb, i);
		if (e->listed || e->active || e->probing ||
		    e->live.connections > 0 ||
		    (cp->sampler != NULL && sampler_contains(cp->sampler,
		    &e->addr))) {
			i++;
			continue;
		}
		log_info("%s is no longer listed: forgotten", e->name);
		/* The last entry moves into slot i: look at i again. */
		scoreboard_remove(cp->sb, e);
		n++;
	}
	return n;
}

/* The first round's probes count down; the last one ends it. */
static void
first_round_step(struct cp *cp)
{
	struct rounds *r = cp->rounds;

	if (r->first_done || r->first_left == 0 || --r->first_left > 0)
		return;
	r->first_done = true;
	log_info("first probe round done: %u backends tracked",
	    scoreboard_count(cp->sb));
	selection_evaluate(cp, false);
}

static void
probe_done(void *arg, const struct addr *a, enum probe_outcome o,
    uint64_t latency_us, int err)
{
	struct cp *cp = arg;
	struct sb_entry *e = scoreboard_find(cp->sb, a);
	const struct scoring_conf *sc = &cp->cfg.remotes.scoring;
	bool was_failing;
	unsigned i;

	if (e == NULL)
		goto out; /* evicted or unlisted while the probe ran */
	e->probing = false;
	if (o == PROBE_LOCAL) {
		log_warnx("cannot probe %s: %s (not counted)", e->name,
		    strerror(err));
		goto out;
	}
	was_failing = rounds_failing(cp, e);
	e->last_probe_ms = evloop_now(cp->loop);
	e->last_probe_unix_ms = cp_unix_ms();
	e->last_outcome = (int)o;
	if (o == PROBE_OK) {
		e->probes_ok++;
		e->last_latency_ms = (double)latency_us / 1000.0;
		e->probe_seconds_sum += (double)latency_us / 1e6;
		for (i = 0; i < PROTO_DIAL_BUCKETS; i++)
			if (latency_us <= proto_dial_bounds_us[i])
				break;
		if (i < PROTO_DIAL_BUCKETS)
			e->probe_buckets[i]++;
		score_success(&e->score, sc, e->last_latency_ms);
		if (was_failing)
			log_info("%s answers again (%.1f ms)", e->name,
			    e->last_latency_ms);
		log_trace("%s: %.2f ms, score %.1f", e->name,
		    e->last_latency_ms, e->score.score);
	} else {
		if (o == PROBE_TIMEOUT)
			e->probes_timeout++;
		else
			e->probes_failed++;
		score_failure(&e->score, sc);
		log_debug("%s: probe %s (%s), %u in a row, score %.1f",
		    e->name, probe_outcome_name(o), strerror(err),
		    e->score.consecutive_failures, e->score.score);
	}
	/* A serving backend that just went bad is replaced now, not at the
	 * next evaluation. */
	if (e->active && cp->rounds->first_done &&
	    ((!was_failing && rounds_failing(cp, e)) ||
	    e->score.score < cp->cfg.remotes.selector.min_score_threshold))
		selection_evaluate(cp, true);
out:
	first_round_step(cp);
}

static void
submit(struct cp *cp, struct sb_entry *e, uint64_t timeout_ms)
{
	if (e->probing)
		return;
	if (prober_submit(cp->prober, &e->addr, timeout_ms, probe_done, cp)
	    == -1) {
		log_warnx("out of memory queueing a probe of %s", e->name);
		return;
	}
	e->probing = true;
	if (!cp->rounds->first_done)
		cp->rounds->first_left++;
}

/* Lets the sampler evict poor range addresses and draw new ones. */
static void
refresh_samples(struct cp *cp, unsigned budget)
{
	struct sampler_tracked *t;
	struct sampler_plan plan;
	struct sb_entry *e, **ents;
	unsigned i, n = scoreboard_count(cp->sb);
	uint64_t now = evloop_now(cp->loop);

	if (cp->sampler == NULL)
		return;
	t = calloc(n ? n : 1, sizeof(*t));
	ents = calloc(n ? n : 1, sizeof(*ents));
	if (t == NULL || ents == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		e = ents[i] = scoreboard_at(cp->sb, i);
		t[i].st_addr = e->addr;
		t[i].st_scored = score_eligible(&e->score);
		t[i].st_score = e->score.score;
		t[i].st_probes = (unsigned)(e->score.probes > 1000000 ?
		    1000000 : e->score.probes);
		t[i].st_active = e->active || e->disabled ||
		    e->live.connections > 0;
		t[i].st_explicit = e->listed;
	}
	if (sampler_plan(cp->sampler, t, n, cp->cfg.remotes.provider.max_tracked,
	    budget, &plan) == -1) {
		log_warnx("out of memory planning samples");
		goto done;
	}
	/* Pointers first: removals reorder the scoreboard. */
	for (i = 0; i < plan.sp_nevict; i++) {
		e = ents[plan.sp_evict[i]];
		if (e->probing)
			continue; /* its result would find nothing; wait */
		log_trace("evicting %s (score %.1f, %llu probes)", e->name,
		    e->score.score, (unsigned long long)e->score.probes);
		scoreboard_remove(cp->sb, e);
		cp->stats.evictions++;
	}
	for (i = 0; i < plan.sp_nadd; i++)
		if (scoreboard_add(cp->sb, &plan.sp_add[i], now) != NULL)
			cp->stats.samples_added++;
	if (plan.sp_nadd > 0 || plan.sp_nevict > 0)
		log_debug("sampler: %u added (%u near good ones), %u evicted, "
		    "%u tracked", plan.sp_nadd, plan.sp_nexploit,
		    plan.sp_nevict, scoreboard_count(cp->sb));
	sampler_plan_free(&plan);
done:
	free(t);
	free(ents);
}

static int
by_staleness(const void *a, const void *b)
{
	const struct sb_entry *x = *(const struct sb_entry *const *)a;
	const struct sb_entry *y = *(const struct sb_entry *const *)b;

	/* Never probed (0) first, then the oldest probe. */
	if (x->last_probe_ms != y->last_probe_ms)
		return x->last_probe_ms < y->last_probe_ms ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void
periodic_round(struct cp *cp)
{
	const struct probing_conf *pc = &cp->cfg.remotes.probing;
	unsigned i, n, k = 0, want = pc->probe_candidate_count;
	struct sb_entry *e, **others;

	cp->stats.probe_rounds++;
	rounds_prune(cp);
	refresh_samples(cp, want / 2 > 0 ? want / 2 : 1);
	n = scoreboard_count(cp->sb);
	others = calloc(n ? n : 1, sizeof(*others));
	if (others == NULL) {
		log_warnx("out of memory planning a probe round");
		return;
	}
	prober_set_concurrency(cp->prober, pc->initial.max_concurrency);
	for (i = 0; i < n; i++) {
		e = scoreboard_at(cp->sb, i);
		if (e->active)
			submit(cp, e, pc->timeout_ms);
		else if (!e->probing)
			others[k++] = e;
	}
	qsort(others, k, sizeof(*others), by_staleness);
	for (i = 0; i < k && i < want; i++)
		submit(cp, others[i], pc->timeout_ms);
	free(others);
	log_debug("probe round %llu: %u probes in flight, %u queued",
	    (unsigned long long)cp->stats.probe_rounds,
	    prober_inflight(cp->prober), prober_queued(cp->prober));
}

static void
schedule(struct cp *cp)
{
	uint64_t every = cp->cfg.remotes.probing.interval_ms;
	uint64_t jitter = every / 10;

	/* Spread rounds a little so many control planes don't probe in
	 * lockstep: interval - 10% .. interval + 10%. */
	if (jitter > 0)
		every = every - jitter + next_random(cp->rounds) %
		    (2 * jitter + 1);
	evloop_timer_start(cp->loop, &cp->rounds->timer, every);
}

static void
periodic_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct cp *cp = t->arg;

	(void)loop;
	periodic_round(cp);
	schedule(cp);
}

static void
initial_round(struct cp *cp)
{
	const struct probing_conf *pc = &cp->cfg.remotes.probing;
	unsigned i, n, room;

	cp->stats.probe_rounds++;
	n = scoreboard_count(cp->sb);
	room = cp->cfg.remotes.provider.max_tracked > n ?
	    cp->cfg.remotes.provider.max_tracked - n : 0;
	if (room > 0)
		refresh_samples(cp, room);
	prober_set_concurrency(cp->prober, pc->initial.max_concurrency);
	n = scoreboard_count(cp->sb);
	for (i = 0; i < n; i++)
		submit(cp, scoreboard_at(cp->sb, i), pc->initial.timeout_ms);
	log_info("initial probe round: %u backends, %u at once, %llu ms "
	    "timeout", n, pc->initial.max_concurrency,
	    (unsigned long long)pc->initial.timeout_ms);
}

void
rounds_start(struct cp *cp)
{
	struct rounds *r;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		fatalx("out of memory");
	r->rng = evloop_clock_us() | 1;
	evloop_timer_init(&r->timer, periodic_cb, cp);
	cp->rounds = r;
	rounds_sync_list(cp);
	if (cp->cfg.remotes.probing.initial.enabled)
		initial_round(cp);
	else
		periodic_round(cp);
	if (r->first_left == 0) {
		/* Nothing to probe (empty list, all in flight): evaluate. */
		r->first_done = true;
		selection_evaluate(cp, false);
	}
	schedule(cp);
}

void
rounds_stop(struct cp *cp)
{
	if (cp->rounds == NULL)
		return;
	evloop_timer_stop(cp->loop, &cp->rounds->timer);
	free(cp->rounds);
	cp->rounds = NULL;
}

bool
rounds_first_pending(const struct cp *cp)
{
	return cp->rounds != NULL && !cp->rounds->first_done;
}
