/*
 * Names, limits and ids shared by every message, type peeking, and the
 * JSON helpers the per-message codecs (proto_activeset.c, proto_report.c)
 * are built from. Linked into both daemons.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "proto_json.h"

const uint64_t proto_dial_bounds_us[PROTO_DIAL_BUCKETS] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000,
};

const uint64_t proto_duration_bounds_ms[PROTO_DURATION_BUCKETS] = {
	10, 100, 500, 1000, 5000, 10000, 60000, 300000, 1800000, 3600000,
};

static const char *const proto_type_names[PROTO_TYPE_COUNT] = {
	[PROTO_ACTIVE_SET] = "active_set",
	[PROTO_REPORT] = "report",
};

static const char *const proto_err_kind_names[PROTO_ERR_COUNT] = {
	[PROTO_ERR_NO_BACKEND] = "no_backend",
	[PROTO_ERR_DIAL] = "dial_failed",
	[PROTO_ERR_MAX_CONN] = "max_connections",
	[PROTO_ERR_ACCEPT] = "accept",
	[PROTO_ERR_IDLE_TIMEOUT] = "idle_timeout",
	[PROTO_ERR_DRAIN_TIMEOUT] = "drain_timeout",
	[PROTO_ERR_BACKEND_RESET] = "backend_reset",
	[PROTO_ERR_CLIENT_RESET] = "client_reset",
	[PROTO_ERR_POOL_STALE] = "pool_stale",
	[PROTO_ERR_RESOURCE] = "resource",
	[PROTO_ERR_SOURCE_LIMIT] = "source_limit",
	[PROTO_ERR_RATE_LIMIT] = "rate_limited",
	[PROTO_ERR_BACKEND_FULL] = "backend_full",
};

static bool proto_depth_ok(const unsigned char *, size_t, int);

const char *
proto_type_name(enum proto_type t)
{
	if ((unsigned)t >= PROTO_TYPE_COUNT)
		return "unknown";
	return proto_type_names[t];
}

const char *
proto_err_kind_name(enum proto_err_kind k)
{
	if ((unsigned)k >= PROTO_ERR_COUNT)
		return "unknown";
	return proto_err_kind_names[k];
}

bool
proto_id_valid(const char *id)
{
	size_t i;
	char c;

	if (id == NULL || id[0] == '\0')
		return false;
	for (i = 0; id[i] != '\0'; i++) {
		if (i >= PROTO_ID_LEN)
			return false;
		c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == ':' || c == '-'))
			return false;
	}
	return true;
}

void
proto_new_id(char id[PROTO_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[8];
	struct timespec ts;
	uint64_t x;
	size_t got = 0, i;
	ssize_t n;

	while (got < sizeof(rnd)) {
		n = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	if (got < sizeof(rnd)) {
		/* No getrandom(): unique enough for a process-run id. */
		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
		    ((uint64_t)getpid() << 40);
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(x >> (8 * i));
	}
	for (i = 0; i < sizeof(rnd); i++) {
		id[2 * i] = hex[rnd[i] >> 4];
		id[2 * i + 1] = hex[rnd[i] & 0xf];
	}
	id[2 * sizeof(rnd)] = '\0';
}

void
proto_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * jansson limits nesting itself (2048), but a 1 MiB message of brackets
 * would still build a deep tree first; our messages nest four levels.
 */
static bool
proto_depth_ok(const unsigned char *p, size_t len, int max)
{
	bool in_str = false, esc = false;
	int depth = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (in_str) {
			if (esc)
				esc = false;
			else if (p[i] == '\\')
				esc = true;
			else if (p[i] == '"')
				in_str = false;
			continue;
		}
		switch (p[i]) {
		case '"':
			in_str = true;
			break;
		case '{':
		case '[':
			if (++depth > max)
				return false;
			break;
		case '}':
		case ']':
			depth--;
			break;
		default:
			break;
		}
	}
	return true;
}

json_t *
proto_parse(const void *buf, size_t len, int want, int *type, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *root, *v, *t;
	const char *name;
	int i;

	if (buf == NULL || len == 0) {
		proto_err(err, errlen, "empty message");
		return NULL;
	}
	if (len > PROTO_MAX_MSG) {
		proto_err(err, errlen, "%zu bytes, over the %u limit", len,
		    PROTO_MAX_MSG);
		return NULL;
	}
	if (!proto_depth_ok(buf, len, PROTO_MAX_DEPTH)) {
		proto_err(err, errlen, "nested deeper than %d levels",
		    PROTO_MAX_DEPTH);
		return NULL;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		proto_err(err, errlen, "invalid JSON at byte %d: %s",
		    jerr.position, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		proto_err(err, errlen, "not a JSON object");
		goto fail_decref;
	}
	v = json_object_get(root, "v");
	if (v == NULL) {
		proto_err(err, errlen, "v: missing protocol version");
		goto fail_decref;
	}
	if (!json_is_integer(v) || json_integer_value(v) != PROTO_VERSION) {
		proto_err(err, errlen, "v: unsupported protocol version "
		    "(expected %d)", PROTO_VERSION);
		goto fail_decref;
	}
	t = json_object_get(root, "type");
	if (t == NULL || !json_is_string(t)) {
		proto_err(err, errlen, "type: missing or not a string");
		goto fail_decref;
	}
	name = json_string_value(t);
	for (i = 0; i < PROTO_TYPE_COUNT; i++) {
		if (strcmp(name, proto_type_names[i]) == 0)
			break;
	}
	if (i == PROTO_TYPE_COUNT) {
		proto_err(err, errlen, "type: unknown message type \"%.40s\"",
		    name);
		goto fail_decref;
	}
	if (want != -1 && i != want) {
		proto_err(err, errlen, "type: \"%s\", expected \"%s\"",
		    proto_type_names[i], proto_type_names[want]);
		goto fail_decref;
	}
	if (type != NULL)
		*type = i;
	return root;

fail_decref:
	json_decref(root);
	return NULL;
}

int
proto_peek_type(const void *buf, size_t len, char *err, size_t errlen)
{
	json_t *root;
	int type;

	if ((root = proto_parse(buf, len, -1, &type, err, errlen)) == NULL)
		return -1;
	json_decref(root);
	return type;
}

json_t *
proto_new_msg(enum proto_type t)
{
	json_t *m;

	if ((unsigned)t >= PROTO_TYPE_COUNT)
		return NULL;
	if ((m = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(m, "v", json_integer(PROTO_VERSION)) == -1 ||
	    proto_set_str(m, "type", proto_type_names[t]) == -1) {
		json_decref(m);
		return NULL;
	}
	return m;
}

char *
proto_dump(const json_t *m, size_t *len)
{
	char *s;
	size_t n;

	if ((s = json_dumps(m, JSON_COMPACT)) == NULL)
		return NULL;
	n = strlen(s);
	if (n > PROTO_MAX_MSG) {
		free(s);
		return NULL;
	}
	*len = n;
	return s;
}

int
proto_set_u64(json_t *o, const char *key, uint64_t v)
{
	if (v > PROTO_JSON_INT_MAX)
		return -1;
	return json_object_set_new(o, key, json_integer((json_int_t)v));
}

/* json_string() refuses invalid UTF-8 and returns NULL: so do we. */
int
proto_set_str(json_t *o, const char *key, const char *s)
{
	return json_object_set_new(o, key, json_string(s));
}

int
proto_set_bool(json_t *o, const char *key, bool v)
{
	return json_object_set_new(o, key, json_boolean(v));
}

int
proto_set_u64_array(json_t *o, const char *key, const uint64_t *v, size_t n)
{
	json_t *a;
	size_t i;

	if ((a = json_array()) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] > PROTO_JSON_INT_MAX ||
		    json_array_append_new(a, json_integer((json_int_t)v[i])) ==
		    -1) {
			json_decref(a);
			return -1;
		}
	}
	return json_object_set_new(o, key, a);
}

bool
proto_addr_sendable(const struct addr *a)
{
	return (a->family == AF_INET || a->family == AF_INET6) &&
	    a->port != 0;
}

json_t *
proto_addr_json(const struct addr *a)
{
	char buf[ADDR_STRLEN];

	if (!proto_addr_sendable(a))
		return NULL;
	return json_string(addr_format(a, buf, sizeof(buf)));
}

int
proto_set_addr(json_t *o, const char *key, const struct addr *a)
{
	return json_object_set_new(o, key, proto_addr_json(a));
}

int
proto_get_u64(const json_t *o, const char *ctx, const char *key,
    uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	json_t *v;
	json_int_t i;

	if ((v = json_object_get(o, key)) == NULL) {
		proto_err(err, errlen, "%s%s: missing", ctx, key);
		return -1;
	}
	if (!json_is_integer(v)) {
		proto_err(err, errlen, "%s%s: expected an integer", ctx, key);
		return -1;
	}
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > max) {
		proto_err(err, errlen, "%s%s: %lld out of range 0..%" PRIu64,
		    ctx, key, (long long)i, max);
		return -1;
	}
	*out = (uint64_t)i;
	return 0;
}

int
proto_get_u32(const json_t *o, const char *ctx, const char *key,
    uint32_t *out, char *err, size_t errlen)
{
	uint64_t v;

	if (proto_get_u64(o, ctx, key, UINT32_MAX, &v, err, errlen) == -1)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
proto_get_bool(const json_t *o, const char *ctx, const char *key, bool *out,
    char *err, size_t errlen)
{
	json_t *v;

	if ((v = json_object_get(o, key)) == NULL) {
		proto_err(err, errlen, "%s%s: missing", ctx, key);
		return -1;
	}
	if (!json_is_boolean(v)) {
		proto_err(err, errlen, "%s%s: expected true or false", ctx,
		    key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int
proto_get_str(const json_t *o, const char *ctx, const char *key, char *dst,
    size_t size, char *err, size_t errlen)
{
	json_t *v;
	size_t n;

	if ((v = json_object_get(o, key)) == NULL) {
		proto_err(err, errlen, "%s%s: missing", ctx, key);
		return -1;
	}
	if (!json_is_string(v)) {
		proto_err(err, errlen, "%s%s: expected a string", ctx, key);
		return -1;
	}
	/* Without JSON_ALLOW_NUL jansson refuses "\u0000", so strlen is
	 * the length. */
	n = json_string_length(v);
	if (n >= size) {
		proto_err(err, errlen, "%s%s: longer than %zu bytes", ctx, key,
		    size - 1);
		return -1;
	}
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	return 0;
}

int
proto_get_array(const json_t *o, const char *ctx, const char *key,
    size_t max, json_t **arr, char *err, size_t errlen)
{
	json_t *v;

	if ((v = json_object_get(o, key)) == NULL) {
		proto_err(err, errlen, "%s%s: missing", ctx, key);
		return -1;
	}
	if (!json_is_array(v)) {
		proto_err(err, errlen, "%s%s: expected an array", ctx, key);
		return -1;
	}
	if (json_array_size(v) > max) {
		proto_err(err, errlen, "%s%s: %zu elements, at most %zu", ctx,
		    key, json_array_size(v), max);
		return -1;
	}
	*arr = v;
	return 0;
}

int
proto_get_u64_array(const json_t *o, const char *ctx, const char *key,
    uint64_t *dst, size_t n, char *err, size_t errlen)
{
	json_t *a, *v;
	json_int_t x;
	size_t i;

	if (proto_get_array(o, ctx, key, n, &a, err, errlen) == -1)
		return -1;
	if (json_array_size(a) != n) {
		proto_err(err, errlen, "%s%s: %zu elements, expected %zu", ctx,
		    key, json_array_size(a), n);
		return -1;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_integer(v)) {
			proto_err(err, errlen, "%s%s[%zu]: not an integer",
			    ctx, key, i);
			return -1;
		}
		if ((x = json_integer_value(v)) < 0) {
			proto_err(err, errlen, "%s%s[%zu]: negative", ctx, key,
			    i);
			return -1;
		}
		dst[i] = (uint64_t)x;
	}
	return 0;
}

int
proto_parse_addr(const json_t *v, const char *ctx, struct addr *out,
    char *err, size_t errlen)
{
	char aerr[128];
	struct addr a;
	const char *s;

	if (!json_is_string(v)) {
		proto_err(err, errlen, "%s: expected an address string", ctx);
		return -1;
	}
	s = json_string_value(v);
	if (json_string_length(v) >= ADDR_STRLEN) {
		proto_err(err, errlen, "%s: address longer than %d bytes", ctx,
		    ADDR_STRLEN - 1);
		return -1;
	}
	if (addr_parse(s, 0, &a, aerr, sizeof(aerr)) == -1) {
		proto_err(err, errlen, "%s: \"%s\": %s", ctx, s, aerr);
		return -1;
	}
	if (!proto_addr_sendable(&a)) {
		proto_err(err, errlen, "%s: \"%s\": port 0", ctx, s);
		return -1;
	}
	/* Zero-filled, so equal addresses are equal bytes. */
	memset(out, 0, sizeof(*out));
	out->family = a.family;
	out->port = a.port;
	memcpy(out->ip, a.ip, addr_ip_len(&a));
	return 0;
}
