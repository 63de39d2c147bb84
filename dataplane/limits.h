/*
 * Admission limits per client IP, shared by every worker of the data
 * plane: concurrent connections (limits.per_source_ip.max_connections) and
 * a token-bucket connection rate (rate per second, burst). Client IPs live
 * in a fixed-size table split in stripes, each under its own lock, so
 * workers rarely meet; an idle entry is reused for a new IP. When every
 * slot a new IP could take is busy, it is admitted untracked (fail open:
 * the table bounds memory, it must not refuse honest clients).
 * The per-backend cap is applied when a backend is picked (session.c).
 */
#ifndef TCPFWD_DP_LIMITS_H
#define TCPFWD_DP_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/addr.h"
#include "../common/config.h"

struct limits;

enum limits_verdict {
	LIMITS_OK = 0,
	LIMITS_CONNS,   /* too many open from this IP */
	LIMITS_RATE,    /* too many new ones from this IP just now */
};

/* A table for lc->per_source_tracked IPs. Returns 0 or -1 (memory). */
int limits_new(const struct limits_conf *lc, struct limits **out);
/* Accepts NULL. */
void limits_free(struct limits *l);

/* Takes new values (reload); the table size stays what it was. Safe
 * while workers admit and release. */
void limits_configure(struct limits *l, const struct limits_conf *lc);

/* True when a per-source limit is set (admit/release worth calling). */
bool limits_per_source(const struct limits *l);

/* Counts a new connection from ip at now_ms, or says why not. A client
 * admitted must be released exactly once, with the same ip. */
enum limits_verdict limits_admit(struct limits *l, const struct addr *ip,
    uint64_t now_ms);
void limits_release(struct limits *l, const struct addr *ip);

/* Client IPs in the table now (for tests and metrics). */
unsigned limits_tracked(struct limits *l);

#endif
