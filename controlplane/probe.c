/*
 * The prober (see probe.h). A probe owns one socket from connect() to its
 * verdict; the verdict closes it before the callback runs, so a callback
 * may submit new probes freely.
 */
#define LOG_MODULE LOGM_PROBING

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"
#include "probe.h"

struct probe {
	struct evloop_io io;
	struct evloop_timer timer;
	struct prober *owner;
	struct probe *next, *prev;
	struct addr addr;
	uint64_t timeout_ms;
	uint64_t start_us;
	probe_done_cb *cb;
	void *arg;
	enum probe_outcome early;  /* failed before any socket was waiting */
	int early_err;
};

struct probe_list {
	struct probe *head, *tail;
	unsigned n;
};

struct prober {
	struct evloop *loop;
	unsigned max;
	struct probe_list running;
	struct probe_list queue;
};

static void start_queued(struct prober *);

static void
plist_append(struct probe_list *l, struct probe *pr)
{
	pr->next = NULL;
	pr->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = pr;
	else
		l->head = pr;
	l->tail = pr;
	l->n++;
}

static void
plist_remove(struct probe_list *l, struct probe *pr)
{
	if (pr->prev != NULL)
		pr->prev->next = pr->next;
	else
		l->head = pr->next;
	if (pr->next != NULL)
		pr->next->prev = pr->prev;
	else
		l->tail = pr->prev;
	l->n--;
}

const char *
probe_outcome_name(enum probe_outcome o)
{
	switch (o) {
	case PROBE_OK:
		return "ok";
	case PROBE_FAILED:
		return "failed";
	case PROBE_TIMEOUT:
		return "timeout";
	default:
		return "local error";
	}
}

/* Ends a running probe: closes its socket, then reports. */
static void
finish(struct probe *pr, enum probe_outcome o, int err)
{
	struct prober *p = pr->owner;
	uint64_t latency = evloop_clock_us() - pr->start_us;
	int fd = pr->io.fd;

	evloop_timer_stop(p->loop, &pr->timer);
	if (fd != -1) {
		evloop_io_del(p->loop, &pr->io);
		close(fd);
	}
	plist_remove(&p->running, pr);
	pr->cb(pr->arg, &pr->addr, o, latency, err);
	free(pr);
	start_queued(p);
}

static void
probe_io_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct probe *pr = io->arg;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)loop;
	if (!(events & (EVLOOP_OUT | EVLOOP_HUP)))
		return;
	if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	finish(pr, err == 0 ? PROBE_OK : PROBE_FAILED, err);
}

static void
probe_timeout_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct probe *pr = t->arg;

	(void)loop;
	if (pr->io.fd == -1)
		finish(pr, pr->early, pr->early_err);
	else
		finish(pr, PROBE_TIMEOUT, ETIMEDOUT);
}

/* Starts pr (already unlinked from the queue). */
static void
start(struct prober *p, struct probe *pr)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(&pr->addr, &ss);
	enum probe_outcome o;
	int fd, err;

	pr->start_us = evloop_clock_us();
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		err = errno;
		o = PROBE_LOCAL;
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == -1 &&
	    errno != EINPROGRESS) {
		err = errno;
		close(fd);
		o = (err == ENOBUFS || err == ENOMEM || err == EAGAIN ||
		    err == EADDRNOTAVAIL) ? PROBE_LOCAL : PROBE_FAILED;
		goto fail;
	}
	if (evloop_io_add(p->loop, &pr->io, fd, EVLOOP_OUT, probe_io_cb, pr)
	    == -1) {
		err = errno;
		close(fd);
		o = PROBE_LOCAL;
		goto fail;
	}
	evloop_timer_start(p->loop, &pr->timer, pr->timeout_ms);
	plist_append(&p->running, pr);
	return;

fail:
	/* Reported from the loop, not from here: a callback that submits
	 * more probes must not recurse through a queue of failures. */
	pr->early = o;
	pr->early_err = err;
	evloop_timer_start(p->loop, &pr->timer, 0);
	plist_append(&p->running, pr);
}

static void
start_queued(struct prober *p)
{
	struct probe *pr;

	while (p->running.n < p->max && (pr = p->queue.head) != NULL) {
		plist_remove(&p->queue, pr);
		start(p, pr);
	}
}

int
prober_new(struct evloop *loop, unsigned max_concurrency, struct prober **out)
{
	struct prober *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -1;
	p->loop = loop;
	p->max = max_concurrency > 0 ? max_concurrency : 1;
	*out = p;
	return 0;
}

void
prober_free(struct prober *p)
{
	struct probe *pr;
	int fd;

	if (p == NULL)
		return;
	while ((pr = p->running.head) != NULL) {
		fd = pr->io.fd;
		evloop_timer_stop(p->loop, &pr->timer);
		if (fd != -1) {
			evloop_io_del(p->loop, &pr->io);
			close(fd);
		}
		plist_remove(&p->running, pr);
		free(pr);
	}
	while ((pr = p->queue.head) != NULL) {
		plist_remove(&p->queue, pr);
		free(pr);
	}
	free(p);
}

void
prober_set_concurrency(struct prober *p, unsigned max_concurrency)
{
	p->max = max_concurrency > 0 ? max_concurrency : 1;
	start_queued(p);
}

int
prober_submit(struct prober *p, const struct addr *a, uint64_t timeout_ms,
    probe_done_cb *cb, void *arg)
{
	struct probe *pr;

	pr = calloc(1, sizeof(*pr));
	if (pr == NULL)
		return -1;
	pr->owner = p;
	pr->addr = *a;
	pr->timeout_ms = timeout_ms;
	pr->cb = cb;
	pr->arg = arg;
	evloop_io_init(&pr->io);
	evloop_timer_init(&pr->timer, probe_timeout_cb, pr);
	plist_append(&p->queue, pr);
	start_queued(p);
	return 0;
}

unsigned
prober_inflight(const struct prober *p)
{
	return p->running.n;
}

unsigned
prober_queued(const struct prober *p)
{
	return p->queue.n;
}
