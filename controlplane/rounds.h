/*
 * Probing rounds of the control plane: the initial round (every tracked
 * backend, initial.max_concurrency at once, initial.timeout each) and the
 * periodic rounds (every probing.interval, with up to 10% random jitter:
 * all active backends plus probing.probe_candidate_count others, never
 * probed ones first, then the least recently probed). Before each periodic
 * round the sampler may evict poor range addresses and draw new ones, so
 * the tracked set stays within remotes.provider.max_tracked. Results are
 * folded into the scores.
 */
#ifndef TCPFWD_CP_ROUNDS_H
#define TCPFWD_CP_ROUNDS_H

#include <stdbool.h>

struct cp;

/* Consecutive failed checks, or report intervals whose real dials all
 * failed, after which a backend counts as failing: an active one is
 * replaced at once. */
#define ROUNDS_FAILING 2

/* Fills the scoreboard from the IP list (explicit addresses, and samples
 * from ranges up to max_tracked) and starts the initial round, or the
 * first periodic round when the initial one is disabled. */
void rounds_start(struct cp *cp);

/* Stops scheduling (probes in flight are cancelled by prober_free). */
void rounds_stop(struct cp *cp);

/* True while the first round (initial or periodic) has probes to finish. */
bool rounds_first_pending(const struct cp *cp);

/* Adds the list's explicit addresses to the scoreboard and marks which
 * entries are listed (after a reload too). */
void rounds_sync_list(struct cp *cp);

/* Forgets backends the IP list no longer covers once nothing holds them
 * (not serving, no probe in flight, no client on them). Returns how many. */
unsigned rounds_prune(struct cp *cp);

/* True when a is covered by the current IP list (listed or in a range). */
bool rounds_covered(const struct cp *cp, const struct addr *a);

/* A backend counts as failing (see ROUNDS_FAILING). */
bool rounds_failing(const struct cp *cp, const struct sb_entry *e);

#endif
