/*
 * controlplane/dataplanes: when a data plane is forgotten. A silent one
 * after DATAPLANES_TIMEOUT_MS; with local pids, one whose process has
 * exited after DATAPLANES_EXITED_MS already; never one that reports.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/config.h"
#include "../../controlplane/dataplanes.h"
#include "../../controlplane/scoreboard.h"

struct fixture {
	struct config cfg;
	struct scoreboard *sb;
	struct dataplanes *d;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	config_defaults(&f->cfg);
	if (scoreboard_new(&f->sb) == -1 || dataplanes_new(&f->d) == -1)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	dataplanes_free(f->d);
	scoreboard_free(f->sb);
	free(f);
	return 0;
}

/* A pid that was a process a moment ago and is none now. */
static pid_t
dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void
report(struct fixture *f, const char *id, pid_t pid, uint64_t now_ms)
{
	struct proto_report *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	strcpy(r->dp_id, id);
	r->pid = (uint32_t)pid;
	r->workers = 1;
	dataplanes_fold(f->d, r, now_ms, f->sb, &f->cfg.remotes.scoring,
	    false);
	free(r);
}

static bool
known(struct fixture *f, const char *id)
{
	unsigned i;

	for (i = 0; i < dataplanes_count(f->d); i++)
		if (strcmp(dataplanes_at(f->d, i)->dp_id, id) == 0)
			return true;
	return false;
}

static void
test_exited_forgotten_early_when_local(void **state)
{
	struct fixture *f = *state;
	const uint64_t t0 = 100000;

	dataplanes_set_local(f->d, true);
	report(f, "alive", getpid(), t0);
	report(f, "gone", dead_pid(), t0);
	assert_int_equal(dataplanes_count(f->d), 2);

	/* Just under the short bound: nobody goes. */
	assert_int_equal(dataplanes_expire(f->d,
	    t0 + DATAPLANES_EXITED_MS - 1, f->sb), 0);
	assert_int_equal(dataplanes_expire(f->d,
	    t0 + DATAPLANES_EXITED_MS, f->sb), 1);
	assert_true(known(f, "alive"));
	assert_false(known(f, "gone"));
	/* A live process is only forgotten after the long silence. */
	assert_int_equal(dataplanes_expire(f->d,
	    t0 + DATAPLANES_TIMEOUT_MS - 1, f->sb), 0);
	assert_int_equal(dataplanes_expire(f->d,
	    t0 + DATAPLANES_TIMEOUT_MS, f->sb), 1);
	assert_int_equal(dataplanes_count(f->d), 0);
}

static void
test_reporting_never_forgotten(void **state)
{
	struct fixture *f = *state;
	uint64_t t;

	/* A pid from another namespace that means nothing here: its
	 * reports keep it, whatever kill(2) says. */
	dataplanes_set_local(f->d, true);
	for (t = 0; t < 20000; t += 1000) {
		report(f, "elsewhere", dead_pid(), 100000 + t);
		assert_int_equal(dataplanes_expire(f->d, 100000 + t + 999,
		    f->sb), 0);
	}
	assert_true(known(f, "elsewhere"));
}

static void
test_remote_pids_not_looked_up(void **state)
{
	struct fixture *f = *state;
	const uint64_t t0 = 100000;

	/* tcp:// channel: the pid is another host's. */
	report(f, "remote", dead_pid(), t0);
	assert_int_equal(dataplanes_expire(f->d,
	    t0 + DATAPLANES_TIMEOUT_MS - 1, f->sb), 0);
	assert_int_equal(dataplanes_expire(f->d,
	    t0 + DATAPLANES_TIMEOUT_MS, f->sb), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_exited_forgotten_early_when_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reporting_never_forgotten,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_pids_not_looked_up,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
