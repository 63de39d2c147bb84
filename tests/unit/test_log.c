/*
 * common/log: TCPFWD_LOG parsing, the text and JSON line formats (with
 * escaping and truncation), level filtering, file output and reopen, and
 * errno surviving every call. Output goes to a file in a temp folder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_MODULE LOGM_POOLS
#include "../../common/log.h"

static char tmpdir[64];
static char logpath[128];
static int seq;

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tfwd-log-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/out%d.log", tmpdir, ++seq);
	unsetenv("TCPFWD_LOG");
	log_set_ident("testproc");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];
	char err[128];

	(void)state;
	/* Back to stderr so later tests do not write into a removed dir. */
	unsetenv("TCPFWD_LOG");
	log_init(LOGL_INFO, LOG_FORMAT_TEXT, "stderr", err, sizeof(err));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The whole file, NUL-terminated (caller frees). */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	assert_non_null(f);
	buf = calloc(1, 1 << 16);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
init_file(enum log_level lvl, enum log_format fmt)
{
	char err[256];

	assert_int_equal(log_init(lvl, fmt, logpath, err, sizeof(err)), 0);
}

static void
test_parse_spec(void **state)
{
	unsigned char lv[LOGM_COUNT];
	char err[256];
	int i;

	(void)state;
	assert_int_equal(log_parse_spec("debug", LOGL_INFO, lv, err,
	    sizeof(err)), 0);
	for (i = 0; i < LOGM_COUNT; i++)
		assert_int_equal(lv[i], LOGL_DEBUG);

	assert_int_equal(log_parse_spec("info,probing=debug,pools=trace",
	    LOGL_ERROR, lv, err, sizeof(err)), 0);
	assert_int_equal(lv[LOGM_PROBING], LOGL_DEBUG);
	assert_int_equal(lv[LOGM_POOLS], LOGL_TRACE);
	assert_int_equal(lv[LOGM_MAIN], LOGL_INFO);
	assert_int_equal(lv[LOGM_METRICS], LOGL_INFO);

	/* Module pairs alone keep the given default; a bare level anywhere
	 * sets the default; blanks are allowed around items. */
	assert_int_equal(log_parse_spec("lb=trace", LOGL_WARN, lv, err,
	    sizeof(err)), 0);
	assert_int_equal(lv[LOGM_LB], LOGL_TRACE);
	assert_int_equal(lv[LOGM_IPC], LOGL_WARN);
	assert_int_equal(log_parse_spec(" ipc = error , error ,admin=warn",
	    LOGL_TRACE, lv, err, sizeof(err)), 0);
	assert_int_equal(lv[LOGM_IPC], LOGL_ERROR);
	assert_int_equal(lv[LOGM_ADMIN], LOGL_WARN);
	assert_int_equal(lv[LOGM_SESSION], LOGL_ERROR);
	assert_int_equal(log_parse_spec("", LOGL_DEBUG, lv, err, sizeof(err)),
	    0);
	assert_int_equal(lv[LOGM_CONFIG], LOGL_DEBUG);
}

static void
test_parse_spec_errors(void **state)
{
	static const char *const bad[] = {
		"verbose", "info,nosuch=debug", "pools=loud", "info,,debug",
		"info,", ",info", "=debug", "pools=", "pools", " ",
		"pools=debug=trace", "INFO",
	};
	unsigned char lv[LOGM_COUNT], before[LOGM_COUNT];
	char err[256];
	size_t i;

	(void)state;
	memset(lv, 9, sizeof(lv));
	memcpy(before, lv, sizeof(lv));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (log_parse_spec(bad[i], LOGL_INFO, lv, err,
		    sizeof(err)) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(err[0] != '\0');
		assert_memory_equal(lv, before, sizeof(lv));
	}
	assert_non_null(strstr(err, "INFO"));
}

static void
test_names(void **state)
{
	(void)state;
	assert_int_equal(log_level_from_name("error"), LOGL_ERROR);
	assert_int_equal(log_level_from_name("warn"), LOGL_WARN);
	assert_int_equal(log_level_from_name("info"), LOGL_INFO);
	assert_int_equal(log_level_from_name("debug"), LOGL_DEBUG);
	assert_int_equal(log_level_from_name("trace"), LOGL_TRACE);
	assert_int_equal(log_level_from_name("warning"), -1);
	assert_int_equal(log_level_from_name(NULL), -1);
	assert_string_equal(log_level_name(LOGL_TRACE), "trace");
	assert_string_equal(log_module_name(LOGM_POOLS), "pools");
	assert_string_equal(log_module_name(LOGM_PROBING), "probing");
	assert_string_equal(log_module_name(LOGM_COUNT), "unknown");
}

static void
test_text_format(void **state)
{
	regex_t re;
	char pat[256], *out;

	(void)state;
	init_file(LOGL_INFO, LOG_FORMAT_TEXT);
	log_info("hello %d", 42);
	log_info("two\nlines\tand\x01 ctl");
	out = slurp(logpath);
	snprintf(pat, sizeof(pat), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
	    "[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z testproc\\[%ld\\] INFO pools: "
	    "hello 42\n", (long)getpid());
	assert_int_equal(regcomp(&re, pat, REG_EXTENDED), 0);
	if (regexec(&re, out, 0, NULL, 0) != 0)
		fail_msg("line does not match: %s", out);
	regfree(&re);
	/* A message cannot start a second line. */
	assert_non_null(strstr(out, "pools: two\\nlines\\tand\\x01 ctl\n"));
	free(out);
}

static void
test_json_format(void **state)
{
	json_error_t jerr;
	json_t *j;
	char *out, *nl;
	const char *msg = "q\"b\\s/\n\r\t\x01\x1f\x7f \xc3\xa9 \xff end";

	(void)state;
	init_file(LOGL_INFO, LOG_FORMAT_JSON);
	log_info("%s", msg);
	out = slurp(logpath);
	assert_non_null(strstr(out, "\"level\":\"info\",\"process\":"
	    "\"testproc\",\"pid\":"));
	nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	j = json_loads(out, 0, &jerr);
	if (j == NULL)
		fail_msg("invalid JSON (%s): %s", jerr.text, out);
	assert_string_equal(json_string_value(json_object_get(j, "level")),
	    "info");
	assert_string_equal(json_string_value(json_object_get(j, "module")),
	    "pools");
	assert_string_equal(json_string_value(json_object_get(j,
	    "process")), "testproc");
	assert_int_equal(json_integer_value(json_object_get(j, "pid")),
	    getpid());
	assert_int_equal(strlen(json_string_value(json_object_get(j, "ts"))),
	    24);
	/* Everything survives except the invalid byte, now U+FFFD. */
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
	    "q\"b\\s/\n\r\t\x01\x1f\x7f \xc3\xa9 \xef\xbf\xbd end");
	json_decref(j);
	free(out);
}

static void
test_levels_filter(void **state)
{
	char *out;

	(void)state;
	init_file(LOGL_WARN, LOG_FORMAT_TEXT);
	log_info("hidden info");
	log_debug("hidden debug");
	log_warnx("shown warn");
	log_errorx("shown error");
	log_levels[LOGM_POOLS] = LOGL_TRACE;
	log_trace("shown trace");
	log_emit(LOGM_LB, LOGL_INFO, false, "hidden lb");
	log_emit(LOGM_LB, LOGL_WARN, false, "shown lb");
	out = slurp(logpath);
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, " WARN pools: shown warn\n"));
	assert_non_null(strstr(out, " ERROR pools: shown error\n"));
	assert_non_null(strstr(out, " TRACE pools: shown trace\n"));
	assert_non_null(strstr(out, " WARN lb: shown lb\n"));
	free(out);
}

static void
test_env_override(void **state)
{
	char err[256], *out;

	(void)state;
	setenv("TCPFWD_LOG", "error,pools=debug", 1);
	init_file(LOGL_TRACE, LOG_FORMAT_TEXT);
	assert_int_equal(log_levels[LOGM_MAIN], LOGL_ERROR);
	assert_int_equal(log_levels[LOGM_POOLS], LOGL_DEBUG);
	log_debug("pools debug");
	log_emit(LOGM_MAIN, LOGL_WARN, false, "main warn");
	out = slurp(logpath);
	assert_non_null(strstr(out, "pools debug"));
	assert_null(strstr(out, "main warn"));
	free(out);

	/* A bad TCPFWD_LOG fails log_init and changes nothing. */
	setenv("TCPFWD_LOG", "info,pool=debug", 1);
	assert_int_equal(log_init(LOGL_INFO, LOG_FORMAT_JSON, "stderr", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "TCPFWD_LOG"));
	assert_int_equal(log_levels[LOGM_POOLS], LOGL_DEBUG);
	log_debug("still text to the file");
	out = slurp(logpath);
	assert_non_null(strstr(out, " DEBUG pools: still text to the file\n"));
	free(out);
	unsetenv("TCPFWD_LOG");
}

static void
test_errno(void **state)
{
	char *out;

	(void)state;
	init_file(LOGL_INFO, LOG_FORMAT_TEXT);
	errno = EACCES;
	log_warn("cannot open %s", "x");
	assert_int_equal(errno, EACCES);
	log_error("failed");
	assert_int_equal(errno, EACCES);
	log_info("plain");
	assert_int_equal(errno, EACCES);
	log_debug("filtered");
	assert_int_equal(errno, EACCES);
	log_warnx("no errno");
	assert_int_equal(errno, EACCES);
	out = slurp(logpath);
	assert_non_null(strstr(out, "WARN pools: cannot open x: Permission "
	    "denied\n"));
	assert_non_null(strstr(out, "ERROR pools: failed: Permission "
	    "denied\n"));
	assert_non_null(strstr(out, "WARN pools: no errno\n"));
	free(out);
}

static void
test_truncation(void **state)
{
	json_error_t jerr;
	const char *msg;
	json_t *j;
	char *big, *out, *nl;
	size_t n;
	int k;

	(void)state;
	big = malloc(20000);
	assert_non_null(big);
	memset(big, 'a', 19999);
	big[19999] = '\0';
	init_file(LOGL_INFO, LOG_FORMAT_TEXT);
	log_info("%s", big);
	out = slurp(logpath);
	n = strlen(out);
	assert_true(n <= 4096);
	assert_string_equal(out + n - 4, "...\n");
	free(out);

	/* JSON stays valid when cut where an escape would not fit, with
	 * either parity of the room left. */
	for (k = 0; k < 2; k++) {
		memset(big, '"', 19999);
		if (k == 1)
			big[0] = 'a';
		unlink(logpath);
		init_file(LOGL_INFO, LOG_FORMAT_JSON);
		log_info("%s", big);
		out = slurp(logpath);
		n = strlen(out);
		assert_true(n <= 4096);
		nl = strchr(out, '\n');
		assert_true(nl == out + n - 1);
		j = json_loads(out, 0, &jerr);
		if (j == NULL)
			fail_msg("invalid JSON (%s): %s", jerr.text,
			    out + n - 80);
		msg = json_string_value(json_object_get(j, "msg"));
		assert_string_equal(msg + strlen(msg) - 3, "...");
		json_decref(j);
		free(out);
	}
	free(big);
}

static void
test_output_errors_and_reopen(void **state)
{
	char err[256], moved[160], bad[160], *out;
	struct stat st;
	mode_t old;

	(void)state;
	old = umask(022);
	init_file(LOGL_INFO, LOG_FORMAT_TEXT);
	umask(old);
	assert_int_equal(stat(logpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);

	snprintf(bad, sizeof(bad), "%s/missing/dir/x.log", tmpdir);
	assert_int_equal(log_init(LOGL_DEBUG, LOG_FORMAT_JSON, bad, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "missing/dir/x.log"));
	assert_int_equal(log_init(LOGL_DEBUG, LOG_FORMAT_JSON, "", err,
	    sizeof(err)), -1);
	assert_int_equal(log_init(LOGL_DEBUG, 7, "stderr", err,
	    sizeof(err)), -1);
	/* The previous settings stay: text, info, same file. */
	log_info("after failure");
	log_debug("not debug");

	/* logrotate: move the file away, reopen, keep logging. */
	snprintf(moved, sizeof(moved), "%s.1", logpath);
	assert_int_equal(rename(logpath, moved), 0);
	log_info("to the moved file");
	log_reopen();
	log_info("to the new file");
	out = slurp(moved);
	assert_non_null(strstr(out, "INFO pools: after failure\n"));
	assert_null(strstr(out, "not debug"));
	assert_non_null(strstr(out, "to the moved file"));
	assert_null(strstr(out, "to the new file"));
	free(out);
	out = slurp(logpath);
	assert_non_null(strstr(out, "INFO pools: to the new file\n"));
	free(out);
}

static void
test_fatal_exits(void **state)
{
	pid_t pid;
	int status;
	char *out;

	(void)state;
	init_file(LOGL_INFO, LOG_FORMAT_TEXT);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		log_levels[LOGM_POOLS] = LOGL_ERROR;
		fatalx("giving up: %d", 7);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	out = slurp(logpath);
	assert_non_null(strstr(out, "ERROR pools: giving up: 7\n"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_spec),
		cmocka_unit_test(test_parse_spec_errors),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_text_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_json_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_levels_filter, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_env_override, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_errno, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_output_errors_and_reopen,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fatal_exits, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
