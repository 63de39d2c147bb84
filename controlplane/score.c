/*
 * The scoring model: EWMAs, penalty, bonus and the final clamp. The
 * contracts and the reasons behind each rule are in score.h.
 */
#include <math.h>
#include <string.h>

#include "score.h"

static double
ewma(double alpha, double sample, double old)
{
	return alpha * sample + (1.0 - alpha) * old;
}

static double
interpolate(double value, double base, double max_acceptable,
    double max_score)
{
	if (value <= base)
		return max_score;
	/* Also catches NaN, and max_acceptable <= base (nothing between). */
	if (!(value < max_acceptable))
		return 0.0;
	return (max_acceptable - value) / (max_acceptable - base) * max_score;
}

static void
success_rate_sample(struct score_state *st, const struct scoring_conf *conf,
    double sample)
{
	if (st->success_init) {
		st->success_ewma = ewma(conf->success_rate.ewma_alpha, sample,
		    st->success_ewma);
	} else {
		st->success_ewma = sample;
		st->success_init = true;
	}
}

static void
streak_failure(struct score_state *st, const struct scoring_conf *conf)
{
	double base = conf->failure_penalty.base_penalty;
	double cap = conf->failure_penalty.max_penalty;
	double candidate;

	if (st->consecutive_failures < UINT32_MAX)
		st->consecutive_failures++;
	st->consecutive_successes = 0;

	if (base <= 0.0)
		candidate = 0.0;
	else
		candidate = base * pow(conf->failure_penalty.exponent_factor,
		    (double)st->consecutive_failures - 1.0);
	/* pow() overflows to inf on long streaks; the cap absorbs it. */
	if (!(candidate <= cap))
		candidate = cap;
	if (candidate > st->penalty)
		st->penalty = candidate;
}

static void
streak_success(struct score_state *st, const struct scoring_conf *conf)
{
	uint32_t per_point = conf->historical_bonus.checks_per_point;

	st->consecutive_failures = 0;
	st->penalty -= conf->failure_penalty.recovery_per_check;
	if (!(st->penalty > 0.0))
		st->penalty = 0.0;

	if (st->consecutive_successes == UINT32_MAX)
		return;
	st->consecutive_successes++;
	if (per_point == 0 || st->consecutive_successes % per_point != 0)
		return;
	st->bonus += 1.0;
	if (st->bonus > conf->historical_bonus.max_bonus)
		st->bonus = conf->historical_bonus.max_bonus;
}

void
score_init(struct score_state *st)
{
	memset(st, 0, sizeof(*st));
}

int
score_success(struct score_state *st, const struct scoring_conf *conf,
    double latency_ms)
{
	double jitter_sample;

	if (!isfinite(latency_ms) || latency_ms < 0.0)
		return -1;

	st->probes++;
	st->successes++;

	if (st->latency_init) {
		jitter_sample = fabs(latency_ms - st->latency_ewma_ms);
		if (st->jitter_init) {
			st->jitter_ewma_ms = ewma(conf->jitter.ewma_alpha,
			    jitter_sample, st->jitter_ewma_ms);
		} else {
			st->jitter_ewma_ms = jitter_sample;
			st->jitter_init = true;
		}
		st->latency_ewma_ms = ewma(conf->latency.ewma_alpha,
		    latency_ms, st->latency_ewma_ms);
	} else {
		st->latency_ewma_ms = latency_ms;
		st->latency_init = true;
	}

	success_rate_sample(st, conf, 1.0);
	streak_success(st, conf);
	score_compute(st, conf);
	return 0;
}

void
score_failure(struct score_state *st, const struct scoring_conf *conf)
{
	st->probes++;
	st->failures++;
	success_rate_sample(st, conf, 0.0);
	streak_failure(st, conf);
	score_compute(st, conf);
}

void
score_passive(struct score_state *st, const struct scoring_conf *conf,
    uint64_t ok, uint64_t failed)
{
	double total;

	if (ok == 0 && failed == 0)
		return;

	st->passive_reports++;
	st->passive_ok += ok;
	st->passive_failed += failed;

	total = (double)ok + (double)failed;
	success_rate_sample(st, conf, (double)ok / total);
	if (ok == 0) {
		streak_failure(st, conf);
		if (st->passive_consecutive_failures < UINT32_MAX)
			st->passive_consecutive_failures++;
	} else {
		st->passive_consecutive_failures = 0;
		if (failed == 0)
			streak_success(st, conf);
	}
	score_compute(st, conf);
}

double
score_compute(struct score_state *st, const struct scoring_conf *conf)
{
	double max = score_max_possible(conf);
	double s;

	st->latency_score = st->latency_init ?
	    score_latency_part(conf, st->latency_ewma_ms) : 0.0;
	st->jitter_score = st->jitter_init ?
	    score_jitter_part(conf, st->jitter_ewma_ms) : 0.0;
	st->success_score = st->success_init ?
	    st->success_ewma * conf->success_rate.max_score : 0.0;

	if (!score_eligible(st)) {
		st->score = 0.0;
		return st->score;
	}
	s = st->latency_score + st->jitter_score + st->success_score -
	    st->penalty + st->bonus;
	if (s > max)
		s = max;
	if (!(s > 0.0))
		s = 0.0;
	st->score = s;
	return s;
}

bool
score_eligible(const struct score_state *st)
{
	return st->latency_init;
}

double
score_max_possible(const struct scoring_conf *conf)
{
	return conf->latency.max_score + conf->jitter.max_score +
	    conf->success_rate.max_score + conf->historical_bonus.max_bonus;
}

double
score_latency_part(const struct scoring_conf *conf, double ms)
{
	return interpolate(ms, (double)conf->latency.base_latency_ms,
	    (double)conf->latency.max_acceptable_latency_ms,
	    conf->latency.max_score);
}

double
score_jitter_part(const struct scoring_conf *conf, double ms)
{
	return interpolate(ms, (double)conf->jitter.base_jitter_ms,
	    (double)conf->jitter.max_acceptable_jitter_ms,
	    conf->jitter.max_score);
}
