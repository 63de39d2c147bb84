/*
 * The messages between the planes, and the only code that knows their wire
 * form (JSON objects, one per nng message). Every message carries "v"
 * (PROTO_VERSION) and "type". Decoders check the version, the size and
 * every field, and return -1 on anything else: the caller counts, logs and
 * drops. Unknown object members are ignored so that a newer peer of the
 * same version may add fields.
 */
#ifndef TCPFWD_PROTO_H
#define TCPFWD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/addr.h"

#define PROTO_VERSION 1
#define PROTO_MAX_MSG (1u << 20)     /* also the sockets' RECVMAXSZ */
#define PROTO_ID_LEN 32              /* ids: up to 32 chars [A-Za-z0-9._:-] */
#define PROTO_REASON_LEN 128
#define PROTO_MAX_SET 256            /* backends in one active set */
#define PROTO_MAX_REPORT_BACKENDS 1024
#define PROTO_DIAL_BUCKETS 12        /* see proto_dial_bounds_us */
#define PROTO_DURATION_BUCKETS 10    /* see proto_duration_bounds_ms */

enum proto_type {
	/* control plane -> data plane */
	PROTO_ACTIVE_SET = 0,
	/* data plane -> control plane */
	PROTO_REPORT,
	PROTO_TYPE_COUNT
};

/* Why a data plane closed or refused a client; counted per kind. */
enum proto_err_kind {
	PROTO_ERR_NO_BACKEND = 0, /* no active set within dial_timeout */
	PROTO_ERR_DIAL,           /* every dial attempt failed */
	PROTO_ERR_MAX_CONN,       /* over dataplane.max_connections */
	PROTO_ERR_ACCEPT,         /* accept() failed (EMFILE, ENFILE, ...) */
	PROTO_ERR_IDLE_TIMEOUT,   /* no bytes either way for idle_timeout */
	PROTO_ERR_DRAIN_TIMEOUT,  /* backend left the set, drain expired */
	PROTO_ERR_BACKEND_RESET,  /* backend failed mid-stream */
	PROTO_ERR_CLIENT_RESET,   /* client failed mid-stream */
	PROTO_ERR_POOL_STALE,     /* pooled socket found closed, discarded */
	PROTO_ERR_RESOURCE,       /* out of memory or descriptors */
	PROTO_ERR_SOURCE_LIMIT,   /* limits.per_source_ip.max_connections */
	PROTO_ERR_RATE_LIMIT,     /* limits.per_source_ip.rate */
	PROTO_ERR_BACKEND_FULL,   /* every backend at per_backend cap */
	PROTO_ERR_COUNT
};

/* Upper bounds of the dial-time histogram buckets, in microseconds. */
extern const uint64_t proto_dial_bounds_us[PROTO_DIAL_BUCKETS];
/* Upper bounds of the connection-duration buckets, in milliseconds. */
extern const uint64_t proto_duration_bounds_ms[PROTO_DURATION_BUCKETS];

/* The set of backends data planes forward to. */
struct proto_active_set {
	char instance[PROTO_ID_LEN + 1]; /* control-plane instance id */
	uint64_t generation;             /* > 0 */
	uint64_t changed_at_ms;          /* unix time of the change */
	char reason[PROTO_REASON_LEN];
	uint32_t n_backends;             /* 0 .. PROTO_MAX_SET, distinct */
	struct addr backends[PROTO_MAX_SET];
};

/* One backend a data plane holds: in its set, or draining out of it. */
struct proto_report_backend {
	struct addr addr;
	bool active;                 /* in the served set; false = draining */
	uint32_t connections;        /* client connections open now */
	uint32_t pool_idle;          /* pre-connected sockets ready */
	uint32_t pool_target;        /* pool size it is steering to */
	uint32_t pool_peak;          /* recent peak concurrency */
	/* cumulative since the data plane started */
	uint64_t connections_total;
	uint64_t lb_picks;
	uint64_t pool_hits;
	uint64_t pool_misses;
	uint64_t pool_scale_ups;
	uint64_t pool_scale_downs;
	uint64_t dials_ok;
	uint64_t dials_failed;       /* refused, unreachable, reset */
	uint64_t dials_timeout;
	uint64_t dial_us_sum;        /* over successful dials */
	uint64_t dial_buckets[PROTO_DIAL_BUCKETS]; /* successful, not cumul. */
	uint64_t bytes_in;           /* client -> backend */
	uint64_t bytes_out;          /* backend -> client */
};

/* A data plane's state, at least once a second. Counters are cumulative
 * since the data plane's start, so a lost report loses nothing. */
struct proto_report {
	char dp_id[PROTO_ID_LEN + 1];   /* unique per data-plane process run */
	uint64_t uptime_ms;
	uint32_t pid;
	uint32_t workers;
	/* the set being served; instance empty and generation 0 = none */
	char serving_instance[PROTO_ID_LEN + 1];
	uint64_t serving_generation;
	uint64_t connections_total;
	uint32_t connections_active;
	uint32_t clients_waiting;       /* held while no set is known */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t errors[PROTO_ERR_COUNT];
	uint64_t duration_buckets[PROTO_DURATION_BUCKETS]; /* not cumulative */
	uint64_t duration_count;
	uint64_t duration_ms_sum;
	uint64_t ipc_dropped;           /* bad messages from the control plane */
	uint32_t n_backends;            /* 0 .. PROTO_MAX_REPORT_BACKENDS */
	struct proto_report_backend backends[PROTO_MAX_REPORT_BACKENDS];
};

const char *proto_type_name(enum proto_type t);
const char *proto_err_kind_name(enum proto_err_kind k);

/*
 * Reads the type of a message without decoding it. Returns the type, or -1
 * when buf is not a JSON object of version PROTO_VERSION with a known type
 * (why in err).
 */
int proto_peek_type(const void *buf, size_t len, char *err, size_t errlen);

/*
 * Encoders: return a new malloc'ed buffer (caller frees) with its length in
 * *len, or NULL when the struct breaks a limit (a bug) or memory runs out.
 * Decoders: fill *out and return 0, or return -1 with a reason in err; *out
 * may be partly written on failure and must then be discarded.
 */
char *proto_encode_active_set(const struct proto_active_set *m, size_t *len);
int proto_decode_active_set(const void *buf, size_t len,
    struct proto_active_set *out, char *err, size_t errlen);

char *proto_encode_report(const struct proto_report *m, size_t *len);
int proto_decode_report(const void *buf, size_t len, struct proto_report *out,
    char *err, size_t errlen);

/* True for a valid id: 1..PROTO_ID_LEN chars of [A-Za-z0-9._:-]. */
bool proto_id_valid(const char *id);

/* Fills id with a fresh random id of 16 hex chars. */
void proto_new_id(char id[PROTO_ID_LEN + 1]);

#endif
