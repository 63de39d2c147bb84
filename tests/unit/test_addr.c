/*
 * Unit tests of common/addr.c: every accepted and rejected address form,
 * formatting round trips, CIDR prefixes, sockaddr conversion, ordering
 * and hashing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "../../common/addr.h"

struct good_case {
	const char *in;
	uint16_t def;
	int family;
	const char *formatted;
};

struct bad_case {
	const char *in;
	uint16_t def;
	const char *err;
};

static void
test_parse_accepts(void **state)
{
	static const struct good_case cases[] = {
		{ "1.2.3.4:80", 0, AF_INET, "1.2.3.4:80" },
		{ "1.2.3.4", 8080, AF_INET, "1.2.3.4:8080" },
		{ "0.0.0.0:1", 0, AF_INET, "0.0.0.0:1" },
		{ "255.255.255.255:65535", 0, AF_INET,
		  "255.255.255.255:65535" },
		{ "127.0.0.1:0080", 0, AF_INET, "127.0.0.1:80" },
		{ "[::1]:9099", 0, AF_INET6, "[::1]:9099" },
		{ "[2001:db8::2]:8080", 0, AF_INET6, "[2001:db8::2]:8080" },
		{ "[2001:db8::2]", 443, AF_INET6, "[2001:db8::2]:443" },
		{ "2001:db8::1", 80, AF_INET6, "[2001:db8::1]:80" },
		{ "::", 1, AF_INET6, "[::]:1" },
		{ "[2001:DB8:0:0:0:0:0:1]:1", 0, AF_INET6, "[2001:db8::1]:1" },
		{ "::ffff:1.2.3.4", 5, AF_INET6, "[::ffff:1.2.3.4]:5" },
		/* Two colons or more: a bare IPv6 address, never a port. */
		{ "2001:db8::1:80", 7, AF_INET6, "[2001:db8::1:80]:7" },
	};
	char buf[ADDR_STRLEN], err[128];
	struct addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&a, 0xaa, sizeof(a));
		err[0] = '\0';
		if (addr_parse(cases[i].in, cases[i].def, &a, err,
		    sizeof(err)) != 0)
			fail_msg("\"%s\" rejected: %s", cases[i].in, err);
		assert_int_equal(a.family, cases[i].family);
		assert_string_equal(addr_format(&a, buf, sizeof(buf)),
		    cases[i].formatted);
	}
}

static void
test_parse_rejects(void **state)
{
	static const struct bad_case cases[] = {
		{ "", 80, "empty address" },
		{ " 1.2.3.4:80", 0, "unexpected whitespace" },
		{ "1.2.3.4:80 ", 0, "unexpected whitespace" },
		{ "1.2.3.4 :80", 0, "unexpected whitespace" },
		{ "1.2.3.4\n", 80, "unexpected whitespace" },
		{ "1.2.3.4", 0, "missing port" },
		{ "1.2.3.4:", 0, "missing port after \":\"" },
		{ "1.2.3.4:", 80, "missing port after \":\"" },
		{ "1.2.3.4:0", 0, "port must be 1 to 65535" },
		{ "1.2.3.4:65536", 0, "port must be 1 to 65535" },
		{ "1.2.3.4:99999999999999999999", 0,
		  "port must be 1 to 65535" },
		{ "1.2.3.4:-1", 0, "port must be digits" },
		{ "1.2.3.4:+80", 0, "port must be digits" },
		{ "1.2.3.4:80x", 0, "port must be digits" },
		{ "1.2.3.4:0x50", 0, "port must be digits" },
		{ "1.2.3:80", 0, "invalid IPv4 address" },
		{ "1.2.3.4.5:80", 0, "invalid IPv4 address" },
		{ "256.1.1.1:80", 0, "invalid IPv4 address" },
		{ "01.2.3.4:80", 0, "invalid IPv4 address" },
		{ ".1.2.3:80", 0, "invalid IPv4 address" },
		{ "localhost:80", 0, "not an IP address" },
		{ "1.2.3.4x:80", 0, "not an IP address" },
		{ "::1", 0, "missing port" },
		{ "[::1]", 0, "missing port" },
		{ "[::1]:", 0, "missing port after \":\"" },
		{ "[::1]:0", 0, "port must be 1 to 65535" },
		{ "[::1]80", 0, "unexpected text after \"]\"" },
		{ "[::1]:80]", 0, "port must be digits" },
		{ "[::1:80", 0, "missing \"]\"" },
		{ "[1.2.3.4]:80", 0, "brackets are only for IPv6 addresses" },
		{ "[]:80", 0, "brackets are only for IPv6 addresses" },
		{ "[::g]:80", 0, "invalid IPv6 address" },
		{ "2001:db8:::1", 80, "invalid IPv6 address" },
		{ "fe80::1%eth0", 80, "invalid IPv6 address" },
		{ "1:2:3:4:5:6:7:8:9", 80, "invalid IPv6 address" },
		{ "1.2.3.4:80:90", 0, "invalid IPv6 address" },
		{ "0123456789012345678901234567890123456789012345678901234567"
		  "890123", 80, "address too long" },
	};
	char err[128];
	struct addr a, before;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&a, 0x5a, sizeof(a));
		before = a;
		err[0] = '\0';
		if (addr_parse(cases[i].in, cases[i].def, &a, err,
		    sizeof(err)) != -1)
			fail_msg("\"%s\" accepted", cases[i].in);
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
			    cases[i].in, err, cases[i].err);
		assert_memory_equal(&a, &before, sizeof(a));
	}
	/* A NULL or zero-length err buffer is allowed. */
	assert_int_equal(addr_parse("x", 0, &a, NULL, 0), -1);
	assert_int_equal(addr_parse(NULL, 0, &a, err, sizeof(err)), -1);
}

static void
test_parse_fields(void **state)
{
	struct addr a;
	char err[64];

	(void)state;
	assert_int_equal(addr_parse("10.1.2.3:513", 0, &a, err, sizeof(err)),
	    0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.port, 513);
	assert_int_equal(a.ip[0], 10);
	assert_int_equal(a.ip[3], 3);
	assert_int_equal(addr_ip_len(&a), 4);

	assert_int_equal(addr_parse("[2001:db8::ff]:1", 0, &a, err,
	    sizeof(err)), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.ip[0], 0x20);
	assert_int_equal(a.ip[1], 0x01);
	assert_int_equal(a.ip[15], 0xff);
	assert_int_equal(addr_ip_len(&a), 16);
}

static void
test_format(void **state)
{
	struct addr a;
	char buf[ADDR_STRLEN], small[6];

	(void)state;
	assert_int_equal(addr_parse("[ffff:ffff:ffff:ffff:ffff:ffff:255.255."
	    "255.255]:65535", 0, &a, NULL, 0), 0);
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:"
	    "65535");
	assert_true(strlen(buf) < ADDR_STRLEN);
	assert_string_equal(addr_format_ip(&a, buf, sizeof(buf)),
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

	assert_int_equal(addr_parse("192.168.100.200:8080", 0, &a, NULL, 0),
	    0);
	assert_string_equal(addr_format_ip(&a, buf, sizeof(buf)),
	    "192.168.100.200");
	/* Truncated, never overflowing. */
	assert_string_equal(addr_format(&a, small, sizeof(small)), "192.1");
	assert_ptr_equal(addr_format(&a, small, 0), small);

	memset(&a, 0, sizeof(a));
	a.family = AF_UNIX;
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "?:0");
}

static void
test_format_round_trip(void **state)
{
	static const char *const forms[] = {
		"1.2.3.4:80", "0.0.0.0:65535", "[::1]:1", "[::]:9",
		"[2001:db8::1]:443", "[fe80::1:2:3:4]:22",
		"[::ffff:10.0.0.1]:80", "[2001:db8:1:2:3:4:5:6]:7",
	};
	char buf[ADDR_STRLEN];
	struct addr a, b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		assert_int_equal(addr_parse(forms[i], 0, &a, NULL, 0), 0);
		assert_string_equal(addr_format(&a, buf, sizeof(buf)),
		    forms[i]);
		assert_int_equal(addr_parse(buf, 0, &b, NULL, 0), 0);
		assert_true(addr_equal(&a, &b));
	}
}

static void
test_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct addr a, b;
	socklen_t len;

	(void)state;
	assert_int_equal(addr_parse("127.0.0.1:1234", 0, &a, NULL, 0), 0);
	len = addr_to_sockaddr(&a, &ss);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 1234);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss, len, &b),
	    0);
	assert_true(addr_equal(&a, &b));

	assert_int_equal(addr_parse("[2001:db8::5]:443", 0, &a, NULL, 0), 0);
	len = addr_to_sockaddr(&a, &ss);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 443);
	assert_int_equal(sin6->sin6_addr.s6_addr[15], 5);
	assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss, len, &b),
	    0);
	assert_true(addr_equal(&a, &b));

	/* Too short for its family, unknown family, unknown addr. */
	memset(&b, 0x11, sizeof(b));
	a = b;
	assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss,
	    sizeof(struct sockaddr_in), &b), -1);
	ss.ss_family = AF_UNIX;
	assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss,
	    sizeof(ss), &b), -1);
	assert_int_equal(addr_from_sockaddr(NULL, 0, &b), -1);
	assert_memory_equal(&a, &b, sizeof(a));
	memset(&a, 0, sizeof(a));
	a.family = AF_UNIX;
	assert_int_equal(addr_to_sockaddr(&a, &ss), 0);
}

static void
test_compare_equal_hash(void **state)
{
	/* In ascending order: family, then IP, then port. */
	static const char *const sorted[] = {
		"1.2.3.4:80", "1.2.3.4:81", "1.2.3.5:1", "9.0.0.0:1",
		"200.0.0.1:1", "[::]:1", "[::1]:2", "[::1]:3",
		"[2001:db8::1]:1",
	};
	size_t n = sizeof(sorted) / sizeof(sorted[0]), i, j;
	struct addr a, b;

	(void)state;
	assert_true(AF_INET < AF_INET6);
	for (i = 0; i < n; i++) {
		assert_int_equal(addr_parse(sorted[i], 0, &a, NULL, 0), 0);
		for (j = 0; j < n; j++) {
			assert_int_equal(addr_parse(sorted[j], 0, &b, NULL, 0),
			    0);
			assert_int_equal(addr_compare(&a, &b),
			    i < j ? -1 : i > j ? 1 : 0);
			assert_int_equal(addr_equal(&a, &b), i == j);
			if (i == j)
				assert_true(addr_hash(&a) == addr_hash(&b));
			else
				assert_true(addr_hash(&a) != addr_hash(&b));
		}
	}

	/* Bytes past the family's length do not count. */
	assert_int_equal(addr_parse("1.2.3.4:80", 0, &a, NULL, 0), 0);
	b = a;
	b.ip[10] = 0x77;
	assert_true(addr_equal(&a, &b));
	assert_int_equal(addr_compare(&a, &b), 0);
	assert_true(addr_hash(&a) == addr_hash(&b));
}

static void
test_hash_spread(void **state)
{
	/*
	 * 4096 neighbouring addresses into 1024 buckets by the low bits:
	 * a good hash leaves about 2% of them empty (e^-4).
	 */
	static uint8_t used[1024];
	struct addr a;
	unsigned i, filled = 0;

	(void)state;
	memset(used, 0, sizeof(used));
	assert_int_equal(addr_parse("10.0.0.0:80", 0, &a, NULL, 0), 0);
	for (i = 0; i < 4096; i++) {
		a.ip[2] = (uint8_t)(i >> 8);
		a.ip[3] = (uint8_t)i;
		used[addr_hash(&a) % 1024] = 1;
	}
	for (i = 0; i < 1024; i++)
		filled += used[i];
	assert_true(filled > 1024 * 95 / 100);
}

static void
test_loopback_any(void **state)
{
	static const struct {
		const char *in;
		bool loopback;
		bool any;
	} cases[] = {
		{ "127.0.0.1:1", true, false },
		{ "127.255.0.9:1", true, false },
		{ "128.0.0.1:1", false, false },
		{ "0.0.0.0:1", false, true },
		{ "10.0.0.1:1", false, false },
		{ "[::1]:1", true, false },
		{ "[::]:1", false, true },
		{ "[::2]:1", false, false },
		{ "[::ffff:127.0.0.1]:1", true, false },
		{ "[::ffff:10.0.0.1]:1", false, false },
		{ "[2001:db8::1]:1", false, false },
	};
	struct addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(addr_parse(cases[i].in, 0, &a, NULL, 0), 0);
		if (addr_is_loopback(&a) != cases[i].loopback ||
		    addr_is_any(&a) != cases[i].any)
			fail_msg("%s: loopback %d any %d", cases[i].in,
			    addr_is_loopback(&a), addr_is_any(&a));
	}
	memset(&a, 0, sizeof(a));
	assert_false(addr_is_any(&a));	/* no family */
	assert_false(addr_is_loopback(&a));
	assert_int_equal(addr_ip_len(&a), 0);
}

static void
test_prefix_accepts(void **state)
{
	static const struct {
		const char *in;
		uint16_t def;
		const char *base;
		unsigned len;
	} cases[] = {
		{ "10.0.0.0/24", 80, "10.0.0.0:80", 24 },
		{ "10.0.0.0/24:8080", 80, "10.0.0.0:8080", 24 },
		{ "192.168.0.0/16", 1, "192.168.0.0:1", 16 },
		{ "1.2.3.4/32", 1, "1.2.3.4:1", 32 },
		{ "0.0.0.0/0", 1, "0.0.0.0:1", 0 },
		{ "2606:4700::/32", 443, "[2606:4700::]:443", 32 },
		{ "[2001:db8::/48]:8443", 443, "[2001:db8::]:8443", 48 },
		{ "[2001:db8::/48]", 443, "[2001:db8::]:443", 48 },
		{ "::/0", 1, "[::]:1", 0 },
		{ "2001:db8::1/128", 1, "[2001:db8::1]:1", 128 },
		{ "10.0.0.0/8:1", 0, "10.0.0.0:1", 8 },
	};
	struct addr_prefix p;
	char buf[ADDR_STRLEN], err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (addr_prefix_parse(cases[i].in, cases[i].def, &p, err,
		    sizeof(err)) != 0)
			fail_msg("\"%s\" rejected: %s", cases[i].in, err);
		assert_string_equal(addr_format(&p.base, buf, sizeof(buf)),
		    cases[i].base);
		assert_int_equal(p.prefix_len, cases[i].len);
	}
}

static void
test_prefix_rejects(void **state)
{
	static const struct bad_case cases[] = {
		{ "", 80, "empty address" },
		{ "10.0.0.0", 80, "missing prefix length \"/len\"" },
		{ "10.0.0.0/", 80, "missing prefix length after \"/\"" },
		{ "10.0.0.0/33", 80, "prefix length must be 0 to 32" },
		{ "10.0.0.0/999999999999", 80, "prefix length must be 0 to 32" },
		{ "10.0.0.0/-1", 80, "prefix length must be digits" },
		{ "10.0.0.0/2x", 80, "prefix length must be digits" },
		{ "10.0.0.1/24", 80, "host bits set (network is 10.0.0.0/24)" },
		{ "10.0.0.129/25", 80,
		  "host bits set (network is 10.0.0.128/25)" },
		{ "10.0.0.0/24", 0, "missing port" },
		{ "10.0.0.0/24:", 80, "missing port after \":\"" },
		{ "10.0.0.0/24:0", 80, "port must be 1 to 65535" },
		{ "10.0.0/24", 80, "invalid IPv4 address" },
		{ "net/24", 80, "not an IP address" },
		{ "10.0.0.0/24 ", 80, "unexpected whitespace" },
		{ "2001:db8::/129", 80, "prefix length must be 0 to 128" },
		{ "2001:db8::1/64", 80,
		  "host bits set (network is 2001:db8::/64)" },
		{ "2001:db8::/32:80", 80, "an IPv6 range with a port needs "
		  "brackets: [ipv6/len]:port" },
		{ "[2001:db8::]/32", 80,
		  "missing \"/len\" inside the brackets" },
		{ "[2001:db8::/32", 80, "missing \"]\"" },
		{ "[10.0.0.0/8]:80", 80, "brackets are only for IPv6 addresses" },
		{ "[2001:db8::/32]x", 80, "unexpected text after \"]\"" },
		{ "2001:zz::/32", 80, "invalid IPv6 address" },
	};
	struct addr_prefix p, before;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&p, 0x5a, sizeof(p));
		before = p;
		err[0] = '\0';
		if (addr_prefix_parse(cases[i].in, cases[i].def, &p, err,
		    sizeof(err)) != -1)
			fail_msg("\"%s\" accepted", cases[i].in);
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
			    cases[i].in, err, cases[i].err);
		assert_memory_equal(&p, &before, sizeof(p));
	}
}

static void
test_prefix_contains(void **state)
{
	static const struct {
		const char *prefix;
		const char *addr;
		bool in;
	} cases[] = {
		{ "10.0.0.0/24", "10.0.0.0:1", true },
		{ "10.0.0.0/24", "10.0.0.255:9", true },
		{ "10.0.0.0/24", "10.0.1.0:1", false },
		{ "10.0.0.0/23", "10.0.1.77:1", true },
		{ "10.0.0.0/23", "10.0.2.0:1", false },
		{ "0.0.0.0/0", "200.1.2.3:1", true },
		{ "1.2.3.4/32", "1.2.3.4:1", true },
		{ "1.2.3.4/32", "1.2.3.5:1", false },
		{ "10.0.0.0/8", "[::ffff:10.0.0.1]:1", false },
		{ "2001:db8::/32", "[2001:db8:ffff::1]:1", true },
		{ "2001:db8::/32", "[2001:db9::1]:1", false },
		{ "2001:db8::/33", "[2001:db8:7fff::1]:1", true },
		{ "2001:db8::/33", "[2001:db8:8000::1]:1", false },
		{ "::/0", "[::1]:1", true },
		{ "::/0", "1.2.3.4:1", false },
	};
	struct addr_prefix p;
	struct addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(addr_prefix_parse(cases[i].prefix, 80, &p,
		    NULL, 0), 0);
		assert_int_equal(addr_parse(cases[i].addr, 0, &a, NULL, 0), 0);
		if (addr_prefix_contains(&p, &a) != cases[i].in)
			fail_msg("%s contains %s: want %d", cases[i].prefix,
			    cases[i].addr, cases[i].in);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_compare_equal_hash),
		cmocka_unit_test(test_hash_spread),
		cmocka_unit_test(test_loopback_any),
		cmocka_unit_test(test_prefix_accepts),
		cmocka_unit_test(test_prefix_rejects),
		cmocka_unit_test(test_prefix_contains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
