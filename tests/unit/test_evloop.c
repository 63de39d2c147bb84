/*
 * The event loop: timers fire in deadline order and can be re-armed or
 * stopped from callbacks, fd watchers get their events, a watcher deleted
 * while its event is pending in the same batch is not called (the bug that
 * turns a closed session into a use-after-free), cross-thread wakeups,
 * and the pre-wait hook.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/evloop.h"

static int order[16];
static int norder;

static void
record_cb(struct evloop *loop, struct evloop_timer *t)
{
	order[norder++] = (int)(intptr_t)t->arg;
	if (norder == 5)
		evloop_stop(loop);
}

static void
test_timers_fire_in_order(void **state)
{
	struct evloop *loop;
	struct evloop_timer t[5];
	static const int after[5] = { 40, 10, 30, 0, 20 };
	int i;

	(void)state;
	assert_int_equal(evloop_new(&loop), 0);
	norder = 0;
	for (i = 0; i < 5; i++) {
		evloop_timer_init(&t[i], record_cb, (void *)(intptr_t)i);
		evloop_timer_start(loop, &t[i], (uint64_t)after[i]);
		assert_true(evloop_timer_armed(&t[i]));
	}
	assert_int_equal(evloop_run(loop), 0);
	assert_int_equal(norder, 5);
	assert_int_equal(order[0], 3);
	assert_int_equal(order[1], 1);
	assert_int_equal(order[2], 4);
	assert_int_equal(order[3], 2);
	assert_int_equal(order[4], 0);
	for (i = 0; i < 5; i++)
		assert_false(evloop_timer_armed(&t[i]));
	evloop_free(loop);
}

static struct evloop_timer victim;

static void
stopper_cb(struct evloop *loop, struct evloop_timer *t)
{
	(void)t;
	evloop_timer_stop(loop, &victim);
	evloop_timer_stop(loop, &victim); /* idempotent */
}

static void
fail_cb(struct evloop *loop, struct evloop_timer *t)
{
	(void)loop;
	(void)t;
	fail_msg("a stopped timer fired");
}

static void
end_cb(struct evloop *loop, struct evloop_timer *t)
{
	(void)t;
	evloop_stop(loop);
}

static void
test_timer_stop_and_restart(void **state)
{
	struct evloop *loop;
	struct evloop_timer stopper, end;
	uint64_t t0;

	(void)state;
	assert_int_equal(evloop_new(&loop), 0);
	evloop_timer_init(&victim, fail_cb, NULL);
	evloop_timer_init(&stopper, stopper_cb, NULL);
	evloop_timer_init(&end, end_cb, NULL);
	evloop_timer_start(loop, &victim, 20);
	evloop_timer_start(loop, &stopper, 5);
	/* Re-arming moves the deadline instead of adding a second one. */
	evloop_timer_start(loop, &end, 1);
	evloop_timer_start(loop, &end, 50);
	t0 = evloop_clock_ms();
	assert_int_equal(evloop_run(loop), 0);
	assert_true(evloop_clock_ms() - t0 >= 45);
	evloop_free(loop);
}

static void
many_cb(struct evloop *loop, struct evloop_timer *t)
{
	(void)loop;
	(*(int *)t->arg)++;
}

static void
test_many_timers_grow_heap(void **state)
{
	struct evloop *loop;
	struct evloop_timer *t, end;
	int fired = 0, i;

	(void)state;
	assert_int_equal(evloop_new(&loop), 0);
	t = calloc(1000, sizeof(*t));
	assert_non_null(t);
	for (i = 0; i < 1000; i++) {
		evloop_timer_init(&t[i], many_cb, &fired);
		evloop_timer_start(loop, &t[i], (uint64_t)(i % 7));
	}
	for (i = 0; i < 1000; i += 2)
		evloop_timer_stop(loop, &t[i]);
	evloop_timer_init(&end, end_cb, NULL);
	evloop_timer_start(loop, &end, 20);
	assert_int_equal(evloop_run(loop), 0);
	assert_int_equal(fired, 500);
	free(t);
	evloop_free(loop);
}

struct pair_ctx {
	struct evloop_io a, b;
	int calls_a, calls_b;
};

static void
io_a_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct pair_ctx *c = io->arg;

	(void)events;
	c->calls_a++;
	/* Delete the other watcher: its event is in this same batch. */
	evloop_io_del(loop, &c->b);
	evloop_io_del(loop, &c->a);
	evloop_stop(loop);
}

static void
io_b_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct pair_ctx *c = io->arg;

	(void)events;
	c->calls_b++;
	evloop_io_del(loop, &c->a);
	evloop_io_del(loop, &c->b);
	evloop_stop(loop);
}

static void
test_deleted_watcher_not_called(void **state)
{
	struct evloop *loop;
	struct pair_ctx c = { 0 };
	int sv1[2], sv2[2];

	(void)state;
	assert_int_equal(evloop_new(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv1), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
	assert_int_equal(write(sv1[1], "x", 1), 1);
	assert_int_equal(write(sv2[1], "y", 1), 1);
	assert_int_equal(evloop_io_add(loop, &c.a, sv1[0], EVLOOP_IN, io_a_cb,
	    &c), 0);
	assert_int_equal(evloop_io_add(loop, &c.b, sv2[0], EVLOOP_IN, io_b_cb,
	    &c), 0);
	assert_int_equal(evloop_run(loop), 0);
	/* Exactly one of them ran, whichever epoll returned first. */
	assert_int_equal(c.calls_a + c.calls_b, 1);
	close(sv1[0]);
	close(sv1[1]);
	close(sv2[0]);
	close(sv2[1]);
	evloop_free(loop);
}

static void
hup_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	uint32_t *got = io->arg;

	*got |= events;
	evloop_io_del(loop, io);
	evloop_stop(loop);
}

static void
test_peer_close_reports_hup(void **state)
{
	struct evloop *loop;
	struct evloop_io io;
	uint32_t got = 0;
	int sv[2];

	(void)state;
	assert_int_equal(evloop_new(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	evloop_io_init(&io);
	evloop_io_del(loop, &io); /* no-op on an unregistered watcher */
	assert_int_equal(evloop_io_add(loop, &io, sv[0],
	    EVLOOP_IN | EVLOOP_EDGE, hup_cb, &got), 0);
	close(sv[1]);
	assert_int_equal(evloop_run(loop), 0);
	assert_true(got & EVLOOP_HUP);
	close(sv[0]);
	evloop_free(loop);
}

static void *
waker(void *arg)
{
	usleep(20000);
	evloop_wake(arg);
	return NULL;
}

static int hook_calls;

static void
hook(struct evloop *loop, void *arg)
{
	(void)arg;
	/* First call: before the first wait. Second: after the wakeup. */
	if (++hook_calls == 2)
		evloop_stop(loop);
}

static void
test_wake_from_other_thread(void **state)
{
	struct evloop *loop;
	pthread_t th;
	uint64_t t0;

	(void)state;
	assert_int_equal(evloop_new(&loop), 0);
	hook_calls = 0;
	evloop_set_hook(loop, hook, NULL);
	t0 = evloop_clock_ms();
	assert_int_equal(pthread_create(&th, NULL, waker, loop), 0);
	assert_int_equal(evloop_run(loop), 0);
	pthread_join(th, NULL);
	assert_int_equal(hook_calls, 2);
	/* Woken well before the loop's 1 s idle wait would have ended. */
	assert_true(evloop_clock_ms() - t0 < 900);
	evloop_free(loop);
}

static void
test_clock_is_monotonic(void **state)
{
	uint64_t a, b;

	(void)state;
	a = evloop_clock_us();
	b = evloop_clock_us();
	assert_true(b >= a);
	assert_true(evloop_clock_ms() >= a / 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_order),
		cmocka_unit_test(test_timer_stop_and_restart),
		cmocka_unit_test(test_many_timers_grow_heap),
		cmocka_unit_test(test_deleted_watcher_not_called),
		cmocka_unit_test(test_peer_close_reports_hup),
		cmocka_unit_test(test_wake_from_other_thread),
		cmocka_unit_test(test_clock_is_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
