/*
 * The served active set (see selection.h). Generations only grow: an
 * adopted or restored set keeps its generation and every change adds one,
 * so data planes can drop stale and duplicate sets.
 */
#define LOG_MODULE LOGM_SELECTOR

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ipc.h"
#include "../common/log.h"
#include "../common/state.h"
#include "cp.h"
#include "rounds.h"
#include "sampler.h"
#include "selection.h"

/* A data plane out of step gets the set again at most this often. */
#define RESYNC_MS 200

void
selection_init(struct cp *cp)
{
	proto_new_id(cp->set.instance);
}

static bool
entry_covered(const struct cp *cp, const struct sb_entry *e)
{
	return e->listed || (cp->sampler != NULL &&
	    sampler_contains(cp->sampler, &e->addr));
}

static void
members_to_proto(const struct cp *cp, struct proto_active_set *m)
{
	struct sb_entry *e;
	unsigned i;

	memset(m, 0, sizeof(*m));
	memcpy(m->instance, cp->set.instance, sizeof(m->instance));
	m->generation = cp->set.generation;
	m->changed_at_ms = cp->set.changed_at_unix_ms;
	memcpy(m->reason, cp->set.reason, sizeof(m->reason));
	for (i = 0; i < cp->set.sel.n; i++) {
		e = scoreboard_by_id(cp->sb, cp->set.sel.ids[i]);
		if (e != NULL)
			m->backends[m->n_backends++] = e->addr;
	}
}

void
selection_push(struct cp *cp)
{
	struct proto_active_set *m;
	char *buf;
	size_t len;

	if (cp->set.generation == 0)
		return; /* never an empty push before a set exists */
	m = malloc(sizeof(*m));
	if (m == NULL)
		return;
	members_to_proto(cp, m);
	buf = proto_encode_active_set(m, &len);
	free(m);
	if (buf == NULL) {
		log_warnx("cannot encode the active set");
		return;
	}
	if (ipc_send(cp->ipc, buf, len) == 0)
		cp->stats.pushes++;
	free(buf);
	cp->last_push_ms = evloop_now(cp->loop);
}

int
selection_save(struct cp *cp)
{
	struct sb_saved_set *s;
	struct sb_entry *e;
	char *buf;
	size_t len;
	unsigned i;
	int rc = -1;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	memcpy(s->instance, cp->set.instance, sizeof(s->instance));
	s->generation = cp->set.generation;
	s->changed_at_ms = cp->set.changed_at_unix_ms;
	memcpy(s->reason, cp->set.reason, sizeof(s->reason));
	for (i = 0; i < cp->set.sel.n; i++)
		if ((e = scoreboard_by_id(cp->sb, cp->set.sel.ids[i])) != NULL)
			s->members[s->n++] = e->addr;
	buf = scoreboard_encode(cp->sb, s, cp_unix_ms(), &len);
	if (buf == NULL) {
		log_warnx("cannot encode the scoreboard");
	} else if (state_write(cp->cfg.controlplane.state_file, buf, len)
	    == -1) {
		log_warn("cannot write %s", cp->cfg.controlplane.state_file);
	} else {
		rc = 0;
	}
	free(buf);
	free(s);
	if (rc == 0)
		cp->stats.state_saves++;
	else
		cp->stats.state_save_errors++;
	return rc;
}

static bool
keep_cb(void *arg, const struct addr *a)
{
	return rounds_covered(arg, a);
}

void
selection_restore(struct cp *cp)
{
	const char *path = cp->cfg.controlplane.state_file;
	char err[256], *buf;
	unsigned skipped;
	size_t len;

	if (state_read(path, &buf, &len) == -1) {
		if (errno == ENOENT)
			log_info("no scoreboard at %s: starting fresh", path);
		else
			log_warn("cannot read %s: starting fresh", path);
		return;
	}
	if (scoreboard_decode(cp->sb, buf, len, keep_cb, cp, &cp->saved,
	    &skipped, evloop_now(cp->loop), err, sizeof(err)) == -1) {
		log_warnx("ignoring %s: %s", path, err);
		memset(&cp->saved, 0, sizeof(cp->saved));
	} else {
		log_info("restored %u backends from %s%s", scoreboard_count(
		    cp->sb), path, skipped ? " (some entries were bad)" : "");
	}
	free(buf);
}

/* Makes ids the served set (generation + 1 unless keep_generation). */
static void
set_members(struct cp *cp, const uint32_t *ids, unsigned n)
{
	struct sb_entry *e;
	unsigned i;

	for (i = 0; i < cp->set.sel.n; i++)
		if ((e = scoreboard_by_id(cp->sb, cp->set.sel.ids[i])) != NULL)
			e->active = false;
	for (i = 0; i < n; i++) {
		cp->set.sel.ids[i] = ids[i];
		if ((e = scoreboard_by_id(cp->sb, ids[i])) != NULL)
			e->active = true;
	}
	cp->set.sel.n = n;
}

static void
log_set(struct cp *cp, const char *what)
{
	char list[1024];
	size_t off = 0;
	struct sb_entry *e;
	unsigned i;

	list[0] = '\0';
	for (i = 0; i < cp->set.sel.n && off < sizeof(list); i++) {
		e = scoreboard_by_id(cp->sb, cp->set.sel.ids[i]);
		off += (size_t)snprintf(list + off, sizeof(list) - off,
		    "%s%s (%.1f)", i ? ", " : "", e ? e->name : "?",
		    e ? e->score.score : 0.0);
	}
	log_info("%s: generation %llu [%s]: %s", what,
	    (unsigned long long)cp->set.generation, list, cp->set.reason);
}

/* Leaves the learning phase once the set (if any) is settled. */
static void
end_learning(struct cp *cp)
{
	cp->phase = rounds_first_pending(cp) ? CP_PROBING : CP_RUNNING;
	if (cp->eval_pending) {
		cp->eval_pending = false;
		selection_evaluate(cp, false);
	}
}

static void
adopt(struct cp *cp, const struct addr *members, unsigned n,
    uint64_t generation, const char *why)
{
	uint32_t ids[SELECTOR_MAX];
	struct sb_entry *e;
	unsigned i, k = 0;

	for (i = 0; i < n && k < SELECTOR_MAX; i++) {
		e = scoreboard_add(cp->sb, &members[i], evloop_now(cp->loop));
		if (e != NULL)
			ids[k++] = e->id;
	}
	set_members(cp, ids, k);
	cp->set.generation = generation > cp->saved.generation ? generation :
	    cp->saved.generation;
	cp->set.changed_at_unix_ms = cp_unix_ms();
	cp->set.sel.last_switch_ms = evloop_now(cp->loop);
	cp->set.adopted = true;
	snprintf(cp->set.reason, sizeof(cp->set.reason), "%s", why);
	log_set(cp, "adopted the active set");
	selection_push(cp);
}

void
selection_report(struct cp *cp, const struct proto_report *r)
{
	struct addr members[PROTO_MAX_SET];
	char instance[PROTO_ID_LEN + 1];
	uint64_t gen, now = evloop_now(cp->loop);
	unsigned n;

	if (cp->phase == CP_LEARNING) {
		if (dataplanes_served_set(cp->dps, instance, &gen, members, &n,
		    PROTO_MAX_SET) == 1) {
			adopt(cp, members, n, gen, "adopted from the data planes");
			end_learning(cp);
		}
		return;
	}
	if (cp->set.generation == 0)
		return;
	if ((strcmp(r->serving_instance, cp->set.instance) != 0 ||
	    r->serving_generation != cp->set.generation) &&
	    now - cp->last_push_ms >= RESYNC_MS) {
		log_debug("data plane %s serves %s/%llu: sending %s/%llu",
		    r->dp_id, r->serving_instance[0] ? r->serving_instance :
		    "nothing", (unsigned long long)r->serving_generation,
		    cp->set.instance, (unsigned long long)cp->set.generation);
		selection_push(cp);
	}
}

void
selection_learning_over(struct cp *cp)
{
	if (cp->phase != CP_LEARNING)
		return;
	if (cp->saved.n > 0)
		adopt(cp, cp->saved.members, cp->saved.n, cp->saved.generation,
		    "restored from the state file");
	else
		log_info("no data plane serves a set yet: selecting afresh");
	end_learning(cp);
}

static bool
has_id(const uint32_t *ids, unsigned n, uint32_t id)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* The reason data planes and operators see, with names, not ids:
 * "replaced: -10.0.0.1:80 +10.0.0.7:80 (avg 40.1 -> 88.0)". */
static void
describe_change(struct cp *cp, const struct selector_result *res)
{
	char *buf = cp->set.reason;
	size_t size = sizeof(cp->set.reason), off;
	const struct selector_state *cur = &cp->set.sel;
	struct sb_entry *e;
	unsigned i;

	off = (size_t)snprintf(buf, size, "%s:",
	    selector_reason_name(res->reason));
	for (i = 0; i < cur->n && off < size; i++)
		if (!has_id(res->ids, res->n, cur->ids[i]) &&
		    (e = scoreboard_by_id(cp->sb, cur->ids[i])) != NULL)
			off += (size_t)snprintf(buf + off, size - off, " -%s",
			    e->name);
	for (i = 0; i < res->n && off < size; i++)
		if (!has_id(cur->ids, cur->n, res->ids[i]) &&
		    (e = scoreboard_by_id(cp->sb, res->ids[i])) != NULL)
			off += (size_t)snprintf(buf + off, size - off, " +%s",
			    e->name);
	if (off < size && cur->n > 0)
		snprintf(buf + off, size - off, " (avg %.1f -> %.1f)",
		    res->old_avg, res->new_avg);
}

void
selection_evaluate(struct cp *cp, bool repair_only)
{
	const struct scoring_conf *sc = &cp->cfg.remotes.scoring;
	struct selector_candidate *c;
	struct selector_result res;
	struct sb_entry *e;
	unsigned i, n = scoreboard_count(cp->sb);
	uint64_t now = evloop_now(cp->loop);
	bool covered;

	if (cp->phase == CP_LEARNING) {
		cp->eval_pending = true;
		return;
	}
	/* Until every backend had its first probe, early answers would
	 * look better than backends still being probed. */
	if (rounds_first_pending(cp))
		return;
	if (cp->phase == CP_PROBING)
		cp->phase = CP_RUNNING;
	c = calloc(n ? n : 1, sizeof(*c));
	if (c == NULL) {
		log_warnx("out of memory evaluating the active set");
		return;
	}
	for (i = 0; i < n; i++) {
		e = scoreboard_at(cp->sb, i);
		covered = entry_covered(cp, e);
		c[i].id = e->id;
		c[i].score = score_compute(&e->score, sc);
		c[i].eligible = score_eligible(&e->score);
		c[i].failing = rounds_failing(cp, e);
		/* A backend dropped from the IP list leaves like a disabled
		 * one: at once. */
		c[i].disabled = e->disabled || !covered;
	}
	selector_evaluate(&cp->cfg.remotes.selector, c, n, &cp->set.sel, now,
	    &res);
	free(c);
	if (!repair_only) {
		cp->stats.evaluations++;
		cp->last_eval_unix_ms = cp_unix_ms();
	}
	if (res.degraded && (!cp->set.degraded || !repair_only)) {
		cp->stats.degraded_evaluations++;
		log_warnx("no backend scores at least %.1f: serving the best "
		    "ones still answering (%s)",
		    cp->cfg.remotes.selector.min_score_threshold, res.detail);
	}
	cp->set.degraded = res.degraded;
	if (!res.changed || (repair_only && res.reason == SELECTOR_IMPROVED)) {
		if (res.changed || !repair_only)
			log_debug("active set kept: %s", res.detail[0] ?
			    res.detail : "no better set");
		if (!repair_only)
			selection_save(cp);
		return;
	}
	describe_change(cp, &res);
	set_members(cp, res.ids, res.n);
	cp->set.sel.last_switch_ms = now;
	cp->set.generation++;
	cp->set.changed_at_unix_ms = cp_unix_ms();
	cp->set.adopted = false;
	if (res.reason <= SELECTOR_IMPROVED)
		cp->stats.switches[res.reason]++;
	log_set(cp, "new active set");
	selection_push(cp);
	selection_save(cp);
}
