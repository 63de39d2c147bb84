/*
 * Moves bytes one way between two non-blocking TCP sockets. Small reads
 * go through recv()/send() with a scratch buffer (two system calls, no
 * pipe work); once a read fills the buffer the direction is bulk and moves
 * with splice() through a pipe borrowed from the worker's cache while
 * bytes are in flight. Bytes the destination could not take wait in that
 * pipe, never in user space; with no pipe to be had (descriptors
 * exhausted) it peeks, sends, and consumes only what was sent. The same
 * function serves both directions; passing the end of stream on is the
 * caller's decision (shutdown(SHUT_WR), or close when both ends are done).
 */
#ifndef TCPFWD_DP_PUMP_H
#define TCPFWD_DP_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pipes;

#define PUMP_SRC_EOF 0x01u  /* source sent FIN */
#define PUMP_DST_SHUT 0x02u /* FIN passed on to the destination */
#define PUMP_BULK 0x04u     /* reads fill the buffer: splice */
#define PUMP_BLOCKED 0x08u  /* waiting for the destination to drain */
#define PUMP_SRC_HUP 0x10u  /* an event flagged the source closed: read on
			     * until the end of stream is seen */

struct pump {
	int pipe[2];       /* borrowed pipe, -1 when none */
	uint32_t in_pipe;  /* bytes in it */
	uint32_t flags;
};

enum pump_status {
	PUMP_WAIT = 0, /* blocked on the source or the destination */
	PUMP_MORE,     /* budget used up, more to move: call again soon */
	PUMP_DONE,     /* the source ended and everything was delivered */
	PUMP_ERR_SRC,  /* the source failed (reset, ...) */
	PUMP_ERR_DST,  /* the destination failed */
};

void pump_init(struct pump *p);

/*
 * Moves what it can from src to dst, up to about budget bytes, adding the
 * bytes delivered to *moved. With edge-triggered events a copy read
 * shorter than asked means the source is drained for now (more data brings
 * a new event; bulk splice reads go on until EAGAIN instead, a short
 * splice proves nothing). A FIN queued behind the data brings none, so once an event has
 * flagged the source closed (the caller sets PUMP_SRC_HUP, and it stays)
 * reading goes on until the end of stream is seen. Returns why it
 * stopped; errno is kept for the ERR results.
 */
enum pump_status pump_run(struct pump *p, int src, int dst,
    struct pipes *pipes, size_t budget, uint64_t *moved);

/* The source ended and every byte reached the destination. */
static inline bool
pump_finished(const struct pump *p)
{
	return (p->flags & PUMP_SRC_EOF) && p->in_pipe == 0;
}

/* Gives the pipe back (closed if bytes remain in it). */
void pump_release(struct pump *p, struct pipes *pipes);

#endif
