/*
 * A client connection and its backend: choosing the backend, taking a
 * pooled socket or dialling (with up to two retries elsewhere), pumping
 * both ways, and session_close(), the one place a session ends.
 */
#ifndef TCPFWD_DP_SESSION_H
#define TCPFWD_DP_SESSION_H

#include <stdint.h>
#include <sys/socket.h>

#include "../common/addr.h"
#include "../common/evloop.h"
#include "lb.h"
#include "pump.h"

struct backend;
struct worker;

enum session_state {
	SESSION_WAITING = 0, /* no active set yet */
	SESSION_DIALING,
	SESSION_ESTABLISHED,
};

struct session {
	struct evloop_io cio;       /* client */
	struct evloop_io bio;       /* backend */
	struct worker *w;
	struct backend *be;         /* counted in be->conns while set */
	struct session *next, *prev;     /* in one of the worker's lists */
	struct session *ready_next;
	uint64_t id;
	uint64_t start_ms;
	uint64_t last_ms;           /* last byte moved, or state change */
	uint64_t deadline_ms;       /* dial or wait deadline */
	uint64_t drain_deadline_ms; /* 0 unless its backend left the set */
	uint64_t dial_start_us;
	struct pump up;             /* client -> backend */
	struct pump down;           /* backend -> client */
	uint8_t state;
	uint8_t ntried;
	uint8_t in_ready;
	uint8_t edge_seen;          /* a client event came before forwarding */
	uint8_t admitted;           /* counted in the per-source limits */
	uint8_t starved;            /* held: no descriptor for its dial */
	struct addr client;         /* set when admitted */
	struct backend *tried[LB_MAX_TRIES];
};

/* Takes an accepted client fd from peer: checks the admission limits,
 * then holds it, dials or hands it a pooled socket. On failure the fd is
 * closed and the error counted. */
void session_accept(struct worker *w, int fd, const struct sockaddr *peer,
    socklen_t peerlen);

/* Timer work: dial and wait deadlines, idle and drain timeouts. */
void session_sweep(struct worker *w, uint64_t now);

/* A new set arrived: waiting clients get dialled; sessions whose backend
 * left get a drain deadline. */
void session_set_changed(struct worker *w);

/* Pumps the sessions that used up their budget last round. */
void session_run_ready(struct worker *w);

/* Closes every session of w at once (hard stop). */
void session_close_all(struct worker *w);

#endif
