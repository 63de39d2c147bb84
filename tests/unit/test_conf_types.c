/*
 * Unit tests of common/conf_types.c: the duration, size, bool, uint,
 * double and enum parsers (overflow and garbage included), the
 * formatters, and conf_set() over a small table of every key type.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../common/addr.h"
#include "../../common/conf.h"

/* cmocka 1.1 compares floats only as float. */
#define assert_double_equal(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

struct u64_case {
	const char *in;
	uint64_t want;
};

static void
test_duration_accepts(void **state)
{
	static const struct u64_case cases[] = {
		{ "0", 0 },
		{ "0ms", 0 },
		{ "0s", 0 },
		{ "1ms", 1 },
		{ "250ms", 250 },
		{ "15s", 15000 },
		{ "1m", 60000 },
		{ "2h", 7200000 },
		{ "1m30s", 90000 },
		{ "1h2m3s4ms", 3723004 },
		{ "1h500ms", 3600500 },
		{ "015s", 15000 },
		{ "90s", 90000 },
		{ "1000ms", 1000 },
		{ "18446744073709551615ms", UINT64_MAX },
		{ "5124095576030h", 5124095576030ULL * 3600000 },
	};
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 12345;
		if (conf_parse_duration(cases[i].in, &v) != 0)
			fail_msg("\"%s\" rejected", cases[i].in);
		if (v != cases[i].want)
			fail_msg("\"%s\": got %llu", cases[i].in,
			    (unsigned long long)v);
	}
}

static void
test_duration_rejects(void **state)
{
	static const char *const cases[] = {
		"", "-1s", "+1s", "1.5s", "15", "00", "15x", "s", "ms",
		"1m30", "30s1m", "1s1s", "1ms1s", "1 s", " 1s", "1s ",
		"1S", "1MS", "1us", "1ns", "1d", "1mm", "1msm", "1m-1s",
		"0x10s", "1e3ms", "\t1s",
		/* Overflow in the digits, the multiply and the sum. */
		"18446744073709551616ms",
		"99999999999999999999999s",
		"5124095576031h",
		"5124095576030h1000000m",
		"18446744073709551615ms1ms",
	};
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 12345;
		if (conf_parse_duration(cases[i], &v) != -1)
			fail_msg("\"%s\" accepted as %llu", cases[i],
			    (unsigned long long)v);
		assert_true(v == 12345);
	}
}

static void
test_size(void **state)
{
	static const struct u64_case good[] = {
		{ "0", 0 },
		{ "4096", 4096 },
		{ "4096B", 4096 },
		{ "0KiB", 0 },
		{ "64KiB", 65536 },
		{ "256KiB", 262144 },
		{ "1MiB", 1048576 },
		{ "2GiB", 2147483648ULL },
		{ "1TiB", 1ULL << 40 },
		{ "16777215TiB", 16777215ULL << 40 },
		{ "18446744073709551615", UINT64_MAX },
	};
	static const char *const bad[] = {
		"", "1K", "1KB", "1kB", "1kib", "1KIB", "1k", "1M", "1 KiB",
		" 1", "1 ", "-1", "+1", "1.5MiB", "KiB", "B", "1KiBB", "1BB",
		"0x10", "1e3", "1PiB",
		"16777216TiB", "18446744073709551616",
		"18014398509481984KiB",
	};
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (conf_parse_size(good[i].in, &v) != 0)
			fail_msg("\"%s\" rejected", good[i].in);
		if (v != good[i].want)
			fail_msg("\"%s\": got %llu", good[i].in,
			    (unsigned long long)v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		if (conf_parse_size(bad[i], &v) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(v == 7);
	}
}

static void
test_bool(void **state)
{
	static const struct {
		const char *in;
		bool want;
	} good[] = {
		{ "true", true }, { "false", false }, { "yes", true },
		{ "no", false }, { "on", true }, { "off", false },
		{ "True", true }, { "FALSE", false }, { "Yes", true },
		{ "OFF", false }, { "oN", true },
	};
	static const char *const bad[] = {
		"", "1", "0", "y", "n", "t", "f", "truee", " true", "true ",
		"enable", "tru", "nope",
	};
	bool v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = !good[i].want;
		assert_int_equal(conf_parse_bool(good[i].in, &v), 0);
		assert_int_equal(v, good[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = true;
		if (conf_parse_bool(bad[i], &v) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(v);
	}
}

static void
test_uint(void **state)
{
	static const struct u64_case good[] = {
		{ "0", 0 }, { "42", 42 }, { "007", 7 },
		{ "4294967296", 4294967296ULL },
		{ "18446744073709551615", UINT64_MAX },
	};
	static const char *const bad[] = {
		"", "-1", "+1", "1.0", "1e3", "0x10", " 1", "1 ", "1_000",
		"1,000", "one", "18446744073709551616",
		"99999999999999999999999999",
	};
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(conf_parse_uint(good[i].in, &v), 0);
		assert_true(v == good[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 3;
		if (conf_parse_uint(bad[i], &v) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(v == 3);
	}
}

static void
test_double(void **state)
{
	static const struct {
		const char *in;
		double want;
	} good[] = {
		{ "0", 0 }, { "0.5", 0.5 }, { "45", 45 }, { "45.0", 45 },
		{ "-1e3", -1000 }, { "1e-3", 0.001 }, { ".5", 0.5 },
		{ "5.", 5 }, { "1E2", 100 }, { "+2.5", 2.5 }, { "-0", 0 },
		{ "1e-400", 0 },
	};
	static const char *const bad[] = {
		"", "nan", "NaN", "-nan", "inf", "-inf", "+inf", "infinity",
		"1e999", "-1e999", "0x1p3", "0X10", "1.5x", " 1", "1 ",
		"\t1", "--1", "+-1", ".", "-.", "e5", "1e", "1e+", "1,5",
		"1.2.3", "fifteen",
	};
	double v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (conf_parse_double(good[i].in, &v) != 0)
			fail_msg("\"%s\" rejected", good[i].in);
		assert_double_equal(v, good[i].want, 1e-12);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 3.25;
		if (conf_parse_double(bad[i], &v) != -1)
			fail_msg("\"%s\" accepted as %g", bad[i], v);
		assert_true(v == 3.25);
	}
}

static const struct conf_enum colours[] = {
	{ "red", 5 },
	{ "green", 0 },
	{ "light_blue", -2 },
	{ NULL, 0 },
};

static void
test_enum(void **state)
{
	int v = 99;

	(void)state;
	assert_int_equal(conf_parse_enum("red", colours, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(conf_parse_enum("green", colours, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(conf_parse_enum("light_blue", colours, &v), 0);
	assert_int_equal(v, -2);
	v = 99;
	assert_int_equal(conf_parse_enum("Red", colours, &v), -1);
	assert_int_equal(conf_parse_enum("", colours, &v), -1);
	assert_int_equal(conf_parse_enum("re", colours, &v), -1);
	assert_int_equal(conf_parse_enum("redd", colours, &v), -1);
	assert_int_equal(conf_parse_enum(" red", colours, &v), -1);
	assert_int_equal(v, 99);
}

static void
test_format_duration(void **state)
{
	static const struct {
		uint64_t ms;
		const char *want;
	} cases[] = {
		{ 0, "0" }, { 1, "1ms" }, { 999, "999ms" }, { 1000, "1s" },
		{ 1500, "1s500ms" }, { 60000, "1m" }, { 90000, "1m30s" },
		{ 3600000, "1h" }, { 86400000, "24h" },
		{ 3723004, "1h2m3s4ms" },
		{ UINT64_MAX, "5124095576030h25m51s615ms" },
	};
	char buf[64], small[4];
	uint64_t back;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_string_equal(conf_format_duration(cases[i].ms, buf,
		    sizeof(buf)), cases[i].want);
		assert_int_equal(conf_parse_duration(buf, &back), 0);
		assert_true(back == cases[i].ms);
	}
	/* Cut at a unit boundary, never mid-number, never overflowing. */
	assert_string_equal(conf_format_duration(90000, small,
	    sizeof(small)), "1m");
	assert_ptr_equal(conf_format_duration(1, small, 0), small);
}

static void
test_format_size(void **state)
{
	static const struct {
		uint64_t bytes;
		const char *want;
	} cases[] = {
		{ 0, "0" }, { 1, "1" }, { 1000, "1000" }, { 1024, "1KiB" },
		{ 1536, "1536" }, { 4096, "4KiB" }, { 262144, "256KiB" },
		{ 1048576, "1MiB" }, { 1ULL << 30, "1GiB" },
		{ 3ULL << 40, "3TiB" }, { UINT64_MAX, "18446744073709551615" },
	};
	char buf[64];
	uint64_t back;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_string_equal(conf_format_size(cases[i].bytes, buf,
		    sizeof(buf)), cases[i].want);
		assert_int_equal(conf_parse_size(buf, &back), 0);
		assert_true(back == cases[i].bytes);
	}
}

static void
test_quote(void **state)
{
	char buf[CONF_QUOTE_MAX];
	char longer[100];

	(void)state;
	assert_string_equal(conf_quote("15x", 3, buf, sizeof(buf)),
	    "\"15x\"");
	assert_string_equal(conf_quote("", 0, buf, sizeof(buf)), "\"\"");
	assert_string_equal(conf_quote("a\"b\\c", 5, buf, sizeof(buf)),
	    "\"a\\\"b\\\\c\"");
	assert_string_equal(conf_quote("a\nb\0c\x7f", 6, buf, sizeof(buf)),
	    "\"a\\x0ab\\x00c\\x7f\"");
	memset(longer, 'x', sizeof(longer));
	conf_quote(longer, sizeof(longer), buf, sizeof(buf));
	assert_int_equal(strlen(buf), 1 + CONF_QUOTE_LEN + 3 + 1);
	assert_string_equal(buf + 1 + CONF_QUOTE_LEN, "...\"");
	/* Escapes fill the buffer first; still terminated and marked. */
	memset(longer, '\n', sizeof(longer));
	conf_quote(longer, sizeof(longer), buf, sizeof(buf));
	assert_true(strlen(buf) < sizeof(buf));
	assert_string_equal(buf + strlen(buf) - 4, "...\"");
}

/* A toy struct with one field per key type, for conf_set(). */
struct toy {
	bool flag;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	uint32_t workers;
	double ratio;
	double alpha;
	uint64_t wait_ms;
	uint64_t buf;
	char name[8];
	char file[16];
	char out[16];
	struct addr where;
	int colour;
};

#define TOFF(f) offsetof(struct toy, f)
#define TSZ(f) sizeof(((struct toy *)0)->f)

static const struct conf_key toy_keys[] = {
	{ "flag", CONF_BOOL, TOFF(flag), TSZ(flag), "yes" },
	{ "u8", CONF_UINT, TOFF(u8), TSZ(u8), "8", .umax = 1000 },
	{ "u16", CONF_UINT, TOFF(u16), TSZ(u16), "16", .umin = 1,
	  .umax = 65535 },
	{ "u32", CONF_UINT, TOFF(u32), TSZ(u32), "32", .umax = UINT64_MAX },
	{ "u64", CONF_UINT, TOFF(u64), TSZ(u64), "64", .umax = UINT64_MAX },
	{ "workers", CONF_UINT_AUTO, TOFF(workers), TSZ(workers), "auto",
	  .umin = 1, .umax = 64 },
	{ "ratio", CONF_DOUBLE, TOFF(ratio), TSZ(ratio), "0.5", .dmin = -1,
	  .dmax = 10 },
	{ "alpha", CONF_DOUBLE, TOFF(alpha), TSZ(alpha), "1",
	  .flags = CONF_F_MIN_EXCL, .dmin = 0, .dmax = 1 },
	{ "wait", CONF_DURATION, TOFF(wait_ms), TSZ(wait_ms), "1s",
	  .umin = 100, .umax = 3600000 },
	{ "buf", CONF_SIZE, TOFF(buf), TSZ(buf), "64KiB", .umin = 4096,
	  .umax = 1048576 },
	{ "name", CONF_STRING, TOFF(name), TSZ(name), "abc",
	  .flags = CONF_F_NONEMPTY },
	{ "file", CONF_PATH, TOFF(file), TSZ(file), "" },
	{ "out", CONF_PATH, TOFF(out), TSZ(out), "stdout",
	  .flags = CONF_F_STDIO | CONF_F_NONEMPTY },
	{ "where", CONF_ADDR, TOFF(where), TSZ(where), "127.0.0.1:80" },
	{ "colour", CONF_ENUM, TOFF(colour), TSZ(colour), "green",
	  .names = colours },
	{ NULL },
};

static const struct conf_key *
toy_key(const char *name)
{
	const struct conf_key *k;

	for (k = toy_keys; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	fail_msg("no toy key %s", name);
	return NULL;
}

static void
test_defaults_of_toy(void **state)
{
	struct toy t;
	char buf[ADDR_STRLEN];

	(void)state;
	memset(&t, 0xee, sizeof(t));
	assert_int_equal(conf_defaults(toy_keys, &t), 0);
	assert_true(t.flag);
	assert_int_equal(t.u8, 8);
	assert_int_equal(t.u16, 16);
	assert_int_equal(t.u32, 32);
	assert_true(t.u64 == 64);
	assert_int_equal(t.workers, 0);
	assert_double_equal(t.ratio, 0.5, 0);
	assert_double_equal(t.alpha, 1, 0);
	assert_true(t.wait_ms == 1000);
	assert_true(t.buf == 65536);
	assert_string_equal(t.name, "abc");
	assert_string_equal(t.file, "");
	assert_string_equal(t.out, "stdout");
	assert_string_equal(addr_format(&t.where, buf, sizeof(buf)),
	    "127.0.0.1:80");
	assert_int_equal(t.colour, 0);
}

static void
test_bad_tables(void **state)
{
	/* A default that does not parse, or a field of the wrong size. */
	static const struct conf_key bad_default[] = {
		{ "wait", CONF_DURATION, TOFF(wait_ms), TSZ(wait_ms), "1x",
		  .umax = 10 },
		{ NULL },
	};
	static const struct conf_key bad_size[] = {
		{ "flag", CONF_BOOL, TOFF(u32), TSZ(u32), "true" },
		{ NULL },
	};
	static const struct conf_key no_default[] = {
		{ "name", CONF_STRING, TOFF(name), TSZ(name), NULL },
		{ NULL },
	};
	static const struct conf_key bad_range[] = {
		{ "u8", CONF_UINT, TOFF(u8), TSZ(u8), "1", .umin = 5,
		  .umax = 1 },
		{ NULL },
	};
	struct toy t;

	(void)state;
	assert_int_equal(conf_defaults(bad_default, &t), -1);
	assert_int_equal(conf_defaults(bad_size, &t), -1);
	assert_int_equal(conf_defaults(no_default, &t), -1);
	assert_int_equal(conf_defaults(bad_range, &t), -1);
}

struct set_case {
	const char *key;
	const char *in;
	const char *err;	/* NULL: accepted */
};

static void
test_set_messages(void **state)
{
	static const struct set_case cases[] = {
		{ "flag", "off", NULL },
		{ "flag", "maybe",
		  "invalid boolean \"maybe\" (expected true or false)" },
		{ "u8", "255", NULL },
		{ "u8", "256", "256 is out of range (expected a whole number "
		  "from 0 to 1000)" },
		{ "u16", "0", "0 is out of range (expected a whole number "
		  "from 1 to 65535)" },
		{ "u16", "x1", "invalid number \"x1\" (expected a whole number "
		  "from 1 to 65535)" },
		{ "u32", "4294967295", NULL },
		{ "u32", "4294967296", "4294967296 is out of range (expected a "
		  "whole number from 0 to 18446744073709551615)" },
		{ "u64", "18446744073709551615", NULL },
		{ "workers", "auto", NULL },
		{ "workers", "8", NULL },
		{ "workers", "0", "0 is out of range (expected a whole number "
		  "from 1 to 64, or auto)" },
		{ "workers", "Auto", "invalid value \"Auto\" (expected a whole "
		  "number from 1 to 64, or auto)" },
		{ "ratio", "-1", NULL },
		{ "ratio", "10.5", "10.5 is out of range (expected a number "
		  "from -1 to 10)" },
		{ "ratio", "nan", "invalid number \"nan\" (expected a number "
		  "from -1 to 10)" },
		{ "alpha", "0", "0 is out of range (expected a number greater "
		  "than 0 and at most 1)" },
		{ "alpha", "0.0001", NULL },
		{ "wait", "100ms", NULL },
		{ "wait", "99ms", "99ms is out of range (expected a duration "
		  "from 100ms to 1h)" },
		{ "wait", "15x", "invalid duration \"15x\" (expected e.g. "
		  "500ms, 15s, 1m)" },
		{ "buf", "1MiB", NULL },
		{ "buf", "2MiB", "2MiB is out of range (expected a size from "
		  "4KiB to 1MiB)" },
		{ "buf", "1 MiB", "invalid size \"1 MiB\" (expected e.g. 4096, "
		  "64KiB, 1MiB)" },
		{ "name", "1234567", NULL },
		{ "name", "12345678",
		  "too long: 8 bytes (expected at most 7)" },
		{ "name", "", "must not be empty (expected a string)" },
		{ "file", "", NULL },
		{ "out", "", "must not be empty (expected a file path)" },
		{ "where", "[::1]:9", NULL },
		{ "where", "1.2.3.4", "invalid address \"1.2.3.4\": missing "
		  "port (expected ip:port, e.g. 127.0.0.1:9099 or "
		  "[::1]:9099)" },
		{ "colour", "light_blue", NULL },
		{ "colour", "blue", "invalid value \"blue\" (expected one of: "
		  "red, green, light_blue)" },
	};
	char err[CONF_MSG_MAX];
	struct toy t, before;
	size_t i;

	(void)state;
	assert_int_equal(conf_defaults(toy_keys, &t), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		before = t;
		err[0] = '\0';
		if (cases[i].err == NULL) {
			if (conf_set(toy_key(cases[i].key), &t, cases[i].in,
			    err, sizeof(err)) != 0)
				fail_msg("%s: \"%s\" rejected: %s",
				    cases[i].key, cases[i].in, err);
			continue;
		}
		if (conf_set(toy_key(cases[i].key), &t, cases[i].in, err,
		    sizeof(err)) != -1)
			fail_msg("%s: \"%s\" accepted", cases[i].key,
			    cases[i].in);
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("%s: \"%s\":\n got  %s\n want %s",
			    cases[i].key, cases[i].in, err, cases[i].err);
		assert_memory_equal(&t, &before, sizeof(t));
	}
}

static void
test_set_values(void **state)
{
	struct toy t;
	char err[CONF_MSG_MAX];

	(void)state;
	assert_int_equal(conf_defaults(toy_keys, &t), 0);
	assert_int_equal(conf_set(toy_key("u16"), &t, "65535", err,
	    sizeof(err)), 0);
	assert_int_equal(t.u16, 65535);
	assert_int_equal(conf_set(toy_key("u8"), &t, "300", err,
	    sizeof(err)), -1);	/* in range, too big for the field */
	assert_int_equal(t.u8, 8);
	assert_int_equal(conf_set(toy_key("workers"), &t, "12", err,
	    sizeof(err)), 0);
	assert_int_equal(t.workers, 12);
	assert_int_equal(conf_set(toy_key("workers"), &t, "auto", err,
	    sizeof(err)), 0);
	assert_int_equal(t.workers, 0);
	assert_int_equal(conf_set(toy_key("wait"), &t, "1m30s", err,
	    sizeof(err)), 0);
	assert_true(t.wait_ms == 90000);
	assert_int_equal(conf_set(toy_key("colour"), &t, "red", err,
	    sizeof(err)), 0);
	assert_int_equal(t.colour, 5);
	assert_int_equal(conf_set(toy_key("where"), &t, "[2001:db8::1]:443",
	    err, sizeof(err)), 0);
	assert_int_equal(t.where.family, AF_INET6);
	assert_int_equal(t.where.port, 443);
}

static void
test_expect(void **state)
{
	static const struct {
		const char *key;
		const char *want;
	} cases[] = {
		{ "flag", "true or false" },
		{ "u16", "a whole number from 1 to 65535" },
		{ "workers", "a whole number from 1 to 64, or auto" },
		{ "ratio", "a number from -1 to 10" },
		{ "alpha", "a number greater than 0 and at most 1" },
		{ "wait", "a duration, e.g. 500ms, 15s, 1m" },
		{ "buf", "a size, e.g. 4096, 64KiB, 1MiB" },
		{ "name", "a string" },
		{ "file", "a file path" },
		{ "where", "ip:port, e.g. 127.0.0.1:9099 or [::1]:9099" },
		{ "colour", "one of: red, green, light_blue" },
	};
	char buf[CONF_EXPECT_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conf_expect(toy_key(cases[i].key), buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_accepts),
		cmocka_unit_test(test_duration_rejects),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_double),
		cmocka_unit_test(test_enum),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_defaults_of_toy),
		cmocka_unit_test(test_bad_tables),
		cmocka_unit_test(test_set_messages),
		cmocka_unit_test(test_set_values),
		cmocka_unit_test(test_expect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
