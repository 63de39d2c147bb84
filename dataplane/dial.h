/*
 * Outgoing TCP connections to backends, non-blocking, shared by the pools
 * and by sessions that miss the pool. Also the per-socket options every
 * forwarded socket gets (TCP_NODELAY, keepalive).
 */
#ifndef TCPFWD_DP_DIAL_H
#define TCPFWD_DP_DIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/addr.h"

/*
 * Starts connecting to a. Returns the fd, with *connected true when the
 * connection completed at once; or -1 with errno when it failed outright
 * (ECONNREFUSED on loopback, EMFILE, ...).
 */
int dial_start(const struct addr *a, uint64_t keepalive_ms, bool *connected);

/* Call once the fd is writable: returns 0 when connected, or -1 with errno
 * set to the connect error. */
int dial_finish(int fd);

/* TCP_NODELAY and, for keepalive_ms > 0, keepalive probes after that much
 * idle time. full also sets the probe interval and count (10 s, 3 misses):
 * two more system calls, worth it on a listener, whose accepted sockets
 * inherit all of it, not on every backend socket (kernel defaults there). */
void dial_sockopts(int fd, uint64_t keepalive_ms, bool full);

/* Connect outcome from the events of the first wake-up: 0 when connected,
 * -1 with errno otherwise. Asks the kernel only when an error is flagged. */
int dial_result(int fd, uint32_t events);

/* True while the peer has neither closed nor reset the connection. */
bool dial_alive(int fd);

#endif
