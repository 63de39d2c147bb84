/*
 * Pool sizing: static and none sizes, the dynamic target formula
 * ceil(peak * (1 + ratio)) clamped to [min, max], steps bounded by the
 * scale increments, the peak window (real concurrency, not cumulative
 * use: a pool must not starve after many short connections), and the
 * per-worker split.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../dataplane/pool_sizing.h"

static struct pools_conf
dyn(uint32_t min, uint32_t max, double ratio, uint32_t up, uint32_t down)
{
	struct pools_conf pc;

	memset(&pc, 0, sizeof(pc));
	pc.strategy.type = POOL_STRATEGY_DYNAMIC;
	pc.strategy.dynamic.min_size = min;
	pc.strategy.dynamic.max_size = max;
	pc.strategy.dynamic.scaling.target_buffer_ratio = ratio;
	pc.strategy.dynamic.scaling.scale_up_increment = up;
	pc.strategy.dynamic.scaling.scale_down_increment = down;
	return pc;
}

static void
test_static_size(void **state)
{
	struct pools_conf pc;
	struct pool_sizing ps;

	(void)state;
	memset(&pc, 0, sizeof(pc));
	pc.strategy.type = POOL_STRATEGY_STATIC;
	pc.strategy.static_.size_per_remote = 50;
	pool_sizing_init(&ps, &pc, 1);
	assert_int_equal(ps.target, 50);
	pool_sizing_observe(&ps, 400);
	assert_int_equal(pool_sizing_tick(&ps, &pc, 1, 400), 0);
	assert_int_equal(ps.target, 50);
	/* Split over workers, rounding up. */
	assert_int_equal(pool_sizing_desired(&pc, 3, 0), 17);
	pc.strategy.static_.size_per_remote = 0;
	assert_int_equal(pool_sizing_desired(&pc, 1, 99), 0);
}

static void
test_none_is_zero(void **state)
{
	struct pools_conf pc = dyn(20, 500, 0.2, 10, 5);

	(void)state;
	pc.strategy.type = POOL_STRATEGY_NONE;
	assert_int_equal(pool_sizing_desired(&pc, 1, 1000), 0);
}

static void
test_dynamic_formula(void **state)
{
	struct pools_conf pc = dyn(20, 500, 0.2, 10, 5);

	(void)state;
	/* Below the floor. */
	assert_int_equal(pool_sizing_desired(&pc, 1, 0), 20);
	assert_int_equal(pool_sizing_desired(&pc, 1, 16), 20);
	/* 17 * 1.2 = 20.4 -> 21 (ceil). */
	assert_int_equal(pool_sizing_desired(&pc, 1, 17), 21);
	/* 100 * 1.2 = 120. */
	assert_int_equal(pool_sizing_desired(&pc, 1, 100), 120);
	/* Clamped at max. */
	assert_int_equal(pool_sizing_desired(&pc, 1, 1000), 500);
	/* Two workers: floor 10, ceiling 250 each. */
	assert_int_equal(pool_sizing_desired(&pc, 2, 0), 10);
	assert_int_equal(pool_sizing_desired(&pc, 2, 1000), 250);
	assert_int_equal(pool_sizing_desired(&pc, 2, 50), 60);
}

static void
test_scale_up_in_increments(void **state)
{
	struct pools_conf pc = dyn(20, 500, 0.2, 10, 5);
	struct pool_sizing ps;

	(void)state;
	pool_sizing_init(&ps, &pc, 1);
	assert_int_equal(ps.target, 20);
	pool_sizing_observe(&ps, 100); /* desired 120 */
	assert_int_equal(pool_sizing_tick(&ps, &pc, 1, 100), 1);
	assert_int_equal(ps.target, 30);
	assert_int_equal(pool_sizing_tick(&ps, &pc, 1, 100), 1);
	assert_int_equal(ps.target, 40);
	while (pool_sizing_tick(&ps, &pc, 1, 100) == 1)
		;
	assert_int_equal(ps.target, 120);
}

static void
test_scale_down_after_window(void **state)
{
	struct pools_conf pc = dyn(20, 500, 0.2, 10, 5);
	struct pool_sizing ps;
	unsigned i;

	(void)state;
	pool_sizing_init(&ps, &pc, 1);
	ps.target = 120;
	pool_sizing_observe(&ps, 100);
	/* The peak counts at the end of its own interval and for the
	 * POOL_SIZING_WINDOW intervals after it. */
	for (i = 0; i < POOL_SIZING_WINDOW + 1; i++) {
		assert_int_equal(pool_sizing_tick(&ps, &pc, 1, 0), 0);
		assert_int_equal(ps.target, 120);
	}
	/* Then it shrinks by scale_down_increment per tick. */
	assert_int_equal(pool_sizing_tick(&ps, &pc, 1, 0), -1);
	assert_int_equal(ps.target, 115);
	while (pool_sizing_tick(&ps, &pc, 1, 0) == -1)
		;
	assert_int_equal(ps.target, 20);
}

static void
test_steps_do_not_overshoot(void **state)
{
	struct pools_conf pc = dyn(20, 500, 0.2, 10, 5);
	struct pool_sizing ps;

	(void)state;
	pool_sizing_init(&ps, &pc, 1);
	pool_sizing_observe(&ps, 20); /* desired 24 */
	assert_int_equal(pool_sizing_tick(&ps, &pc, 1, 20), 1);
	assert_int_equal(ps.target, 24);
}

static void
test_peak_is_concurrency_not_uses(void **state)
{
	struct pools_conf pc = dyn(20, 500, 0.2, 10, 5);
	struct pool_sizing ps;
	unsigned i, k;

	(void)state;
	pool_sizing_init(&ps, &pc, 1);
	/* Thousands of short connections, never more than 30 at once: the
	 * target settles at 36, it neither starves nor explodes. */
	for (i = 0; i < 20; i++) {
		for (k = 0; k < 1000; k++)
			pool_sizing_observe(&ps, 1 + k % 30);
		pool_sizing_tick(&ps, &pc, 1, 0);
	}
	assert_int_equal(pool_sizing_recent_peak(&ps), 30);
	assert_int_equal(ps.target, 36);
}

static void
test_recent_peak_window(void **state)
{
	struct pools_conf pc = dyn(1, 500, 0.0, 1000, 1000);
	struct pool_sizing ps;
	unsigned i;

	(void)state;
	pool_sizing_init(&ps, &pc, 1);
	pool_sizing_observe(&ps, 7);
	assert_int_equal(pool_sizing_recent_peak(&ps), 7);
	pool_sizing_tick(&ps, &pc, 1, 2);
	/* The next interval starts at the concurrency of the moment. */
	assert_int_equal(ps.cur_peak, 2);
	assert_int_equal(pool_sizing_recent_peak(&ps), 7);
	for (i = 0; i < POOL_SIZING_WINDOW; i++)
		pool_sizing_tick(&ps, &pc, 1, 2);
	assert_int_equal(pool_sizing_recent_peak(&ps), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_size),
		cmocka_unit_test(test_none_is_zero),
		cmocka_unit_test(test_dynamic_formula),
		cmocka_unit_test(test_scale_up_in_increments),
		cmocka_unit_test(test_scale_down_after_window),
		cmocka_unit_test(test_steps_do_not_overshoot),
		cmocka_unit_test(test_peak_is_concurrency_not_uses),
		cmocka_unit_test(test_recent_peak_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
