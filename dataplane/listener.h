/*
 * The client-facing socket of a worker: SO_REUSEPORT listeners opened by
 * the main thread before the workers start, and the accept loop, which
 * backs off instead of spinning when descriptors run out.
 */
#ifndef TCPFWD_DP_LISTENER_H
#define TCPFWD_DP_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "../common/addr.h"
#include "../common/evloop.h"

struct worker;

struct listener {
	int fd;
	struct evloop_io io;
	struct evloop_timer backoff_timer;
	uint32_t backoff_ms;  /* 0 when accepting normally */
	int spare;            /* held for the next client's backend, or -1 */
	struct worker *w;
};

/* Opens a non-blocking SO_REUSEPORT listener whose accepted sockets inherit
 * TCP_NODELAY and keepalive (keepalive_ms 0 = off). Returns the fd, or -1
 * with a reason in err. */
int listener_open(const struct addr *a, uint32_t backlog,
    uint64_t keepalive_ms, char *err, size_t errlen);

/* Checks that fd, received from the process this one replaces, is a
 * listening TCP socket bound to a, and applies backlog and keepalive_ms as
 * listener_open() would (no new bind: the socket and its queue of clients
 * stay as they are). Returns 0, or -1 with a reason in err (fd untouched,
 * still the caller's). */
int listener_adopt(int fd, const struct addr *a, uint32_t backlog,
    uint64_t keepalive_ms, char *err, size_t errlen);

/* Starts accepting on fd inside w's loop (takes the fd). Returns 0/-1. */
int listener_start(struct listener *l, struct worker *w, int fd);

/* Stops accepting and closes the fd. Idempotent. */
void listener_close(struct listener *l);

/* Descriptors ran out after a client was taken: pause accepting as for
 * EMFILE at accept time (backoff, counted as an accept error). */
void listener_starved(struct listener *l, int err);

#endif
