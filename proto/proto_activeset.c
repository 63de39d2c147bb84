/*
 * The active set, control plane -> data planes: pushed on every change,
 * to each data plane that connects, and as a heartbeat. The data plane
 * also keeps the last one it accepted as its state file.
 *
 * Wire form (one JSON object, compact, members in this order):
 *
 *   {"v":1,"type":"active_set",
 *    "instance":"9f86d081884c7d65",     control-plane id, proto_id_valid()
 *    "generation":42,                   1 .. 2^63-1
 *    "changed_at_ms":1764166711123,     unix ms of the change, 0 .. 2^63-1
 *    "reason":"score",                  UTF-8, < PROTO_REASON_LEN bytes
 *    "backends":["1.2.3.4:80","[2001:db8::1]:8080"]}
 *                                       0 .. PROTO_MAX_SET distinct
 *                                       addresses, port required
 *
 * Every member is required; unknown members are ignored.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "proto_json.h"

static bool proto_set_has_dup(const struct addr *, uint32_t);

/* True when backends[i] also appears before it. */
static bool
proto_set_has_dup(const struct addr *backends, uint32_t i)
{
	uint32_t j;

	for (j = 0; j < i; j++) {
		if (addr_equal(&backends[j], &backends[i]))
			return true;
	}
	return false;
}

char *
proto_encode_active_set(const struct proto_active_set *m, size_t *len)
{
	json_t *root, *arr;
	char *out;
	uint32_t i;

	if (!proto_id_valid(m->instance) || m->generation == 0 ||
	    m->generation > PROTO_JSON_INT_MAX ||
	    m->changed_at_ms > PROTO_JSON_INT_MAX ||
	    memchr(m->reason, '\0', sizeof(m->reason)) == NULL ||
	    m->n_backends > PROTO_MAX_SET)
		return NULL;
	for (i = 0; i < m->n_backends; i++) {
		if (!proto_addr_sendable(&m->backends[i]) ||
		    proto_set_has_dup(m->backends, i))
			return NULL;
	}

	if ((root = proto_new_msg(PROTO_ACTIVE_SET)) == NULL)
		return NULL;
	if (proto_set_str(root, "instance", m->instance) == -1 ||
	    proto_set_u64(root, "generation", m->generation) == -1 ||
	    proto_set_u64(root, "changed_at_ms", m->changed_at_ms) == -1 ||
	    proto_set_str(root, "reason", m->reason) == -1)
		goto fail_decref;
	if ((arr = json_array()) == NULL ||
	    json_object_set_new(root, "backends", arr) == -1)
		goto fail_decref;
	for (i = 0; i < m->n_backends; i++) {
		if (json_array_append_new(arr,
		    proto_addr_json(&m->backends[i])) == -1)
			goto fail_decref;
	}
	out = proto_dump(root, len);
	json_decref(root);
	return out;

fail_decref:
	json_decref(root);
	return NULL;
}

int
proto_decode_active_set(const void *buf, size_t len,
    struct proto_active_set *out, char *err, size_t errlen)
{
	json_t *root, *arr, *v;
	char ctx[32];
	size_t i;

	root = proto_parse(buf, len, PROTO_ACTIVE_SET, NULL, err, errlen);
	if (root == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (proto_get_str(root, "", "instance", out->instance,
	    sizeof(out->instance), err, errlen) == -1)
		goto fail_decref;
	if (!proto_id_valid(out->instance)) {
		proto_err(err, errlen, "instance: invalid id");
		goto fail_decref;
	}
	if (proto_get_u64(root, "", "generation", PROTO_JSON_INT_MAX,
	    &out->generation, err, errlen) == -1)
		goto fail_decref;
	if (out->generation == 0) {
		proto_err(err, errlen, "generation: must be at least 1");
		goto fail_decref;
	}
	if (proto_get_u64(root, "", "changed_at_ms", PROTO_JSON_INT_MAX,
	    &out->changed_at_ms, err, errlen) == -1 ||
	    proto_get_str(root, "", "reason", out->reason,
	    sizeof(out->reason), err, errlen) == -1 ||
	    proto_get_array(root, "", "backends", PROTO_MAX_SET, &arr, err,
	    errlen) == -1)
		goto fail_decref;
	json_array_foreach(arr, i, v) {
		snprintf(ctx, sizeof(ctx), "backends[%zu]", i);
		if (proto_parse_addr(v, ctx, &out->backends[i], err,
		    errlen) == -1)
			goto fail_decref;
		if (proto_set_has_dup(out->backends, (uint32_t)i)) {
			proto_err(err, errlen, "%s: duplicate backend %s", ctx,
			    json_string_value(v));
			goto fail_decref;
		}
	}
	out->n_backends = (uint32_t)json_array_size(arr);
	json_decref(root);
	return 0;

fail_decref:
	json_decref(root);
	return -1;
}
