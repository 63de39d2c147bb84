/*
 * A small event loop over epoll: fd watchers and one-shot timers, both
 * embedded in their owners (no allocation per registration), a cached
 * monotonic clock, a cross-thread wakeup and a hook run before each wait.
 * Every data-plane worker owns one; so do both daemons' main threads.
 */
#ifndef TCPFWD_EVLOOP_H
#define TCPFWD_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

struct evloop;
struct evloop_io;
struct evloop_timer;

/* Event bits passed to and from watchers. */
#define EVLOOP_IN 0x01u
#define EVLOOP_OUT 0x02u
#define EVLOOP_HUP 0x04u  /* peer closed or error: always reported */
#define EVLOOP_EDGE 0x80u /* request edge-triggered delivery */

typedef void evloop_io_cb(struct evloop *loop, struct evloop_io *io,
    uint32_t events);
typedef void evloop_timer_cb(struct evloop *loop, struct evloop_timer *t);
typedef void evloop_hook_cb(struct evloop *loop, void *arg);

/* Embedded in its owner; fields are the loop's, read-only outside. */
struct evloop_io {
	int fd;
	uint32_t events;
	evloop_io_cb *cb;
	void *arg;
};

struct evloop_timer {
	uint64_t when; /* monotonic ms */
	uint32_t heap_index; /* 0 = not armed */
	evloop_timer_cb *cb;
	void *arg;
};

/* Marks io unregistered (fd -1); evloop_io_del() on it is then a no-op. */
static inline void
evloop_io_init(struct evloop_io *io)
{
	io->fd = -1;
	io->events = 0;
	io->cb = 0;
	io->arg = 0;
}

/* Returns 0 or -1 with errno; *out set only on success. */
int evloop_new(struct evloop **out);
/* Frees the loop; watchers and timers are simply forgotten. Accepts NULL. */
void evloop_free(struct evloop *loop);

/* Registers fd. Returns 0 or -1 with errno (io untouched on failure). */
int evloop_io_add(struct evloop *loop, struct evloop_io *io, int fd,
    uint32_t events, evloop_io_cb *cb, void *arg);
int evloop_io_mod(struct evloop *loop, struct evloop_io *io, uint32_t events);
/* Unregisters; call before close(fd). Events for io already fetched in
 * this iteration are suppressed. */
void evloop_io_del(struct evloop *loop, struct evloop_io *io);

/* Like evloop_io_del() without the epoll_ctl call, for an fd the caller
 * closes right away (closing the last reference removes it from epoll).
 * Not for fds shared with another process or dup()ed. */
void evloop_io_forget(struct evloop *loop, struct evloop_io *io);

/* Hands the registration of from's fd to the watcher to (one epoll_ctl),
 * with new events, callback and argument; from becomes unregistered.
 * Returns 0, or -1 with errno (from untouched then). */
int evloop_io_move(struct evloop *loop, struct evloop_io *from,
    struct evloop_io *to, uint32_t events, evloop_io_cb *cb, void *arg);

void evloop_timer_init(struct evloop_timer *t, evloop_timer_cb *cb,
    void *arg);
/* (Re)arms t to fire once, after_ms from the loop's current time. */
void evloop_timer_start(struct evloop *loop, struct evloop_timer *t,
    uint64_t after_ms);
void evloop_timer_stop(struct evloop *loop, struct evloop_timer *t);
static inline bool
evloop_timer_armed(const struct evloop_timer *t)
{
	return t->heap_index != 0;
}

/* Monotonic milliseconds, refreshed after every wait. */
uint64_t evloop_now(const struct evloop *loop);
/* Monotonic milliseconds now, read from the clock. */
uint64_t evloop_clock_ms(void);
/* Monotonic microseconds now, read from the clock. */
uint64_t evloop_clock_us(void);

/* Runs hook before every wait (after the previous batch). One hook. */
void evloop_set_hook(struct evloop *loop, evloop_hook_cb *hook, void *arg);

/* Makes the next wait return at once; for work queued by the hook. */
void evloop_set_pending(struct evloop *loop);

/* Runs until evloop_stop(). Returns 0, or -1 if epoll_wait fails. */
int evloop_run(struct evloop *loop);
void evloop_stop(struct evloop *loop);

/* Thread-safe: interrupts a wait in progress (or the next one). */
void evloop_wake(struct evloop *loop);

#endif
