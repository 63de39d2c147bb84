/*
 * Unit tests of controlplane/sampler.c: draws stay inside the ranges with
 * their ports, small ranges are covered, big IPv6 ranges do not starve
 * IPv4 ones, exploit draws stay near, and the round planner keeps its
 * promises; a simulated /16 whose only answering /24 must be found.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../controlplane/sampler.h"

static void
list_from(const char *text, struct iplist *l)
{
	struct iplist_errors e;

	if (iplist_parse(text, strlen(text), "t.txt", 80, l, &e) != 0)
		fail_msg("%s", e.ie_msgs[0]);
}

static struct sampler *
sampler_from(const char *text, uint64_t seed)
{
	struct sampler *s = NULL;
	struct iplist l;

	list_from(text, &l);
	assert_int_equal(sampler_new(&l, seed, &s), 0);
	/* The sampler keeps no pointer into the list. */
	iplist_free(&l);
	return s;
}

static struct addr
ip(const char *text)
{
	struct addr a;
	char err[64];

	if (addr_parse(text, 80, &a, err, sizeof(err)) != 0)
		fail_msg("%s: %s", text, err);
	return a;
}

static const char *
fmt(const struct addr *a)
{
	static char buf[4][ADDR_STRLEN];
	static unsigned n;

	return addr_format(a, buf[n++ % 4], ADDR_STRLEN);
}

static void
test_no_ranges(void **state)
{
	struct sampler *s;
	struct addr a, b = ip("1.2.3.4");
	struct sampler_plan p;
	struct sampler_tracked t = { .st_addr = b, .st_explicit = true };

	(void)state;
	s = sampler_from("1.2.3.4\n", 1);
	assert_int_equal(sampler_nranges(s), 0);
	assert_int_equal(sampler_explore(s, &a), -1);
	assert_int_equal(sampler_exploit(s, &b, &a), -1);
	assert_false(sampler_contains(s, &b));
	assert_int_equal(sampler_plan(s, &t, 1, 16, 8, &p), 0);
	assert_int_equal(p.sp_nadd, 0);
	assert_int_equal(p.sp_nevict, 0);
	sampler_plan_free(&p);
	sampler_plan_free(&p);
	sampler_plan_free(NULL);
	sampler_free(s);
	sampler_free(NULL);
}

static void
test_new_refuses_malformed_lists(void **state)
{
	struct addr_prefix r[2];
	struct iplist l = { .il_ranges = r, .il_nranges = 2 };
	struct sampler *s = NULL;
	char err[64];

	(void)state;
	/* Out of order. */
	assert_int_equal(addr_prefix_parse("10.1.0.0/16", 80, &r[0], err,
	    sizeof(err)), 0);
	assert_int_equal(addr_prefix_parse("10.0.0.0/16", 80, &r[1], err,
	    sizeof(err)), 0);
	errno = 0;
	assert_int_equal(sampler_new(&l, 1, &s), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(s);
	/* Nested with the same port. */
	assert_int_equal(addr_prefix_parse("10.0.0.0/8", 80, &r[0], err,
	    sizeof(err)), 0);
	assert_int_equal(sampler_new(&l, 1, &s), -1);
	/* Nested with another port: two sets of candidates, fine. */
	r[0].base.port = 81;
	r[1].base.port = 82;
	assert_int_equal(sampler_new(&l, 1, &s), 0);
	sampler_free(s);
	/* Host bits set, bad length, bad family. */
	l.il_nranges = 1;
	r[0].base.ip[3] = 1;
	assert_int_equal(sampler_new(&l, 1, &s), -1);
	r[0].base.ip[3] = 0;
	r[0].prefix_len = 33;
	assert_int_equal(sampler_new(&l, 1, &s), -1);
	r[0].prefix_len = 8;
	r[0].base.family = AF_UNIX;
	assert_int_equal(sampler_new(&l, 1, &s), -1);
}

static void
test_draws_inside_ranges(void **state)
{
	static const char text[] =
	    "10.0.0.0/24:8080\n"
	    "172.16.0.0/20\n"
	    "192.168.1.0/29:9\n"
	    "[2001:db8::/116]:443\n"
	    "[2001:db8:1::/120]:444\n"
	    "1.2.3.4\n";
	struct sampler *s;
	struct iplist l;
	struct addr a;
	size_t i, j;
	unsigned hits[5] = { 0 }, bits;
	uint32_t host;

	(void)state;
	list_from(text, &l);
	assert_int_equal(sampler_new(&l, 7, &s), 0);
	assert_int_equal(sampler_nranges(s), 5);
	for (i = 0; i < 20000; i++) {
		assert_int_equal(sampler_explore(s, &a), 0);
		assert_true(sampler_contains(s, &a));
		for (j = 0; j < l.il_nranges; j++)
			if (addr_prefix_contains(&l.il_ranges[j], &a) &&
			    a.port == l.il_ranges[j].base.port)
				break;
		if (j == l.il_nranges)
			fail_msg("%s is in no range", fmt(&a));
		hits[j]++;
		/* Never a network or broadcast address. */
		if (a.family == AF_INET) {
			bits = iplist_range_bits(&l.il_ranges[j]);
			host = ((uint32_t)a.ip[2] << 8 | a.ip[3]) &
			    ((1u << bits) - 1);
			assert_int_not_equal(host, 0);
			assert_int_not_equal(host, (1u << bits) - 1);
		}
	}
	for (j = 0; j < 5; j++)
		assert_true(hits[j] > 0);
	/*
	 * Sorted by family, port, address: /29:9, /20:80, /24:8080. Up to
	 * the knee ranges weigh their size.
	 */
	assert_int_equal(iplist_range_bits(&l.il_ranges[0]), 3);
	assert_int_equal(iplist_range_bits(&l.il_ranges[1]), 12);
	assert_int_equal(iplist_range_bits(&l.il_ranges[2]), 8);
	assert_true(hits[1] > hits[2] * 10);
	assert_true(hits[2] > hits[0] * 10);
	sampler_free(s);
	iplist_free(&l);
}

static void
test_small_v4_ranges(void **state)
{
	struct sampler *s;
	struct addr a;
	unsigned seen[4], i;

	(void)state;
	/* A /30: only .1 and .2, and both. */
	s = sampler_from("10.0.0.4/30:81\n", 3);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 1000; i++) {
		assert_int_equal(sampler_explore(s, &a), 0);
		assert_int_equal(a.port, 81);
		assert_int_equal(a.ip[0], 10);
		assert_true(a.ip[3] >= 4 && a.ip[3] < 8);
		seen[a.ip[3] - 4]++;
	}
	assert_int_equal(seen[0], 0);
	assert_true(seen[1] > 0);
	assert_true(seen[2] > 0);
	assert_int_equal(seen[3], 0);
	sampler_free(s);

	/* A /31: both addresses (RFC 3021). */
	s = sampler_from("10.0.0.4/31\n", 3);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 1000; i++) {
		assert_int_equal(sampler_explore(s, &a), 0);
		assert_true(a.ip[3] >= 4 && a.ip[3] < 6);
		seen[a.ip[3] - 4]++;
	}
	assert_true(seen[0] > 0 && seen[1] > 0);
	sampler_free(s);
}

static void
test_slash24_coverage(void **state)
{
	struct sampler *s;
	struct addr a;
	unsigned seen[256] = { 0 }, i;

	(void)state;
	s = sampler_from("192.0.2.0/24\n", 11);
	for (i = 0; i < 5000; i++) {
		assert_int_equal(sampler_explore(s, &a), 0);
		assert_int_equal(a.ip[2], 2);
		seen[a.ip[3]]++;
	}
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[255], 0);
	for (i = 1; i <= 254; i++)
		if (seen[i] == 0)
			fail_msg("192.0.2.%u never drawn", i);
	sampler_free(s);
}

static void
test_v6_slash120_coverage(void **state)
{
	struct sampler *s;
	struct addr a, base = ip("2001:db8::");
	unsigned seen[256] = { 0 }, i;

	(void)state;
	s = sampler_from("[2001:db8::/120]:443\n", 5);
	for (i = 0; i < 5000; i++) {
		assert_int_equal(sampler_explore(s, &a), 0);
		assert_int_equal(a.family, AF_INET6);
		assert_int_equal(a.port, 443);
		assert_memory_equal(a.ip, base.ip, 15);
		seen[a.ip[15]]++;
	}
	/* IPv6 has no broadcast: all 256, ::0 included. */
	for (i = 0; i < 256; i++)
		if (seen[i] == 0)
			fail_msg("2001:db8::%x never drawn", i);
	sampler_free(s);
}

static void
test_v6_does_not_starve_v4(void **state)
{
	struct sampler *s;
	struct addr a;
	unsigned v4 = 0, v6 = 0, i;
	struct addr_prefix p;
	char err[64];

	(void)state;
	s = sampler_from("10.1.0.0/16\n2606:4700::/32\n", 9);
	assert_int_equal(addr_prefix_parse("2606:4700::/32", 80, &p, err,
	    sizeof(err)), 0);
	for (i = 0; i < 7000; i++) {
		assert_int_equal(sampler_explore(s, &a), 0);
		if (a.family == AF_INET) {
			assert_int_equal(a.ip[0], 10);
			assert_int_equal(a.ip[1], 1);
			v4++;
		} else {
			assert_true(addr_prefix_contains(&p, &a));
			v6++;
		}
	}
	/* Weights 65534 and 6 * 65536: the /16 gets about 1 draw in 7. */
	assert_true(v4 > 700 && v4 < 1300);
	assert_true(v6 > v4 * 4);
	sampler_free(s);
}

static void
test_deterministic(void **state)
{
	struct sampler *s1, *s2, *s3;
	struct addr a, b, c;
	unsigned i, same = 0;

	(void)state;
	s1 = sampler_from("10.0.0.0/8\n2001:db8::/48\n", 42);
	s2 = sampler_from("10.0.0.0/8\n2001:db8::/48\n", 42);
	s3 = sampler_from("10.0.0.0/8\n2001:db8::/48\n", 43);
	for (i = 0; i < 100; i++) {
		assert_int_equal(sampler_explore(s1, &a), 0);
		assert_int_equal(sampler_explore(s2, &b), 0);
		assert_int_equal(sampler_explore(s3, &c), 0);
		assert_true(addr_equal(&a, &b));
		same += addr_equal(&a, &c);
	}
	assert_true(same < 5);
	sampler_free(s1);
	sampler_free(s2);
	sampler_free(s3);
}

static void
test_exploit_stays_near(void **state)
{
	struct sampler *s;
	struct addr a, near;
	unsigned seen[256], i;

	(void)state;
	s = sampler_from("10.0.0.0/16:8443\n2001:db8::/64\n"
	    "192.0.2.16/28\n198.51.100.0/30\n198.51.100.8/31\n", 13);

	/* The /24 of near, all of it but near. */
	near = ip("10.0.77.5:8443");
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 5000; i++) {
		assert_int_equal(sampler_exploit(s, &near, &a), 0);
		assert_int_equal(a.port, 8443);
		assert_int_equal(a.ip[0], 10);
		assert_int_equal(a.ip[1], 0);
		assert_int_equal(a.ip[2], 77);
		seen[a.ip[3]]++;
	}
	assert_int_equal(seen[5], 0);
	for (i = 0; i < 256; i++)
		if (i != 5 && seen[i] == 0)
			fail_msg("10.0.77.%u never drawn", i);

	/* In the range's first /24 the network address stays out. */
	near = ip("10.0.0.7:8443");
	for (i = 0; i < 2000; i++) {
		assert_int_equal(sampler_exploit(s, &near, &a), 0);
		assert_int_equal(a.ip[2], 0);
		assert_int_not_equal(a.ip[3], 0);
		assert_int_not_equal(a.ip[3], 7);
	}

	/* A /28 is smaller than a /24: the range bounds the draws. */
	near = ip("192.0.2.20");
	for (i = 0; i < 2000; i++) {
		assert_int_equal(sampler_exploit(s, &near, &a), 0);
		assert_true(a.ip[3] > 16 && a.ip[3] < 31);
		assert_int_not_equal(a.ip[3], 20);
		assert_true(sampler_contains(s, &a));
	}

	/* /30 and /31: the one other candidate. */
	near = ip("198.51.100.1");
	assert_int_equal(sampler_exploit(s, &near, &a), 0);
	assert_string_equal(fmt(&a), "198.51.100.2:80");
	near = ip("198.51.100.9");
	assert_int_equal(sampler_exploit(s, &near, &a), 0);
	assert_string_equal(fmt(&a), "198.51.100.8:80");

	/* IPv6: the /120. */
	near = ip("[2001:db8::1234:5678]:80");
	for (i = 0; i < 1000; i++) {
		assert_int_equal(sampler_exploit(s, &near, &a), 0);
		assert_memory_equal(a.ip, near.ip, 15);
		assert_int_not_equal(a.ip[15], near.ip[15]);
	}

	/* Not in a range, or in one with another port. */
	near = ip("10.1.0.1:8443");
	assert_int_equal(sampler_exploit(s, &near, &a), -1);
	near = ip("10.0.77.5:80");
	assert_int_equal(sampler_exploit(s, &near, &a), -1);
	near = ip("[2001:db8:1::1]:80");
	assert_int_equal(sampler_exploit(s, &near, &a), -1);
	sampler_free(s);
}

static void
test_contains(void **state)
{
	struct sampler *s;
	struct addr a;

	(void)state;
	s = sampler_from("10.0.0.0/24\n10.0.0.0/16:81\n2001:db8::/120\n", 1);
	a = ip("10.0.0.1");
	assert_true(sampler_contains(s, &a));
	a = ip("10.0.0.0");
	assert_false(sampler_contains(s, &a));
	a = ip("10.0.0.255");
	assert_false(sampler_contains(s, &a));
	a = ip("10.0.0.255:81");	/* inside the /16 */
	assert_true(sampler_contains(s, &a));
	a = ip("10.0.255.255:81");
	assert_false(sampler_contains(s, &a));
	a = ip("10.0.1.1");
	assert_false(sampler_contains(s, &a));
	a = ip("10.0.0.1:82");
	assert_false(sampler_contains(s, &a));
	a = ip("2001:db8::");
	assert_true(sampler_contains(s, &a));
	a = ip("2001:db8::100");
	assert_false(sampler_contains(s, &a));
	a = ip("::ffff:10.0.0.1");
	assert_false(sampler_contains(s, &a));
	memset(&a, 0, sizeof(a));
	assert_false(sampler_contains(s, &a));
	sampler_free(s);
}

static void
test_memory_independent_of_range_size(void **state)
{
	struct sampler *big, *small;

	(void)state;
	big = sampler_from("10.0.0.0/8\n2606:4700::/32\n", 1);
	small = sampler_from("10.0.0.0/24\n2606:4700::/120\n", 1);
	assert_int_equal(sampler_nranges(big), 2);
	assert_int_equal(sampler_memsize(big), sampler_memsize(small));
	assert_true(sampler_memsize(big) < 256);
	sampler_free(big);
	sampler_free(small);
}

/* ---- the planner ------------------------------------------------------ */

static struct sampler_tracked
entry(const char *addr, unsigned probes, bool scored, double score)
{
	struct sampler_tracked t;

	memset(&t, 0, sizeof(t));
	t.st_addr = ip(addr);
	t.st_probes = probes;
	t.st_scored = scored;
	t.st_score = score;
	return t;
}

/* What every plan promises, whatever the input. */
static void
check_plan(const struct sampler *s, const struct sampler_tracked *t,
    unsigned n, unsigned max, unsigned budget, const struct sampler_plan *p)
{
	unsigned i, j;

	assert_true(p->sp_nadd <= budget);
	assert_true(p->sp_nexploit <= p->sp_nadd);
	for (i = 0; i < p->sp_nevict; i++) {
		assert_true(p->sp_evict[i] < n);
		assert_false(t[p->sp_evict[i]].st_active);
		assert_false(t[p->sp_evict[i]].st_explicit);
		for (j = 0; j < i; j++)
			assert_int_not_equal(p->sp_evict[i], p->sp_evict[j]);
	}
	for (i = 0; i < p->sp_nadd; i++) {
		assert_true(sampler_contains(s, &p->sp_add[i]));
		for (j = 0; j < n; j++)
			if (addr_equal(&p->sp_add[i], &t[j].st_addr))
				fail_msg("%s is tracked already",
				    fmt(&p->sp_add[i]));
		for (j = 0; j < i; j++)
			assert_false(addr_equal(&p->sp_add[i],
			    &p->sp_add[j]));
	}
	if (p->sp_nadd > 0)
		assert_true(n - p->sp_nevict + p->sp_nadd <= max);
	else if (n > max)
		assert_true(n - p->sp_nevict >= max);
}

static void
test_plan_first_round_explores(void **state)
{
	struct sampler *s;
	struct sampler_plan p;

	(void)state;
	s = sampler_from("10.0.0.0/16\n", 1);
	assert_int_equal(sampler_plan(s, NULL, 0, 256, 64, &p), 0);
	check_plan(s, NULL, 0, 256, 64, &p);
	assert_int_equal(p.sp_nadd, 64);
	assert_int_equal(p.sp_nexploit, 0);
	assert_int_equal(p.sp_nevict, 0);
	sampler_plan_free(&p);

	/* Budget bounded by max_tracked. */
	assert_int_equal(sampler_plan(s, NULL, 0, 10, 64, &p), 0);
	assert_int_equal(p.sp_nadd, 10);
	sampler_plan_free(&p);
	assert_int_equal(sampler_plan(s, NULL, 0, 0, 64, &p), 0);
	assert_int_equal(p.sp_nadd, 0);
	sampler_plan_free(&p);
	sampler_free(s);
}

static void
test_plan_full_of_pending_adds_nothing(void **state)
{
	struct sampler_tracked t[4];
	struct sampler *s;
	struct sampler_plan p;

	(void)state;
	s = sampler_from("10.0.0.0/16\n", 1);
	t[0] = entry("10.0.0.1", 0, false, 0);
	t[1] = entry("10.0.0.2", 1, false, 0);
	t[2] = entry("10.0.0.3", SAMPLER_DEAD_PROBES - 1, false, 0);
	t[3] = entry("10.0.0.4", 2, true, 5);	/* a lone scored one */
	assert_int_equal(sampler_plan(s, t, 4, 4, 8, &p), 0);
	check_plan(s, t, 4, 4, 8, &p);
	assert_int_equal(p.sp_nadd, 0);
	assert_int_equal(p.sp_nevict, 0);
	sampler_plan_free(&p);
	sampler_free(s);
}

static void
test_plan_never_evicts_active_or_explicit(void **state)
{
	struct sampler_tracked t[6];
	struct sampler *s;
	struct sampler_plan p;

	(void)state;
	s = sampler_from("10.0.0.0/16\n", 1);
	t[0] = entry("10.0.0.1", 9, false, 0);
	t[0].st_active = true;
	t[1] = entry("10.0.0.2", 9, false, 0);
	t[1].st_explicit = true;
	t[2] = entry("10.0.0.3", 9, true, -100);
	t[2].st_active = true;
	t[3] = entry("10.0.0.4", 9, true, -50);
	t[3].st_explicit = true;
	t[4] = entry("10.0.0.5", 4, false, 0);
	t[5] = entry("10.0.0.6", 9, false, 0);
	t[5].st_active = true;
	t[5].st_explicit = true;
	assert_int_equal(sampler_plan(s, t, 6, 6, 4, &p), 0);
	check_plan(s, t, 6, 6, 4, &p);
	assert_int_equal(p.sp_nevict, 1);
	assert_int_equal(p.sp_evict[0], 4);
	assert_int_equal(p.sp_nadd, 1);
	sampler_plan_free(&p);

	/* Nothing evictable: nothing added. */
	t[4].st_active = true;
	assert_int_equal(sampler_plan(s, t, 6, 6, 4, &p), 0);
	assert_int_equal(p.sp_nevict, 0);
	assert_int_equal(p.sp_nadd, 0);
	sampler_plan_free(&p);
	sampler_free(s);
}

static void
test_plan_evicts_dead_first(void **state)
{
	struct sampler_tracked t[6];
	struct sampler *s;
	struct sampler_plan p;

	(void)state;
	s = sampler_from("10.0.0.0/16\n", 1);
	t[0] = entry("10.0.0.1", 9, true, 1);		/* worst score */
	t[1] = entry("10.0.0.2", SAMPLER_DEAD_PROBES, false, 0);
	t[2] = entry("10.0.0.3", 1, false, 0);		/* pending */
	t[3] = entry("10.0.0.4", 7, false, 0);		/* deadest */
	t[4] = entry("10.0.0.5", 9, true, 50);
	t[5] = entry("10.0.0.6", 0, false, 0);		/* pending */
	assert_int_equal(sampler_plan(s, t, 6, 6, 2, &p), 0);
	check_plan(s, t, 6, 6, 2, &p);
	assert_int_equal(p.sp_nadd, 2);
	assert_int_equal(p.sp_nevict, 2);
	assert_int_equal(p.sp_evict[0], 3);
	assert_int_equal(p.sp_evict[1], 1);
	sampler_plan_free(&p);

	/* Room for more: then the lowest score, never the better half and
	 * never the pending ones. */
	assert_int_equal(sampler_plan(s, t, 6, 6, 10, &p), 0);
	check_plan(s, t, 6, 6, 10, &p);
	assert_int_equal(p.sp_nadd, 3);
	assert_int_equal(p.sp_nevict, 3);
	assert_int_equal(p.sp_evict[0], 3);
	assert_int_equal(p.sp_evict[1], 1);
	assert_int_equal(p.sp_evict[2], 0);
	sampler_plan_free(&p);

	/* Free room first: nothing is evicted when it is not needed. */
	assert_int_equal(sampler_plan(s, t, 6, 10, 4, &p), 0);
	assert_int_equal(p.sp_nadd, 4);
	assert_int_equal(p.sp_nevict, 0);
	sampler_plan_free(&p);
	sampler_free(s);
}

static void
test_plan_evicts_lowest_scores(void **state)
{
	struct sampler_tracked t[10];
	struct sampler *s;
	struct sampler_plan p;
	char a[32];
	unsigned i;

	(void)state;
	s = sampler_from("10.0.0.0/16\n", 1);
	/* Scores 10, 1, 9, 2, 8, 3 ... shuffled against the index. */
	for (i = 0; i < 10; i++) {
		snprintf(a, sizeof(a), "10.0.1.%u", i + 1);
		t[i] = entry(a, 5, true, i % 2 ? (double)(i / 2 + 1) :
		    (double)(10 - i / 2));
	}
	assert_int_equal(sampler_plan(s, t, 10, 10, 10, &p), 0);
	check_plan(s, t, 10, 10, 10, &p);
	assert_int_equal(p.sp_nevict, 5);
	assert_int_equal(p.sp_nadd, 5);
	for (i = 0; i < 5; i++)
		assert_true(t[p.sp_evict[i]].st_score == (double)(i + 1));
	/* Exploit draws around the best ones, explore for the rest. */
	assert_int_equal(p.sp_nexploit, 2);
	for (i = 0; i < p.sp_nexploit; i++)
		assert_int_equal(p.sp_add[i].ip[2], 1);
	sampler_plan_free(&p);
	sampler_free(s);
}

static void
test_plan_no_duplicates(void **state)
{
	struct sampler_tracked t[2];
	struct sampler *s;
	struct sampler_plan p;

	(void)state;
	/* A /30 holds two candidates; one is tracked. */
	s = sampler_from("10.0.0.0/30\n", 1);
	t[0] = entry("10.0.0.2", 0, false, 0);
	assert_int_equal(sampler_plan(s, t, 1, 100, 50, &p), 0);
	check_plan(s, t, 1, 100, 50, &p);
	assert_int_equal(p.sp_nadd, 1);
	assert_string_equal(fmt(&p.sp_add[0]), "10.0.0.1:80");
	sampler_plan_free(&p);

	/* Both tracked, one of them scored: nothing new exists. */
	t[1] = entry("10.0.0.1", 3, true, 10);
	assert_int_equal(sampler_plan(s, t, 2, 100, 50, &p), 0);
	assert_int_equal(p.sp_nadd, 0);
	assert_int_equal(p.sp_nevict, 0);
	sampler_plan_free(&p);
	sampler_free(s);
}

static void
test_plan_explores_fresh_neighbourhoods(void **state)
{
	struct sampler_tracked t[3];
	struct sampler *s;
	struct sampler_plan p;
	unsigned i;

	(void)state;
	/* Three of the four /24s hold a tracked address already. */
	s = sampler_from("10.0.0.0/22\n", 1);
	t[0] = entry("10.0.0.5", 2, false, 0);
	t[1] = entry("10.0.1.5", 2, false, 0);
	t[2] = entry("10.0.2.5", 2, false, 0);
	assert_int_equal(sampler_plan(s, t, 3, 100, 4, &p), 0);
	check_plan(s, t, 3, 100, 4, &p);
	assert_int_equal(p.sp_nadd, 4);
	assert_int_equal(p.sp_add[0].ip[2], 3);
	/* Once every /24 is taken, any new address will do. */
	for (i = 1; i < 4; i++)
		assert_int_equal(p.sp_add[i].ip[0], 10);
	sampler_plan_free(&p);
	sampler_free(s);
}

static void
test_plan_shrinks_over_capacity(void **state)
{
	struct sampler_tracked t[8];
	struct sampler *s;
	struct sampler_plan p;
	char a[32];
	unsigned i;

	(void)state;
	s = sampler_from("10.0.0.0/16\n", 1);
	for (i = 0; i < 8; i++) {
		snprintf(a, sizeof(a), "10.0.2.%u", i + 1);
		t[i] = entry(a, 1, false, 0);	/* pending */
	}
	t[0].st_explicit = true;
	t[1].st_active = true;
	t[2] = entry("10.0.2.3", 9, true, 70);
	t[3] = entry("10.0.2.4", 9, true, 80);
	t[4].st_probes = 4;			/* dead */
	/* max_tracked lowered to 3: evict 5 of the 6 evictable. */
	assert_int_equal(sampler_plan(s, t, 8, 3, 64, &p), 0);
	check_plan(s, t, 8, 3, 64, &p);
	assert_int_equal(p.sp_nadd, 0);
	assert_int_equal(p.sp_nevict, 5);
	assert_int_equal(p.sp_evict[0], 4);	/* dead */
	assert_int_equal(p.sp_evict[1], 5);	/* pending */
	assert_int_equal(p.sp_evict[2], 6);
	assert_int_equal(p.sp_evict[3], 7);
	assert_int_equal(p.sp_evict[4], 2);	/* scored 70 before 80 */
	sampler_plan_free(&p);

	/* Down to the two unevictable ones at most. */
	assert_int_equal(sampler_plan(s, t, 8, 1, 64, &p), 0);
	assert_int_equal(p.sp_nevict, 6);
	assert_int_equal(p.sp_nadd, 0);
	sampler_plan_free(&p);
	sampler_free(s);
}

/* ---- simulation: find the one /24 of a /16 that answers --------------- */

#define SIM_MAX		256
#define SIM_BUDGET	64
#define SIM_ROUNDS	20

static bool
sim_answers(const struct addr *a)
{
	return a->family == AF_INET && a->ip[0] == 10 && a->ip[1] == 1 &&
	    a->ip[2] == 77;
}

/* Returns the first round with at least 20 good addresses tracked. */
static unsigned
simulate(uint64_t seed)
{
	struct sampler_tracked t[SIM_MAX + SIM_BUDGET];
	bool gone[SIM_MAX + SIM_BUDGET];
	struct sampler *s;
	struct sampler_plan p;
	unsigned n = 0, round, i, j, good, found = 0;
	size_t mem;

	s = sampler_from("10.1.0.0/16\n", seed);
	mem = sampler_memsize(s);
	for (round = 1; round <= SIM_ROUNDS; round++) {
		assert_int_equal(sampler_plan(s, t, n, SIM_MAX, SIM_BUDGET,
		    &p), 0);
		check_plan(s, t, n, SIM_MAX, SIM_BUDGET, &p);

		memset(gone, 0, sizeof(gone));
		for (i = 0; i < p.sp_nevict; i++)
			gone[p.sp_evict[i]] = true;
		for (i = 0, j = 0; i < n; i++)
			if (!gone[i])
				t[j++] = t[i];
		n = j;
		for (i = 0; i < p.sp_nadd; i++) {
			memset(&t[n], 0, sizeof(t[n]));
			t[n++].st_addr = p.sp_add[i];
		}
		sampler_plan_free(&p);
		assert_true(n <= SIM_MAX);
		assert_int_equal(sampler_memsize(s), mem);

		/* One probe each; the good /24 answers, a little unevenly. */
		for (i = 0, good = 0; i < n; i++) {
			t[i].st_probes++;
			if (sim_answers(&t[i].st_addr)) {
				t[i].st_scored = true;
				t[i].st_score = 50 + t[i].st_addr.ip[3] % 17;
				good++;
			}
		}
		if (good >= 20 && found == 0)
			found = round;
	}
	sampler_free(s);
	return found;
}

static void
test_simulation_finds_the_good_slash24(void **state)
{
	uint64_t seed;
	unsigned round;

	(void)state;
	for (seed = 1; seed <= 10; seed++) {
		round = simulate(seed);
		if (round == 0)
			fail_msg("seed %llu: good /24 not found in %d rounds",
			    (unsigned long long)seed, SIM_ROUNDS);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_ranges),
		cmocka_unit_test(test_new_refuses_malformed_lists),
		cmocka_unit_test(test_draws_inside_ranges),
		cmocka_unit_test(test_small_v4_ranges),
		cmocka_unit_test(test_slash24_coverage),
		cmocka_unit_test(test_v6_slash120_coverage),
		cmocka_unit_test(test_v6_does_not_starve_v4),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_exploit_stays_near),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_memory_independent_of_range_size),
		cmocka_unit_test(test_plan_first_round_explores),
		cmocka_unit_test(test_plan_full_of_pending_adds_nothing),
		cmocka_unit_test(test_plan_never_evicts_active_or_explicit),
		cmocka_unit_test(test_plan_evicts_dead_first),
		cmocka_unit_test(test_plan_evicts_lowest_scores),
		cmocka_unit_test(test_plan_no_duplicates),
		cmocka_unit_test(test_plan_explores_fresh_neighbourhoods),
		cmocka_unit_test(test_plan_shrinks_over_capacity),
		cmocka_unit_test(test_simulation_finds_the_good_slash24),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
