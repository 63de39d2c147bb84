/*
 * The control plane's process context: one struct cp, owned by the main
 * thread's event loop, handed explicitly to the modules (admin, metrics,
 * rounds, push). nng's threads never touch it: admin requests are queued
 * to the loop and answered from it.
 */
#ifndef TCPFWD_CP_H
#define TCPFWD_CP_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/config.h"
#include "../common/evloop.h"
#include "../proto/proto.h"
#include "dataplanes.h"
#include "../common/iplist.h"
#include "scoreboard.h"
#include "selector.h"

struct admin;
struct ipc;
struct prober;
struct rounds;
struct sampler;

enum cp_phase {
	CP_LEARNING = 0, /* listening for the set the data planes serve */
	CP_PROBING,      /* initial probe round under way */
	CP_RUNNING,      /* periodic rounds and evaluations */
};

/* The active set this control plane pushes. */
struct cp_set {
	char instance[PROTO_ID_LEN + 1]; /* this process's instance id */
	uint64_t generation;             /* 0: no set yet */
	uint64_t changed_at_unix_ms;
	char reason[PROTO_REASON_LEN];
	struct selector_state sel;       /* member ids, last switch (mono) */
	bool degraded;                   /* nothing passed the threshold */
	bool adopted;                    /* learned from the data planes */
};

struct cp_stats {
	uint64_t probe_rounds;
	uint64_t evaluations;
	uint64_t switches[SELECTOR_IMPROVED + 1]; /* by selector reason */
	uint64_t degraded_evaluations;
	uint64_t pushes;
	uint64_t ipc_dropped;            /* bad messages from data planes */
	uint64_t state_saves;
	uint64_t state_save_errors;
	uint64_t reloads;
	uint64_t reload_errors;
	uint64_t admin_requests;
	uint64_t evictions;
	uint64_t samples_added;
};

struct cp {
	struct config cfg;
	struct evloop *loop;
	struct ipc *ipc;
	struct scoreboard *sb;
	struct dataplanes *dps;
	struct iplist list;
	struct sampler *sampler;         /* NULL when the list has no range */
	struct prober *prober;
	struct rounds *rounds;
	struct admin *admin;
	struct cp_set set;
	enum cp_phase phase;
	uint64_t start_ms;               /* monotonic */
	uint64_t start_unix_ms;
	uint64_t last_eval_unix_ms;
	char token[256];                 /* admin bearer token; "" = none */
	struct sb_saved_set saved;       /* the set in the state file */
	bool eval_pending;               /* asked for while learning */
	uint64_t last_push_ms;           /* monotonic */
	struct cp_stats stats;
	struct proto_report *report;     /* decode buffer */
};

/* Operator actions, shared by the admin API and signals. Each returns 0 or
 * -1 with a reason in err; the change reaches the data planes at once
 * (no debounce). */
int cp_disable(struct cp *cp, struct sb_entry *e, char *err, size_t errlen);
int cp_enable(struct cp *cp, struct sb_entry *e, char *err, size_t errlen);
/* Re-reads the IP list and the scoring and selector settings; on any error
 * nothing changes. */
int cp_reload(struct cp *cp, char *err, size_t errlen);

/* Wall-clock milliseconds (for display only; timing uses evloop_now). */
uint64_t cp_unix_ms(void);

#endif
