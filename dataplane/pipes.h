/*
 * A worker's cache of empty splice pipes. A session direction borrows a
 * pipe only while bytes sit in it and gives it back once it is empty, so
 * an idle connection holds no pipe (two descriptors and the pipe's pages
 * saved per idle connection).
 */
#ifndef TCPFWD_DP_PIPES_H
#define TCPFWD_DP_PIPES_H

#include <stddef.h>
#include <stdint.h>

struct pipes;

/* pipe_size: bytes asked of F_SETPIPE_SZ; keep: empty pipes cached at most.
 * Returns 0 or -1. */
int pipes_new(size_t pipe_size, unsigned keep, struct pipes **out);
/* Closes every cached pipe. Accepts NULL. */
void pipes_free(struct pipes *p);

/* Fills fds[0] (read end) and fds[1] (write end) with an empty pipe.
 * Returns 0, or -1 with errno when no pipe can be made (EMFILE, ...). */
int pipes_get(struct pipes *p, int fds[2]);

/* Returns a pipe. used is the number of bytes still in it: a pipe that is
 * not empty is closed, never cached. */
void pipes_put(struct pipes *p, int fds[2], size_t used);

/* Pipes open now (cached and borrowed). */
unsigned pipes_open(const struct pipes *p);

/* The pipe size actually granted by the kernel. */
size_t pipes_size(const struct pipes *p);

#endif
