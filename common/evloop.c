/*
 * evloop over epoll. Timers live in a binary min-heap of pointers (each
 * timer remembers its slot); watchers are embedded in their owners and
 * epoll_data points at them. Used by every thread that waits on anything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"

#define EVLOOP_BATCH 256

struct evloop {
	int epfd;
	int wakefd;
	struct evloop_io wake_io;
	uint64_t now;
	int stop;
	int pending;
	evloop_hook_cb *hook;
	void *hook_arg;
	/* the batch being dispatched; deleted watchers are blanked in it */
	struct epoll_event *batch;
	int batch_n;
	/* heap[1..heap_n] */
	struct evloop_timer **heap;
	uint32_t heap_n;
	uint32_t heap_cap;
};

static void wake_cb(struct evloop *, struct evloop_io *, uint32_t);

uint64_t
evloop_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
evloop_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int
evloop_new(struct evloop **out)
{
	struct evloop *loop;

	loop = calloc(1, sizeof(*loop));
	if (loop == NULL)
		return -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd == -1)
		goto fail_free;
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->wakefd == -1)
		goto fail_close_ep;
	loop->heap_cap = 64;
	loop->heap = calloc(loop->heap_cap + 1, sizeof(*loop->heap));
	if (loop->heap == NULL)
		goto fail_close_wake;
	loop->now = evloop_clock_ms();
	if (evloop_io_add(loop, &loop->wake_io, loop->wakefd, EVLOOP_IN,
	    wake_cb, NULL) == -1)
		goto fail_free_heap;
	*out = loop;
	return 0;

fail_free_heap:
	free(loop->heap);
fail_close_wake:
	close(loop->wakefd);
fail_close_ep:
	close(loop->epfd);
fail_free:
	free(loop);
	return -1;
}

void
evloop_free(struct evloop *loop)
{
	if (loop == NULL)
		return;
	close(loop->wakefd);
	close(loop->epfd);
	free(loop->heap);
	free(loop);
}

static uint32_t
to_epoll(uint32_t events)
{
	uint32_t ev = EPOLLRDHUP;

	if (events & EVLOOP_IN)
		ev |= EPOLLIN;
	if (events & EVLOOP_OUT)
		ev |= EPOLLOUT;
	if (events & EVLOOP_EDGE)
		ev |= EPOLLET;
	return ev;
}

int
evloop_io_add(struct evloop *loop, struct evloop_io *io, int fd,
    uint32_t events, evloop_io_cb *cb, void *arg)
{
	struct epoll_event ev = { .events = to_epoll(events), .data.ptr = io };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -1;
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->arg = arg;
	return 0;
}

int
evloop_io_mod(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = to_epoll(events), .data.ptr = io };

	if (events == io->events)
		return 0;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) == -1)
		return -1;
	io->events = events;
	return 0;
}

/* The owner may free io right after: drop events fetched for it. */
static void
forget_fetched(struct evloop *loop, const struct evloop_io *io)
{
	int i;

	for (i = 0; i < loop->batch_n; i++)
		if (loop->batch[i].data.ptr == io)
			loop->batch[i].data.ptr = NULL;
}

void
evloop_io_del(struct evloop *loop, struct evloop_io *io)
{
	if (io->fd < 0)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	forget_fetched(loop, io);
	io->fd = -1;
}

void
evloop_io_forget(struct evloop *loop, struct evloop_io *io)
{
	if (io->fd < 0)
		return;
	forget_fetched(loop, io);
	io->fd = -1;
}

int
evloop_io_move(struct evloop *loop, struct evloop_io *from,
    struct evloop_io *to, uint32_t events, evloop_io_cb *cb, void *arg)
{
	struct epoll_event ev = { .events = to_epoll(events), .data.ptr = to };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, from->fd, &ev) == -1)
		return -1;
	forget_fetched(loop, from);
	to->fd = from->fd;
	to->events = events;
	to->cb = cb;
	to->arg = arg;
	from->fd = -1;
	return 0;
}

/* ---- timers: a min-heap ordered by 'when' -------------------------------- */

static void
heap_set(struct evloop *loop, uint32_t i, struct evloop_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void
heap_up(struct evloop *loop, uint32_t i)
{
	struct evloop_timer *t = loop->heap[i];

	while (i > 1 && loop->heap[i / 2]->when > t->when) {
		heap_set(loop, i, loop->heap[i / 2]);
		i /= 2;
	}
	heap_set(loop, i, t);
}

static void
heap_down(struct evloop *loop, uint32_t i)
{
	struct evloop_timer *t = loop->heap[i];
	uint32_t c;

	for (;;) {
		c = i * 2;
		if (c > loop->heap_n)
			break;
		if (c < loop->heap_n && loop->heap[c + 1]->when <
		    loop->heap[c]->when)
			c++;
		if (loop->heap[c]->when >= t->when)
			break;
		heap_set(loop, i, loop->heap[c]);
		i = c;
	}
	heap_set(loop, i, t);
}

static void
heap_remove(struct evloop *loop, struct evloop_timer *t)
{
	uint32_t i = t->heap_index;
	struct evloop_timer *last = loop->heap[loop->heap_n--];

	t->heap_index = 0;
	if (last == t)
		return;
	heap_set(loop, i, last);
	heap_up(loop, i);
	heap_down(loop, last->heap_index);
}

void
evloop_timer_init(struct evloop_timer *t, evloop_timer_cb *cb, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
}

void
evloop_timer_start(struct evloop *loop, struct evloop_timer *t,
    uint64_t after_ms)
{
	struct evloop_timer **heap;

	if (t->heap_index != 0)
		heap_remove(loop, t);
	if (loop->heap_n == loop->heap_cap) {
		heap = realloc(loop->heap,
		    (loop->heap_cap * 2 + 1) * sizeof(*heap));
		/* Timers are few and long-lived; running out here is a bug. */
		if (heap == NULL)
			abort();
		loop->heap = heap;
		loop->heap_cap *= 2;
	}
	t->when = loop->now + after_ms;
	loop->heap_n++;
	heap_set(loop, loop->heap_n, t);
	heap_up(loop, loop->heap_n);
}

void
evloop_timer_stop(struct evloop *loop, struct evloop_timer *t)
{
	if (t->heap_index != 0)
		heap_remove(loop, t);
}

static void
run_timers(struct evloop *loop)
{
	struct evloop_timer *t;

	while (loop->heap_n > 0 && loop->heap[1]->when <= loop->now) {
		t = loop->heap[1];
		heap_remove(loop, t);
		t->cb(loop, t);
	}
}

/* ---- the loop ------------------------------------------------------------ */

uint64_t
evloop_now(const struct evloop *loop)
{
	return loop->now;
}

void
evloop_set_hook(struct evloop *loop, evloop_hook_cb *hook, void *arg)
{
	loop->hook = hook;
	loop->hook_arg = arg;
}

void
evloop_set_pending(struct evloop *loop)
{
	loop->pending = 1;
}

void
evloop_stop(struct evloop *loop)
{
	loop->stop = 1;
}

void
evloop_wake(struct evloop *loop)
{
	uint64_t one = 1;

	/* EAGAIN means a wakeup is already pending: good enough. */
	if (write(loop->wakefd, &one, sizeof(one)) == -1)
		return;
}

static void
wake_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	uint64_t n;

	(void)io;
	(void)events;
	if (read(loop->wakefd, &n, sizeof(n)) == -1)
		return;
}

static uint32_t
from_epoll(uint32_t ev)
{
	uint32_t events = 0;

	if (ev & EPOLLIN)
		events |= EVLOOP_IN;
	if (ev & EPOLLOUT)
		events |= EVLOOP_OUT;
	if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		events |= EVLOOP_HUP;
	return events;
}

static int
next_timeout(struct evloop *loop)
{
	uint64_t delta;

	if (loop->pending || loop->stop)
		return 0;
	if (loop->heap_n == 0)
		return 1000;
	if (loop->heap[1]->when <= loop->now)
		return 0;
	delta = loop->heap[1]->when - loop->now;
	return delta > 1000 ? 1000 : (int)delta;
}

int
evloop_run(struct evloop *loop)
{
	struct epoll_event events[EVLOOP_BATCH];
	struct evloop_io *io;
	int i, n;

	loop->stop = 0;
	while (!loop->stop) {
		if (loop->hook != NULL)
			loop->hook(loop, loop->hook_arg);
		if (loop->stop)
			break;
		n = epoll_wait(loop->epfd, events, EVLOOP_BATCH,
		    next_timeout(loop));
		loop->pending = 0;
		loop->now = evloop_clock_ms();
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		loop->batch = events;
		loop->batch_n = n;
		for (i = 0; i < n; i++) {
			io = events[i].data.ptr;
			if (io == NULL)
				continue;
			io->cb(loop, io, from_epoll(events[i].events));
		}
		loop->batch_n = 0;
		loop->batch = NULL;
		run_timers(loop);
	}
	return 0;
}
