/*
 * Load-balancing algorithms: least_connections (ties spread, tried
 * backends skipped), round_robin (even rotation), random (uniform,
 * never a tried backend), and the edge cases every algorithm shares.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../dataplane/lb.h"

static const int algos[] = { LB_LEAST_CONNECTIONS, LB_ROUND_ROBIN,
	LB_RANDOM };

static void
test_empty_set(void **state)
{
	struct lb lb;
	unsigned i;

	(void)state;
	lb_init(&lb, 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(lb_pick(&lb, algos[i], NULL, 0, NULL, 0), -1);
}

static void
test_all_tried(void **state)
{
	uint32_t conns[3] = { 0, 0, 0 };
	unsigned tried[3] = { 2, 0, 1 };
	struct lb lb;
	unsigned i;

	(void)state;
	lb_init(&lb, 7);
	for (i = 0; i < 3; i++)
		assert_int_equal(lb_pick(&lb, algos[i], conns, 3, tried, 3),
		    -1);
}

static void
test_never_picks_tried(void **state)
{
	uint32_t conns[4] = { 0, 5, 0, 9 };
	unsigned tried[2] = { 0, 2 };
	struct lb lb;
	unsigned i, k;
	int got;

	(void)state;
	lb_init(&lb, 42);
	for (i = 0; i < 3; i++) {
		for (k = 0; k < 200; k++) {
			got = lb_pick(&lb, algos[i], conns, 4, tried, 2);
			assert_true(got == 1 || got == 3);
		}
	}
}

static void
test_least_connections_picks_min(void **state)
{
	uint32_t conns[5] = { 7, 3, 9, 1, 4 };
	struct lb lb;
	unsigned k;

	(void)state;
	lb_init(&lb, 3);
	for (k = 0; k < 20; k++)
		assert_int_equal(lb_pick(&lb, LB_LEAST_CONNECTIONS, conns, 5,
		    NULL, 0), 3);
}

static void
test_least_connections_spreads_ties(void **state)
{
	uint32_t conns[3] = { 2, 2, 2 };
	unsigned hits[3] = { 0 }, k;
	struct lb lb;
	int got;

	(void)state;
	lb_init(&lb, 5);
	for (k = 0; k < 300; k++) {
		got = lb_pick(&lb, LB_LEAST_CONNECTIONS, conns, 3, NULL, 0);
		assert_in_range(got, 0, 2);
		hits[got]++;
	}
	for (k = 0; k < 3; k++)
		assert_int_equal(hits[k], 100);
}

static void
test_least_connections_balances_when_counting(void **state)
{
	/* Simulate the session code: each pick adds a connection. */
	uint32_t conns[4] = { 0, 0, 0, 0 };
	struct lb lb;
	unsigned k;
	int got;

	(void)state;
	lb_init(&lb, 9);
	for (k = 0; k < 1000; k++) {
		got = lb_pick(&lb, LB_LEAST_CONNECTIONS, conns, 4, NULL, 0);
		conns[got]++;
	}
	for (k = 0; k < 4; k++)
		assert_int_equal(conns[k], 250);
}

static void
test_least_connections_retry_takes_next_best(void **state)
{
	uint32_t conns[3] = { 1, 5, 3 };
	unsigned tried[1] = { 0 };
	struct lb lb;

	(void)state;
	lb_init(&lb, 11);
	assert_int_equal(lb_pick(&lb, LB_LEAST_CONNECTIONS, conns, 3, tried,
	    1), 2);
}

static void
test_round_robin_rotates(void **state)
{
	unsigned k, hits[4] = { 0 };
	struct lb lb;
	int prev = -1, got;

	(void)state;
	lb_init(&lb, 1);
	for (k = 0; k < 400; k++) {
		got = lb_pick(&lb, LB_ROUND_ROBIN, NULL, 4, NULL, 0);
		if (prev != -1)
			assert_int_equal(got, (prev + 1) % 4);
		prev = got;
		hits[got]++;
	}
	for (k = 0; k < 4; k++)
		assert_int_equal(hits[k], 100);
}

static void
test_round_robin_skips_tried(void **state)
{
	unsigned tried[1];
	struct lb lb;
	int first, second;

	(void)state;
	lb_init(&lb, 1);
	first = lb_pick(&lb, LB_ROUND_ROBIN, NULL, 3, NULL, 0);
	tried[0] = (unsigned)first;
	second = lb_pick(&lb, LB_ROUND_ROBIN, NULL, 3, tried, 1);
	assert_int_not_equal(first, second);
}

static void
test_random_is_roughly_uniform(void **state)
{
	unsigned k, hits[5] = { 0 };
	struct lb lb;

	(void)state;
	lb_init(&lb, 12345);
	for (k = 0; k < 50000; k++)
		hits[lb_pick(&lb, LB_RANDOM, NULL, 5, NULL, 0)]++;
	/* Expect 10000 each; 5 sigma is about 450. */
	for (k = 0; k < 5; k++)
		assert_in_range(hits[k], 9500, 10500);
}

static void
test_random_seed_zero_is_usable(void **state)
{
	struct lb lb;

	(void)state;
	lb_init(&lb, 0);
	assert_true(lb_random(&lb) != 0);
	assert_true(lb_random(&lb) != lb_random(&lb));
}

static void
test_single_backend(void **state)
{
	uint32_t conns[1] = { 100 };
	struct lb lb;
	unsigned i;

	(void)state;
	lb_init(&lb, 2);
	for (i = 0; i < 3; i++)
		assert_int_equal(lb_pick(&lb, algos[i], conns, 1, NULL, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_set),
		cmocka_unit_test(test_all_tried),
		cmocka_unit_test(test_never_picks_tried),
		cmocka_unit_test(test_least_connections_picks_min),
		cmocka_unit_test(test_least_connections_spreads_ties),
		cmocka_unit_test(test_least_connections_balances_when_counting),
		cmocka_unit_test(test_least_connections_retry_takes_next_best),
		cmocka_unit_test(test_round_robin_rotates),
		cmocka_unit_test(test_round_robin_skips_tried),
		cmocka_unit_test(test_random_is_roughly_uniform),
		cmocka_unit_test(test_random_seed_zero_is_usable),
		cmocka_unit_test(test_single_backend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
