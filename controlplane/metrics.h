/*
 * Prometheus text exposition (format 0.0.4) of the control plane's state:
 * every metric name of the user's description, per-backend series labelled
 * backend="ip:port", data-plane figures from their reports.
 */
#ifndef TCPFWD_CP_METRICS_H
#define TCPFWD_CP_METRICS_H

#include <stddef.h>

struct cp;

/* Returns a new NUL-terminated buffer (caller frees) with its length in
 * *len, or NULL when memory runs out. */
char *metrics_render(const struct cp *cp, size_t *len);

#endif
