/*
 * The control plane's active-set choice: which few backends the data
 * planes should use, from every tracked backend's score. A pure function
 * over a list of candidates and the current set: no clocks (the caller
 * passes now), no I/O, no allocation, no globals.
 *
 * The rules, in order:
 * 1. Answering candidates (eligible, not disabled, not failing, a finite
 *    score) are ranked by score, highest first; equal scores by lower id.
 * 2. The pool is the answering candidates with score >= min_score_
 *    threshold. When none passes, the pool is every answering candidate
 *    and the result is "degraded": serving the best backends still
 *    answering beats an empty set. When nothing answers at all, the
 *    current set is kept as it is (an empty push would cut all traffic),
 *    also degraded.
 * 3. Members of the current set that are in the pool are healthy; the
 *    rest (failing, disabled, below the threshold, not eligible, gone
 *    from the candidates, listed twice) are broken. With any broken
 *    member, or a set shorter or longer than active_set_size, the new set
 *    is the healthy members in their current order (the best
 *    active_set_size of them when there are more) followed by the best
 *    of the pool not already in, up to active_set_size. This applies at
 *    once: the debounce never keeps a broken backend in service.
 * 4. A full and healthy set changes only for the top active_set_size of
 *    the pool, and only when BOTH debounce_interval has passed since the
 *    last switch AND the new average score is at least
 *    score_improvement_threshold above the current one. Members that stay
 *    keep their places; newcomers follow in rank order.
 * 5. The set is never emptied while the pool has a backend.
 */
#ifndef TCPFWD_CP_SELECTOR_H
#define TCPFWD_CP_SELECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/config.h"

/* Largest active set; a bigger active_set_size is capped to it. */
#define SELECTOR_MAX 256

/* One tracked backend as the selector sees it; ids are unique. */
struct selector_candidate {
	uint32_t id;
	double score;   /* meaningful only when eligible */
	bool eligible;  /* has a score: score_eligible() */
	bool failing;   /* the caller's call: recent consecutive failures */
	bool disabled;  /* taken out by the operator */
};

/* The set being served, and when it last changed (caller's clock, ms). */
struct selector_state {
	uint32_t ids[SELECTOR_MAX];
	unsigned n;
	uint64_t last_switch_ms;
};

enum selector_reason {
	SELECTOR_NO_CHANGE = 0,
	SELECTOR_INITIAL,   /* the current set was empty */
	SELECTOR_REPLACED,  /* broken members out, replacements in */
	SELECTOR_REMOVED,   /* broken members out, nothing to replace them */
	SELECTOR_FILLED,    /* a short set topped up */
	SELECTOR_RESIZED,   /* more members than active_set_size: worst out */
	SELECTOR_IMPROVED,  /* a better set, past both debounce checks */
};

struct selector_result {
	uint32_t ids[SELECTOR_MAX]; /* the set to serve; the current one
	                             * when nothing changed */
	unsigned n;
	enum selector_reason reason;
	bool changed;   /* reason != SELECTOR_NO_CHANGE */
	bool degraded;  /* no answering backend passes the threshold */
	double old_avg; /* mean score of current members still listed */
	double new_avg; /* mean score of ids (of the better set when a
	                 * switch was held back) */
	char detail[128]; /* short human reason, e.g. "backend 7 failing,
	                   * replaced by 12" or "avg 71.2 -> 80.5" */
};

/*
 * Chooses the set to serve from the n candidates c (c may be NULL when n
 * is 0) and the current set cur (NULL means empty; more than SELECTOR_MAX
 * ids are cut to SELECTOR_MAX) at time now_ms, by the rules above, into
 * out. active_set_size 0 counts as 1. A clock that went back (now_ms <
 * cur->last_switch_ms) counts as the debounce interval having passed, so
 * a stale timestamp can never freeze the set. Candidates with a repeated
 * id are a caller bug: the result still holds each id at most once.
 */
void selector_evaluate(const struct selector_conf *conf,
    const struct selector_candidate *c, unsigned n,
    const struct selector_state *cur, uint64_t now_ms,
    struct selector_result *out);

/*
 * When r->changed, stores r's set in st and sets st->last_switch_ms to
 * now_ms (so a forced replacement also restarts the debounce window);
 * otherwise leaves st alone.
 */
void selector_apply(struct selector_state *st,
    const struct selector_result *r, uint64_t now_ms);

/* "no_change", "initial", ...; "unknown" for a value out of range. */
const char *selector_reason_name(enum selector_reason reason);

#endif
