/*
 * Per-client-IP admission limits: concurrent connections per IP, the
 * token-bucket rate (burst, refill over time), ports ignored, IPv6,
 * release, reconfiguration at run time, the bounded table failing open,
 * and workers admitting at once from several threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../../dataplane/limits.h"

static struct addr
ip(const char *s)
{
	struct addr a;
	char err[64];

	assert_int_equal(addr_parse(s, 1, &a, err, sizeof(err)), 0);
	return a;
}

static struct limits_conf
conf(uint32_t max, uint32_t rate, uint32_t burst, uint32_t tracked)
{
	struct limits_conf lc;

	memset(&lc, 0, sizeof(lc));
	lc.per_source_max_connections = max;
	lc.per_source_rate = rate;
	lc.per_source_burst = burst;
	lc.per_source_tracked = tracked;
	return lc;
}

static void
test_off_by_default(void **state)
{
	struct limits_conf lc = conf(0, 0, 0, 64);
	struct addr a = ip("10.0.0.1");
	struct limits *l;
	unsigned i;

	(void)state;
	assert_int_equal(limits_new(&lc, &l), 0);
	assert_false(limits_per_source(l));
	for (i = 0; i < 10000; i++)
		assert_int_equal(limits_admit(l, &a, 0), LIMITS_OK);
	assert_int_equal(limits_tracked(l), 0);
	limits_free(l);
	limits_free(NULL);
}

static void
test_max_connections_per_ip(void **state)
{
	struct limits_conf lc = conf(3, 0, 0, 64);
	struct addr a = ip("10.0.0.1:1000"), a2 = ip("10.0.0.1:2000");
	struct addr b = ip("10.0.0.2:1000");
	struct limits *l;

	(void)state;
	assert_int_equal(limits_new(&lc, &l), 0);
	assert_true(limits_per_source(l));
	assert_int_equal(limits_admit(l, &a, 0), LIMITS_OK);
	assert_int_equal(limits_admit(l, &a2, 0), LIMITS_OK); /* same IP */
	assert_int_equal(limits_admit(l, &a, 0), LIMITS_OK);
	assert_int_equal(limits_admit(l, &a2, 0), LIMITS_CONNS);
	/* Another IP has its own count. */
	assert_int_equal(limits_admit(l, &b, 0), LIMITS_OK);
	limits_release(l, &a2);
	assert_int_equal(limits_admit(l, &a, 0), LIMITS_OK);
	assert_int_equal(limits_admit(l, &a, 0), LIMITS_CONNS);
	assert_int_equal(limits_tracked(l), 2);
	limits_free(l);
}

static void
test_rate_and_burst(void **state)
{
	struct limits_conf lc = conf(0, 10, 5, 64);
	struct addr a = ip("192.0.2.7");
	struct limits *l;
	unsigned i, ok;

	(void)state;
	assert_int_equal(limits_new(&lc, &l), 0);
	/* A full bucket: the burst goes through at once, then no more. */
	for (i = 0; i < 5; i++) {
		assert_int_equal(limits_admit(l, &a, 1000), LIMITS_OK);
		limits_release(l, &a);
	}
	assert_int_equal(limits_admit(l, &a, 1000), LIMITS_RATE);
	/* 10 per second: one token every 100 ms. */
	assert_int_equal(limits_admit(l, &a, 1099), LIMITS_RATE);
	assert_int_equal(limits_admit(l, &a, 1100), LIMITS_OK);
	limits_release(l, &a);
	assert_int_equal(limits_admit(l, &a, 1150), LIMITS_RATE);
	/* Over 10 s at most burst + rate * 10 are admitted. */
	for (i = 0, ok = 0; i < 10000; i++) {
		if (limits_admit(l, &a, 1200 + i) == LIMITS_OK) {
			ok++;
			limits_release(l, &a);
		}
	}
	assert_in_range(ok, 99, 101);
	/* Refill never exceeds the burst. */
	for (i = 0, ok = 0; i < 20; i++)
		if (limits_admit(l, &a, 1000000) == LIMITS_OK)
			ok++;
	assert_int_equal(ok, 5);
	limits_free(l);
}

static void
test_burst_defaults_to_rate(void **state)
{
	struct limits_conf lc = conf(0, 4, 0, 64);
	struct addr a = ip("2001:db8::5");
	struct limits *l;
	unsigned i, ok = 0;

	(void)state;
	assert_int_equal(limits_new(&lc, &l), 0);
	for (i = 0; i < 10; i++)
		if (limits_admit(l, &a, 50) == LIMITS_OK)
			ok++;
	assert_int_equal(ok, 4);
	limits_free(l);
}

static void
test_ipv6_and_ipv4_apart(void **state)
{
	struct limits_conf lc = conf(1, 0, 0, 64);
	struct addr v6 = ip("[2001:db8::1]:5"), v6b = ip("[2001:db8::2]:5");
	struct addr v4 = ip("32.1.13.184:5");
	struct limits *l;

	(void)state;
	assert_int_equal(limits_new(&lc, &l), 0);
	assert_int_equal(limits_admit(l, &v6, 0), LIMITS_OK);
	assert_int_equal(limits_admit(l, &v6, 0), LIMITS_CONNS);
	assert_int_equal(limits_admit(l, &v6b, 0), LIMITS_OK);
	assert_int_equal(limits_admit(l, &v4, 0), LIMITS_OK);
	limits_free(l);
}

static void
test_reconfigure_live(void **state)
{
	struct limits_conf lc = conf(1, 0, 0, 64);
	struct addr a = ip("10.9.9.9");
	struct limits *l;

	(void)state;
	assert_int_equal(limits_new(&lc, &l), 0);
	assert_int_equal(limits_admit(l, &a, 0), LIMITS_OK);
	assert_int_equal(limits_admit(l, &a, 0), LIMITS_CONNS);
	lc.per_source_max_connections = 2;
	limits_configure(l, &lc);
	assert_int_equal(limits_admit(l, &a, 0), LIMITS_OK);
	lc.per_source_max_connections = 0;
	limits_configure(l, &lc);
	assert_false(limits_per_source(l));
	limits_free(l);
}

static void
test_table_full_fails_open(void **state)
{
	/* 64 slots (1 per stripe, 8 at least): fill them all with open
	 * connections, then a new IP is admitted untracked, and idle
	 * entries are reused. */
	struct limits_conf lc = conf(1, 0, 0, 64);
	struct limits *l;
	struct addr a;
	char buf[32];
	unsigned i, tracked;

	(void)state;
	assert_int_equal(limits_new(&lc, &l), 0);
	for (i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "10.%u.%u.%u", i >> 16,
		    (i >> 8) & 255, i & 255);
		a = ip(buf);
		assert_int_equal(limits_admit(l, &a, 0), LIMITS_OK);
	}
	tracked = limits_tracked(l);
	assert_true(tracked <= 64 * 8);
	assert_true(tracked > 0);
	/* Untracked ones release without harm; tracked ones free slots. */
	for (i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "10.%u.%u.%u", i >> 16,
		    (i >> 8) & 255, i & 255);
		a = ip(buf);
		limits_release(l, &a);
	}
	a = ip("172.16.0.1");
	assert_int_equal(limits_admit(l, &a, 0), LIMITS_OK);
	assert_int_equal(limits_admit(l, &a, 0), LIMITS_CONNS);
	limits_free(l);
}

struct hammer {
	struct limits *l;
	unsigned ok;
};

static void *
hammer(void *arg)
{
	struct hammer *h = arg;
	struct addr a = ip("198.51.100.1");
	unsigned i;

	for (i = 0; i < 20000; i++) {
		if (limits_admit(h->l, &a, 0) == LIMITS_OK) {
			h->ok++;
			limits_release(h->l, &a);
		}
	}
	return NULL;
}

static void
test_threads_keep_counts_exact(void **state)
{
	struct limits_conf lc = conf(2, 0, 0, 64);
	struct hammer h[4];
	pthread_t th[4];
	struct addr a = ip("198.51.100.1");
	unsigned i;

	(void)state;
	assert_int_equal(limits_new(&lc, &h[0].l), 0);
	for (i = 0; i < 4; i++) {
		h[i].l = h[0].l;
		h[i].ok = 0;
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &h[i]),
		    0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* Every admit was released: the IP's count is back to zero. */
	assert_int_equal(limits_admit(h[0].l, &a, 0), LIMITS_OK);
	assert_int_equal(limits_admit(h[0].l, &a, 0), LIMITS_OK);
	assert_int_equal(limits_admit(h[0].l, &a, 0), LIMITS_CONNS);
	limits_free(h[0].l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_by_default),
		cmocka_unit_test(test_max_connections_per_ip),
		cmocka_unit_test(test_rate_and_burst),
		cmocka_unit_test(test_burst_defaults_to_rate),
		cmocka_unit_test(test_ipv6_and_ipv4_apart),
		cmocka_unit_test(test_reconfigure_live),
		cmocka_unit_test(test_table_full_fails_open),
		cmocka_unit_test(test_threads_keep_counts_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
