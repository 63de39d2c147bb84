/*
 * common/state: atomic replace and whole-file read. Failures are made
 * with paths no permission bit can rescue (root bypasses those): a parent
 * that is a file, a target that is a folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/state.h"

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tfwd-state-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Entries of dir besides . and .. */
static int
count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
expect_content(const char *path, const char *want)
{
	char *buf = NULL;
	size_t len = 0;

	assert_int_equal(state_read(path, &buf, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(buf, want);
	free(buf);
}

static void
test_roundtrip(void **state)
{
	char path[128];
	struct stat st;
	mode_t old;

	(void)state;
	snprintf(path, sizeof(path), "%s/dp.json", tmpdir);
	old = umask(0);
	assert_int_equal(state_write(path, "{\"a\":1}", 7), 0);
	umask(old);
	expect_content(path, "{\"a\":1}");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* Replace with something shorter, then with nothing. */
	assert_int_equal(state_write(path, "xy", 2), 0);
	expect_content(path, "xy");
	assert_int_equal(state_write(path, "", 0), 0);
	expect_content(path, "");
	/* No temporary file is left behind. */
	assert_int_equal(count_entries(tmpdir), 1);
}

static void
test_binary_and_large(void **state)
{
	char path[128];
	size_t n = 3u << 20, len, i;
	char *data, *back;

	(void)state;
	snprintf(path, sizeof(path), "%s/big.bin", tmpdir);
	data = malloc(n);
	assert_non_null(data);
	for (i = 0; i < n; i++)
		data[i] = (char)(i * 7 + (i >> 9));
	assert_int_equal(state_write(path, data, n), 0);
	assert_int_equal(state_read(path, &back, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(back, data, n);
	assert_int_equal(back[n], '\0');
	free(back);
	free(data);
}

static void
test_parents_created(void **state)
{
	char path[160], dir[160];
	struct stat st;
	mode_t old;

	(void)state;
	snprintf(path, sizeof(path), "%s/a/b/c/scores.json", tmpdir);
	old = umask(0);
	assert_int_equal(state_write(path, "1", 1), 0);
	umask(old);
	expect_content(path, "1");
	snprintf(dir, sizeof(dir), "%s/a", tmpdir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	snprintf(dir, sizeof(dir), "%s/a/b/c", tmpdir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
}

static void
test_relative_path(void **state)
{
	char cwd[4096];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(state_write("rel.json", "r", 1), 0);
	assert_int_equal(state_write("sub/rel.json", "s", 1), 0);
	expect_content("rel.json", "r");
	expect_content("sub/rel.json", "s");
	assert_int_equal(chdir(cwd), 0);
}

static void
test_failure_keeps_old(void **state)
{
	char path[128], blocker[128], under[160], dirpath[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/keep.json", tmpdir);
	assert_int_equal(state_write(path, "old", 3), 0);

	/* A parent that is a file: mkdir -p cannot succeed. */
	snprintf(blocker, sizeof(blocker), "%s/file", tmpdir);
	assert_int_equal(state_write(blocker, "f", 1), 0);
	snprintf(under, sizeof(under), "%s/file/x/state.json", tmpdir);
	errno = 0;
	assert_int_equal(state_write(under, "new", 3), -1);
	assert_int_equal(errno, ENOTDIR);

	/* The target is a folder: rename fails after the data is written;
	 * the temporary file must be gone. */
	snprintf(dirpath, sizeof(dirpath), "%s/isdir", tmpdir);
	assert_int_equal(mkdir(dirpath, 0700), 0);
	snprintf(under, sizeof(under), "%s/isdir/inner", tmpdir);
	assert_int_equal(mkdir(under, 0700), 0);
	assert_int_equal(state_write(dirpath, "new", 3), -1);
	assert_int_equal(count_entries(tmpdir), 3);	/* keep, file, isdir */

	/* Empty names and folders are refused. */
	assert_int_equal(state_write("", "x", 1), -1);
	snprintf(under, sizeof(under), "%s/", tmpdir);
	assert_int_equal(state_write(under, "x", 1), -1);
	assert_int_equal(state_write(path, NULL, 1), -1);

	expect_content(path, "old");
}

static void
test_stale_tmp_replaced(void **state)
{
	char path[128], tmp[160];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/s.json", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s/.s.json.tmp.%ld", tmpdir,
	    (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT, 0644);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "junk", 4), 4);
	close(fd);
	assert_int_equal(state_write(path, "good", 4), 0);
	expect_content(path, "good");
	assert_int_equal(access(tmp, F_OK), -1);
}

static void
test_read_errors(void **state)
{
	char path[128];
	char *buf = (char *)0x1;
	size_t len = 77;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
	assert_int_equal(state_read(path, &buf, &len), -1);
	assert_int_equal(errno, ENOENT);
	assert_ptr_equal(buf, (char *)0x1);
	assert_int_equal(len, 77);

	assert_int_equal(state_read(tmpdir, &buf, &len), -1);
	assert_int_equal(errno, EISDIR);

	/* Over the cap (a sparse file: no disk used). */
	snprintf(path, sizeof(path), "%s/huge", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	assert_int_equal(ftruncate(fd, (off_t)STATE_MAX_SIZE + 1), 0);
	close(fd);
	assert_int_equal(state_read(path, &buf, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_ptr_equal(buf, (char *)0x1);

	/* Exactly at the cap is fine. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd != -1);
	assert_int_equal(ftruncate(fd, (off_t)STATE_MAX_SIZE), 0);
	close(fd);
	assert_int_equal(state_read(path, &buf, &len), 0);
	assert_int_equal(len, STATE_MAX_SIZE);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_binary_and_large, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_parents_created, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_relative_path, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failure_keeps_old, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stale_tmp_replaced, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read_errors, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
