/*
 * Health probes: non-blocking TCP connects on the control plane's event
 * loop, at most max_concurrency in flight (the rest wait in a queue), each
 * with its own timeout. The connect time is the latency sample.
 */
#ifndef TCPFWD_CP_PROBE_H
#define TCPFWD_CP_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/addr.h"
#include "../common/evloop.h"

struct prober;

enum probe_outcome {
	PROBE_OK = 0,
	PROBE_FAILED,   /* refused, unreachable, reset: the backend's fault */
	PROBE_TIMEOUT,  /* no answer within the timeout */
	PROBE_LOCAL,    /* our own shortage (EMFILE, ...): not a sample */
};

/* Called once per submitted probe, from the loop. */
typedef void probe_done_cb(void *arg, const struct addr *a,
    enum probe_outcome outcome, uint64_t latency_us, int err);

/* Returns 0 or -1; *out set on success. */
int prober_new(struct evloop *loop, unsigned max_concurrency,
    struct prober **out);
/* Cancels every probe (no callbacks) and frees. Accepts NULL. */
void prober_free(struct prober *p);

void prober_set_concurrency(struct prober *p, unsigned max_concurrency);

/* Queues a probe of a. Returns 0, or -1 when memory runs out. */
int prober_submit(struct prober *p, const struct addr *a, uint64_t timeout_ms,
    probe_done_cb *cb, void *arg);

/* Probes started and not finished / waiting for a slot. */
unsigned prober_inflight(const struct prober *p);
unsigned prober_queued(const struct prober *p);

const char *probe_outcome_name(enum probe_outcome o);

#endif
