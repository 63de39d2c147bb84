/*
 * common/notify: every message as a real AF_UNIX datagram socket receives
 * it, at a path and in the abstract namespace; the no-op without
 * NOTIFY_SOCKET; bad addresses refused; a full receiver never blocks the
 * sender; the watchdog interval from WATCHDOG_USEC and WATCHDOG_PID.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../common/notify.h"

struct receiver {
	int fd;
	char dir[64];
	char env[128]; /* NOTIFY_SOCKET's value */
};

static struct receiver rx;

/* A datagram socket bound at a path in a temp folder, or in the abstract
 * namespace; NOTIFY_SOCKET names it. */
static void
bind_receiver(bool abstract)
{
	struct sockaddr_un sa;
	socklen_t len;

	rx.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(rx.fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (abstract) {
		snprintf(rx.env, sizeof(rx.env), "@tfwd-notify-test-%ld-%ld",
		    (long)getpid(), (long)time(NULL));
		memcpy(sa.sun_path + 1, rx.env + 1, strlen(rx.env) - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strlen(rx.env));
	} else {
		snprintf(rx.dir, sizeof(rx.dir), "/tmp/tfwd-notify-XXXXXX");
		assert_non_null(mkdtemp(rx.dir));
		snprintf(rx.env, sizeof(rx.env), "%s/notify", rx.dir);
		memcpy(sa.sun_path, rx.env, strlen(rx.env));
		len = sizeof(sa);
	}
	assert_int_equal(bind(rx.fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", rx.env, 1), 0);
}

static int
setup_path(void **state)
{
	(void)state;
	memset(&rx, 0, sizeof(rx));
	bind_receiver(false);
	return 0;
}

static int
setup_abstract(void **state)
{
	(void)state;
	memset(&rx, 0, sizeof(rx));
	bind_receiver(true);
	return 0;
}

static int
teardown(void **state)
{
	char path[128];

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (rx.fd > 0)
		close(rx.fd);
	rx.fd = -1;
	if (rx.dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/notify", rx.dir);
		unlink(path);
		rmdir(rx.dir);
	}
	return 0;
}

/* The next datagram, NUL-terminated in buf; fails after a second. */
static size_t
recv_msg(char *buf, size_t size)
{
	struct pollfd p = { .fd = rx.fd, .events = POLLIN };
	ssize_t n;

	assert_int_equal(poll(&p, 1, 1000), 1);
	n = recv(rx.fd, buf, size - 1, MSG_DONTWAIT);
	assert_true(n >= 0);
	buf[n] = '\0';
	return (size_t)n;
}

static bool
nothing_pending(void)
{
	struct pollfd p = { .fd = rx.fd, .events = POLLIN };

	return poll(&p, 1, 50) == 0;
}

/* The messages of the protocol, one datagram each. */
static void
check_messages(void)
{
	char buf[2048];
	struct timespec ts;
	unsigned long long usec, now;

	notify_ready();
	recv_msg(buf, sizeof(buf));
	assert_string_equal(buf, "READY=1");

	notify_stopping();
	recv_msg(buf, sizeof(buf));
	assert_string_equal(buf, "STOPPING=1");

	notify_watchdog();
	recv_msg(buf, sizeof(buf));
	assert_string_equal(buf, "WATCHDOG=1");

	notify_mainpid(4242);
	recv_msg(buf, sizeof(buf));
	assert_string_equal(buf, "MAINPID=4242");

	notify_status("running: generation %d, %u data planes", 7, 2u);
	recv_msg(buf, sizeof(buf));
	assert_string_equal(buf, "STATUS=running: generation 7, 2 data planes");

	/* RELOADING=1 and a CLOCK_MONOTONIC stamp within a second of now */
	notify_reloading();
	recv_msg(buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
	assert_int_equal(sscanf(buf + 27, "%llu", &usec), 1);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000;
	assert_true(usec <= now && now - usec < 1000000);
	assert_true(nothing_pending());
}

static void
test_path_socket(void **state)
{
	(void)state;
	check_messages();
}

static void
test_abstract_socket(void **state)
{
	(void)state;
	check_messages();
}

/* A newline in a status would start a new assignment; a long one is cut
 * to one datagram. */
static void
test_status_sanitized(void **state)
{
	char buf[4096], big[3000];

	(void)state;
	notify_status("a\nREADY=1\nb");
	recv_msg(buf, sizeof(buf));
	assert_string_equal(buf, "STATUS=a READY=1 b");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	notify_status("%s", big);
	assert_int_equal(recv_msg(buf, sizeof(buf)), NOTIFY_MSG_MAX - 1);
	assert_int_equal(strncmp(buf, "STATUS=xxx", 10), 0);
}

static void
test_notify_send(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(notify_send("READY=1\nSTATUS=up"), 0);
	recv_msg(buf, sizeof(buf));
	assert_string_equal(buf, "READY=1\nSTATUS=up");
}

/* Without NOTIFY_SOCKET (or with it empty) every call does nothing. */
static void
test_unset_is_noop(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	errno = 0;
	assert_int_equal(notify_send("READY=1"), 0);
	notify_ready();
	notify_reloading();
	notify_status("x %d", 1);
	notify_watchdog();
	notify_stopping();
	notify_mainpid(1);
	assert_true(nothing_pending());

	assert_int_equal(setenv("NOTIFY_SOCKET", "", 1), 0);
	assert_int_equal(notify_send("READY=1"), 0);
	notify_ready();
	assert_true(nothing_pending());
}

/* Addresses of other kinds, too long, or with nobody bound: -1 from
 * notify_send, silence from the rest. */
static void
test_bad_addresses(void **state)
{
	char longpath[200];

	(void)state;
	assert_int_equal(setenv("NOTIFY_SOCKET", "relative/path", 1), 0);
	assert_int_equal(notify_send("READY=1"), -1);
	assert_int_equal(errno, EAFNOSUPPORT);
	notify_ready();

	assert_int_equal(setenv("NOTIFY_SOCKET", "vsock:2:1234", 1), 0);
	assert_int_equal(notify_send("READY=1"), -1);
	assert_int_equal(errno, EAFNOSUPPORT);

	assert_int_equal(setenv("NOTIFY_SOCKET", "@", 1), 0);
	assert_int_equal(notify_send("READY=1"), -1);

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(setenv("NOTIFY_SOCKET", longpath, 1), 0);
	assert_int_equal(notify_send("READY=1"), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	assert_int_equal(setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1),
	    0);
	assert_int_equal(notify_send("READY=1"), -1);
	assert_int_equal(errno, ENOENT);
	notify_ready();
	notify_status("still fine");
	assert_true(nothing_pending());
}

/* A receiver that never reads: the sender gets EAGAIN, never waits. */
static void
test_full_receiver_never_blocks(void **state)
{
	struct timespec t0, t1;
	int i, rv = 0, small = 1;
	long ms;

	(void)state;
	setsockopt(rx.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 100000 && rv == 0; i++)
		rv = notify_send("WATCHDOG=1");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(rv, -1);
	assert_int_equal(errno, EAGAIN);
	notify_watchdog(); /* ignored quietly */
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 5000);
}

static void
test_watchdog_interval(void **state)
{
	char pid[32];

	(void)state;
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(notify_watchdog_interval_ms(), 0);

	assert_int_equal(setenv("WATCHDOG_USEC", "10000000", 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 10000);
	assert_int_equal(setenv("WATCHDOG_USEC", "1500", 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 1);
	assert_int_equal(setenv("WATCHDOG_USEC", "999", 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 1);

	/* for this process, another one, or garbage */
	assert_int_equal(setenv("WATCHDOG_USEC", "4000000", 1), 0);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 4000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 0);
	assert_int_equal(setenv("WATCHDOG_PID", "abc", 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 0);
	unsetenv("WATCHDOG_PID");

	assert_int_equal(setenv("WATCHDOG_USEC", "0", 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 0);
	assert_int_equal(setenv("WATCHDOG_USEC", "-5", 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 0);
	assert_int_equal(setenv("WATCHDOG_USEC", "10s", 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 0);
	assert_int_equal(setenv("WATCHDOG_USEC", "", 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 0);
	assert_int_equal(setenv("WATCHDOG_USEC",
	    "99999999999999999999999", 1), 0);
	assert_int_equal(notify_watchdog_interval_ms(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_path_socket, setup_path,
		    teardown),
		cmocka_unit_test_setup_teardown(test_abstract_socket,
		    setup_abstract, teardown),
		cmocka_unit_test_setup_teardown(test_status_sanitized,
		    setup_path, teardown),
		cmocka_unit_test_setup_teardown(test_notify_send,
		    setup_abstract, teardown),
		cmocka_unit_test_setup_teardown(test_unset_is_noop,
		    setup_path, teardown),
		cmocka_unit_test_setup_teardown(test_bad_addresses,
		    setup_path, teardown),
		cmocka_unit_test_setup_teardown(test_full_receiver_never_blocks,
		    setup_abstract, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_interval,
		    setup_path, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
