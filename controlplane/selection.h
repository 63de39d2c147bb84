/*
 * The active set the control plane serves: evaluation (the selector over
 * the scoreboard), adoption of the set the data planes already serve (a
 * restarted control plane changes nothing in the data path), publication
 * to every data plane, and the scoreboard's state file.
 */
#ifndef TCPFWD_CP_SELECTION_H
#define TCPFWD_CP_SELECTION_H

#include <stdbool.h>

struct cp;
struct proto_report;

/* Picks this process's instance id. */
void selection_init(struct cp *cp);

/*
 * Runs the selector and, when the set changes, applies it (generation + 1),
 * pushes it and saves the state file. repair_only: apply only replacements
 * of failing, below-threshold or disabled members and fills, not
 * improvements (those wait for the evaluation interval and debounce).
 */
void selection_evaluate(struct cp *cp, bool repair_only);

/* Broadcasts the current set (if any) to every data plane. */
void selection_push(struct cp *cp);

/* A report arrived: while learning, adopt the set the data planes serve;
 * afterwards, re-push when a data plane serves something else. */
void selection_report(struct cp *cp, const struct proto_report *r);

/* The learning window closed without a data plane: fall back to the set
 * saved in the state file, if any. */
void selection_learning_over(struct cp *cp);

/* Saves the scoreboard and the set. Returns 0 or -1 (logged). */
int selection_save(struct cp *cp);

/* Restores the scoreboard from the state file (entries the IP list still
 * covers). Missing file: fine. Corrupt file: logged, ignored. */
void selection_restore(struct cp *cp);

#endif
