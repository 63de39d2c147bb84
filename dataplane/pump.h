/*
 * Moves bytes one way between two non-blocking TCP sockets: splice()
 * through a pipe borrowed from the worker's cache while bytes are in
 * flight, or, when no pipe can be had, peek-send-consume with a scratch
 * buffer (bytes leave the source only once the destination took them, so
 * nothing is ever buffered in user space). The same function serves both
 * directions; end of stream is passed on with shutdown(SHUT_WR).
 */
#ifndef TCPFWD_DP_PUMP_H
#define TCPFWD_DP_PUMP_H

#include <stddef.h>
#include <stdint.h>

struct pipes;

#define PUMP_SRC_EOF 0x01u  /* source sent FIN */
#define PUMP_DST_SHUT 0x02u /* FIN passed on to the destination */

struct pump {
	int pipe[2];       /* borrowed pipe, -1 when none */
	uint32_t in_pipe;  /* bytes in it */
	uint32_t flags;
};

enum pump_status {
	PUMP_WAIT = 0, /* blocked on the source or the destination */
	PUMP_MORE,     /* budget used up, more to move: call again soon */
	PUMP_DONE,     /* end of stream passed on; this direction is over */
	PUMP_ERR_SRC,  /* the source failed (reset, ...) */
	PUMP_ERR_DST,  /* the destination failed */
};

void pump_init(struct pump *p);

/*
 * Moves what it can from src to dst, up to about budget bytes. Adds the
 * bytes delivered to dst to *moved. Returns why it stopped; errno is kept
 * for the ERR results.
 */
enum pump_status pump_run(struct pump *p, int src, int dst,
    struct pipes *pipes, size_t budget, uint64_t *moved);

/* Gives the pipe back (closed if bytes remain in it). */
void pump_release(struct pump *p, struct pipes *pipes);

#endif
