/*
 * The scoring model of the control plane: per-backend EWMAs of probe
 * latency, jitter and success rate, an exponential failure penalty and a
 * stability bonus, folded into one score. Pure functions over plain data:
 * no clocks, no I/O, no globals. The scoreboard owns and persists the
 * states; the selector ranks the scores.
 *
 * The score, with the parts computed from the state and conf (remotes.
 * scoring):
 *
 *   score = latency_score + jitter_score + success_score
 *           - penalty + bonus, clamped to [0, score_max_possible()]
 *
 *   latency_score = score_latency_part(latency EWMA)
 *   jitter_score  = score_jitter_part(jitter EWMA), 0 while jitter unknown
 *   success_score = success EWMA (0..1) * success_rate.max_score
 *
 * scoring.weights is informational only: as the seed's config says, each
 * part's max_score already carries its weight (45/15/40 = 0.45/0.15/0.40
 * of 100), so the weights never enter the formula.
 *
 * Rules the seed got wrong and this module fixes:
 * - A backend with no successful probe has no latency, so no score: it is
 *   never eligible (no invented starting latency).
 * - Each EWMA starts at its first real sample, not at a guess.
 * - Jitter is |latency sample - latency EWMA before the sample|. The
 *   first success has nothing to compare with, so jitter stays unknown
 *   until the second success, and an unknown jitter scores 0: one lucky
 *   probe earns no stability points.
 * - The penalty never drops because a new failure streak starts: a failure
 *   raises it to at least base_penalty * exponent_factor^(streak - 1)
 *   (capped at max_penalty) and never lowers it; only successes lower it,
 *   by recovery_per_check each, down to 0.
 * - The stability bonus earns 1 point per checks_per_point consecutive
 *   successes, up to max_bonus. A failure restarts the streak but keeps
 *   the points already earned: current trouble is the penalty's job, the
 *   bonus remembers a long good history.
 */
#ifndef TCPFWD_CP_SCORE_H
#define TCPFWD_CP_SCORE_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/config.h"

/*
 * One backend's scoring state. Plain data, safe to copy and to persist
 * field by field; all zeros (score_init) is a backend never checked.
 */
struct score_state {
	/* Checks folded by score_success() / score_failure() (probes). */
	uint64_t probes;
	uint64_t successes;
	uint64_t failures;
	/* Passive health: report intervals folded, and their real dials. */
	uint64_t passive_reports;
	uint64_t passive_ok;
	uint64_t passive_failed;

	double latency_ewma_ms;
	double jitter_ewma_ms;
	double success_ewma; /* 0..1 */
	bool latency_init;   /* set by the first successful probe */
	bool jitter_init;    /* set by the second successful probe */
	bool success_init;   /* set by the first check of any kind */

	uint32_t consecutive_failures;  /* saturates at UINT32_MAX */
	/* Report intervals in a row whose real dials all failed; reset by
	 * an interval with a good dial (not by probes: a backend that
	 * answers probes but refuses traffic must still be caught). */
	uint32_t passive_consecutive_failures;
	uint32_t consecutive_successes; /* saturates at UINT32_MAX */
	double penalty;                 /* 0..max_penalty */
	double bonus;                   /* 0..max_bonus */

	/* The parts as last computed by score_compute(). */
	double latency_score;
	double jitter_score;
	double success_score;
	double score;
};

/* Sets st to a backend never checked (all zeros). */
void score_init(struct score_state *st);

/*
 * Folds one successful probe that connected in latency_ms: updates the
 * latency, jitter and success EWMAs, ends a failure streak, recovers
 * recovery_per_check of penalty, extends the success streak (maybe earning
 * a bonus point), then recomputes the score. Refuses a negative or
 * non-finite latency: returns -1 and changes nothing. Returns 0 otherwise.
 */
int score_success(struct score_state *st, const struct scoring_conf *conf,
    double latency_ms);

/*
 * Folds one failed probe (refused, reset or timed out): the success EWMA
 * takes a 0 sample, the failure streak grows and raises the penalty, the
 * success streak restarts (earned bonus is kept), then recomputes the
 * score. Latency and jitter are untouched.
 */
void score_failure(struct score_state *st, const struct scoring_conf *conf);

/*
 * Folds one data-plane report interval of real dials to this backend:
 * ok dials that connected and failed ones that did not. One interval
 * counts as one check, however many dials it had, so a busy backend is
 * not judged faster than an idle one:
 * - ok + failed == 0: nothing changes.
 * - the success EWMA takes one sample, the fraction ok / (ok + failed);
 * - only failures (ok == 0): one failure for the penalty and the streaks,
 *   exactly as score_failure() but without a second success-EWMA sample;
 * - only successes (failed == 0): one success for penalty recovery, the
 *   streaks and the bonus, as score_success() minus latency and jitter;
 * - a mix: the EWMA sample only; streaks, penalty and bonus stay.
 * Latency and jitter come from probes only (a dial's duration includes
 * the data plane's own queueing), so passive dials never make a backend
 * eligible. Recomputes the score when anything changed.
 */
void score_passive(struct score_state *st, const struct scoring_conf *conf,
    uint64_t ok, uint64_t failed);

/*
 * Recomputes st's parts and score from its EWMAs, penalty and bonus and
 * returns the score. A backend that is not eligible scores 0 (its parts
 * are still filled where known).
 */
double score_compute(struct score_state *st, const struct scoring_conf *conf);

/* True once st has at least one successful probe (a latency EWMA). */
bool score_eligible(const struct score_state *st);

/* latency.max_score + jitter.max_score + success_rate.max_score +
 * historical_bonus.max_bonus: the top of the clamp. */
double score_max_possible(const struct scoring_conf *conf);

/*
 * The latency part for a latency of ms: max_score at or below
 * base_latency, 0 at or above max_acceptable_latency, linear in between.
 * A NaN latency scores 0.
 */
double score_latency_part(const struct scoring_conf *conf, double ms);

/* The same over jitter, with base_jitter and max_acceptable_jitter. */
double score_jitter_part(const struct scoring_conf *conf, double ms);

#endif
