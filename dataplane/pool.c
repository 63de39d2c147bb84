/*
 * Pre-connected sockets per backend, per worker (see pool.h). Idle sockets
 * sit in a list, oldest first: pool_take() hands out the newest (most
 * likely alive), the sweep expires from the oldest end.
 */
#define LOG_MODULE LOGM_POOLS

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "backend.h"
#include "dial.h"
#include "pool.h"
#include "pool_sizing.h"
#include "worker.h"

/* Dials in flight at once per pool: enough to refill fast, bounded so a
 * large target does not turn into a SYN burst. */
#define POOL_MAX_INFLIGHT 32
#define POOL_RETRY_MIN_MS 100
#define POOL_RETRY_MAX_MS 30000

struct pooled {
	struct evloop_io io;
	struct pool *pool;
	struct pooled *next, *prev;
	uint64_t since_ms;      /* dial start, then connect time */
	uint64_t dial_start_us;
	bool connected;
};

struct pooled_list {
	struct pooled *head, *tail;
	unsigned n;
};

struct pool {
	struct worker *w;
	struct backend *be;
	struct pooled_list idle;     /* oldest first */
	struct pooled_list dialing;  /* oldest first */
	struct pool_sizing sizing;
	uint32_t concurrency;
	uint32_t fail_streak;
	uint64_t retry_at_ms;
	/* what this pool added to the backend's shared gauges */
	uint32_t pub_target;
	uint32_t pub_peak;
};

static void pool_fill(struct pool *);
static void pooled_cb(struct evloop *, struct evloop_io *, uint32_t);

static void
plist_append(struct pooled_list *l, struct pooled *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void
plist_remove(struct pooled_list *l, struct pooled *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->next = c->prev = NULL;
	l->n--;
}

static void
publish_gauges(struct pool *p)
{
	uint32_t peak = pool_sizing_recent_peak(&p->sizing);

	counter_add(&p->be->pool_target, p->sizing.target - p->pub_target);
	p->pub_target = p->sizing.target;
	counter_add(&p->be->pool_peak, peak - p->pub_peak);
	p->pub_peak = peak;
}

/* Unregisters, closes and frees one socket, from whichever list. */
static void
pooled_drop(struct pool *p, struct pooled *c)
{
	int fd = c->io.fd;

	evloop_io_forget(p->w->loop, &c->io);
	close(fd);
	if (c->connected) {
		plist_remove(&p->idle, c);
		counter_sub(&p->be->pool_idle, 1);
	} else {
		plist_remove(&p->dialing, c);
	}
	free(c);
}

static void
dial_failed(struct pool *p, enum backend_dial r, int err)
{
	uint64_t backoff, now = evloop_now(p->w->loop);

	backend_dial_result(p->be, r, 0);
	/*
	 * Dials in flight together fail together (a backend that went away
	 * refuses them all): one step of backoff, not one per socket, or a
	 * pool of 8 would wait 12.8 s after a blip.
	 */
	if (now < p->retry_at_ms)
		return;
	p->fail_streak++;
	backoff = POOL_RETRY_MIN_MS << (p->fail_streak < 9 ?
	    p->fail_streak - 1 : 8);
	if (backoff > POOL_RETRY_MAX_MS)
		backoff = POOL_RETRY_MAX_MS;
	p->retry_at_ms = now + backoff;
	if (p->fail_streak == 1 || log_enabled(LOG_MODULE, LOGL_DEBUG))
		log_info("pool %s: pre-connect failed (%s), retrying in %llu ms",
		    p->be->name, r == BACKEND_DIAL_TIMEOUT ? "timeout" :
		    strerror(err), (unsigned long long)backoff);
}

static void
connected(struct pool *p, struct pooled *c)
{
	uint64_t now_us = evloop_clock_us();

	backend_dial_result(p->be, BACKEND_DIAL_OK, now_us - c->dial_start_us);
	if (p->fail_streak > 0)
		log_info("pool %s: pre-connect works again", p->be->name);
	p->fail_streak = 0;
	plist_remove(&p->dialing, c);
	c->connected = true;
	c->since_ms = evloop_now(p->w->loop);
	plist_append(&p->idle, c);
	counter_add(&p->be->pool_idle, 1);
}

static void
pooled_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct pooled *c = io->arg;
	struct pool *p = c->pool;
	int err;

	(void)loop;
	if (c->connected) {
		/* Bytes a server sends first stay queued for the client; a
		 * close or a reset ends the socket. */
		if ((events & EVLOOP_HUP) || !dial_alive(io->fd)) {
			log_debug("pool %s: backend closed an idle socket",
			    p->be->name);
			worker_count_error(p->w, PROTO_ERR_POOL_STALE);
			pooled_drop(p, c);
			pool_fill(p);
		}
		return;
	}
	if (!(events & (EVLOOP_OUT | EVLOOP_HUP)))
		return;
	if (dial_result(io->fd, events) == 0) {
		connected(p, c);
		pool_fill(p);	/* after a failing spell, the rest now */
		return;
	}
	err = errno;
	pooled_drop(p, c);
	dial_failed(p, BACKEND_DIAL_FAILED, err);
}

static void
dial_one(struct pool *p)
{
	struct pooled *c;
	bool done;
	int fd;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->pool = p;
	c->dial_start_us = evloop_clock_us();
	c->since_ms = evloop_now(p->w->loop);
	fd = dial_start(&p->be->addr, p->w->settings.keepalive_ms, &done);
	if (fd == -1) {
		int err = errno;

		free(c);
		if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
		    err == ENOMEM) {
			/* Our own shortage, not the backend's fault. */
			p->retry_at_ms = evloop_now(p->w->loop) +
			    POOL_RETRY_MIN_MS;
			return;
		}
		dial_failed(p, BACKEND_DIAL_FAILED, err);
		return;
	}
	/* In and out from the start: out says connected, later events say
	 * the backend closed it; no epoll_ctl in between. */
	if (evloop_io_add(p->w->loop, &c->io, fd,
	    EVLOOP_IN | EVLOOP_OUT | EVLOOP_EDGE, pooled_cb, c) == -1) {
		close(fd);
		free(c);
		return;
	}
	plist_append(&p->dialing, c);
	if (done)
		connected(p, c);
}

static void
pool_fill(struct pool *p)
{
	uint64_t now = evloop_now(p->w->loop);
	unsigned inflight = POOL_MAX_INFLIGHT;

	if (now < p->retry_at_ms || p->w->stopping)
		return;
	/* Failing: one dial tries the water; its success refills. */
	if (p->fail_streak > 0)
		inflight = 1;
	while (p->idle.n + p->dialing.n < p->sizing.target &&
	    p->dialing.n < inflight) {
		dial_one(p);
		if (p->retry_at_ms > now)
			break;
	}
}

static void
pool_trim(struct pool *p)
{
	while (p->idle.n > 0 && p->idle.n + p->dialing.n > p->sizing.target)
		pooled_drop(p, p->idle.head);
}

struct pool *
pool_new(struct worker *w, struct backend *be)
{
	struct pool *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->w = w;
	p->be = be;
	backend_ref(be);
	pool_sizing_init(&p->sizing, &w->settings.pools, w->settings.nworkers);
	publish_gauges(p);
	pool_fill(p);
	return p;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	while (p->idle.head != NULL)
		pooled_drop(p, p->idle.head);
	while (p->dialing.head != NULL)
		pooled_drop(p, p->dialing.head);
	counter_sub(&p->be->pool_target, p->pub_target);
	counter_sub(&p->be->pool_peak, p->pub_peak);
	backend_unref(p->be);
	free(p);
}

int
pool_take(struct pool *p, struct evloop_io *to, evloop_io_cb *cb, void *arg)
{
	struct pooled *c;
	int fd;

	while ((c = p->idle.tail) != NULL) {
		fd = c->io.fd;
		plist_remove(&p->idle, c);
		counter_sub(&p->be->pool_idle, 1);
		if (dial_alive(fd) && evloop_io_move(p->w->loop, &c->io, to,
		    EVLOOP_IN | EVLOOP_OUT | EVLOOP_EDGE, cb, arg) == 0) {
			free(c);
			pool_fill(p);
			return fd;
		}
		log_debug("pool %s: discarding a socket the backend closed",
		    p->be->name);
		worker_count_error(p->w, PROTO_ERR_POOL_STALE);
		evloop_io_forget(p->w->loop, &c->io);
		close(fd);
		free(c);
	}
	pool_fill(p);
	return -1;
}

void
pool_concurrency(struct pool *p, int delta)
{
	if (delta < 0 && p->concurrency < (uint32_t)-delta)
		p->concurrency = 0;
	else
		p->concurrency += (uint32_t)delta;
	pool_sizing_observe(&p->sizing, p->concurrency);
}

void
pool_tick(struct pool *p)
{
	int moved;

	moved = pool_sizing_tick(&p->sizing, &p->w->settings.pools,
	    p->w->settings.nworkers, p->concurrency);
	if (moved > 0)
		counter_add(&p->be->pool_scale_ups, 1);
	else if (moved < 0)
		counter_add(&p->be->pool_scale_downs, 1);
	publish_gauges(p);
	pool_trim(p);
	pool_fill(p);
}

void
pool_sweep(struct pool *p, uint64_t now)
{
	uint64_t idle = p->w->settings.pools.common.idle_timeout_ms;
	uint64_t dial = p->w->settings.pools.common.dial_timeout_ms;
	struct pooled *c;

	while ((c = p->dialing.head) != NULL && now - c->since_ms >= dial) {
		pooled_drop(p, c);
		dial_failed(p, BACKEND_DIAL_TIMEOUT, ETIMEDOUT);
	}
	while ((c = p->idle.head) != NULL && now - c->since_ms >= idle) {
		log_trace("pool %s: closing a socket idle for %llu ms",
		    p->be->name, (unsigned long long)(now - c->since_ms));
		pooled_drop(p, c);
	}
	pool_fill(p);
}

void
pool_settings_changed(struct pool *p)
{
	const struct dp_settings *s = &p->w->settings;
	uint32_t want, hi;

	/* A static size, a new floor or a new ceiling applies at once;
	 * dynamic steps go on from there at each tick. */
	want = pool_sizing_desired(&s->pools, s->nworkers,
	    pool_sizing_recent_peak(&p->sizing));
	hi = pool_sizing_desired(&s->pools, s->nworkers, UINT32_MAX);
	if (s->pools.strategy.type != POOL_STRATEGY_DYNAMIC ||
	    p->sizing.target < want)
		p->sizing.target = want;
	else if (p->sizing.target > hi)
		p->sizing.target = hi;
	publish_gauges(p);
	pool_trim(p);
	pool_fill(p);
}
