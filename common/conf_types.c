/*
 * What each config type accepts: the scalar parsers (durations, sizes,
 * booleans, numbers, enum words; strict about every byte), conf_set()
 * which stores one value into the field a conf_key names, and the words
 * that describe a type in error messages. Pure functions, used by conf.c.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "conf.h"

static const char duration_examples[] = "e.g. 500ms, 15s, 1m";
static const char size_examples[] = "e.g. 4096, 64KiB, 1MiB";
static const char addr_examples[] =
    "ip:port, e.g. 127.0.0.1:9099 or [::1]:9099";

struct unit {
	const char *name;
	uint64_t mult;
};

/* Largest first: a duration must list its units in this order. */
static const struct unit duration_units[] = {
	{ "h", 3600000 },
	{ "m", 60000 },
	{ "s", 1000 },
	{ "ms", 1 },
	{ NULL, 0 },
};

static const struct unit size_units[] = {
	{ "TiB", 1ULL << 40 },
	{ "GiB", 1ULL << 30 },
	{ "MiB", 1ULL << 20 },
	{ "KiB", 1ULL << 10 },
	{ "B", 1 },
	{ "", 1 },
	{ NULL, 0 },
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads the digits at *sp into *out; -1 on none or on overflow. */
static int
read_digits(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0, d;

	if (!is_digit(*s))
		return -1;
	for (; is_digit(*s); s++) {
		d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return 0;
}

static int
mul_add(uint64_t *total, uint64_t v, uint64_t mult)
{
	if (v != 0 && mult > UINT64_MAX / v)
		return -1;
	if (*total > UINT64_MAX - v * mult)
		return -1;
	*total += v * mult;
	return 0;
}

int
conf_parse_duration(const char *s, uint64_t *ms)
{
	uint64_t total = 0, v;
	size_t i, n, next = 0;
	const char *u;

	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (read_digits(&s, &v) == -1)
			return -1;
		for (u = s; *u >= 'a' && *u <= 'z'; u++)
			;
		n = (size_t)(u - s);
		for (i = next; duration_units[i].name != NULL; i++)
			if (strlen(duration_units[i].name) == n &&
			    strncmp(duration_units[i].name, s, n) == 0)
				break;
		if (n == 0 || duration_units[i].name == NULL)
			return -1;
		if (mul_add(&total, v, duration_units[i].mult) == -1)
			return -1;
		next = i + 1;
		s = u;
	}
	*ms = total;
	return 0;
}

int
conf_parse_size(const char *s, uint64_t *bytes)
{
	uint64_t v, total = 0;
	size_t i;

	if (read_digits(&s, &v) == -1)
		return -1;
	for (i = 0; size_units[i].name != NULL; i++)
		if (strcmp(size_units[i].name, s) == 0)
			break;
	if (size_units[i].name == NULL)
		return -1;
	if (mul_add(&total, v, size_units[i].mult) == -1)
		return -1;
	*bytes = total;
	return 0;
}

int
conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	size_t i;

	for (i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int
conf_parse_uint(const char *s, uint64_t *out)
{
	uint64_t v;

	if (read_digits(&s, &v) == -1 || *s != '\0')
		return -1;
	*out = v;
	return 0;
}

int
conf_parse_double(const char *s, double *out)
{
	const char *p = s;
	char *end;
	double v;

	/* strtod() would also take leading spaces, hex, "inf" and "nan". */
	if (*p == '-' || *p == '+')
		p++;
	if (!is_digit(*p) && !(*p == '.' && is_digit(p[1])))
		return -1;
	if (strpbrk(s, "xX") != NULL)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(v))
		return -1;
	if (errno == ERANGE && fabs(v) > 1.0)
		return -1;
	*out = v;
	return 0;
}

int
conf_parse_enum(const char *s, const struct conf_enum *names, int *out)
{
	for (; names->name != NULL; names++) {
		if (strcmp(s, names->name) == 0) {
			*out = names->value;
			return 0;
		}
	}
	return -1;
}

char *
conf_format_duration(uint64_t ms, char *buf, size_t len)
{
	size_t i, used = 0;
	uint64_t n;
	int w;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	for (i = 0; duration_units[i].name != NULL; i++) {
		n = ms / duration_units[i].mult;
		ms %= duration_units[i].mult;
		if (n == 0)
			continue;
		w = snprintf(buf + used, len - used, "%llu%s",
		    (unsigned long long)n, duration_units[i].name);
		if (w < 0 || (size_t)w >= len - used) {
			buf[used] = '\0';	/* no half units */
			break;
		}
		used += (size_t)w;
	}
	return buf;
}

char *
conf_format_size(uint64_t bytes, char *buf, size_t len)
{
	size_t i;

	if (len == 0)
		return buf;
	for (i = 0; size_units[i].mult > 1; i++) {
		if (bytes != 0 && bytes % size_units[i].mult == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)
			    (bytes / size_units[i].mult), size_units[i].name);
			return buf;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
	return buf;
}

/* Values and descriptions, for conf_set() and the walker's messages. */

char *
conf_quote(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t i, n, o = 0;
	unsigned char c;

	if (buflen < 9) {
		if (buflen > 0)
			buf[0] = '\0';
		return buf;
	}
	/* A cut value ends before a UTF-8 continuation byte, not inside. */
	n = len < CONF_QUOTE_LEN ? len : CONF_QUOTE_LEN;
	while (n > 0 && n < len && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	/* Each round leaves room for an escape, "...", '"' and NUL. */
	buf[o++] = '"';
	for (i = 0; i < n && o + 9 <= buflen; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(buf + o, buflen - o, "\\x%02x", c);
			o += 4;
		} else
			buf[o++] = (char)c;
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static void
range_text(const struct conf_key *k, char *buf, size_t len)
{
	char lo[32], hi[32];

	switch (k->type) {
	case CONF_DURATION:
		snprintf(buf, len, "a duration from %s to %s",
		    conf_format_duration(k->umin, lo, sizeof(lo)),
		    conf_format_duration(k->umax, hi, sizeof(hi)));
		break;
	case CONF_SIZE:
		snprintf(buf, len, "a size from %s to %s",
		    conf_format_size(k->umin, lo, sizeof(lo)),
		    conf_format_size(k->umax, hi, sizeof(hi)));
		break;
	case CONF_DOUBLE:
		if (k->flags & CONF_F_MIN_EXCL)
			snprintf(buf, len,
			    "a number greater than %g and at most %g",
			    k->dmin, k->dmax);
		else
			snprintf(buf, len, "a number from %g to %g", k->dmin,
			    k->dmax);
		break;
	case CONF_UINT_AUTO:
		snprintf(buf, len, "a whole number from %llu to %llu, or auto",
		    (unsigned long long)k->umin, (unsigned long long)k->umax);
		break;
	default:
		snprintf(buf, len, "a whole number from %llu to %llu",
		    (unsigned long long)k->umin, (unsigned long long)k->umax);
		break;
	}
}

static void
enum_text(const struct conf_enum *e, char *buf, size_t len)
{
	size_t o;

	o = (size_t)snprintf(buf, len, "one of:");
	for (; e->name != NULL && o < len; e++)
		o += (size_t)snprintf(buf + o, len - o, " %s%s", e->name,
		    e[1].name != NULL ? "," : "");
}

void
conf_expect(const struct conf_key *k, char *buf, size_t len)
{
	switch (k->type) {
	case CONF_SECTION:
		snprintf(buf, len, "a mapping");
		break;
	case CONF_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case CONF_DURATION:
		snprintf(buf, len, "a duration, %s", duration_examples);
		break;
	case CONF_SIZE:
		snprintf(buf, len, "a size, %s", size_examples);
		break;
	case CONF_STRING:
		snprintf(buf, len, "a string");
		break;
	case CONF_PATH:
		snprintf(buf, len, "a file path");
		break;
	case CONF_ADDR:
		snprintf(buf, len, "%s", addr_examples);
		break;
	case CONF_ENUM:
		enum_text(k->names, buf, len);
		break;
	default:
		range_text(k, buf, len);
		break;
	}
}

static int
store_uint(void *field, size_t size, uint64_t v)
{
	switch (size) {
	case sizeof(uint8_t):
		if (v > UINT8_MAX)
			return -1;
		*(uint8_t *)field = (uint8_t)v;
		return 0;
	case sizeof(uint16_t):
		if (v > UINT16_MAX)
			return -1;
		*(uint16_t *)field = (uint16_t)v;
		return 0;
	case sizeof(uint32_t):
		if (v > UINT32_MAX)
			return -1;
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	case sizeof(uint64_t):
		*(uint64_t *)field = v;
		return 0;
	default:
		return -1;
	}
}

static int
set_string(const struct conf_key *k, char *field, const char *s, char *err,
    size_t errlen)
{
	size_t len = strlen(s);

	if (len == 0 && (k->flags & CONF_F_NONEMPTY)) {
		snprintf(err, errlen, "must not be empty (expected %s)",
		    k->type == CONF_PATH ? "a file path" : "a string");
		return -1;
	}
	if (len >= k->size) {
		snprintf(err, errlen, "too long: %zu bytes (expected at most "
		    "%zu)", len, k->size - 1);
		return -1;
	}
	memcpy(field, s, len + 1);
	return 0;
}

/* Unsigned integers, durations and sizes: parse, then range-check. */
static int
set_number(const struct conf_key *k, void *field, const char *s, char *err,
    size_t errlen)
{
	char q[CONF_QUOTE_MAX], ex[CONF_EXPECT_MAX];
	uint64_t v;
	int rc;

	if (k->type == CONF_UINT_AUTO && strcmp(s, "auto") == 0)
		return store_uint(field, k->size, 0);
	if (k->type == CONF_DURATION)
		rc = conf_parse_duration(s, &v);
	else if (k->type == CONF_SIZE)
		rc = conf_parse_size(s, &v);
	else
		rc = conf_parse_uint(s, &v);
	if (rc == -1) {
		conf_quote(s, strlen(s), q, sizeof(q));
		if (k->type == CONF_DURATION)
			snprintf(err, errlen, "invalid duration %s "
			    "(expected %s)", q, duration_examples);
		else if (k->type == CONF_SIZE)
			snprintf(err, errlen, "invalid size %s (expected %s)",
			    q, size_examples);
		else {
			range_text(k, ex, sizeof(ex));
			snprintf(err, errlen, "invalid %s %s (expected %s)",
			    k->type == CONF_UINT_AUTO ? "value" : "number", q,
			    ex);
		}
		return -1;
	}
	if (v < k->umin || v > k->umax || store_uint(field, k->size, v)) {
		range_text(k, ex, sizeof(ex));
		snprintf(err, errlen, "%.*s is out of range (expected %s)",
		    CONF_QUOTE_LEN, s, ex);
		return -1;
	}
	return 0;
}

static int
set_double(const struct conf_key *k, double *field, const char *s,
    char *err, size_t errlen)
{
	char q[CONF_QUOTE_MAX], ex[CONF_EXPECT_MAX];
	double v;

	if (conf_parse_double(s, &v) == -1) {
		range_text(k, ex, sizeof(ex));
		snprintf(err, errlen, "invalid number %s (expected %s)",
		    conf_quote(s, strlen(s), q, sizeof(q)), ex);
		return -1;
	}
	if (v < k->dmin || v > k->dmax ||
	    ((k->flags & CONF_F_MIN_EXCL) && v == k->dmin)) {
		range_text(k, ex, sizeof(ex));
		snprintf(err, errlen, "%.*s is out of range (expected %s)",
		    CONF_QUOTE_LEN, s, ex);
		return -1;
	}
	*field = v;
	return 0;
}

int
conf_set(const struct conf_key *k, void *base, const char *s, char *err,
    size_t errlen)
{
	void *field = (char *)base + k->offset;
	char q[CONF_QUOTE_MAX], ex[CONF_EXPECT_MAX], why[96];
	struct addr a;
	bool b;
	int e;

	switch (k->type) {
	case CONF_BOOL:
		if (conf_parse_bool(s, &b) == -1) {
			snprintf(err, errlen, "invalid boolean %s (expected "
			    "true or false)", conf_quote(s, strlen(s), q,
			    sizeof(q)));
			return -1;
		}
		*(bool *)field = b;
		return 0;
	case CONF_UINT:
	case CONF_UINT_AUTO:
	case CONF_DURATION:
	case CONF_SIZE:
		return set_number(k, field, s, err, errlen);
	case CONF_DOUBLE:
		return set_double(k, field, s, err, errlen);
	case CONF_STRING:
	case CONF_PATH:
		return set_string(k, field, s, err, errlen);
	case CONF_ADDR:
		if (addr_parse(s, 0, &a, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "invalid address %s: %s "
			    "(expected %s)", conf_quote(s, strlen(s), q,
			    sizeof(q)), why, addr_examples);
			return -1;
		}
		*(struct addr *)field = a;
		return 0;
	case CONF_ENUM:
		if (conf_parse_enum(s, k->names, &e) == -1) {
			enum_text(k->names, ex, sizeof(ex));
			snprintf(err, errlen, "invalid value %s (expected %s)",
			    conf_quote(s, strlen(s), q, sizeof(q)), ex);
			return -1;
		}
		*(int *)field = e;
		return 0;
	default:
		snprintf(err, errlen, "no value allowed here");
		return -1;
	}
}
