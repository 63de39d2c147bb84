/*
 * Data-plane records and report folding (see dataplanes.h). Each record
 * keeps the previous report's cumulative counters so the next one can be
 * turned into deltas.
 */
#define LOG_MODULE LOGM_IPC

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "dataplanes.h"

struct dp_rec {
	struct dp_info info;
	bool seen_twice;                 /* deltas are real from now on */
	/* the previous report's cumulative counters */
	uint64_t errors[PROTO_ERR_COUNT];
	uint64_t duration_buckets[PROTO_DURATION_BUCKETS];
	uint64_t duration_count;
	uint64_t duration_ms_sum;
	uint64_t ipc_dropped;
	uint32_t nb;
	struct proto_report_backend *b;  /* nb entries */
};

struct dataplanes {
	struct dp_rec *recs;
	unsigned n, cap;
	struct dp_totals totals;
	bool local;			/* pids are this host's */
};

int
dataplanes_new(struct dataplanes **out)
{
	struct dataplanes *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	*out = d;
	return 0;
}

void
dataplanes_free(struct dataplanes *d)
{
	unsigned i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		free(d->recs[i].b);
	free(d->recs);
	free(d);
}

/* new - old, or new when the counter went back (it cannot, within one
 * data-plane process; a guard against a confused peer). */
static uint64_t
delta(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now;
}

static struct dp_rec *
find_rec(struct dataplanes *d, const char *id)
{
	unsigned i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->recs[i].info.dp_id, id) == 0)
			return &d->recs[i];
	return NULL;
}

static struct dp_rec *
new_rec(struct dataplanes *d, const char *id, uint64_t now_ms)
{
	struct dp_rec *recs;
	unsigned cap;

	if (d->n == d->cap) {
		cap = d->cap ? d->cap * 2 : 4;
		recs = realloc(d->recs, cap * sizeof(*recs));
		if (recs == NULL)
			return NULL;
		d->recs = recs;
		d->cap = cap;
	}
	memset(&d->recs[d->n], 0, sizeof(d->recs[0]));
	snprintf(d->recs[d->n].info.dp_id, sizeof(d->recs[0].info.dp_id),
	    "%s", id);
	d->recs[d->n].info.first_seen_ms = now_ms;
	return &d->recs[d->n++];
}

static const struct proto_report_backend *
find_prev(const struct dp_rec *rec, const struct addr *a)
{
	uint32_t i;

	for (i = 0; i < rec->nb; i++)
		if (addr_equal(&rec->b[i].addr, a))
			return &rec->b[i];
	return NULL;
}

/* Adds one backend's counter deltas to its scoreboard entry and feeds
 * the real dials into its score. */
static void
fold_backend(struct sb_entry *e, const struct proto_report_backend *now,
    const struct proto_report_backend *before, bool passive,
    const struct scoring_conf *sc)
{
	static const struct proto_report_backend zero;
	struct sb_dp_totals *t = &e->dp;
	uint64_t ok, failed;
	unsigned i;

	if (before == NULL)
		before = &zero;
	t->connections_total += delta(now->connections_total,
	    before->connections_total);
	t->lb_picks += delta(now->lb_picks, before->lb_picks);
	t->pool_hits += delta(now->pool_hits, before->pool_hits);
	t->pool_misses += delta(now->pool_misses, before->pool_misses);
	t->pool_scale_ups += delta(now->pool_scale_ups, before->pool_scale_ups);
	t->pool_scale_downs += delta(now->pool_scale_downs,
	    before->pool_scale_downs);
	ok = delta(now->dials_ok, before->dials_ok);
	failed = delta(now->dials_failed, before->dials_failed) +
	    delta(now->dials_timeout, before->dials_timeout);
	t->dials_ok += ok;
	t->dials_failed += delta(now->dials_failed, before->dials_failed);
	t->dials_timeout += delta(now->dials_timeout, before->dials_timeout);
	t->dial_us_sum += delta(now->dial_us_sum, before->dial_us_sum);
	for (i = 0; i < PROTO_DIAL_BUCKETS; i++)
		t->dial_buckets[i] += delta(now->dial_buckets[i],
		    before->dial_buckets[i]);
	t->bytes_in += delta(now->bytes_in, before->bytes_in);
	t->bytes_out += delta(now->bytes_out, before->bytes_out);
	if (passive && (ok > 0 || failed > 0)) {
		score_passive(&e->score, sc, ok, failed);
		if (failed > 0)
			log_debug("%s: data planes report %llu failed and "
			    "%llu good dials", e->name,
			    (unsigned long long)failed, (unsigned long long)ok);
	}
}

static void
fold_totals(struct dataplanes *d, struct dp_rec *rec,
    const struct proto_report *r)
{
	struct dp_totals *t = &d->totals;
	unsigned i;

	t->connections_total += delta(r->connections_total,
	    rec->info.connections_total);
	t->bytes_in += delta(r->bytes_in, rec->info.bytes_in);
	t->bytes_out += delta(r->bytes_out, rec->info.bytes_out);
	for (i = 0; i < PROTO_ERR_COUNT; i++) {
		t->errors[i] += delta(r->errors[i], rec->errors[i]);
		rec->errors[i] = r->errors[i];
	}
	for (i = 0; i < PROTO_DURATION_BUCKETS; i++) {
		t->duration_buckets[i] += delta(r->duration_buckets[i],
		    rec->duration_buckets[i]);
		rec->duration_buckets[i] = r->duration_buckets[i];
	}
	t->duration_count += delta(r->duration_count, rec->duration_count);
	rec->duration_count = r->duration_count;
	t->duration_ms_sum += delta(r->duration_ms_sum, rec->duration_ms_sum);
	rec->duration_ms_sum = r->duration_ms_sum;
	t->ipc_dropped += delta(r->ipc_dropped, rec->ipc_dropped);
	rec->ipc_dropped = r->ipc_dropped;
	t->reports++;
}

void
dataplanes_fold(struct dataplanes *d, const struct proto_report *r,
    uint64_t now_ms, struct scoreboard *sb, const struct scoring_conf *sc,
    bool add_unknown)
{
	struct proto_report_backend *copy;
	struct dp_rec *rec;
	struct sb_entry *e;
	uint32_t i, active = 0;

	rec = find_rec(d, r->dp_id);
	if (rec == NULL) {
		rec = new_rec(d, r->dp_id, now_ms);
		if (rec == NULL) {
			log_warnx("out of memory tracking data plane %s",
			    r->dp_id);
			return;
		}
		log_info("data plane %s (pid %u, %u workers) reporting, "
		    "serving %s/%llu", r->dp_id, r->pid, r->workers,
		    r->serving_instance[0] ? r->serving_instance : "nothing",
		    (unsigned long long)r->serving_generation);
	}
	copy = malloc((r->n_backends ? r->n_backends : 1) * sizeof(*copy));
	if (copy == NULL) {
		log_warnx("out of memory folding a report");
		return;
	}
	fold_totals(d, rec, r);
	for (i = 0; i < r->n_backends; i++) {
		e = scoreboard_find(sb, &r->backends[i].addr);
		if (e == NULL && add_unknown)
			e = scoreboard_add(sb, &r->backends[i].addr, now_ms);
		if (e != NULL)
			fold_backend(e, &r->backends[i],
			    find_prev(rec, &r->backends[i].addr),
			    rec->seen_twice, sc);
		if (r->backends[i].active)
			active++;
	}
	memcpy(copy, r->backends, r->n_backends * sizeof(*copy));
	free(rec->b);
	rec->b = copy;
	rec->nb = r->n_backends;
	rec->seen_twice = true;

	rec->info.pid = r->pid;
	rec->info.workers = r->workers;
	rec->info.uptime_ms = r->uptime_ms;
	rec->info.last_seen_ms = now_ms;
	memcpy(rec->info.serving_instance, r->serving_instance,
	    sizeof(rec->info.serving_instance));
	rec->info.serving_generation = r->serving_generation;
	rec->info.connections_active = r->connections_active;
	rec->info.clients_waiting = r->clients_waiting;
	rec->info.connections_total = r->connections_total;
	rec->info.bytes_in = r->bytes_in;
	rec->info.bytes_out = r->bytes_out;
	rec->info.n_backends = r->n_backends;
	rec->info.n_active = active;
	dataplanes_refresh_live(d, sb);
}

void
dataplanes_refresh_live(struct dataplanes *d, struct scoreboard *sb)
{
	const struct proto_report_backend *b;
	struct sb_entry *e;
	unsigned i, k;

	for (i = 0; i < scoreboard_count(sb); i++)
		memset(&scoreboard_at(sb, i)->live, 0, sizeof(struct sb_live));
	for (k = 0; k < d->n; k++) {
		for (i = 0; i < d->recs[k].nb; i++) {
			b = &d->recs[k].b[i];
			e = scoreboard_find(sb, &b->addr);
			if (e == NULL)
				continue;
			e->live.connections += b->connections;
			e->live.pool_idle += b->pool_idle;
			e->live.pool_target += b->pool_target;
			e->live.pool_peak += b->pool_peak;
			e->live.dataplanes++;
		}
	}
}

void
dataplanes_set_local(struct dataplanes *d, bool local)
{
	d->local = local;
}

/* The process is gone for sure (a zombie still counts as there). */
static bool
exited(const struct dataplanes *d, const struct dp_info *in)
{
	return d->local && in->pid > 1 && kill((pid_t)in->pid, 0) == -1 &&
	    errno == ESRCH;
}

unsigned
dataplanes_expire(struct dataplanes *d, uint64_t now_ms, struct scoreboard *sb)
{
	unsigned i = 0, dropped = 0;
	struct dp_info *in;
	uint64_t silent;

	while (i < d->n) {
		in = &d->recs[i].info;
		silent = now_ms - in->last_seen_ms;
		if (silent >= DATAPLANES_EXITED_MS && exited(d, in)) {
			log_info("data plane %s (pid %u) exited: forgetting it",
			    in->dp_id, in->pid);
		} else if (silent >= DATAPLANES_TIMEOUT_MS) {
			log_warnx("data plane %s (pid %u) silent for %llu ms: "
			    "forgetting it", in->dp_id, in->pid,
			    (unsigned long long)silent);
		} else {
			i++;
			continue;
		}
		free(d->recs[i].b);
		d->recs[i] = d->recs[--d->n];
		dropped++;
	}
	if (dropped > 0)
		dataplanes_refresh_live(d, sb);
	return dropped;
}

unsigned
dataplanes_count(const struct dataplanes *d)
{
	return d->n;
}

const struct dp_info *
dataplanes_at(const struct dataplanes *d, unsigned i)
{
	return i < d->n ? &d->recs[i].info : NULL;
}

const struct dp_totals *
dataplanes_totals(const struct dataplanes *d)
{
	return &d->totals;
}

int
dataplanes_served_set(const struct dataplanes *d,
    char instance[PROTO_ID_LEN + 1], uint64_t *generation,
    struct addr *members, unsigned *n, unsigned max)
{
	const struct dp_rec *best = NULL, *rec;
	unsigned i;

	for (i = 0; i < d->n; i++) {
		rec = &d->recs[i];
		if (rec->info.serving_generation == 0)
			continue;
		if (best == NULL || rec->info.serving_generation >
		    best->info.serving_generation ||
		    (rec->info.serving_generation ==
		    best->info.serving_generation &&
		    rec->info.last_seen_ms > best->info.last_seen_ms))
			best = rec;
	}
	if (best == NULL)
		return 0;
	memcpy(instance, best->info.serving_instance, PROTO_ID_LEN + 1);
	*generation = best->info.serving_generation;
	*n = 0;
	for (i = 0; i < best->nb && *n < max; i++)
		if (best->b[i].active)
			members[(*n)++] = best->b[i].addr;
	return 1;
}
