/*
 * The scoring model against hand-computed values with the seed's default
 * remotes.scoring: interpolation, EWMA starts and updates, the jitter
 * sample, success rate, penalty growth and recovery, bonus accrual, the
 * clamp, eligibility and passive-health folding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "../../controlplane/score.h"

#define assert_near(got, want) assert_near_at((got), (want), __FILE__, \
    __LINE__)

static void
assert_near_at(double got, double want, const char *file, int line)
{
	double tol = 1e-9 * (fabs(want) > 1.0 ? fabs(want) : 1.0);

	if (fabs(got - want) <= tol)
		return;
	print_error("%.12g != %.12g\n", got, want);
	_fail(file, line);
}

/* The seed's config.yaml, remotes.scoring. */
static void
default_conf(struct scoring_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->weights.latency = 0.45;
	c->weights.jitter = 0.15;
	c->weights.success_rate = 0.40;
	c->latency.max_score = 45.0;
	c->latency.ewma_alpha = 0.2;
	c->latency.base_latency_ms = 50;
	c->latency.max_acceptable_latency_ms = 800;
	c->jitter.max_score = 15.0;
	c->jitter.ewma_alpha = 0.3;
	c->jitter.base_jitter_ms = 10;
	c->jitter.max_acceptable_jitter_ms = 300;
	c->success_rate.max_score = 40.0;
	c->success_rate.ewma_alpha = 0.1;
	c->failure_penalty.base_penalty = 5.0;
	c->failure_penalty.exponent_factor = 1.8;
	c->failure_penalty.max_penalty = 80.0;
	c->failure_penalty.recovery_per_check = 2.5;
	c->historical_bonus.max_bonus = 10.0;
	c->historical_bonus.checks_per_point = 120;
}

static void
successes(struct score_state *st, const struct scoring_conf *c, unsigned n,
    double ms)
{
	unsigned i;

	for (i = 0; i < n; i++)
		assert_int_equal(score_success(st, c, ms), 0);
}

static void
failures(struct score_state *st, const struct scoring_conf *c, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		score_failure(st, c);
}

static void
test_max_possible(void **state)
{
	struct scoring_conf c;

	(void)state;
	default_conf(&c);
	assert_near(score_max_possible(&c), 110.0);
}

static void
test_latency_part(void **state)
{
	struct scoring_conf c;

	(void)state;
	default_conf(&c);
	assert_near(score_latency_part(&c, 0.0), 45.0);
	assert_near(score_latency_part(&c, 49.999), 45.0);
	assert_near(score_latency_part(&c, 50.0), 45.0);
	/* 45 * (800 - 50.001) / 750 */
	assert_near(score_latency_part(&c, 50.001), 44.99994);
	/* 45 * 749 / 750 */
	assert_near(score_latency_part(&c, 51.0), 44.94);
	assert_near(score_latency_part(&c, 200.0), 36.0);
	assert_near(score_latency_part(&c, 425.0), 22.5);
	assert_near(score_latency_part(&c, 799.0), 0.06);
	assert_near(score_latency_part(&c, 800.0), 0.0);
	assert_near(score_latency_part(&c, 801.0), 0.0);
	assert_near(score_latency_part(&c, 1e12), 0.0);
	assert_near(score_latency_part(&c, INFINITY), 0.0);
	assert_near(score_latency_part(&c, NAN), 0.0);
}

static void
test_jitter_part(void **state)
{
	struct scoring_conf c;

	(void)state;
	default_conf(&c);
	assert_near(score_jitter_part(&c, 0.0), 15.0);
	assert_near(score_jitter_part(&c, 10.0), 15.0);
	/* 15 * 289 / 290 */
	assert_near(score_jitter_part(&c, 11.0), 4335.0 / 290.0);
	assert_near(score_jitter_part(&c, 155.0), 7.5);
	assert_near(score_jitter_part(&c, 299.0), 15.0 / 290.0);
	assert_near(score_jitter_part(&c, 300.0), 0.0);
	assert_near(score_jitter_part(&c, 300.5), 0.0);
	assert_near(score_jitter_part(&c, NAN), 0.0);
}

static void
test_degenerate_bounds(void **state)
{
	struct scoring_conf c;

	(void)state;
	default_conf(&c);
	c.latency.base_latency_ms = 100;
	c.latency.max_acceptable_latency_ms = 100;
	assert_near(score_latency_part(&c, 100.0), 45.0);
	assert_near(score_latency_part(&c, 100.5), 0.0);
	c.latency.max_acceptable_latency_ms = 50; /* below base */
	assert_near(score_latency_part(&c, 99.0), 45.0);
	assert_near(score_latency_part(&c, 101.0), 0.0);
}

static void
test_never_checked(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	assert_false(score_eligible(&st));
	assert_near(score_compute(&st, &c), 0.0);
	assert_near(st.score, 0.0);
	assert_false(st.latency_init);
	assert_false(st.jitter_init);
	assert_false(st.success_init);
}

static void
test_failures_only_not_eligible(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	failures(&st, &c, 3);
	assert_false(score_eligible(&st));
	assert_near(score_compute(&st, &c), 0.0);
	assert_true(st.success_init);
	assert_near(st.success_ewma, 0.0);
	assert_false(st.latency_init);
	assert_near(st.penalty, 16.2);
	assert_int_equal(st.probes, 3);
	assert_int_equal(st.failures, 3);
	assert_int_equal(st.successes, 0);
}

static void
test_first_success(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	assert_int_equal(score_success(&st, &c, 100.0), 0);
	assert_true(score_eligible(&st));
	assert_true(st.latency_init);
	assert_near(st.latency_ewma_ms, 100.0); /* the sample, no guess */
	assert_false(st.jitter_init);
	assert_near(st.success_ewma, 1.0);
	/* 45 * 700 / 750 = 42; jitter unknown scores 0; 1.0 * 40 */
	assert_near(st.latency_score, 42.0);
	assert_near(st.jitter_score, 0.0);
	assert_near(st.success_score, 40.0);
	assert_near(st.score, 82.0);
	assert_near(score_compute(&st, &c), 82.0);
	assert_int_equal(st.consecutive_successes, 1);
}

static void
test_ewma_sequence(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);

	assert_int_equal(score_success(&st, &c, 100.0), 0);
	assert_near(st.latency_ewma_ms, 100.0);
	assert_false(st.jitter_init);

	/* jitter |200 - 100| = 100 starts the EWMA; L = .2*200 + .8*100 */
	assert_int_equal(score_success(&st, &c, 200.0), 0);
	assert_true(st.jitter_init);
	assert_near(st.jitter_ewma_ms, 100.0);
	assert_near(st.latency_ewma_ms, 120.0);

	/* |50 - 120| = 70; J = .3*70 + .7*100 = 91; L = 10 + 96 = 106 */
	assert_int_equal(score_success(&st, &c, 50.0), 0);
	assert_near(st.jitter_ewma_ms, 91.0);
	assert_near(st.latency_ewma_ms, 106.0);

	/* |150 - 106| = 44; J = 13.2 + 63.7 = 76.9; L = 30 + 84.8 = 114.8 */
	assert_int_equal(score_success(&st, &c, 150.0), 0);
	assert_near(st.jitter_ewma_ms, 76.9);
	assert_near(st.latency_ewma_ms, 114.8);

	/* 45 * 685.2 / 750 = 41.112; 15 * 223.1 / 290; 40 */
	assert_near(st.latency_score, 41.112);
	assert_near(st.jitter_score, 3346.5 / 290.0);
	assert_near(st.success_score, 40.0);
	assert_near(st.score, 41.112 + 3346.5 / 290.0 + 40.0);
}

static void
test_jitter_against_ewma_not_last_sample(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1, 100.0);
	successes(&st, &c, 1, 200.0); /* J = 100, L = 120 */
	/* Against the EWMA: |200 - 120| = 80, not |200 - 200| = 0. */
	successes(&st, &c, 1, 200.0);
	assert_near(st.jitter_ewma_ms, 0.3 * 80.0 + 0.7 * 100.0);
	assert_near(st.latency_ewma_ms, 0.2 * 200.0 + 0.8 * 120.0);
}

static void
test_jitter_unknown_across_failures(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	failures(&st, &c, 2);
	successes(&st, &c, 1, 30.0);
	failures(&st, &c, 1);
	assert_false(st.jitter_init);
	assert_near(st.jitter_score, 0.0);
	/* The second success, failures between, is the first jitter. */
	successes(&st, &c, 1, 45.0);
	assert_true(st.jitter_init);
	assert_near(st.jitter_ewma_ms, 15.0);
	assert_near(st.latency_ewma_ms, 0.2 * 45.0 + 0.8 * 30.0);
	/* 15 * (300 - 15) / 290 */
	assert_near(st.jitter_score, 4275.0 / 290.0);
}

static void
test_success_ewma_sequences(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);

	score_init(&st);
	failures(&st, &c, 1);
	assert_near(st.success_ewma, 0.0);
	successes(&st, &c, 1, 50.0);
	assert_near(st.success_ewma, 0.1);
	successes(&st, &c, 1, 50.0);
	assert_near(st.success_ewma, 0.19);
	failures(&st, &c, 1);
	assert_near(st.success_ewma, 0.171);
	assert_near(st.success_score, 0.171 * 40.0);

	score_init(&st);
	successes(&st, &c, 1, 50.0);
	assert_near(st.success_ewma, 1.0);
	failures(&st, &c, 1);
	assert_near(st.success_ewma, 0.9);
	failures(&st, &c, 1);
	assert_near(st.success_ewma, 0.81);
	successes(&st, &c, 1, 50.0);
	assert_near(st.success_ewma, 0.829);
	assert_near(st.success_score, 33.16);
}

static void
test_penalty_growth(void **state)
{
	static const double want[] = { 5.0, 9.0, 16.2, 29.16, 52.488, 80.0,
		80.0, 80.0 };
	struct scoring_conf c;
	struct score_state st;
	unsigned i;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1, 50.0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		score_failure(&st, &c);
		assert_int_equal(st.consecutive_failures, i + 1);
		assert_near(st.penalty, want[i]);
	}
}

static void
test_penalty_not_lowered_by_new_streak(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1, 50.0);
	failures(&st, &c, 6);
	assert_near(st.penalty, 80.0);
	successes(&st, &c, 3, 50.0);
	assert_near(st.penalty, 72.5);
	assert_int_equal(st.consecutive_failures, 0);

	/* New streak: candidates 5, 9, 16.2, 29.16, 52.488 stay below. */
	failures(&st, &c, 1);
	assert_int_equal(st.consecutive_failures, 1);
	assert_near(st.penalty, 72.5);
	failures(&st, &c, 4);
	assert_near(st.penalty, 72.5);
	failures(&st, &c, 1); /* 94.4784 capped */
	assert_near(st.penalty, 80.0);

	/* Same in the middle of the range: 16.2 - 5 = 11.2, then 5, 9
	 * leave it, 16.2 raises it. */
	score_init(&st);
	successes(&st, &c, 1, 50.0);
	failures(&st, &c, 3);
	successes(&st, &c, 2, 50.0);
	assert_near(st.penalty, 11.2);
	failures(&st, &c, 1);
	assert_near(st.penalty, 11.2);
	failures(&st, &c, 1);
	assert_near(st.penalty, 11.2);
	failures(&st, &c, 1);
	assert_near(st.penalty, 16.2);
}

static void
test_penalty_recovery(void **state)
{
	static const double want[] = { 13.7, 11.2, 8.7, 6.2, 3.7, 1.2, 0.0,
		0.0 };
	struct scoring_conf c;
	struct score_state st;
	unsigned i;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1, 50.0);
	failures(&st, &c, 3);
	assert_near(st.penalty, 16.2);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		successes(&st, &c, 1, 50.0);
		assert_int_equal(st.consecutive_failures, 0);
		assert_near(st.penalty, want[i]);
	}
}

static void
test_penalty_long_streak(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1, 50.0);
	st.consecutive_failures = UINT32_MAX - 1;
	score_failure(&st, &c); /* 1.8^(2^32) overflows to inf */
	assert_int_equal(st.consecutive_failures, UINT32_MAX);
	assert_near(st.penalty, 80.0);
	score_failure(&st, &c);
	assert_int_equal(st.consecutive_failures, UINT32_MAX);
	assert_near(st.penalty, 80.0);

	c.failure_penalty.base_penalty = 0.0; /* 0 * inf must not be NaN */
	score_init(&st);
	successes(&st, &c, 1, 50.0);
	st.consecutive_failures = UINT32_MAX - 1;
	score_failure(&st, &c);
	assert_near(st.penalty, 0.0);
	assert_false(isnan(st.score));
}

static void
test_bonus_accrual(void **state)
{
	struct scoring_conf c;
	struct score_state st;
	unsigned pt;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 119, 10.0);
	assert_near(st.bonus, 0.0);
	successes(&st, &c, 1, 10.0);
	assert_near(st.bonus, 1.0);
	successes(&st, &c, 119, 10.0);
	assert_near(st.bonus, 1.0);
	successes(&st, &c, 1, 10.0);
	assert_near(st.bonus, 2.0);
	for (pt = 3; pt <= 10; pt++) {
		successes(&st, &c, 120, 10.0);
		assert_near(st.bonus, (double)pt);
	}
	assert_int_equal(st.consecutive_successes, 1200);
	successes(&st, &c, 240, 10.0);
	assert_near(st.bonus, 10.0); /* capped at max_bonus */
	/* Full marks: 45 + 15 (jitter 0) + 40 + 10 */
	assert_near(st.score, 110.0);
}

static void
test_bonus_kept_after_failure(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 250, 10.0);
	assert_near(st.bonus, 2.0);
	failures(&st, &c, 1);
	assert_int_equal(st.consecutive_successes, 0);
	assert_near(st.bonus, 2.0);
	/* The streak restarts: 10 earlier successes do not count. */
	successes(&st, &c, 119, 10.0);
	assert_near(st.bonus, 2.0);
	successes(&st, &c, 1, 10.0);
	assert_near(st.bonus, 3.0);
}

static void
test_bonus_zero_checks_per_point(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	c.historical_bonus.checks_per_point = 0;
	score_init(&st);
	successes(&st, &c, 500, 10.0);
	assert_near(st.bonus, 0.0);
}

static void
test_clamp_at_zero(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1, 800.0);
	failures(&st, &c, 6);
	/* 0 + 0 + 40 * 0.9^6 - 80 + 0 < 0 */
	assert_near(st.success_score, 40.0 * 0.531441);
	assert_near(st.penalty, 80.0);
	assert_near(st.score, 0.0);
	assert_near(score_compute(&st, &c), 0.0);
	assert_true(score_eligible(&st));
}

static void
test_clamp_at_max(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1200, 10.0);
	assert_near(st.bonus, 10.0);
	/* A reload lowers max_bonus below the bonus the state holds. */
	c.historical_bonus.max_bonus = 5.0;
	assert_near(score_max_possible(&c), 105.0);
	assert_near(score_compute(&st, &c), 105.0);
	assert_near(st.score, 105.0);
}

static void
test_weights_informational(void **state)
{
	struct scoring_conf c;
	struct score_state a, b;

	(void)state;
	default_conf(&c);
	score_init(&a);
	successes(&a, &c, 1, 100.0);
	successes(&a, &c, 1, 140.0);
	c.weights.latency = 0.9;
	c.weights.jitter = 0.05;
	c.weights.success_rate = 0.05;
	score_init(&b);
	successes(&b, &c, 1, 100.0);
	successes(&b, &c, 1, 140.0);
	assert_near(a.score, b.score);
}

static void
test_success_refuses_bad_latency(void **state)
{
	static const double bad[] = { -1.0, -0.001, NAN, INFINITY,
		-INFINITY };
	struct scoring_conf c;
	struct score_state st, before;
	unsigned i;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 2, 80.0);
	memcpy(&before, &st, sizeof(before));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(score_success(&st, &c, bad[i]), -1);
		assert_memory_equal(&st, &before, sizeof(st));
	}
	assert_int_equal(score_success(&st, &c, 0.0), 0);
}

static void
test_counters(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 4, 60.0);
	failures(&st, &c, 2);
	successes(&st, &c, 1, 60.0);
	assert_int_equal(st.probes, 7);
	assert_int_equal(st.successes, 5);
	assert_int_equal(st.failures, 2);
	assert_int_equal(st.consecutive_successes, 1);
	assert_int_equal(st.consecutive_failures, 0);
	assert_int_equal(st.passive_reports, 0);
}

static void
test_passive_empty_interval(void **state)
{
	struct scoring_conf c;
	struct score_state st, before;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 3, 70.0);
	memcpy(&before, &st, sizeof(before));
	score_passive(&st, &c, 0, 0);
	assert_memory_equal(&st, &before, sizeof(st));
}

static void
test_passive_only_not_eligible(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	score_passive(&st, &c, 3, 1);
	assert_true(st.success_init);
	assert_near(st.success_ewma, 0.75); /* first sample starts it */
	assert_false(st.latency_init);
	assert_false(score_eligible(&st));
	assert_near(st.success_score, 30.0);
	assert_near(st.score, 0.0);
	assert_int_equal(st.consecutive_successes, 0); /* mixed interval */
	assert_int_equal(st.consecutive_failures, 0);
	assert_int_equal(st.passive_reports, 1);
	assert_int_equal(st.passive_ok, 3);
	assert_int_equal(st.passive_failed, 1);
	assert_int_equal(st.probes, 0);

	score_passive(&st, &c, 10, 0);
	assert_false(score_eligible(&st));
	assert_near(st.score, 0.0);
}

static void
test_passive_mixed(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1, 100.0);
	failures(&st, &c, 1);
	assert_near(st.success_ewma, 0.9);
	assert_near(st.penalty, 5.0);
	score_passive(&st, &c, 3, 1);
	/* One sample of 3/4: .1 * .75 + .9 * .9 */
	assert_near(st.success_ewma, 0.885);
	assert_int_equal(st.consecutive_failures, 1);
	assert_near(st.penalty, 5.0);
	assert_near(st.latency_ewma_ms, 100.0);
	assert_false(st.jitter_init);
	/* 42 + 0 + .885 * 40 - 5 */
	assert_near(st.score, 42.0 + 35.4 - 5.0);
}

static void
test_passive_all_failed(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 2, 100.0);
	assert_int_equal(st.consecutive_successes, 2);
	/* Five failed dials in one interval are one failed check. */
	score_passive(&st, &c, 0, 5);
	assert_near(st.success_ewma, 0.9);
	assert_int_equal(st.consecutive_failures, 1);
	assert_int_equal(st.consecutive_successes, 0);
	assert_near(st.penalty, 5.0);
	score_passive(&st, &c, 0, 2);
	assert_near(st.success_ewma, 0.81);
	assert_int_equal(st.consecutive_failures, 2);
	assert_near(st.penalty, 9.0);
	/* Probe and passive failures share one streak. */
	score_failure(&st, &c);
	assert_near(st.success_ewma, 0.729);
	assert_int_equal(st.consecutive_failures, 3);
	assert_near(st.penalty, 16.2);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.passive_failed, 7);
	assert_near(st.latency_ewma_ms, 100.0);
	assert_near(st.jitter_ewma_ms, 0.0);
}

static void
test_passive_all_ok(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1, 100.0);
	failures(&st, &c, 2);
	assert_near(st.penalty, 9.0);
	assert_near(st.success_ewma, 0.81);
	score_passive(&st, &c, 4, 0);
	assert_near(st.success_ewma, 0.829);
	assert_int_equal(st.consecutive_failures, 0);
	assert_int_equal(st.consecutive_successes, 1);
	assert_near(st.penalty, 6.5);
	assert_near(st.latency_ewma_ms, 100.0);
	assert_false(st.jitter_init);
	assert_int_equal(st.successes, 1);
}

static void
test_passive_streak_survives_probes(void **state)
{
	struct scoring_conf c;
	struct score_state st;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1, 10.0);
	/* Real dials all refused, probes answering in between: the probe
	 * streak resets, the passive one does not. */
	score_passive(&st, &c, 0, 40);
	assert_int_equal(st.passive_consecutive_failures, 1);
	successes(&st, &c, 1, 10.0);
	assert_int_equal(st.consecutive_failures, 0);
	assert_int_equal(st.passive_consecutive_failures, 1);
	score_passive(&st, &c, 0, 35);
	assert_int_equal(st.passive_consecutive_failures, 2);
	/* A mixed interval (one good dial) ends it. */
	score_passive(&st, &c, 1, 20);
	assert_int_equal(st.passive_consecutive_failures, 0);
	score_passive(&st, &c, 0, 1);
	assert_int_equal(st.passive_consecutive_failures, 1);
	score_passive(&st, &c, 5, 0);
	assert_int_equal(st.passive_consecutive_failures, 0);
	/* An empty interval changes nothing. */
	score_passive(&st, &c, 0, 3);
	score_passive(&st, &c, 0, 0);
	assert_int_equal(st.passive_consecutive_failures, 1);
}

static void
test_passive_bonus_and_streaks(void **state)
{
	struct scoring_conf c;
	struct score_state st;
	unsigned i;

	(void)state;
	default_conf(&c);
	score_init(&st);
	successes(&st, &c, 1, 50.0);
	for (i = 0; i < 118; i++)
		score_passive(&st, &c, 7, 0);
	assert_int_equal(st.consecutive_successes, 119);
	assert_near(st.bonus, 0.0);
	/* A mixed interval neither extends nor breaks the streak. */
	score_passive(&st, &c, 5, 1);
	assert_int_equal(st.consecutive_successes, 119);
	successes(&st, &c, 1, 50.0);
	assert_int_equal(st.consecutive_successes, 120);
	assert_near(st.bonus, 1.0);
	score_passive(&st, &c, 0, 1);
	assert_int_equal(st.consecutive_successes, 0);
	assert_near(st.bonus, 1.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_possible),
		cmocka_unit_test(test_latency_part),
		cmocka_unit_test(test_jitter_part),
		cmocka_unit_test(test_degenerate_bounds),
		cmocka_unit_test(test_never_checked),
		cmocka_unit_test(test_failures_only_not_eligible),
		cmocka_unit_test(test_first_success),
		cmocka_unit_test(test_ewma_sequence),
		cmocka_unit_test(test_jitter_against_ewma_not_last_sample),
		cmocka_unit_test(test_jitter_unknown_across_failures),
		cmocka_unit_test(test_success_ewma_sequences),
		cmocka_unit_test(test_penalty_growth),
		cmocka_unit_test(test_penalty_not_lowered_by_new_streak),
		cmocka_unit_test(test_penalty_recovery),
		cmocka_unit_test(test_penalty_long_streak),
		cmocka_unit_test(test_bonus_accrual),
		cmocka_unit_test(test_bonus_kept_after_failure),
		cmocka_unit_test(test_bonus_zero_checks_per_point),
		cmocka_unit_test(test_clamp_at_zero),
		cmocka_unit_test(test_clamp_at_max),
		cmocka_unit_test(test_weights_informational),
		cmocka_unit_test(test_success_refuses_bad_latency),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_passive_empty_interval),
		cmocka_unit_test(test_passive_only_not_eligible),
		cmocka_unit_test(test_passive_mixed),
		cmocka_unit_test(test_passive_all_failed),
		cmocka_unit_test(test_passive_all_ok),
		cmocka_unit_test(test_passive_bonus_and_streaks),
		cmocka_unit_test(test_passive_streak_survives_probes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
