/*
 * Active-set selection: the initial choice, the threshold, ranking ties,
 * immediate repair (short, failing, below threshold, disabled, gone),
 * the two-sided debounce, degraded mode, never an empty set, and bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../controlplane/selector.h"

#define MINUTE 60000ull

#define assert_set(res, ...) do {					\
	const uint32_t want_[] = { __VA_ARGS__ };			\
	assert_ids_at((res), want_, sizeof(want_) / sizeof(want_[0]),	\
	    __FILE__, __LINE__);					\
} while (0)

static void
assert_ids_at(const struct selector_result *r, const uint32_t *want,
    unsigned n, const char *file, int line)
{
	unsigned i;

	if (r->n == n && memcmp(r->ids, want, n * sizeof(want[0])) == 0)
		return;
	print_error("got %u ids:", r->n);
	for (i = 0; i < r->n && i < 16; i++)
		print_error(" %u", (unsigned)r->ids[i]);
	print_error("; want %u:", n);
	for (i = 0; i < n && i < 16; i++)
		print_error(" %u", (unsigned)want[i]);
	print_error(" (%s)\n", r->detail);
	_fail(file, line);
}

/* The seed's remotes.selector. */
static void
default_conf(struct selector_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->evaluation_interval_ms = 30000;
	conf->active_set_size = 3;
	conf->min_score_threshold = 15.0;
	conf->switching.debounce_interval_ms = MINUTE;
	conf->switching.score_improvement_threshold = 5.0;
}

static struct selector_candidate
cand(uint32_t id, double score)
{
	struct selector_candidate c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.score = score;
	c.eligible = true;
	return c;
}

static void
set_state(struct selector_state *st, const uint32_t *ids, unsigned n,
    uint64_t last_switch_ms)
{
	memset(st, 0, sizeof(*st));
	if (n > 0)
		memcpy(st->ids, ids, n * sizeof(ids[0]));
	st->n = n;
	st->last_switch_ms = last_switch_ms;
}

static void
assert_no_change(const struct selector_result *r)
{
	assert_int_equal(r->reason, SELECTOR_NO_CHANGE);
	assert_false(r->changed);
}

static void
assert_reason(const struct selector_result *r, enum selector_reason want)
{
	assert_int_equal(r->reason, want);
	assert_true(r->changed);
	assert_true(r->detail[0] != '\0');
}

static void
test_initial(void **state)
{
	struct selector_candidate c[] = { cand(1, 50), cand(2, 80),
		cand(3, 70), cand(4, 60), cand(5, 10) };
	struct selector_conf conf;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	selector_evaluate(&conf, c, 5, NULL, 1000, &r);
	assert_reason(&r, SELECTOR_INITIAL);
	assert_set(&r, 2, 3, 4);
	assert_false(r.degraded);
	assert_true(fabs(r.new_avg - 70.0) < 1e-9);
	assert_true(fabs(r.old_avg) < 1e-9);
	assert_non_null(strstr(r.detail, "initial"));
}

static void
test_initial_from_empty_state(void **state)
{
	struct selector_candidate c[] = { cand(1, 50), cand(2, 80) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	set_state(&st, NULL, 0, 0);
	/* No debounce on the first choice, even right after a "switch". */
	selector_evaluate(&conf, c, 2, &st, 0, &r);
	assert_reason(&r, SELECTOR_INITIAL);
	assert_set(&r, 2, 1);
	selector_apply(&st, &r, 5);
	assert_int_equal(st.n, 2);
	assert_int_equal(st.last_switch_ms, 5);
	selector_evaluate(&conf, c, 2, &st, 6, &r);
	assert_no_change(&r);
	assert_set(&r, 2, 1);
}

static void
test_threshold_filter(void **state)
{
	struct selector_candidate c[] = { cand(1, 50), cand(2, 14.999),
		cand(3, 15.0), cand(4, 5) };
	struct selector_conf conf;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	selector_evaluate(&conf, c, 4, NULL, 0, &r);
	assert_reason(&r, SELECTOR_INITIAL);
	assert_set(&r, 1, 3); /* exactly at the threshold passes */
	assert_false(r.degraded);
}

static void
test_excludes_not_answering(void **state)
{
	struct selector_candidate c[] = { cand(1, 90), cand(2, 80),
		cand(3, 70), cand(4, 60), cand(5, 50), cand(6, 40),
		cand(7, NAN) };
	struct selector_conf conf;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	c[0].failing = true;
	c[1].disabled = true;
	c[2].eligible = false;
	c[6].score = NAN;
	selector_evaluate(&conf, c, 7, NULL, 0, &r);
	assert_set(&r, 4, 5, 6);
}

static void
test_ranking_ties(void **state)
{
	struct selector_candidate c[] = { cand(9, 50), cand(3, 50),
		cand(7, 50), cand(5, 50), cand(1, 49.5) };
	struct selector_conf conf;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	selector_evaluate(&conf, c, 5, NULL, 0, &r);
	assert_set(&r, 3, 5, 7);

	/* The order of the input does not matter. */
	c[0] = cand(7, 50);
	c[2] = cand(9, 50);
	selector_evaluate(&conf, c, 5, NULL, 0, &r);
	assert_set(&r, 3, 5, 7);
}

static void
test_fill_at_once(void **state)
{
	static const uint32_t cur[] = { 1, 2 };
	struct selector_candidate c[] = { cand(1, 60), cand(2, 50),
		cand(3, 40), cand(4, 45) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	set_state(&st, cur, 2, 10 * MINUTE);
	selector_evaluate(&conf, c, 4, &st, 10 * MINUTE + 1, &r);
	assert_reason(&r, SELECTOR_FILLED);
	assert_set(&r, 1, 2, 4);
	assert_non_null(strstr(r.detail, "added 4"));
	assert_true(fabs(r.old_avg - 55.0) < 1e-9);
	assert_true(fabs(r.new_avg - 155.0 / 3.0) < 1e-9);
}

static void
test_short_with_nothing_to_add(void **state)
{
	static const uint32_t cur[] = { 1, 2 };
	struct selector_candidate c[] = { cand(1, 60), cand(2, 50),
		cand(3, 10) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	set_state(&st, cur, 2, 0);
	selector_evaluate(&conf, c, 3, &st, MINUTE, &r);
	assert_no_change(&r);
	assert_set(&r, 1, 2);
	assert_false(r.degraded);
}

static void
test_replace_failing_at_once(void **state)
{
	static const uint32_t cur[] = { 1, 2, 3 };
	struct selector_candidate c[] = { cand(1, 60), cand(2, 90),
		cand(3, 50), cand(4, 30), cand(5, 35) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	c[1].failing = true;
	set_state(&st, cur, 3, 5 * MINUTE);
	/* One millisecond after the last switch: no debounce for repair. */
	selector_evaluate(&conf, c, 5, &st, 5 * MINUTE + 1, &r);
	assert_reason(&r, SELECTOR_REPLACED);
	assert_set(&r, 1, 3, 5);
	assert_string_equal(r.detail, "backend 2 failing, replaced by 5");
	assert_true(fabs(r.old_avg - 200.0 / 3.0) < 1e-9);
	assert_true(fabs(r.new_avg - 145.0 / 3.0) < 1e-9);
}

static void
test_replace_below_threshold(void **state)
{
	static const uint32_t cur[] = { 1, 2, 3 };
	struct selector_candidate c[] = { cand(1, 60), cand(2, 55),
		cand(3, 14), cand(4, 20) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	set_state(&st, cur, 3, 100);
	selector_evaluate(&conf, c, 4, &st, 100, &r);
	assert_reason(&r, SELECTOR_REPLACED);
	assert_set(&r, 1, 2, 4);
	assert_string_equal(r.detail,
	    "backend 3 below threshold, replaced by 4");
}

static void
test_replace_disabled(void **state)
{
	static const uint32_t cur[] = { 1, 2, 3 };
	struct selector_candidate c[] = { cand(1, 60), cand(2, 55),
		cand(3, 99), cand(4, 20) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	c[0].disabled = true;
	set_state(&st, cur, 3, 100);
	selector_evaluate(&conf, c, 4, &st, 100, &r);
	assert_reason(&r, SELECTOR_REPLACED);
	assert_set(&r, 2, 3, 4);
	assert_string_equal(r.detail, "backend 1 disabled, replaced by 4");
}

static void
test_replace_gone_and_ineligible(void **state)
{
	static const uint32_t cur[] = { 42, 1, 2 };
	struct selector_candidate c[] = { cand(1, 60), cand(2, 55),
		cand(3, 40), cand(4, 20) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	c[1].eligible = false;
	set_state(&st, cur, 3, 100);
	selector_evaluate(&conf, c, 4, &st, 100, &r);
	assert_reason(&r, SELECTOR_REPLACED);
	assert_set(&r, 1, 3, 4);
	assert_string_equal(r.detail, "backend 42 gone +1 more, "
	    "replaced by 3, 4");
}

static void
test_replacement_skips_members(void **state)
{
	static const uint32_t cur[] = { 1, 2, 3 };
	struct selector_candidate c[] = { cand(1, 90), cand(2, 80),
		cand(3, 99), cand(4, 70), cand(5, 60) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	c[2].failing = true;
	set_state(&st, cur, 3, 0);
	selector_evaluate(&conf, c, 5, &st, 1, &r);
	assert_set(&r, 1, 2, 4);
}

static void
test_removed_without_replacement(void **state)
{
	static const uint32_t cur[] = { 1, 2, 3 };
	struct selector_candidate c[] = { cand(1, 60), cand(2, 55),
		cand(3, 50) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	c[2].failing = true;
	set_state(&st, cur, 3, 0);
	selector_evaluate(&conf, c, 3, &st, 1, &r);
	assert_reason(&r, SELECTOR_REMOVED);
	assert_set(&r, 1, 2);
	assert_string_equal(r.detail, "backend 3 failing, no replacement");
}

static void
test_duplicate_member(void **state)
{
	static const uint32_t cur[] = { 1, 1, 2 };
	struct selector_candidate c[] = { cand(1, 60), cand(2, 55),
		cand(3, 50) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	set_state(&st, cur, 3, 0);
	selector_evaluate(&conf, c, 3, &st, 1, &r);
	assert_reason(&r, SELECTOR_REPLACED);
	assert_set(&r, 1, 2, 3);
	assert_string_equal(r.detail, "backend 1 listed twice, "
	    "replaced by 3");
}

/* Current {1, 2, 3} at 50 each, switched at minute 10. */
static void
debounce_case(const struct selector_candidate *extra, unsigned nextra,
    uint64_t now_ms, struct selector_result *r)
{
	static const uint32_t cur[] = { 1, 2, 3 };
	struct selector_candidate c[16];
	struct selector_conf conf;
	struct selector_state st;
	unsigned i;

	default_conf(&conf);
	c[0] = cand(1, 50);
	c[1] = cand(2, 50);
	c[2] = cand(3, 50);
	for (i = 0; i < nextra; i++)
		c[3 + i] = extra[i];
	set_state(&st, cur, 3, 10 * MINUTE);
	selector_evaluate(&conf, c, 3 + nextra, &st, now_ms, r);
}

static void
test_debounce_small_gain(void **state)
{
	struct selector_candidate x[] = { cand(4, 54) };
	struct selector_result r;

	(void)state;
	/* Time passed, gain (54 + 50 + 50) / 3 - 50 = 1.33 < 5. */
	debounce_case(x, 1, 11 * MINUTE, &r);
	assert_no_change(&r);
	assert_set(&r, 1, 2, 3);
	assert_true(fabs(r.old_avg - 50.0) < 1e-9);
	assert_true(fabs(r.new_avg - 154.0 / 3.0) < 1e-9);
	assert_non_null(strstr(r.detail, "gain below"));
	/* And much later still nothing. */
	debounce_case(x, 1, 1000 * MINUTE, &r);
	assert_no_change(&r);
}

static void
test_debounce_too_soon(void **state)
{
	struct selector_candidate x[] = { cand(4, 70), cand(5, 70),
		cand(6, 70) };
	struct selector_result r;

	(void)state;
	/* Gain 20 >= 5, but 59.999 s since the last switch. */
	debounce_case(x, 3, 11 * MINUTE - 1, &r);
	assert_no_change(&r);
	assert_set(&r, 1, 2, 3);
	assert_true(fabs(r.new_avg - 70.0) < 1e-9);
	assert_string_equal(r.detail,
	    "avg 50.0 -> 70.0 held, debounce 0.0s left");
	debounce_case(x, 3, 10 * MINUTE, &r);
	assert_no_change(&r);
	assert_string_equal(r.detail,
	    "avg 50.0 -> 70.0 held, debounce 60.0s left");
}

static void
test_debounce_both(void **state)
{
	struct selector_candidate x[] = { cand(4, 70), cand(5, 70),
		cand(6, 70) };
	struct selector_result r;

	(void)state;
	debounce_case(x, 3, 11 * MINUTE, &r);
	assert_reason(&r, SELECTOR_IMPROVED);
	assert_set(&r, 4, 5, 6);
	assert_true(fabs(r.old_avg - 50.0) < 1e-9);
	assert_true(fabs(r.new_avg - 70.0) < 1e-9);
	assert_string_equal(r.detail, "avg 50.0 -> 70.0");
}

static void
test_debounce_exact_gain_keeps_places(void **state)
{
	struct selector_candidate x[] = { cand(4, 65) };
	struct selector_result r;

	(void)state;
	/* (65 + 50 + 50) / 3 = 55 = 50 + 5: enough. 1 and 2 stay put. */
	debounce_case(x, 1, 11 * MINUTE, &r);
	assert_reason(&r, SELECTOR_IMPROVED);
	assert_set(&r, 1, 2, 4);
}

static void
test_debounce_clock_went_back(void **state)
{
	struct selector_candidate x[] = { cand(4, 70), cand(5, 70),
		cand(6, 70) };
	struct selector_result r;

	(void)state;
	debounce_case(x, 3, 5 * MINUTE, &r);
	assert_reason(&r, SELECTOR_IMPROVED);
	assert_set(&r, 4, 5, 6);
}

static void
test_equal_sets_no_change(void **state)
{
	static const uint32_t cur[] = { 3, 1, 2 };
	struct selector_candidate c[] = { cand(1, 90), cand(2, 80),
		cand(3, 70), cand(4, 20) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	set_state(&st, cur, 3, 0);
	selector_evaluate(&conf, c, 4, &st, 100 * MINUTE, &r);
	assert_no_change(&r);
	assert_set(&r, 3, 1, 2); /* the order served is kept */
	assert_string_equal(r.detail, "");
	assert_true(fabs(r.old_avg - 80.0) < 1e-9);
	assert_true(fabs(r.new_avg - 80.0) < 1e-9);
}

static void
test_degraded_initial(void **state)
{
	struct selector_candidate c[] = { cand(1, 10), cand(2, 12),
		cand(3, 5), cand(4, 1), cand(5, 99) };
	struct selector_conf conf;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	c[4].failing = true;
	selector_evaluate(&conf, c, 5, NULL, 0, &r);
	assert_reason(&r, SELECTOR_INITIAL);
	assert_true(r.degraded);
	assert_set(&r, 2, 1, 3);
	assert_non_null(strstr(r.detail, "degraded"));

	c[1].failing = true;
	selector_evaluate(&conf, c, 5, NULL, 0, &r);
	assert_true(r.degraded);
	assert_set(&r, 1, 3, 4);
}

static void
test_degraded_keeps_answering_members(void **state)
{
	static const uint32_t cur[] = { 1, 2, 3 };
	struct selector_candidate c[] = { cand(1, 10), cand(2, 12),
		cand(3, 5), cand(4, 14) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	set_state(&st, cur, 3, 0);
	selector_evaluate(&conf, c, 4, &st, 1, &r);
	assert_no_change(&r);
	assert_true(r.degraded);
	assert_set(&r, 1, 2, 3);

	/* A member failing in degraded mode is still replaced at once. */
	c[2].failing = true;
	selector_evaluate(&conf, c, 4, &st, 1, &r);
	assert_reason(&r, SELECTOR_REPLACED);
	assert_true(r.degraded);
	assert_set(&r, 1, 2, 4);
}

static void
test_degraded_recovery(void **state)
{
	static const uint32_t cur[] = { 1, 2, 3 };
	struct selector_candidate c[] = { cand(1, 10), cand(2, 12),
		cand(3, 5), cand(4, 20) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	set_state(&st, cur, 3, 0);
	/* One backend passes again: the pool is it alone. */
	selector_evaluate(&conf, c, 4, &st, 1, &r);
	assert_reason(&r, SELECTOR_REPLACED);
	assert_false(r.degraded);
	assert_set(&r, 4);
	assert_string_equal(r.detail,
	    "backend 1 below threshold +2 more, replaced by 4");
}

static void
test_nothing_answering_keeps_current(void **state)
{
	static const uint32_t cur[] = { 1, 2, 3 };
	struct selector_candidate c[] = { cand(1, 60), cand(2, 55),
		cand(3, 50), cand(4, 50) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	c[0].failing = true;
	c[1].failing = true;
	c[2].disabled = true;
	c[3].eligible = false;
	set_state(&st, cur, 3, 0);
	selector_evaluate(&conf, c, 4, &st, 100 * MINUTE, &r);
	assert_no_change(&r);
	assert_true(r.degraded);
	assert_set(&r, 1, 2, 3);
	assert_string_equal(r.detail,
	    "no backend answering, keeping the current 3");

	/* Gone from the list entirely: still kept. */
	selector_evaluate(&conf, NULL, 0, &st, 100 * MINUTE, &r);
	assert_no_change(&r);
	assert_true(r.degraded);
	assert_set(&r, 1, 2, 3);

	/* Nothing current, nothing answering: empty, nothing to do. */
	selector_evaluate(&conf, c, 4, NULL, 0, &r);
	assert_no_change(&r);
	assert_true(r.degraded);
	assert_int_equal(r.n, 0);
}

static void
test_set_size_larger_than_candidates(void **state)
{
	struct selector_candidate c[] = { cand(1, 20), cand(2, 40),
		cand(3, 30), cand(4, 10) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	conf.active_set_size = 10;
	set_state(&st, NULL, 0, 0);
	selector_evaluate(&conf, c, 4, &st, 0, &r);
	assert_reason(&r, SELECTOR_INITIAL);
	assert_set(&r, 2, 3, 1);
	selector_apply(&st, &r, 0);
	selector_evaluate(&conf, c, 4, &st, 0, &r);
	assert_no_change(&r);
	assert_set(&r, 2, 3, 1);
	assert_string_equal(r.detail, "3 of 10, no other backend qualifies");
	/* Backend 4 rises above the threshold: filled at once. */
	c[3].score = 16;
	selector_evaluate(&conf, c, 4, &st, 0, &r);
	assert_reason(&r, SELECTOR_FILLED);
	assert_set(&r, 2, 3, 1, 4);
}

static void
test_set_size_zero_is_one(void **state)
{
	struct selector_candidate c[] = { cand(1, 20), cand(2, 40) };
	struct selector_conf conf;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	conf.active_set_size = 0;
	selector_evaluate(&conf, c, 2, NULL, 0, &r);
	assert_set(&r, 2);
}

static void
test_resized(void **state)
{
	static const uint32_t cur[] = { 1, 2, 3 };
	struct selector_candidate c[] = { cand(1, 40), cand(2, 60),
		cand(3, 50) };
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;

	(void)state;
	default_conf(&conf);
	conf.active_set_size = 2;
	set_state(&st, cur, 3, 0);
	selector_evaluate(&conf, c, 3, &st, 1, &r);
	assert_reason(&r, SELECTOR_RESIZED);
	assert_set(&r, 2, 3);
	assert_string_equal(r.detail, "active_set_size 2, dropped 1");

	/* With a broken member too, it is a removal. */
	c[2].failing = true;
	conf.active_set_size = 1;
	selector_evaluate(&conf, c, 3, &st, 1, &r);
	assert_reason(&r, SELECTOR_REMOVED);
	assert_set(&r, 2);
}

static void
test_selector_max_bounds(void **state)
{
	static struct selector_candidate c[600];
	static struct selector_state st;
	struct selector_conf conf;
	struct selector_result r;
	unsigned i;

	(void)state;
	default_conf(&conf);
	conf.active_set_size = 1000;
	for (i = 0; i < 600; i++)
		c[i] = cand(i + 1, 20.0 + (double)i / 10.0);
	selector_evaluate(&conf, c, 600, NULL, 0, &r);
	assert_reason(&r, SELECTOR_INITIAL);
	assert_int_equal(r.n, SELECTOR_MAX);
	for (i = 0; i < SELECTOR_MAX; i++)
		assert_int_equal(r.ids[i], 600 - i);

	/* A current set that claims more than SELECTOR_MAX ids. */
	for (i = 0; i < SELECTOR_MAX; i++)
		st.ids[i] = 600 - i;
	st.n = 5000;
	st.last_switch_ms = 0;
	selector_evaluate(&conf, c, 600, &st, 1, &r);
	assert_no_change(&r);
	assert_int_equal(r.n, SELECTOR_MAX);
}

/* Brute force: the top k answering ids by (score desc, id asc). */
static unsigned
brute_top(const struct selector_candidate *c, unsigned n, unsigned k,
    double thr, uint32_t *out)
{
	unsigned i, j, cnt = 0, best;
	static bool used[20000];

	memset(used, 0, sizeof(used));
	while (cnt < k) {
		best = n;
		for (i = 0; i < n; i++) {
			if (used[i] || !c[i].eligible || c[i].failing ||
			    c[i].disabled || c[i].score < thr)
				continue;
			if (best == n || c[i].score > c[best].score ||
			    (c[i].score == c[best].score &&
			    c[i].id < c[best].id))
				best = i;
		}
		if (best == n)
			break;
		used[best] = true;
		out[cnt++] = c[best].id;
	}
	for (i = 0; i < cnt; i++)
		for (j = i + 1; j < cnt; j++)
			assert_true(out[i] != out[j]);
	return cnt;
}

static uint64_t
rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

static void
test_large_ranking_matches_brute_force(void **state)
{
	static struct selector_candidate c[20000];
	struct selector_conf conf;
	struct selector_result r;
	uint32_t want[SELECTOR_MAX];
	uint64_t s = 12345;
	unsigned i, k, nwant;

	(void)state;
	default_conf(&conf);
	for (k = 1; k <= SELECTOR_MAX; k = k * 4 + 1) {
		conf.active_set_size = k;
		for (i = 0; i < 20000; i++) {
			/* Few distinct scores, so ties are common. */
			c[i] = cand((uint32_t)i * 2654435761u,
			    (double)(rnd(&s) % 200) / 2.0);
			c[i].failing = rnd(&s) % 5 == 0;
			c[i].disabled = rnd(&s) % 17 == 0;
			c[i].eligible = rnd(&s) % 11 != 0;
		}
		nwant = brute_top(c, 20000, k, 15.0, want);
		selector_evaluate(&conf, c, 20000, NULL, 0, &r);
		assert_int_equal(r.n, nwant);
		assert_memory_equal(r.ids, want, nwant * sizeof(want[0]));
	}
}

/* Invariants over many random rounds of evaluate and apply. */
static void
test_random_rounds_invariants(void **state)
{
	struct selector_candidate c[40];
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;
	uint64_t s = 99, now = 0;
	unsigned round, i, j, answering, passing;

	(void)state;
	default_conf(&conf);
	conf.active_set_size = 4;
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 40; i++)
		c[i] = cand(i + 1, 0);
	for (round = 0; round < 20000; round++) {
		now += rnd(&s) % (2 * MINUTE);
		answering = passing = 0;
		for (i = 0; i < 40; i++) {
			c[i].score = (double)(rnd(&s) % 1000) / 10.0;
			c[i].failing = rnd(&s) % 7 == 0;
			c[i].disabled = rnd(&s) % 29 == 0;
			c[i].eligible = rnd(&s) % 13 != 0;
			if (rnd(&s) % 3 == 0)
				c[i].failing = true;
			if (c[i].eligible && !c[i].failing && !c[i].disabled) {
				answering++;
				if (c[i].score >= 15.0)
					passing++;
			}
		}
		selector_evaluate(&conf, c, 40, &st, now, &r);
		assert_true(r.n <= 4);
		assert_int_equal(r.changed, r.reason != SELECTOR_NO_CHANGE);
		assert_int_equal(r.degraded, passing == 0);
		if (answering > 0)
			assert_true(r.n > 0);
		else
			assert_int_equal(r.n, st.n);
		for (i = 0; i < r.n; i++)
			for (j = i + 1; j < r.n; j++)
				assert_true(r.ids[i] != r.ids[j]);
		if (r.changed) {
			/* Every member of a new set is in the pool. */
			for (i = 0; i < r.n; i++) {
				const struct selector_candidate *m =
				    &c[r.ids[i] - 1];

				assert_true(m->eligible && !m->failing &&
				    !m->disabled);
				assert_true(r.degraded || m->score >= 15.0);
			}
			if (r.reason == SELECTOR_IMPROVED) {
				assert_true(now - st.last_switch_ms >= MINUTE);
				assert_true(r.new_avg >= r.old_avg + 5.0);
			}
		}
		selector_apply(&st, &r, now);
	}
}

static void
test_apply(void **state)
{
	static const uint32_t cur[] = { 7, 8 };
	struct selector_state st;
	struct selector_result r;

	(void)state;
	set_state(&st, cur, 2, 5);
	memset(&r, 0, sizeof(r));
	r.ids[0] = 9;
	r.n = 1;
	selector_apply(&st, &r, 100); /* not changed: untouched */
	assert_int_equal(st.n, 2);
	assert_int_equal(st.ids[0], 7);
	assert_int_equal(st.last_switch_ms, 5);
	r.changed = true;
	r.reason = SELECTOR_REPLACED;
	selector_apply(&st, &r, 100);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.ids[0], 9);
	assert_int_equal(st.last_switch_ms, 100);
}

static void
test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(selector_reason_name(SELECTOR_NO_CHANGE),
	    "no_change");
	assert_string_equal(selector_reason_name(SELECTOR_INITIAL),
	    "initial");
	assert_string_equal(selector_reason_name(SELECTOR_REPLACED),
	    "replaced");
	assert_string_equal(selector_reason_name(SELECTOR_REMOVED),
	    "removed");
	assert_string_equal(selector_reason_name(SELECTOR_FILLED), "filled");
	assert_string_equal(selector_reason_name(SELECTOR_RESIZED),
	    "resized");
	assert_string_equal(selector_reason_name(SELECTOR_IMPROVED),
	    "improved");
	assert_string_equal(selector_reason_name((enum selector_reason)99),
	    "unknown");
}

static void
test_detail_fits(void **state)
{
	static const uint32_t cur[] = { 4000000001u, 4000000002u,
		4000000003u, 4000000004u, 4000000005u };
	struct selector_candidate c[10];
	struct selector_conf conf;
	struct selector_state st;
	struct selector_result r;
	unsigned i;

	(void)state;
	default_conf(&conf);
	conf.active_set_size = 5;
	conf.min_score_threshold = 1e300;
	for (i = 0; i < 10; i++)
		c[i] = cand(4100000000u + i, 1e299 - i);
	set_state(&st, cur, 5, 0);
	selector_evaluate(&conf, c, 10, &st, 0, &r);
	assert_reason(&r, SELECTOR_REPLACED);
	assert_true(r.degraded);
	assert_true(strlen(r.detail) < sizeof(r.detail));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial),
		cmocka_unit_test(test_initial_from_empty_state),
		cmocka_unit_test(test_threshold_filter),
		cmocka_unit_test(test_excludes_not_answering),
		cmocka_unit_test(test_ranking_ties),
		cmocka_unit_test(test_fill_at_once),
		cmocka_unit_test(test_short_with_nothing_to_add),
		cmocka_unit_test(test_replace_failing_at_once),
		cmocka_unit_test(test_replace_below_threshold),
		cmocka_unit_test(test_replace_disabled),
		cmocka_unit_test(test_replace_gone_and_ineligible),
		cmocka_unit_test(test_replacement_skips_members),
		cmocka_unit_test(test_removed_without_replacement),
		cmocka_unit_test(test_duplicate_member),
		cmocka_unit_test(test_debounce_small_gain),
		cmocka_unit_test(test_debounce_too_soon),
		cmocka_unit_test(test_debounce_both),
		cmocka_unit_test(test_debounce_exact_gain_keeps_places),
		cmocka_unit_test(test_debounce_clock_went_back),
		cmocka_unit_test(test_equal_sets_no_change),
		cmocka_unit_test(test_degraded_initial),
		cmocka_unit_test(test_degraded_keeps_answering_members),
		cmocka_unit_test(test_degraded_recovery),
		cmocka_unit_test(test_nothing_answering_keeps_current),
		cmocka_unit_test(test_set_size_larger_than_candidates),
		cmocka_unit_test(test_set_size_zero_is_one),
		cmocka_unit_test(test_resized),
		cmocka_unit_test(test_selector_max_bounds),
		cmocka_unit_test(test_large_ranking_matches_brute_force),
		cmocka_unit_test(test_random_rounds_invariants),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_detail_fits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
