/*
 * The data-plane report, data plane -> control plane, at least once a
 * second. Counters are cumulative since the data plane started, so the
 * control plane folds differences and a lost report loses nothing.
 *
 * Wire form (one JSON object, compact, members in this order):
 *
 *   {"v":1,"type":"report",
 *    "dp_id":"3b1f0c9a2d4e5f60",          proto_id_valid()
 *    "serving_instance":"9f86d081884c7d65", "" when no set is served
 *    "uptime_ms":N, "pid":N, "workers":N,
 *    "serving_generation":N,              0 exactly when serving_instance
 *                                         is ""
 *    "connections_total":N, "connections_active":N, "clients_waiting":N,
 *    "bytes_in":N, "bytes_out":N,
 *    "duration_count":N, "duration_ms_sum":N, "ipc_dropped":N,
 *    "errors":{"no_backend":N,"dial_failed":N,"max_connections":N,
 *              "accept":N,"idle_timeout":N,"drain_timeout":N,
 *              "backend_reset":N,"client_reset":N,"pool_stale":N,
 *              "resource":N,"source_limit":N,"rate_limited":N,
 *              "backend_full":N},
 *    "duration_buckets":[N x PROTO_DURATION_BUCKETS],
 *    "backends":[                         0 .. PROTO_MAX_REPORT_BACKENDS
 *      {"addr":"1.2.3.4:80", "active":true,
 *       "connections":N, "pool_idle":N, "pool_target":N, "pool_peak":N,
 *       "connections_total":N, "lb_picks":N, "pool_hits":N,
 *       "pool_misses":N, "pool_scale_ups":N, "pool_scale_downs":N,
 *       "dials_ok":N, "dials_failed":N, "dials_timeout":N,
 *       "dial_us_sum":N, "bytes_in":N, "bytes_out":N,
 *       "dial_buckets":[N x PROTO_DIAL_BUCKETS]}, ...]}
 *
 * Every N is a JSON integer: 0 .. 2^32-1 for the uint32_t members,
 * 0 .. 2^63-1 (what jansson holds) for the uint64_t ones. Every member is
 * required except the kinds inside "errors": a missing kind counts 0 and
 * an unknown kind is ignored (a newer peer may count more), but every
 * value there must still be such an integer. Unknown members are ignored.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "proto_json.h"

enum proto_field_kind {
	PROTO_F_U32 = 0,
	PROTO_F_U64,
};

struct proto_field {
	const char *pf_name;
	size_t pf_off;
	enum proto_field_kind pf_kind;
};

#define PF(s, m, k) { #m, offsetof(struct s, m), k }

static const struct proto_field proto_report_fields[] = {
	PF(proto_report, uptime_ms, PROTO_F_U64),
	PF(proto_report, pid, PROTO_F_U32),
	PF(proto_report, workers, PROTO_F_U32),
	PF(proto_report, serving_generation, PROTO_F_U64),
	PF(proto_report, connections_total, PROTO_F_U64),
	PF(proto_report, connections_active, PROTO_F_U32),
	PF(proto_report, clients_waiting, PROTO_F_U32),
	PF(proto_report, bytes_in, PROTO_F_U64),
	PF(proto_report, bytes_out, PROTO_F_U64),
	PF(proto_report, duration_count, PROTO_F_U64),
	PF(proto_report, duration_ms_sum, PROTO_F_U64),
	PF(proto_report, ipc_dropped, PROTO_F_U64),
};

static const struct proto_field proto_backend_fields[] = {
	PF(proto_report_backend, connections, PROTO_F_U32),
	PF(proto_report_backend, pool_idle, PROTO_F_U32),
	PF(proto_report_backend, pool_target, PROTO_F_U32),
	PF(proto_report_backend, pool_peak, PROTO_F_U32),
	PF(proto_report_backend, connections_total, PROTO_F_U64),
	PF(proto_report_backend, lb_picks, PROTO_F_U64),
	PF(proto_report_backend, pool_hits, PROTO_F_U64),
	PF(proto_report_backend, pool_misses, PROTO_F_U64),
	PF(proto_report_backend, pool_scale_ups, PROTO_F_U64),
	PF(proto_report_backend, pool_scale_downs, PROTO_F_U64),
	PF(proto_report_backend, dials_ok, PROTO_F_U64),
	PF(proto_report_backend, dials_failed, PROTO_F_U64),
	PF(proto_report_backend, dials_timeout, PROTO_F_U64),
	PF(proto_report_backend, dial_us_sum, PROTO_F_U64),
	PF(proto_report_backend, bytes_in, PROTO_F_U64),
	PF(proto_report_backend, bytes_out, PROTO_F_U64),
};

#undef PF

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static int proto_fields_encode(json_t *, const void *,
    const struct proto_field *, size_t);
static int proto_fields_decode(const json_t *, const char *, void *,
    const struct proto_field *, size_t, char *, size_t);
static json_t *proto_backend_encode(const struct proto_report_backend *);
static int proto_backend_decode(const json_t *, const char *,
    struct proto_report_backend *, char *, size_t);
static int proto_errors_decode(const json_t *, uint64_t *, char *, size_t);
static bool proto_serving_consistent(const char *, uint64_t);

static int
proto_fields_encode(json_t *o, const void *s, const struct proto_field *f,
    size_t n)
{
	const char *base = s;
	uint32_t u32;
	uint64_t u64;
	size_t i;

	for (i = 0; i < n; i++) {
		if (f[i].pf_kind == PROTO_F_U32) {
			memcpy(&u32, base + f[i].pf_off, sizeof(u32));
			u64 = u32;
		} else
			memcpy(&u64, base + f[i].pf_off, sizeof(u64));
		if (proto_set_u64(o, f[i].pf_name, u64) == -1)
			return -1;
	}
	return 0;
}

static int
proto_fields_decode(const json_t *o, const char *ctx, void *s,
    const struct proto_field *f, size_t n, char *err, size_t errlen)
{
	char *base = s;
	uint32_t u32;
	uint64_t u64;
	size_t i;

	for (i = 0; i < n; i++) {
		if (f[i].pf_kind == PROTO_F_U32) {
			if (proto_get_u32(o, ctx, f[i].pf_name, &u32, err,
			    errlen) == -1)
				return -1;
			memcpy(base + f[i].pf_off, &u32, sizeof(u32));
		} else {
			if (proto_get_u64(o, ctx, f[i].pf_name,
			    PROTO_JSON_INT_MAX, &u64, err, errlen) == -1)
				return -1;
			memcpy(base + f[i].pf_off, &u64, sizeof(u64));
		}
	}
	return 0;
}

/* "No set" is an empty instance with generation 0, never half of it. */
static bool
proto_serving_consistent(const char *instance, uint64_t generation)
{
	if (instance[0] == '\0')
		return generation == 0;
	return proto_id_valid(instance) && generation != 0;
}

static json_t *
proto_backend_encode(const struct proto_report_backend *b)
{
	json_t *o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (proto_set_addr(o, "addr", &b->addr) == -1 ||
	    proto_set_bool(o, "active", b->active) == -1 ||
	    proto_fields_encode(o, b, proto_backend_fields,
	    NFIELDS(proto_backend_fields)) == -1 ||
	    proto_set_u64_array(o, "dial_buckets", b->dial_buckets,
	    PROTO_DIAL_BUCKETS) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *
proto_encode_report(const struct proto_report *m, size_t *len)
{
	json_t *root, *errs, *arr;
	char *out;
	uint32_t i;

	if (!proto_id_valid(m->dp_id) ||
	    memchr(m->serving_instance, '\0', sizeof(m->serving_instance)) ==
	    NULL ||
	    !proto_serving_consistent(m->serving_instance,
	    m->serving_generation) ||
	    m->n_backends > PROTO_MAX_REPORT_BACKENDS)
		return NULL;

	if ((root = proto_new_msg(PROTO_REPORT)) == NULL)
		return NULL;
	if (proto_set_str(root, "dp_id", m->dp_id) == -1 ||
	    proto_set_str(root, "serving_instance", m->serving_instance) ==
	    -1 ||
	    proto_fields_encode(root, m, proto_report_fields,
	    NFIELDS(proto_report_fields)) == -1)
		goto fail_decref;
	if ((errs = json_object()) == NULL ||
	    json_object_set_new(root, "errors", errs) == -1)
		goto fail_decref;
	for (i = 0; i < PROTO_ERR_COUNT; i++) {
		if (proto_set_u64(errs, proto_err_kind_name(i),
		    m->errors[i]) == -1)
			goto fail_decref;
	}
	if (proto_set_u64_array(root, "duration_buckets", m->duration_buckets,
	    PROTO_DURATION_BUCKETS) == -1)
		goto fail_decref;
	if ((arr = json_array()) == NULL ||
	    json_object_set_new(root, "backends", arr) == -1)
		goto fail_decref;
	for (i = 0; i < m->n_backends; i++) {
		if (json_array_append_new(arr,
		    proto_backend_encode(&m->backends[i])) == -1)
			goto fail_decref;
	}
	out = proto_dump(root, len);
	json_decref(root);
	return out;

fail_decref:
	json_decref(root);
	return NULL;
}

static int
proto_errors_decode(const json_t *root, uint64_t *errors, char *err,
    size_t errlen)
{
	const char *key;
	json_t *o, *v;
	json_int_t x;
	int k;

	if ((o = json_object_get(root, "errors")) == NULL) {
		proto_err(err, errlen, "errors: missing");
		return -1;
	}
	if (!json_is_object(o)) {
		proto_err(err, errlen, "errors: expected an object");
		return -1;
	}
	json_object_foreach(o, key, v) {
		if (!json_is_integer(v) || (x = json_integer_value(v)) < 0) {
			proto_err(err, errlen, "errors.%.40s: expected a "
			    "non-negative integer", key);
			return -1;
		}
		for (k = 0; k < PROTO_ERR_COUNT; k++) {
			if (strcmp(key, proto_err_kind_name(k)) == 0) {
				errors[k] = (uint64_t)x;
				break;
			}
		}
	}
	return 0;
}

static int
proto_backend_decode(const json_t *o, const char *ctx,
    struct proto_report_backend *b, char *err, size_t errlen)
{
	char actx[48];
	json_t *v;

	if (!json_is_object(o)) {
		proto_err(err, errlen, "%.*s: expected an object",
		    (int)strlen(ctx) - 1, ctx);
		return -1;
	}
	if ((v = json_object_get(o, "addr")) == NULL) {
		proto_err(err, errlen, "%saddr: missing", ctx);
		return -1;
	}
	snprintf(actx, sizeof(actx), "%saddr", ctx);
	if (proto_parse_addr(v, actx, &b->addr, err, errlen) == -1 ||
	    proto_get_bool(o, ctx, "active", &b->active, err, errlen) == -1 ||
	    proto_fields_decode(o, ctx, b, proto_backend_fields,
	    NFIELDS(proto_backend_fields), err, errlen) == -1 ||
	    proto_get_u64_array(o, ctx, "dial_buckets", b->dial_buckets,
	    PROTO_DIAL_BUCKETS, err, errlen) == -1)
		return -1;
	return 0;
}

int
proto_decode_report(const void *buf, size_t len, struct proto_report *out,
    char *err, size_t errlen)
{
	json_t *root, *arr, *v;
	char ctx[32];
	size_t i;

	root = proto_parse(buf, len, PROTO_REPORT, NULL, err, errlen);
	if (root == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (proto_get_str(root, "", "dp_id", out->dp_id, sizeof(out->dp_id),
	    err, errlen) == -1)
		goto fail_decref;
	if (!proto_id_valid(out->dp_id)) {
		proto_err(err, errlen, "dp_id: invalid id");
		goto fail_decref;
	}
	if (proto_get_str(root, "", "serving_instance", out->serving_instance,
	    sizeof(out->serving_instance), err, errlen) == -1 ||
	    proto_fields_decode(root, "", out, proto_report_fields,
	    NFIELDS(proto_report_fields), err, errlen) == -1)
		goto fail_decref;
	if (!proto_serving_consistent(out->serving_instance,
	    out->serving_generation)) {
		proto_err(err, errlen, "serving_instance: invalid id, or "
		    "inconsistent with serving_generation");
		goto fail_decref;
	}
	if (proto_errors_decode(root, out->errors, err, errlen) == -1 ||
	    proto_get_u64_array(root, "", "duration_buckets",
	    out->duration_buckets, PROTO_DURATION_BUCKETS, err, errlen) ==
	    -1 ||
	    proto_get_array(root, "", "backends", PROTO_MAX_REPORT_BACKENDS,
	    &arr, err, errlen) == -1)
		goto fail_decref;
	json_array_foreach(arr, i, v) {
		snprintf(ctx, sizeof(ctx), "backends[%zu].", i);
		if (proto_backend_decode(v, ctx, &out->backends[i], err,
		    errlen) == -1)
			goto fail_decref;
	}
	out->n_backends = (uint32_t)json_array_size(arr);
	json_decref(root);
	return 0;

fail_decref:
	json_decref(root);
	return -1;
}
