/*
 * Sessions: a client connection from accept to close (see session.h).
 * Both sockets are registered once, edge-triggered for in and out, so the
 * data path makes no epoll_ctl calls; every event runs the pump both ways.
 */
#define LOG_MODULE LOGM_SESSION

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "backend.h"
#include "dial.h"
#include "limits.h"
#include "pipes.h"
#include "pool.h"
#include "session.h"
#include "worker.h"

/* Bytes one direction may move per event before others get a turn. */
#define PUMP_BUDGET (1u << 20)

enum close_reason {
	CLOSE_DONE = 0,     /* both sides finished */
	CLOSE_CLIENT_ERR,
	CLOSE_BACKEND_ERR,
	CLOSE_IDLE,
	CLOSE_DRAIN,
	CLOSE_DIAL,
	CLOSE_NO_BACKEND,
	CLOSE_RESOURCE,
	CLOSE_SHUTDOWN,
	CLOSE_BACKEND_FULL,
};

static const struct {
	const char *name;
	int err; /* enum proto_err_kind, or -1: not an error */
} close_reasons[] = {
	[CLOSE_DONE] = { "done", -1 },
	[CLOSE_CLIENT_ERR] = { "client failed", PROTO_ERR_CLIENT_RESET },
	[CLOSE_BACKEND_ERR] = { "backend failed", PROTO_ERR_BACKEND_RESET },
	[CLOSE_IDLE] = { "idle timeout", PROTO_ERR_IDLE_TIMEOUT },
	[CLOSE_DRAIN] = { "drain timeout", PROTO_ERR_DRAIN_TIMEOUT },
	[CLOSE_DIAL] = { "no backend answered", PROTO_ERR_DIAL },
	[CLOSE_NO_BACKEND] = { "no active set", PROTO_ERR_NO_BACKEND },
	[CLOSE_RESOURCE] = { "out of resources", PROTO_ERR_RESOURCE },
	[CLOSE_SHUTDOWN] = { "shutdown", -1 },
	[CLOSE_BACKEND_FULL] = { "every backend at its connection cap",
	    PROTO_ERR_BACKEND_FULL },
};

static void session_connect(struct session *);
static void client_cb(struct evloop *, struct evloop_io *, uint32_t);
static void backend_cb(struct evloop *, struct evloop_io *, uint32_t);

/* ---- lists ---------------------------------------------------------------- */

void
session_list_append(struct session_list *l, struct session *s)
{
	s->next = NULL;
	s->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = s;
	else
		l->head = s;
	l->tail = s;
	l->n++;
}

void
session_list_remove(struct session_list *l, struct session *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		l->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		l->tail = s->prev;
	s->next = s->prev = NULL;
	l->n--;
}

static struct session_list *
state_list(struct session *s)
{
	switch (s->state) {
	case SESSION_WAITING:
		return &s->w->waiting;
	case SESSION_DIALING:
		return &s->w->dialing;
	default:
		return &s->w->established;
	}
}

static void
set_state(struct session *s, enum session_state st)
{
	if (s->state == SESSION_WAITING)
		counter_sub(&s->w->stats.waiting, 1);
	if (st == SESSION_WAITING)
		counter_add(&s->w->stats.waiting, 1);
	session_list_remove(state_list(s), s);
	s->state = st;
	session_list_append(state_list(s), s);
}

static void
ready_push(struct session *s)
{
	struct worker *w = s->w;

	if (s->in_ready)
		return;
	s->in_ready = 1;
	s->ready_next = NULL;
	if (w->ready_tail != NULL)
		w->ready_tail->ready_next = s;
	else
		w->ready_head = s;
	w->ready_tail = s;
	evloop_set_pending(w->loop);
}

static void
ready_remove(struct session *s)
{
	struct worker *w = s->w;
	struct session **pp, *prev = NULL;

	/* The ready list holds the few sessions moving bulk data. */
	for (pp = &w->ready_head; *pp != NULL; pp = &(*pp)->ready_next) {
		if (*pp == s) {
			*pp = s->ready_next;
			if (w->ready_tail == s)
				w->ready_tail = prev;
			break;
		}
		prev = *pp;
	}
	s->in_ready = 0;
}

/* ---- backend accounting --------------------------------------------------- */

static struct pool *
pool_of(struct worker *w, struct backend *be)
{
	unsigned i;

	if (w->set == NULL || w->pools == NULL)
		return NULL;
	for (i = 0; i < w->set->n; i++)
		if (w->set->backends[i] == be)
			return w->pools[i];
	return NULL;
}

static void
release_backend(struct session *s)
{
	struct pool *p;

	if (s->be == NULL)
		return;
	counter_sub(&s->be->conns, 1);
	if ((p = pool_of(s->w, s->be)) != NULL)
		pool_concurrency(p, -1);
	backend_unref(s->be);
	s->be = NULL;
}

static void
close_backend_fd(struct session *s)
{
	int fd = s->bio.fd;

	if (fd == -1)
		return;
	evloop_io_forget(s->w->loop, &s->bio);
	close(fd);
}

/* ---- the one place a session ends ---------------------------------------- */

static void
duration_observe(struct worker *w, uint64_t ms)
{
	unsigned i;

	for (i = 0; i < PROTO_DURATION_BUCKETS; i++)
		if (ms <= proto_duration_bounds_ms[i])
			break;
	if (i < PROTO_DURATION_BUCKETS)
		counter_add(&w->stats.duration_buckets[i], 1);
	counter_add(&w->stats.duration_count, 1);
	counter_add(&w->stats.duration_ms_sum, ms);
}

static void
session_close(struct session *s, enum close_reason r)
{
	struct worker *w = s->w;
	uint64_t now = evloop_now(w->loop);
	int saved = errno, fd;

	if (r == CLOSE_DONE || r == CLOSE_SHUTDOWN)
		log_debug("session %llu: closed (%s) after %llu ms, backend %s",
		    (unsigned long long)s->id, close_reasons[r].name,
		    (unsigned long long)(now - s->start_ms),
		    s->be != NULL ? s->be->name : "-");
	else
		log_info("session %llu: closed (%s%s%s) after %llu ms, "
		    "backend %s", (unsigned long long)s->id,
		    close_reasons[r].name,
		    (r == CLOSE_CLIENT_ERR || r == CLOSE_BACKEND_ERR) ? ": " :
		    "", (r == CLOSE_CLIENT_ERR || r == CLOSE_BACKEND_ERR) ?
		    strerror(saved) : "",
		    (unsigned long long)(now - s->start_ms),
		    s->be != NULL ? s->be->name : "-");
	if (close_reasons[r].err >= 0)
		worker_count_error(w, (enum proto_err_kind)close_reasons[r].err);
	if (s->state == SESSION_ESTABLISHED)
		duration_observe(w, now - s->start_ms);
	if (s->state == SESSION_WAITING)
		counter_sub(&w->stats.waiting, 1);
	session_list_remove(state_list(s), s);
	if (s->in_ready)
		ready_remove(s);
	fd = s->cio.fd;
	evloop_io_forget(w->loop, &s->cio);
	close(fd);
	close_backend_fd(s);
	pump_release(&s->up, w->pipes);
	pump_release(&s->down, w->pipes);
	release_backend(s);
	if (s->admitted)
		limits_release(worker_limits(w), &s->client);
	counter_sub(&w->stats.sessions, 1);
	counter_sub(worker_conn_gauge(w), 1);
	free(s);
}

/* ---- forwarding ----------------------------------------------------------- */

/* Directions to pump. */
#define DIR_UP 0x1u   /* client -> backend */
#define DIR_DOWN 0x2u /* backend -> client */

static void
account(struct session *s, uint64_t up, uint64_t down)
{
	struct worker *w = s->w;

	counter_add(&w->stats.bytes_in, up);
	counter_add(&w->stats.bytes_out, down);
	counter_add(&s->be->bytes_in, up);
	counter_add(&s->be->bytes_out, down);
	s->last_ms = evloop_now(w->loop);
	/* Most recently active at the tail: the idle sweep reads heads. */
	if (w->established.tail != s) {
		session_list_remove(&w->established, s);
		session_list_append(&w->established, s);
	}
}

/* Passes a finished direction's FIN on; both finished: the session ends
 * (close() sends the last FIN, one system call saved). Returns false when
 * the session was closed. */
static bool
pass_eof(struct session *s)
{
	if (pump_finished(&s->up) && pump_finished(&s->down)) {
		session_close(s, CLOSE_DONE);
		return false;
	}
	if (pump_finished(&s->up) && !(s->up.flags & PUMP_DST_SHUT)) {
		/* ENOTCONN: the backend is gone already; the other
		 * direction finds out. */
		shutdown(s->bio.fd, SHUT_WR);
		s->up.flags |= PUMP_DST_SHUT;
	}
	if (pump_finished(&s->down) && !(s->down.flags & PUMP_DST_SHUT)) {
		shutdown(s->cio.fd, SHUT_WR);
		s->down.flags |= PUMP_DST_SHUT;
	}
	return true;
}

static void
session_pump(struct session *s, unsigned dirs)
{
	struct worker *w = s->w;
	enum pump_status su = PUMP_WAIT, sd = PUMP_WAIT;
	uint64_t up = 0, down = 0;

	if (dirs & DIR_UP) {
		su = pump_run(&s->up, s->cio.fd, s->bio.fd, w->pipes,
		    PUMP_BUDGET, &up);
		if (su == PUMP_ERR_SRC || su == PUMP_ERR_DST) {
			session_close(s, su == PUMP_ERR_SRC ? CLOSE_CLIENT_ERR :
			    CLOSE_BACKEND_ERR);
			return;
		}
	}
	if (dirs & DIR_DOWN) {
		sd = pump_run(&s->down, s->bio.fd, s->cio.fd, w->pipes,
		    PUMP_BUDGET, &down);
		if (sd == PUMP_ERR_SRC || sd == PUMP_ERR_DST) {
			if (up != 0)
				account(s, up, 0);
			session_close(s, sd == PUMP_ERR_SRC ? CLOSE_BACKEND_ERR :
			    CLOSE_CLIENT_ERR);
			return;
		}
	}
	if (up != 0 || down != 0)
		account(s, up, down);
	if ((su == PUMP_DONE || sd == PUMP_DONE) && !pass_eof(s))
		return;
	if (su == PUMP_MORE || sd == PUMP_MORE)
		ready_push(s);
}

/*
 * Which directions an event moves: readable (or closed) source; writable
 * destination only when that direction was blocked on it. A close or reset
 * moves both.
 */
static void
pump_for(struct session *s, bool is_client, uint32_t events)
{
	struct pump *reading = is_client ? &s->up : &s->down;
	const struct pump *writing = is_client ? &s->down : &s->up;
	unsigned dirs = 0, rd = is_client ? DIR_UP : DIR_DOWN;
	unsigned wr = is_client ? DIR_DOWN : DIR_UP;

	if (events & EVLOOP_HUP)
		reading->flags |= PUMP_SRC_HUP;
	if (events & (EVLOOP_IN | EVLOOP_HUP))
		dirs |= rd;
	if ((events & EVLOOP_HUP) ||
	    ((events & EVLOOP_OUT) && (writing->flags & PUMP_BLOCKED)))
		dirs |= wr;
	if (dirs != 0)
		session_pump(s, dirs);
}

static void
client_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct session *s = io->arg;

	(void)loop;
	/* Before the backend is connected there is nothing to do: bytes and
	 * a FIN from the client wait in the socket; the first pump after the
	 * connect reads everything there is. */
	if (s->state == SESSION_ESTABLISHED) {
		pump_for(s, true, events);
		return;
	}
	s->edge_seen = 1;
	if (events & EVLOOP_HUP)
		s->up.flags |= PUMP_SRC_HUP;
}

/* fresh: the backend socket came from the pool and no client event was
 * consumed yet: the events queued at registration start the pumps. */
static void
established(struct session *s, bool fresh)
{
	counter_add(&s->be->connections_total, 1);
	s->last_ms = evloop_now(s->w->loop);
	set_state(s, SESSION_ESTABLISHED);
	log_trace("session %llu: forwarding to %s", (unsigned long long)s->id,
	    s->be->name);
	if (!fresh || s->edge_seen)
		session_pump(s, DIR_UP | DIR_DOWN);
}

/* The dial to s->be failed: forget that backend and try the next. */
static void
dial_failed(struct session *s, enum backend_dial r)
{
	int saved = errno;

	backend_dial_result(s->be, r, 0);
	log_debug("session %llu: dial to %s failed (%s)%s",
	    (unsigned long long)s->id, s->be->name,
	    r == BACKEND_DIAL_TIMEOUT ? "timeout" : strerror(saved),
	    s->ntried < LB_MAX_TRIES ? ", trying another backend" : "");
	close_backend_fd(s);
	release_backend(s);
	session_connect(s);
}

static void
backend_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct session *s = io->arg;

	(void)loop;
	if (s->state == SESSION_ESTABLISHED) {
		pump_for(s, false, events);
		return;
	}
	if (!(events & (EVLOOP_OUT | EVLOOP_HUP)))
		return;
	if (dial_result(io->fd, events) == -1) {
		dial_failed(s, BACKEND_DIAL_FAILED);
		return;
	}
	backend_dial_result(s->be, BACKEND_DIAL_OK,
	    evloop_clock_us() - s->dial_start_us);
	established(s, false);
}

/* Chooses an untried backend of the set and counts the session on it. */
static struct backend *
pick_backend(struct session *s, struct pool **pool, bool *full)
{
	struct worker *w = s->w;
	struct activeset *set = w->set;
	uint32_t conns[PROTO_MAX_SET];
	uint32_t cap = w->settings.limits.per_backend_max_connections;
	unsigned tried[LB_MAX_TRIES], ntried = 0, i, k;
	unsigned excluded[PROTO_MAX_SET + LB_MAX_TRIES], nexcl = 0;
	struct backend *be;
	int idx;

	*full = false;
	if (set == NULL || s->ntried >= LB_MAX_TRIES)
		return NULL;
	for (k = 0; k < s->ntried; k++)
		for (i = 0; i < set->n; i++)
			if (set->backends[i] == s->tried[k])
				tried[ntried++] = i;
	if (w->settings.pools.algorithm == LB_LEAST_CONNECTIONS || cap != 0)
		for (i = 0; i < set->n; i++)
			conns[i] = counter_get(&set->backends[i]->conns);
	/* Backends at their cap are skipped like tried ones. */
	for (i = 0; cap != 0 && i < set->n; i++)
		if (conns[i] >= cap) {
			excluded[nexcl++] = i;
			*full = true;
		}
	memcpy(excluded + nexcl, tried, ntried * sizeof(tried[0]));
	idx = lb_pick(&w->lb, w->settings.pools.algorithm, conns, set->n,
	    excluded, nexcl + ntried);
	if (idx < 0)
		return NULL;
	*full = false;
	be = set->backends[idx];
	s->tried[s->ntried++] = be;
	backend_ref(be);
	counter_add(&be->conns, 1);
	counter_add(&be->lb_picks, 1);
	*pool = w->pools != NULL ? w->pools[idx] : NULL;
	if (*pool != NULL)
		pool_concurrency(*pool, +1);
	return be;
}

/* A set with backends to send clients to. */
static bool
serving(const struct worker *w)
{
	return w->set != NULL && w->set->n > 0;
}

/*
 * No descriptor for the dial (another thread took the one the listener
 * kept spare, or the limit moved): not the backend's fault. The client is
 * held, as it would wait in the backlog, and dialled again by the sweep
 * until dial_timeout; meanwhile the listener takes no more clients.
 */
static void
starve(struct session *s)
{
	struct worker *w = s->w;
	int err = errno;

	s->ntried--;
	release_backend(s);
	if (!s->starved) {
		s->starved = 1;
		s->deadline_ms = evloop_now(w->loop) +
		    w->settings.pools.common.dial_timeout_ms;
		log_debug("session %llu: out of descriptors, held",
		    (unsigned long long)s->id);
	}
	if (s->state != SESSION_WAITING)
		set_state(s, SESSION_WAITING);
	listener_starved(&w->listener, err);
}

static void
session_connect(struct session *s)
{
	struct worker *w = s->w;
	struct pool *pool;
	bool done, full;
	int fd;

	for (;;) {
		s->be = pick_backend(s, &pool, &full);
		if (s->be == NULL) {
			session_close(s, full ? CLOSE_BACKEND_FULL : CLOSE_DIAL);
			return;
		}
		if (pool != NULL) {
			if (pool_take(pool, &s->bio, backend_cb, s) != -1) {
				counter_add(&s->be->pool_hits, 1);
				established(s, true);
				return;
			}
			counter_add(&s->be->pool_misses, 1);
		}
		s->dial_start_us = evloop_clock_us();
		fd = dial_start(&s->be->addr, w->settings.keepalive_ms, &done);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				starve(s);
				return;
			}
			backend_dial_result(s->be, BACKEND_DIAL_FAILED, 0);
			log_debug("session %llu: dial to %s failed (%s)",
			    (unsigned long long)s->id, s->be->name,
			    strerror(errno));
			release_backend(s);
			continue;
		}
		if (evloop_io_add(w->loop, &s->bio, fd,
		    EVLOOP_IN | EVLOOP_OUT | EVLOOP_EDGE, backend_cb, s) == -1) {
			close(fd);
			session_close(s, CLOSE_RESOURCE);
			return;
		}
		s->starved = 0;
		if (done) {
			backend_dial_result(s->be, BACKEND_DIAL_OK,
			    evloop_clock_us() - s->dial_start_us);
			established(s, false);
			return;
		}
		s->deadline_ms = evloop_now(w->loop) +
		    w->settings.pools.common.dial_timeout_ms;
		if (s->state != SESSION_DIALING)
			set_state(s, SESSION_DIALING);
		return;
	}
}

/* ---- entry points --------------------------------------------------------- */

/* Checks the per-source limits; fills client when the caller must
 * release it. Returns false when fd was refused (closed, counted). */
static bool
admit(struct worker *w, int fd, const struct sockaddr *peer,
    socklen_t peerlen, struct addr *client)
{
	struct limits *l = worker_limits(w);
	enum limits_verdict v;
	char name[ADDR_STRLEN];

	if (!limits_per_source(l) ||
	    addr_from_sockaddr(peer, peerlen, client) == -1)
		return true;
	v = limits_admit(l, client, evloop_now(w->loop));
	if (v == LIMITS_OK)
		return true;
	worker_count_error(w, v == LIMITS_CONNS ? PROTO_ERR_SOURCE_LIMIT :
	    PROTO_ERR_RATE_LIMIT);
	log_debug("refusing %s: %s", addr_format_ip(client, name,
	    sizeof(name)), v == LIMITS_CONNS ? "too many connections" :
	    "connection rate");
	close(fd);
	client->family = 0;
	return false;
}

void
session_accept(struct worker *w, int fd, const struct sockaddr *peer,
    socklen_t peerlen)
{
	struct session *s;
	uint64_t now = evloop_now(w->loop);
	struct addr client = { 0 };

	if (counter_add(worker_conn_gauge(w), 1) >=
	    w->settings.max_connections) {
		counter_sub(worker_conn_gauge(w), 1);
		worker_count_error(w, PROTO_ERR_MAX_CONN);
		log_debug("refusing a client: max_connections (%u) reached",
		    w->settings.max_connections);
		close(fd);
		return;
	}
	if (!admit(w, fd, peer, peerlen, &client)) {
		counter_sub(worker_conn_gauge(w), 1);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		if (client.family != 0)
			limits_release(worker_limits(w), &client);
		counter_sub(worker_conn_gauge(w), 1);
		worker_count_error(w, PROTO_ERR_RESOURCE);
		close(fd);
		return;
	}
	s->w = w;
	s->client = client;
	s->admitted = client.family != 0;
	s->id = ++w->next_session_id * 64 + w->id;
	s->start_ms = s->last_ms = now;
	evloop_io_init(&s->bio);
	pump_init(&s->up);
	pump_init(&s->down);
	if (evloop_io_add(w->loop, &s->cio, fd,
	    EVLOOP_IN | EVLOOP_OUT | EVLOOP_EDGE, client_cb, s) == -1) {
		if (s->admitted)
			limits_release(worker_limits(w), &s->client);
		counter_sub(worker_conn_gauge(w), 1);
		worker_count_error(w, PROTO_ERR_RESOURCE);
		close(fd);
		free(s);
		return;
	}
	counter_add(&w->stats.sessions, 1);
	counter_add(&w->stats.connections_total, 1);
	s->state = SESSION_WAITING;
	s->deadline_ms = now + w->settings.pools.common.dial_timeout_ms;
	session_list_append(&w->waiting, s);
	counter_add(&w->stats.waiting, 1);
	if (!serving(w)) {
		log_debug("session %llu: no active set yet, holding the client",
		    (unsigned long long)s->id);
		return;
	}
	session_connect(s);
}

void
session_run_ready(struct worker *w)
{
	struct session *s, *last = w->ready_tail;
	bool was_last;

	/* One round over the list as it stands; sessions pushed back go to
	 * the next round. A pump closes only its own session. */
	while ((s = w->ready_head) != NULL) {
		w->ready_head = s->ready_next;
		if (w->ready_head == NULL)
			w->ready_tail = NULL;
		s->in_ready = 0;
		was_last = s == last;
		session_pump(s, DIR_UP | DIR_DOWN);
		if (was_last)
			break;
	}
}

static bool
in_set(const struct activeset *set, const struct backend *be)
{
	unsigned i;

	if (set == NULL)
		return false;
	for (i = 0; i < set->n; i++)
		if (set->backends[i] == be)
			return true;
	return false;
}

void
session_set_changed(struct worker *w)
{
	uint64_t now = evloop_now(w->loop);
	struct session *s, *next;

	w->draining = false;
	for (s = w->established.head; s != NULL; s = s->next) {
		if (in_set(w->set, s->be)) {
			s->drain_deadline_ms = 0;
			continue;
		}
		if (s->drain_deadline_ms == 0)
			s->drain_deadline_ms = now +
			    w->settings.pools.common.drain_timeout_ms;
		w->draining = true;
	}
	if (!serving(w))
		return;
	for (s = w->waiting.head; s != NULL; s = next) {
		next = s->next;
		session_connect(s);
	}
}

void
session_sweep(struct worker *w, uint64_t now)
{
	uint64_t idle = w->settings.pools.common.idle_timeout_ms;
	struct session *s, *next;

	for (s = w->waiting.head; s != NULL; s = next) {
		next = s->next;
		if (now >= s->deadline_ms)
			session_close(s, s->starved ? CLOSE_RESOURCE :
			    CLOSE_NO_BACKEND);
		else if (s->starved && serving(w))
			session_connect(s); /* only s moves: next stays */
	}
	for (s = w->dialing.head; s != NULL; s = next) {
		next = s->next;
		if (now < s->deadline_ms)
			continue;
		/* Only s moves (redialled in place, established or closed):
		 * next stays valid. */
		errno = ETIMEDOUT;
		dial_failed(s, BACKEND_DIAL_TIMEOUT);
	}
	while ((s = w->established.head) != NULL && now - s->last_ms >= idle)
		session_close(s, CLOSE_IDLE);
	if (!w->draining)
		return;
	w->draining = false;
	for (s = w->established.head; s != NULL; s = next) {
		next = s->next;
		if (s->drain_deadline_ms == 0)
			continue;
		if (now >= s->drain_deadline_ms)
			session_close(s, CLOSE_DRAIN);
		else
			w->draining = true;
	}
}

void
session_close_all(struct worker *w)
{
	while (w->waiting.head != NULL)
		session_close(w->waiting.head, CLOSE_SHUTDOWN);
	while (w->dialing.head != NULL)
		session_close(w->dialing.head, CLOSE_SHUTDOWN);
	while (w->established.head != NULL)
		session_close(w->established.head, CLOSE_SHUTDOWN);
}
