/*
 * A worker's pre-connected sockets to one backend. Sockets are dialled
 * ahead of demand, watched while idle (a backend that closes one is
 * noticed at once), checked again before they are handed out, and closed
 * when older than pools.common.idle_timeout. Sizing rules: pool_sizing.h.
 */
#ifndef TCPFWD_DP_POOL_H
#define TCPFWD_DP_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/evloop.h"

struct backend;
struct worker;
struct pool;

/* Returns a new pool for be (takes a reference), or NULL. Starts dialling
 * up to its target at once. */
struct pool *pool_new(struct worker *w, struct backend *be);

/* Closes every socket of the pool, idle or dialling, and frees it. NULL ok. */
void pool_free(struct pool *p);

/*
 * Takes a live, connected socket: returns its fd, now registered with the
 * loop under the watcher to (edge-triggered in and out, cb and arg), or -1
 * when none is ready. The caller owns the fd. Sockets found closed by the
 * backend are discarded and counted on the way. Triggers a refill.
 */
int pool_take(struct pool *p, struct evloop_io *to, evloop_io_cb *cb,
    void *arg);

/* The number of client connections on this backend in this worker rose or
 * fell (for the peak that sizes dynamic pools). */
void pool_concurrency(struct pool *p, int delta);

/* Scaling interval: step the target, then dial or trim towards it. */
void pool_tick(struct pool *p);

/* Closes idle sockets older than idle_timeout; retries after failures. */
void pool_sweep(struct pool *p, uint64_t now);

/* Settings changed (reload): re-derive the target. */
void pool_settings_changed(struct pool *p);

#endif
