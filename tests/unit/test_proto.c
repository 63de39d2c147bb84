/*
 * proto/: every message round-trips with every field (largest sets and
 * reports, IPv4 and IPv6), and every kind of malformed input is refused
 * with -1. Malformed inputs are made by editing one member of a valid
 * encoding, so each case breaks exactly one rule.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"

#define BIG ((uint64_t)INT64_MAX)

static struct addr
mk4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct addr x;

	memset(&x, 0, sizeof(x));
	x.family = AF_INET;
	x.port = port;
	x.ip[0] = a;
	x.ip[1] = b;
	x.ip[2] = c;
	x.ip[3] = d;
	return x;
}

/* 2001:db8::<hi>:<lo> */
static struct addr
mk6(uint16_t hi, uint16_t lo, uint16_t port)
{
	struct addr x;

	memset(&x, 0, sizeof(x));
	x.family = AF_INET6;
	x.port = port;
	x.ip[0] = 0x20;
	x.ip[1] = 0x01;
	x.ip[2] = 0x0d;
	x.ip[3] = 0xb8;
	x.ip[12] = (uint8_t)(hi >> 8);
	x.ip[13] = (uint8_t)hi;
	x.ip[14] = (uint8_t)(lo >> 8);
	x.ip[15] = (uint8_t)lo;
	return x;
}

static struct proto_active_set *
small_set(void)
{
	struct proto_active_set *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->instance, sizeof(s->instance), "cp-A.1:x_y");
	s->generation = 7;
	s->changed_at_ms = 1764166711123ull;
	snprintf(s->reason, sizeof(s->reason), "better \"score\" \\ é");
	s->n_backends = 3;
	s->backends[0] = mk4(10, 0, 0, 1, 80);
	s->backends[1] = mk6(0, 1, 8080);
	s->backends[2] = mk4(10, 0, 0, 1, 81);
	return s;
}

static struct proto_report *
small_report(void)
{
	struct proto_report *r = calloc(1, sizeof(*r));
	int i;

	assert_non_null(r);
	snprintf(r->dp_id, sizeof(r->dp_id), "0123456789abcdef");
	snprintf(r->serving_instance, sizeof(r->serving_instance), "cp-1");
	r->serving_generation = 3;
	r->uptime_ms = 12345;
	r->pid = 4242;
	r->workers = 2;
	r->connections_total = 100;
	r->connections_active = 5;
	r->clients_waiting = 1;
	r->bytes_in = 1000;
	r->bytes_out = 2000;
	for (i = 0; i < PROTO_ERR_COUNT; i++)
		r->errors[i] = (uint64_t)i + 1;
	for (i = 0; i < PROTO_DURATION_BUCKETS; i++)
		r->duration_buckets[i] = (uint64_t)i * 3;
	r->duration_count = 95;
	r->duration_ms_sum = 123456;
	r->ipc_dropped = 2;
	r->n_backends = 2;
	r->backends[0].addr = mk4(192, 0, 2, 1, 443);
	r->backends[0].active = true;
	r->backends[0].connections = 3;
	r->backends[0].pool_idle = 4;
	r->backends[0].pool_target = 5;
	r->backends[0].pool_peak = 6;
	r->backends[0].connections_total = 7;
	r->backends[0].lb_picks = 8;
	r->backends[0].pool_hits = 9;
	r->backends[0].pool_misses = 10;
	r->backends[0].pool_scale_ups = 11;
	r->backends[0].pool_scale_downs = 12;
	r->backends[0].dials_ok = 13;
	r->backends[0].dials_failed = 14;
	r->backends[0].dials_timeout = 15;
	r->backends[0].dial_us_sum = 16;
	for (i = 0; i < PROTO_DIAL_BUCKETS; i++)
		r->backends[0].dial_buckets[i] = (uint64_t)i + 100;
	r->backends[0].bytes_in = 17;
	r->backends[0].bytes_out = 18;
	r->backends[1].addr = mk6(1, 2, 9000);
	r->backends[1].active = false;
	r->backends[1].connections = 1;
	return r;
}

static char *
enc_set(const struct proto_active_set *s, size_t *len)
{
	char *b = proto_encode_active_set(s, len);

	assert_non_null(b);
	return b;
}

static char *
enc_report(const struct proto_report *r, size_t *len)
{
	char *b = proto_encode_report(r, len);

	assert_non_null(b);
	return b;
}

/*
 * Returns a copy of the JSON text base with the member at path replaced
 * by the JSON text val (removed when val is NULL). Path: "a.b.3.c".
 */
static char *
mutate(const char *base, const char *path, const char *val)
{
	json_t *root, *cur, *v;
	char key[64], *out;
	const char *p = path;
	size_t n;

	root = json_loads(base, 0, NULL);
	assert_non_null(root);
	cur = root;
	for (;;) {
		n = strcspn(p, ".");
		assert_true(n < sizeof(key));
		memcpy(key, p, n);
		key[n] = '\0';
		if (p[n] == '\0')
			break;
		cur = json_is_array(cur) ?
		    json_array_get(cur, strtoul(key, NULL, 10)) :
		    json_object_get(cur, key);
		assert_non_null(cur);
		p += n + 1;
	}
	if (val == NULL) {
		if (json_is_array(cur))
			assert_int_equal(json_array_remove(cur,
			    strtoul(key, NULL, 10)), 0);
		else
			assert_int_equal(json_object_del(cur, key), 0);
	} else {
		v = json_loads(val, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		if (json_is_array(cur))
			assert_int_equal(json_array_set_new(cur,
			    strtoul(key, NULL, 10), v), 0);
		else
			assert_int_equal(json_object_set_new(cur, key, v), 0);
	}
	out = json_dumps(root, JSON_COMPACT);
	assert_non_null(out);
	json_decref(root);
	return out;
}

static void
expect_set_reject(const char *text, const char *why)
{
	struct proto_active_set *s = malloc(sizeof(*s));
	char err[256] = "";

	assert_non_null(s);
	if (proto_decode_active_set(text, strlen(text), s, err,
	    sizeof(err)) != -1)
		fail_msg("accepted (%s): %.200s", why, text);
	assert_true(err[0] != '\0');
	free(s);
}

static void
expect_report_reject(const char *text, const char *why)
{
	struct proto_report *r = malloc(sizeof(*r));
	char err[256] = "";

	assert_non_null(r);
	if (proto_decode_report(text, strlen(text), r, err, sizeof(err)) != -1)
		fail_msg("accepted (%s): %.200s", why, text);
	assert_true(err[0] != '\0');
	free(r);
}

/* Mutates the valid encoding of small_set() and expects a rejection. */
static void
set_bad(const char *path, const char *val)
{
	struct proto_active_set *s = small_set();
	size_t len;
	char *b = enc_set(s, &len), *m = mutate(b, path, val);

	expect_set_reject(m, path);
	free(m);
	free(b);
	free(s);
}

static void
report_bad(const char *path, const char *val)
{
	struct proto_report *r = small_report();
	size_t len;
	char *b = enc_report(r, &len), *m = mutate(b, path, val);

	expect_report_reject(m, path);
	free(m);
	free(b);
	free(r);
}

static void
test_set_roundtrip_small(void **state)
{
	struct proto_active_set *s = small_set(), *d = calloc(1, sizeof(*d));
	char err[256];
	size_t len;
	char *b;

	(void)state;
	b = enc_set(s, &len);
	assert_int_equal(strlen(b), len);
	assert_non_null(strstr(b, "\"v\":1,\"type\":\"active_set\""));
	assert_non_null(strstr(b, "\"[2001:db8::1]:8080\""));
	assert_null(strstr(b, "\": "));
	assert_int_equal(proto_decode_active_set(b, len, d, err, sizeof(err)),
	    0);
	assert_memory_equal(s, d, sizeof(*s));
	free(b);
	free(s);
	free(d);
}

static void
test_set_roundtrip_max(void **state)
{
	struct proto_active_set *s = calloc(1, sizeof(*s));
	struct proto_active_set *d = calloc(1, sizeof(*d));
	char err[256];
	size_t len;
	uint32_t i;
	char *b;

	(void)state;
	memset(s->instance, 'z', PROTO_ID_LEN);
	s->generation = BIG;
	s->changed_at_ms = BIG;
	memset(s->reason, 'r', PROTO_REASON_LEN - 1);
	s->n_backends = PROTO_MAX_SET;
	for (i = 0; i < PROTO_MAX_SET; i++)
		s->backends[i] = i % 2 ? mk6((uint16_t)i, 0xffff, 65535) :
		    mk4(255, 255, (uint8_t)i, 255, 65535);
	b = enc_set(s, &len);
	assert_int_equal(proto_decode_active_set(b, len, d, err, sizeof(err)),
	    0);
	assert_memory_equal(s, d, sizeof(*s));
	free(b);

	/* Empty sets are legal: no backend is good enough. */
	s->n_backends = 0;
	b = enc_set(s, &len);
	assert_int_equal(proto_decode_active_set(b, len, d, err, sizeof(err)),
	    0);
	assert_int_equal(d->n_backends, 0);
	free(b);
	free(s);
	free(d);
}

static void
test_report_roundtrip_small(void **state)
{
	struct proto_report *r = small_report(), *d = calloc(1, sizeof(*d));
	char err[256];
	size_t len;
	char *b;

	(void)state;
	b = enc_report(r, &len);
	assert_non_null(strstr(b, "\"v\":1,\"type\":\"report\""));
	assert_non_null(strstr(b, "\"dial_failed\":2"));
	assert_int_equal(proto_decode_report(b, len, d, err, sizeof(err)), 0);
	assert_memory_equal(r, d, sizeof(*r));
	free(b);

	/* No set served yet. */
	memset(r->serving_instance, 0, sizeof(r->serving_instance));
	r->serving_generation = 0;
	b = enc_report(r, &len);
	assert_int_equal(proto_decode_report(b, len, d, err, sizeof(err)), 0);
	assert_memory_equal(r, d, sizeof(*r));
	free(b);
	free(r);
	free(d);
}

/* Every counter at its largest, every backend with the longest address:
 * the worst case must still fit in one message. */
static void
test_report_roundtrip_max(void **state)
{
	struct proto_report *r = calloc(1, sizeof(*r));
	struct proto_report *d = calloc(1, sizeof(*d));
	struct proto_report_backend *be;
	char err[256];
	size_t len;
	uint32_t i, k;
	char *b;

	(void)state;
	memset(r->dp_id, 'd', PROTO_ID_LEN);
	memset(r->serving_instance, 'c', PROTO_ID_LEN);
	r->serving_generation = BIG;
	r->uptime_ms = r->connections_total = r->bytes_in = BIG;
	r->bytes_out = r->duration_count = r->duration_ms_sum = BIG;
	r->ipc_dropped = BIG;
	r->pid = r->workers = r->connections_active = UINT32_MAX;
	r->clients_waiting = UINT32_MAX;
	for (k = 0; k < PROTO_ERR_COUNT; k++)
		r->errors[k] = BIG;
	for (k = 0; k < PROTO_DURATION_BUCKETS; k++)
		r->duration_buckets[k] = BIG;
	r->n_backends = PROTO_MAX_REPORT_BACKENDS;
	for (i = 0; i < PROTO_MAX_REPORT_BACKENDS; i++) {
		be = &r->backends[i];
		be->addr = mk6(0xffff, (uint16_t)i, 65535);
		memset(be->addr.ip, 0xff, 12);
		be->active = i % 3 != 0;
		be->connections = be->pool_idle = be->pool_target = UINT32_MAX;
		be->pool_peak = UINT32_MAX;
		be->connections_total = be->lb_picks = be->pool_hits = BIG;
		be->pool_misses = be->pool_scale_ups = BIG;
		be->pool_scale_downs = be->dials_ok = be->dials_failed = BIG;
		be->dials_timeout = be->dial_us_sum = BIG;
		be->bytes_in = be->bytes_out = BIG;
		for (k = 0; k < PROTO_DIAL_BUCKETS; k++)
			be->dial_buckets[k] = BIG;
	}
	b = enc_report(r, &len);
	assert_true(len <= PROTO_MAX_MSG);
	assert_int_equal(proto_decode_report(b, len, d, err, sizeof(err)), 0);
	assert_memory_equal(r, d, sizeof(*r));
	free(b);
	free(r);
	free(d);
}

static void
test_encode_refuses(void **state)
{
	struct proto_active_set *s = small_set();
	struct proto_report *r = small_report();
	size_t len;

	(void)state;
	s->instance[0] = '\0';
	assert_null(proto_encode_active_set(s, &len));
	free(s);
	s = small_set();
	s->instance[2] = ' ';
	assert_null(proto_encode_active_set(s, &len));
	free(s);
	s = small_set();
	s->generation = 0;
	assert_null(proto_encode_active_set(s, &len));
	s->generation = BIG + 1;
	assert_null(proto_encode_active_set(s, &len));
	free(s);
	s = small_set();
	s->changed_at_ms = UINT64_MAX;
	assert_null(proto_encode_active_set(s, &len));
	free(s);
	s = small_set();
	memset(s->reason, 'x', sizeof(s->reason));
	assert_null(proto_encode_active_set(s, &len));
	free(s);
	s = small_set();
	s->reason[0] = (char)0xff;	/* not UTF-8 */
	assert_null(proto_encode_active_set(s, &len));
	free(s);
	s = small_set();
	s->n_backends = PROTO_MAX_SET + 1;
	assert_null(proto_encode_active_set(s, &len));
	free(s);
	s = small_set();
	s->backends[2] = s->backends[0];
	assert_null(proto_encode_active_set(s, &len));
	free(s);
	s = small_set();
	s->backends[1].port = 0;
	assert_null(proto_encode_active_set(s, &len));
	free(s);
	s = small_set();
	s->backends[1].family = AF_UNIX;
	assert_null(proto_encode_active_set(s, &len));
	free(s);

	r->dp_id[0] = '\0';
	assert_null(proto_encode_report(r, &len));
	free(r);
	r = small_report();
	r->serving_generation = 0;
	assert_null(proto_encode_report(r, &len));
	free(r);
	r = small_report();
	r->serving_instance[0] = '\0';
	assert_null(proto_encode_report(r, &len));
	free(r);
	r = small_report();
	r->bytes_in = BIG + 1;
	assert_null(proto_encode_report(r, &len));
	free(r);
	r = small_report();
	r->errors[PROTO_ERR_RESOURCE] = UINT64_MAX;
	assert_null(proto_encode_report(r, &len));
	free(r);
	r = small_report();
	r->backends[1].dial_buckets[11] = UINT64_MAX;
	assert_null(proto_encode_report(r, &len));
	free(r);
	r = small_report();
	r->backends[0].addr.port = 0;
	assert_null(proto_encode_report(r, &len));
	free(r);
	r = small_report();
	r->n_backends = PROTO_MAX_REPORT_BACKENDS + 1;
	assert_null(proto_encode_report(r, &len));
	free(r);
}

static void
test_set_rejects_envelope(void **state)
{
	struct proto_active_set *s = small_set();
	char *big, err[128];
	size_t len;
	char *b;

	(void)state;
	expect_set_reject("", "empty");
	expect_set_reject("{", "truncated");
	expect_set_reject("not json", "garbage");
	expect_set_reject("[]", "array");
	expect_set_reject("42", "number");
	expect_set_reject("\"active_set\"", "string");
	expect_set_reject("null", "null");
	set_bad("v", NULL);
	set_bad("v", "2");
	set_bad("v", "0");
	set_bad("v", "\"1\"");
	set_bad("v", "1.0");
	set_bad("type", NULL);
	set_bad("type", "\"report\"");
	set_bad("type", "\"hello\"");
	set_bad("type", "7");

	/* Trailing bytes after the object. */
	b = enc_set(s, &len);
	big = malloc(len + 3);
	memcpy(big, b, len);
	memcpy(big + len, " {}", 3);
	assert_int_equal(proto_decode_active_set(big, len + 3, s, err,
	    sizeof(err)), -1);
	free(big);
	free(b);

	/* Duplicate keys. */
	expect_set_reject("{\"v\":1,\"type\":\"active_set\","
	    "\"instance\":\"a\","
	    "\"generation\":1,\"generation\":2,\"changed_at_ms\":0,"
	    "\"reason\":\"\",\"backends\":[]}", "duplicate key");

	/* Over PROTO_MAX_MSG, even when the JSON is fine. */
	big = malloc(PROTO_MAX_MSG + 2);
	assert_non_null(big);
	b = enc_set(s, &len);
	memset(big, ' ', PROTO_MAX_MSG + 1);
	memcpy(big, b, len);
	assert_int_equal(proto_decode_active_set(big, PROTO_MAX_MSG + 1, s,
	    err, sizeof(err)), -1);
	/* Exactly at the limit it is accepted (trailing blanks are JSON). */
	assert_int_equal(proto_decode_active_set(big, PROTO_MAX_MSG, s, err,
	    sizeof(err)), 0);
	free(big);
	free(b);

	/* Nesting beyond the sanity depth, inside an unknown member. */
	big = malloc(4096);
	snprintf(big, 4096, "{\"v\":1,\"type\":\"active_set\",\"x\":"
	    "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}");
	expect_set_reject(big, "depth");
	free(big);

	/* NUL inside a string. */
	expect_set_reject("{\"v\":1,\"type\":\"active_set\",\"instance\":"
	    "\"a\\u0000b\",\"generation\":1,\"changed_at_ms\":0,"
	    "\"reason\":\"\",\"backends\":[]}", "NUL");
	free(s);
}

static void
test_set_rejects_fields(void **state)
{
	char list[8192];
	size_t off;
	int i;

	(void)state;
	set_bad("instance", NULL);
	set_bad("instance", "\"\"");
	set_bad("instance", "\"has space\"");
	set_bad("instance", "\"slash/x\"");
	set_bad("instance", "\"abcdefghijabcdefghijabcdefghijabc\"");
	set_bad("instance", "5");
	set_bad("generation", NULL);
	set_bad("generation", "0");
	set_bad("generation", "-1");
	set_bad("generation", "1.5");
	set_bad("generation", "2.0");
	set_bad("generation", "1e3");
	set_bad("generation", "\"7\"");
	set_bad("generation", "true");
	set_bad("generation", "null");
	expect_set_reject("{\"v\":1,\"type\":\"active_set\","
	    "\"instance\":\"a\","
	    "\"generation\":9223372036854775808,\"changed_at_ms\":0,"
	    "\"reason\":\"\",\"backends\":[]}", "2^63");
	expect_set_reject("{\"v\":1,\"type\":\"active_set\","
	    "\"instance\":\"a\","
	    "\"generation\":18446744073709551616,\"changed_at_ms\":0,"
	    "\"reason\":\"\",\"backends\":[]}", "2^64");
	set_bad("changed_at_ms", NULL);
	set_bad("changed_at_ms", "-5");
	set_bad("changed_at_ms", "{}");
	set_bad("reason", NULL);
	set_bad("reason", "[]");
	/* PROTO_REASON_LEN bytes: one too many. */
	memset(list, 'x', sizeof(list));
	list[0] = '"';
	list[PROTO_REASON_LEN + 1] = '"';
	list[PROTO_REASON_LEN + 2] = '\0';
	set_bad("reason", list);
	set_bad("backends", NULL);
	set_bad("backends", "{}");
	set_bad("backends", "\"1.2.3.4:80\"");
	set_bad("backends.0", "7");
	set_bad("backends.0", "null");
	set_bad("backends.0", "\"1.2.3.4\"");
	set_bad("backends.0", "\"[2001:db8::1]\"");
	set_bad("backends.0", "\"2001:db8::1\"");
	set_bad("backends.0", "\"1.2.3.4:0\"");
	set_bad("backends.0", "\"1.2.3.4:65536\"");
	set_bad("backends.0", "\"1.2.3.400:80\"");
	set_bad("backends.0", "\"host.example:80\"");
	set_bad("backends.0", "\"\"");
	/* ADDR_STRLEN bytes: longer than any address. */
	memset(list, '1', sizeof(list));
	list[0] = '"';
	list[ADDR_STRLEN + 1] = '"';
	list[ADDR_STRLEN + 2] = '\0';
	set_bad("backends.0", list);
	set_bad("backends.2", "\"10.0.0.1:80\"");
	set_bad("backends.2", "\"[2001:db8::1]:8080\"");

	/* One backend over PROTO_MAX_SET. */
	off = (size_t)snprintf(list, sizeof(list), "[");
	for (i = 0; i <= PROTO_MAX_SET; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off,
		    "%s\"10.1.%d.%d:80\"", i ? "," : "", i / 256, i % 256);
	snprintf(list + off, sizeof(list) - off, "]");
	set_bad("backends", list);
}

static void
test_set_accepts_unknown_members(void **state)
{
	struct proto_active_set *s = small_set(), *d = calloc(1, sizeof(*d));
	size_t len;
	char err[128];
	char *b, *m;

	(void)state;
	b = enc_set(s, &len);
	m = mutate(b, "future_member", "{\"a\":[1,2,3]}");
	assert_int_equal(proto_decode_active_set(m, strlen(m), d, err,
	    sizeof(err)), 0);
	assert_memory_equal(s, d, sizeof(*s));
	free(m);
	free(b);
	free(s);
	free(d);
}

static void
test_report_rejects(void **state)
{
	char *list;
	size_t off, cap = 1u << 20;
	int i;

	(void)state;
	report_bad("type", "\"active_set\"");
	report_bad("v", "3");
	report_bad("dp_id", NULL);
	report_bad("dp_id", "\"\"");
	report_bad("dp_id", "\"bad id\"");
	report_bad("dp_id", "12");
	report_bad("serving_instance", NULL);
	report_bad("serving_instance", "\"bad id\"");
	report_bad("serving_instance", "\"\"");		/* generation is 3 */
	report_bad("serving_generation", "0");		/* instance is set */
	report_bad("uptime_ms", NULL);
	report_bad("uptime_ms", "-1");
	report_bad("uptime_ms", "0.5");
	report_bad("pid", "4294967296");
	report_bad("workers", "\"2\"");
	report_bad("connections_active", "-1");
	report_bad("clients_waiting", "4294967296");
	report_bad("bytes_in", "1.0");
	report_bad("bytes_out", "null");
	report_bad("duration_count", "[]");
	report_bad("duration_ms_sum", "false");
	report_bad("ipc_dropped", NULL);
	report_bad("connections_total", "-9223372036854775807");
	report_bad("errors", NULL);
	report_bad("errors", "[]");
	report_bad("errors", "7");
	report_bad("errors.dial_failed", "\"3\"");
	report_bad("errors.resource", "-1");
	report_bad("errors.accept", "1.5");
	report_bad("errors.future_kind", "\"x\"");
	report_bad("duration_buckets", NULL);
	report_bad("duration_buckets", "[0,0,0,0,0,0,0,0,0]");
	report_bad("duration_buckets", "[0,0,0,0,0,0,0,0,0,0,0]");
	report_bad("duration_buckets", "{}");
	report_bad("duration_buckets.3", "-1");
	report_bad("duration_buckets.3", "0.1");
	report_bad("backends", NULL);
	report_bad("backends", "{}");
	report_bad("backends.0", "\"192.0.2.1:443\"");
	report_bad("backends.0.addr", NULL);
	report_bad("backends.0.addr", "\"192.0.2.1\"");
	report_bad("backends.0.addr", "17");
	report_bad("backends.0.active", NULL);
	report_bad("backends.0.active", "1");
	report_bad("backends.1.connections", "4294967296");
	report_bad("backends.1.pool_idle", NULL);
	report_bad("backends.1.pool_target", "-1");
	report_bad("backends.1.pool_peak", "\"1\"");
	report_bad("backends.0.connections_total", "1.25");
	report_bad("backends.0.lb_picks", NULL);
	report_bad("backends.0.pool_hits", "-2");
	report_bad("backends.0.pool_misses", "true");
	report_bad("backends.0.pool_scale_ups", "[1]");
	report_bad("backends.0.pool_scale_downs", "{}");
	report_bad("backends.0.dials_ok", "null");
	report_bad("backends.0.dials_failed", "-1");
	report_bad("backends.0.dials_timeout", "0.0");
	report_bad("backends.0.dial_us_sum", "\"5\"");
	report_bad("backends.0.bytes_in", NULL);
	report_bad("backends.0.bytes_out", "-1");
	report_bad("backends.0.dial_buckets", NULL);
	report_bad("backends.0.dial_buckets", "[1,2,3]");
	report_bad("backends.0.dial_buckets.11", "-1");
	report_bad("backends.0.dial_buckets.0", "\"0\"");

	/* One backend over PROTO_MAX_REPORT_BACKENDS (just the count is
	 * checked first, so the elements need not be valid). */
	list = malloc(cap);
	assert_non_null(list);
	off = (size_t)snprintf(list, cap, "[");
	for (i = 0; i <= PROTO_MAX_REPORT_BACKENDS; i++)
		off += (size_t)snprintf(list + off, cap - off, "%s{}",
		    i ? "," : "");
	snprintf(list + off, cap - off, "]");
	report_bad("backends", list);
	free(list);
}

static void
test_report_errors_lenient(void **state)
{
	struct proto_report *r = small_report(), *d = calloc(1, sizeof(*d));
	char err[128];
	size_t len;
	char *b, *m, *m2;

	(void)state;
	b = enc_report(r, &len);
	/* An unknown kind with a count is ignored... */
	m = mutate(b, "errors.future_kind", "99");
	assert_int_equal(proto_decode_report(m, strlen(m), d, err,
	    sizeof(err)), 0);
	assert_memory_equal(r, d, sizeof(*r));
	/* ...and a missing kind counts 0. */
	m2 = mutate(m, "errors.no_backend", NULL);
	assert_int_equal(proto_decode_report(m2, strlen(m2), d, err,
	    sizeof(err)), 0);
	assert_int_equal(d->errors[PROTO_ERR_NO_BACKEND], 0);
	assert_int_equal(d->errors[PROTO_ERR_DIAL], 2);
	free(m2);
	free(m);
	free(b);
	free(r);
	free(d);
}

static int
peek(const char *s)
{
	char err[128];

	return proto_peek_type(s, strlen(s), err, sizeof(err));
}

static void
test_peek_type(void **state)
{
	struct proto_active_set *s = small_set();
	struct proto_report *r = small_report();
	char err[128];
	size_t len;
	char *b;

	(void)state;
	b = enc_set(s, &len);
	assert_int_equal(proto_peek_type(b, len, err, sizeof(err)),
	    PROTO_ACTIVE_SET);
	free(b);
	b = enc_report(r, &len);
	assert_int_equal(proto_peek_type(b, len, err, sizeof(err)),
	    PROTO_REPORT);
	free(b);
	assert_int_equal(peek("{\"v\":1,\"type\":\"report\"}"), PROTO_REPORT);
	assert_int_equal(peek("{\"type\":\"active_set\",\"v\":1}"),
	    PROTO_ACTIVE_SET);
	assert_int_equal(peek("{\"v\":1,\"type\":\"nope\"}"), -1);
	assert_int_equal(peek("{\"v\":2,\"type\":\"report\"}"), -1);
	assert_int_equal(peek("{\"v\":1,\"type\":[]}"), -1);
	assert_int_equal(peek("{\"type\":\"report\"}"), -1);
	assert_int_equal(peek("\x01\x02garbage"), -1);
	assert_int_equal(peek("[1]"), -1);
	assert_int_equal(proto_peek_type(NULL, 0, err, sizeof(err)), -1);
	/* A NULL err is allowed. */
	assert_int_equal(proto_peek_type("x", 1, NULL, 0), -1);
	free(s);
	free(r);
}

static void
test_names_and_bounds(void **state)
{
	int i;

	(void)state;
	assert_string_equal(proto_type_name(PROTO_ACTIVE_SET), "active_set");
	assert_string_equal(proto_type_name(PROTO_REPORT), "report");
	assert_string_equal(proto_type_name(PROTO_TYPE_COUNT), "unknown");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_NO_BACKEND),
	    "no_backend");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_DIAL),
	    "dial_failed");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_MAX_CONN),
	    "max_connections");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_ACCEPT), "accept");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_IDLE_TIMEOUT),
	    "idle_timeout");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_DRAIN_TIMEOUT),
	    "drain_timeout");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_BACKEND_RESET),
	    "backend_reset");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_CLIENT_RESET),
	    "client_reset");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_POOL_STALE),
	    "pool_stale");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_RESOURCE),
	    "resource");
	assert_string_equal(proto_err_kind_name(PROTO_ERR_COUNT), "unknown");
	assert_int_equal(proto_dial_bounds_us[0], 250);
	assert_int_equal(proto_dial_bounds_us[PROTO_DIAL_BUCKETS - 1],
	    1000000);
	for (i = 1; i < PROTO_DIAL_BUCKETS; i++)
		assert_true(proto_dial_bounds_us[i] >
		    proto_dial_bounds_us[i - 1]);
	assert_int_equal(proto_duration_bounds_ms[0], 10);
	assert_int_equal(proto_duration_bounds_ms[PROTO_DURATION_BUCKETS - 1],
	    3600000);
	for (i = 1; i < PROTO_DURATION_BUCKETS; i++)
		assert_true(proto_duration_bounds_ms[i] >
		    proto_duration_bounds_ms[i - 1]);
}

static void
test_ids(void **state)
{
	char a[PROTO_ID_LEN + 1], b[PROTO_ID_LEN + 1];

	(void)state;
	assert_true(proto_id_valid("a"));
	assert_true(proto_id_valid("A-z_0.9:x"));
	assert_true(proto_id_valid("abcdefghijabcdefghijabcdefghijab"));
	assert_false(proto_id_valid("abcdefghijabcdefghijabcdefghijabc"));
	assert_false(proto_id_valid(""));
	assert_false(proto_id_valid(NULL));
	assert_false(proto_id_valid("a b"));
	assert_false(proto_id_valid("a/b"));
	assert_false(proto_id_valid("é"));
	proto_new_id(a);
	proto_new_id(b);
	assert_int_equal(strlen(a), 16);
	assert_true(proto_id_valid(a));
	assert_string_not_equal(a, b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_roundtrip_small),
		cmocka_unit_test(test_set_roundtrip_max),
		cmocka_unit_test(test_report_roundtrip_small),
		cmocka_unit_test(test_report_roundtrip_max),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_set_rejects_envelope),
		cmocka_unit_test(test_set_rejects_fields),
		cmocka_unit_test(test_set_accepts_unknown_members),
		cmocka_unit_test(test_report_rejects),
		cmocka_unit_test(test_report_errors_lenient),
		cmocka_unit_test(test_peek_type),
		cmocka_unit_test(test_names_and_bounds),
		cmocka_unit_test(test_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
