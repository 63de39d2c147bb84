/*
 * Worker threads and the group that starts, feeds and stops them. The main
 * thread publishes a new active set or new settings under the group lock
 * and bumps a version; each worker compares the version once per loop
 * iteration and takes the lock only when it moved.
 */
#define LOG_MODULE LOGM_WORKER

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "backend.h"
#include "limits.h"
#include "pipes.h"
#include "pool.h"
#include "session.h"
#include "worker.h"

#define SWEEP_MS 100
#define PIPES_KEPT 64

struct workers {
	unsigned n;
	struct worker *w;
	pthread_mutex_t lock;
	atomic_uint_least64_t version;
	struct activeset *set;          /* under lock */
	struct dp_settings settings;    /* under lock */
	atomic_bool stop_accepting;
	atomic_bool shutdown;
	atomic_uint conns;              /* client connections, all workers */
	struct limits *limits;
};

atomic_uint *
worker_conn_gauge(struct worker *w)
{
	return &w->group->conns;
}

struct limits *
worker_limits(struct worker *w)
{
	return w->group->limits;
}

static unsigned
set_index(const struct activeset *set, const struct backend *be)
{
	unsigned i;

	for (i = 0; set != NULL && i < set->n; i++)
		if (set->backends[i] == be)
			return i;
	return (unsigned)-1;
}

/* Rebuilds the pool array for the worker's (new) set and settings: pools
 * of backends that stay move over untouched, departed ones close their
 * idle sockets at once, new ones start dialling. */
static void
rebuild_pools(struct worker *w, struct activeset *old_set,
    struct pool **old_pools, bool settings_changed)
{
	struct pool **pools = NULL;
	bool want = w->settings.pools.strategy.type != POOL_STRATEGY_NONE &&
	    !w->stopping;
	unsigned i, j, n_old = old_set != NULL ? old_set->n : 0;

	if (w->set != NULL && w->set->n > 0)
		pools = calloc(w->set->n, sizeof(*pools));
	for (i = 0; pools != NULL && i < w->set->n; i++) {
		j = set_index(old_set, w->set->backends[i]);
		if (j != (unsigned)-1 && old_pools != NULL &&
		    old_pools[j] != NULL && want) {
			pools[i] = old_pools[j];
			old_pools[j] = NULL;
			if (settings_changed)
				pool_settings_changed(pools[i]);
		} else if (want) {
			pools[i] = pool_new(w, w->set->backends[i]);
		}
	}
	for (j = 0; old_pools != NULL && j < n_old; j++)
		pool_free(old_pools[j]);
	free(old_pools);
	w->pools = pools;
}

static void
pick_up(struct worker *w)
{
	struct workers *g = w->group;
	struct activeset *old_set = w->set, *new_set;
	struct pool **old_pools = w->pools;
	struct dp_settings s;
	bool set_changed, settings_changed;

	pthread_mutex_lock(&g->lock);
	w->seen_version = atomic_load(&g->version);
	new_set = g->set;
	if (new_set != NULL)
		activeset_ref(new_set);
	s = g->settings;
	pthread_mutex_unlock(&g->lock);

	set_changed = new_set != old_set;
	settings_changed = memcmp(&s, &w->settings, sizeof(s)) != 0;
	w->settings = s;
	w->set = new_set;
	w->pools = NULL;
	rebuild_pools(w, old_set, old_pools, settings_changed);
	if (set_changed)
		session_set_changed(w);
	activeset_unref(old_set);
}

static void
stop_accepting(struct worker *w)
{
	struct activeset *set = w->set;
	unsigned i;

	w->stopping = true;
	listener_close(&w->listener);
	for (i = 0; w->pools != NULL && set != NULL && i < set->n; i++) {
		pool_free(w->pools[i]);
		w->pools[i] = NULL;
	}
	log_debug("worker %u: stopped accepting, %u sessions left", w->id,
	    counter_get(&w->stats.sessions));
}

static void
worker_hook(struct evloop *loop, void *arg)
{
	struct worker *w = arg;
	struct workers *g = w->group;

	if (atomic_load_explicit(&g->version, memory_order_acquire) !=
	    w->seen_version)
		pick_up(w);
	if (atomic_load_explicit(&g->shutdown, memory_order_relaxed)) {
		evloop_stop(loop);
		return;
	}
	if (!w->stopping && atomic_load_explicit(&g->stop_accepting,
	    memory_order_relaxed))
		stop_accepting(w);
	if (w->ready_head != NULL)
		session_run_ready(w);
}

static void
sweep_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct worker *w = t->arg;
	uint64_t now = evloop_now(loop);
	unsigned i;

	atomic_fetch_add_explicit(&w->beats, 1, memory_order_relaxed);
	session_sweep(w, now);
	for (i = 0; w->pools != NULL && i < w->set->n; i++)
		if (w->pools[i] != NULL)
			pool_sweep(w->pools[i], now);
	evloop_timer_start(loop, t, SWEEP_MS);
}

static void
scale_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct worker *w = t->arg;
	uint64_t every = w->settings.pools.strategy.dynamic.scaling.interval_ms;
	unsigned i;

	for (i = 0; w->pools != NULL && i < w->set->n; i++)
		if (w->pools[i] != NULL)
			pool_tick(w->pools[i]);
	evloop_timer_start(loop, t, every > 0 ? every : 1000);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct activeset *set;
	unsigned i;

	if (evloop_run(w->loop) == -1)
		log_warn("worker %u: event loop failed", w->id);
	session_close_all(w);
	listener_close(&w->listener);
	set = w->set;
	for (i = 0; w->pools != NULL && i < set->n; i++)
		pool_free(w->pools[i]);
	free(w->pools);
	w->pools = NULL;
	w->set = NULL;
	activeset_unref(set);
	return NULL;
}

static int
worker_init(struct worker *w, struct workers *g, unsigned id, int fd,
    char *err, size_t errlen)
{
	w->id = id;
	w->group = g;
	w->listener.fd = -1;
	if (evloop_new(&w->loop) == -1) {
		snprintf(err, errlen, "event loop: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (pipes_new(g->settings.pipe_size, PIPES_KEPT, &w->pipes) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail_free_loop;
	}
	if (listener_start(&w->listener, w, fd) == -1) {
		snprintf(err, errlen, "listener: %s", strerror(errno));
		goto fail_free_pipes;
	}
	lb_init(&w->lb, ((uint64_t)getpid() << 32) ^ (id + 1) ^
	    evloop_clock_us());
	/* Version 0 never matches: the first iteration picks everything up. */
	w->seen_version = 0;
	evloop_set_hook(w->loop, worker_hook, w);
	evloop_timer_init(&w->sweep_timer, sweep_cb, w);
	evloop_timer_init(&w->scale_timer, scale_cb, w);
	evloop_timer_start(w->loop, &w->sweep_timer, SWEEP_MS);
	evloop_timer_start(w->loop, &w->scale_timer, 1000);
	return 0;

fail_free_pipes:
	pipes_free(w->pipes);
fail_free_loop:
	evloop_free(w->loop);
	close(fd);
	return -1;
}

static void
worker_fini(struct worker *w)
{
	pipes_free(w->pipes);
	evloop_free(w->loop);
}

int
workers_start(unsigned n, const int *listen_fds,
    const struct dp_settings *settings, struct activeset *set,
    struct workers **out, char *err, size_t errlen)
{
	struct workers *g;
	sigset_t all, old;
	unsigned i, started = 0;
	int rc;

	g = calloc(1, sizeof(*g));
	if (g == NULL)
		goto fail_close_fds;
	g->w = calloc(n, sizeof(*g->w));
	if (g->w == NULL)
		goto fail_free_group;
	if (limits_new(&settings->limits, &g->limits) == -1) {
		free(g->w);
		goto fail_free_group;
	}
	pthread_mutex_init(&g->lock, NULL);
	g->n = n;
	g->settings = *settings;
	g->settings.nworkers = n;
	g->set = set;
	if (set != NULL)
		activeset_ref(set);
	atomic_init(&g->version, 1);
	for (i = 0; i < n; i++) {
		if (worker_init(&g->w[i], g, i, listen_fds[i], err, errlen)
		    == -1)
			goto fail_fini;
		started++;
	}
	/* Signals belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		rc = pthread_create(&g->w[i].thread, NULL, worker_main,
		    &g->w[i]);
		if (rc != 0) {
			snprintf(err, errlen, "pthread_create: %s",
			    strerror(rc));
			g->n = i;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			workers_free(g);
			return -1;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	*out = g;
	return 0;

fail_fini:
	for (i = 0; i < started; i++) {
		listener_close(&g->w[i].listener);
		worker_fini(&g->w[i]);
	}
	for (i = started + 1; i < n; i++)
		close(listen_fds[i]);
	activeset_unref(g->set);
	limits_free(g->limits);
	free(g->w);
fail_free_group:
	free(g);
	return -1;
fail_close_fds:
	for (i = 0; i < n; i++)
		close(listen_fds[i]);
	snprintf(err, errlen, "out of memory");
	return -1;
}

static void
publish(struct workers *g)
{
	unsigned i;

	atomic_fetch_add_explicit(&g->version, 1, memory_order_release);
	for (i = 0; i < g->n; i++)
		evloop_wake(g->w[i].loop);
}

void
workers_publish_set(struct workers *g, struct activeset *set)
{
	struct activeset *old;

	activeset_ref(set);
	pthread_mutex_lock(&g->lock);
	old = g->set;
	g->set = set;
	pthread_mutex_unlock(&g->lock);
	activeset_unref(old);
	publish(g);
}

void
workers_publish_settings(struct workers *g, const struct dp_settings *s)
{
	pthread_mutex_lock(&g->lock);
	g->settings = *s;
	g->settings.nworkers = g->n;
	pthread_mutex_unlock(&g->lock);
	limits_configure(g->limits, &s->limits);
	publish(g);
}

void
workers_stop_accepting(struct workers *g)
{
	atomic_store(&g->stop_accepting, true);
	publish(g);
}

void
workers_stats(struct workers *g, struct proto_report *r)
{
	struct worker_stats *st;
	unsigned i, k;

	for (i = 0; i < g->n; i++) {
		st = &g->w[i].stats;
		r->connections_total += counter_get(&st->connections_total);
		r->connections_active += counter_get(&st->sessions);
		r->clients_waiting += counter_get(&st->waiting);
		r->bytes_in += counter_get(&st->bytes_in);
		r->bytes_out += counter_get(&st->bytes_out);
		for (k = 0; k < PROTO_ERR_COUNT; k++)
			r->errors[k] += counter_get(&st->errors[k]);
		for (k = 0; k < PROTO_DURATION_BUCKETS; k++)
			r->duration_buckets[k] +=
			    counter_get(&st->duration_buckets[k]);
		r->duration_count += counter_get(&st->duration_count);
		r->duration_ms_sum += counter_get(&st->duration_ms_sum);
	}
}

unsigned
workers_sessions(struct workers *g)
{
	return counter_get(&g->conns);
}

bool
workers_progressed(struct workers *g, unsigned *stuck)
{
	bool all = true;
	uint64_t beats;
	unsigned i;

	for (i = 0; i < g->n; i++) {
		beats = atomic_load_explicit(&g->w[i].beats,
		    memory_order_relaxed);
		if (beats == g->w[i].beats_seen && all) {
			*stuck = i;
			all = false;
		}
		g->w[i].beats_seen = beats;
	}
	return all;
}

unsigned
workers_count(const struct workers *g)
{
	return g->n;
}

void
workers_free(struct workers *g)
{
	unsigned i;

	if (g == NULL)
		return;
	atomic_store(&g->shutdown, true);
	publish(g);
	for (i = 0; i < g->n; i++)
		pthread_join(g->w[i].thread, NULL);
	for (i = 0; i < g->n; i++)
		worker_fini(&g->w[i]);
	activeset_unref(g->set);
	limits_free(g->limits);
	pthread_mutex_destroy(&g->lock);
	free(g->w);
	free(g);
}
