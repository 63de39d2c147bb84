/*
 * The configuration schema of both daemons as conf_key tables (every key,
 * its default and its limits in one place), the checks across keys, and
 * loading from a file or a buffer into a scratch copy that replaces the
 * caller's struct config only when everything is valid.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"
#include "log.h"

#define CONFIG_FILE_MAX (1024 * 1024)	/* bytes of YAML we read at most */

#define OFF(f) offsetof(struct config, f)
#define SZ(f) sizeof(((struct config *)0)->f)

#define SECONDS(n) ((uint64_t)(n) * 1000)	/* durations are in ms */
#define MINUTES(n) (SECONDS(n) * 60)
#define HOURS(n) (MINUTES(n) * 60)
#define KIB(n) ((uint64_t)(n) * 1024)

/* Entry builders: one line of a table per key. */
#define K_SECTION(n, kids)						\
	{ .name = (n), .type = CONF_SECTION, .children = (kids) }
#define K_BOOL(n, f, d)							\
	{ .name = (n), .type = CONF_BOOL, .offset = OFF(f),		\
	  .size = SZ(f), .def = (d) }
#define K_UINT(n, f, d, lo, hi)						\
	{ .name = (n), .type = CONF_UINT, .offset = OFF(f),		\
	  .size = SZ(f), .def = (d), .umin = (lo), .umax = (hi) }
#define K_UINT_AUTO(n, f, d, lo, hi)					\
	{ .name = (n), .type = CONF_UINT_AUTO, .offset = OFF(f),	\
	  .size = SZ(f), .def = (d), .umin = (lo), .umax = (hi) }
#define K_DOUBLE(n, f, d, lo, hi, fl)					\
	{ .name = (n), .type = CONF_DOUBLE, .offset = OFF(f),		\
	  .size = SZ(f), .def = (d), .dmin = (lo), .dmax = (hi),	\
	  .flags = (fl) }
#define K_DURATION(n, f, d, lo, hi)					\
	{ .name = (n), .type = CONF_DURATION, .offset = OFF(f),		\
	  .size = SZ(f), .def = (d), .umin = (lo), .umax = (hi) }
#define K_SIZE(n, f, d, lo, hi)						\
	{ .name = (n), .type = CONF_SIZE, .offset = OFF(f),		\
	  .size = SZ(f), .def = (d), .umin = (lo), .umax = (hi) }
#define K_STRING(n, f, d, fl)						\
	{ .name = (n), .type = CONF_STRING, .offset = OFF(f),		\
	  .size = SZ(f), .def = (d), .flags = (fl) }
#define K_PATH(n, f, d, fl)						\
	{ .name = (n), .type = CONF_PATH, .offset = OFF(f),		\
	  .size = SZ(f), .def = (d), .flags = (fl) }
#define K_ADDR(n, f, d)							\
	{ .name = (n), .type = CONF_ADDR, .offset = OFF(f),		\
	  .size = SZ(f), .def = (d) }
#define K_ENUM(n, f, d, e)						\
	{ .name = (n), .type = CONF_ENUM, .offset = OFF(f),		\
	  .size = SZ(f), .def = (d), .names = (e) }
#define K_END { .name = NULL }

static const struct conf_enum level_names[] = {
	{ "trace", LOGL_TRACE },
	{ "debug", LOGL_DEBUG },
	{ "info", LOGL_INFO },
	{ "warn", LOGL_WARN },
	{ "error", LOGL_ERROR },
	{ NULL, 0 },
};

static const struct conf_enum format_names[] = {
	{ "text", LOG_FORMAT_TEXT },
	{ "json", LOG_FORMAT_JSON },
	{ NULL, 0 },
};

static const struct conf_enum provider_names[] = {
	{ "file", PROVIDER_FILE },
	{ NULL, 0 },
};

static const struct conf_enum algorithm_names[] = {
	{ "least_connections", LB_LEAST_CONNECTIONS },
	{ "round_robin", LB_ROUND_ROBIN },
	{ "random", LB_RANDOM },
	{ NULL, 0 },
};

static const struct conf_enum strategy_names[] = {
	{ "static", POOL_STRATEGY_STATIC },
	{ "dynamic", POOL_STRATEGY_DYNAMIC },
	{ "none", POOL_STRATEGY_NONE },
	{ NULL, 0 },
};

static const struct conf_key server_keys[] = {
	K_ADDR("listen_addr", server.listen_addr, "127.0.0.1:1234"),
	K_UINT("backlog", server.backlog, "4096", 1, 1000000),
	K_DURATION("keepalive", server.keepalive_ms, "60s", 0, HOURS(2)),
	K_END
};

static const struct conf_key logging_keys[] = {
	K_ENUM("level", logging.level, "debug", level_names),
	K_ENUM("format", logging.format, "text", format_names),
	K_PATH("output", logging.output, "stdout",
	    CONF_F_NONEMPTY | CONF_F_STDIO),
	K_END
};

static const struct conf_key metrics_keys[] = {
	K_BOOL("enabled", metrics.enabled, "true"),
	K_ADDR("listen_addr", metrics.listen_addr, "127.0.0.1:9099"),
	K_STRING("path", metrics.path, "/metrics", CONF_F_NONEMPTY),
	K_UINT("max_backend_series", metrics.max_backend_series, "200", 0,
	    100000),
	K_END
};

static const struct conf_key provider_file_keys[] = {
	K_PATH("path", remotes.provider.file.path, "./ip_list.txt",
	    CONF_F_NONEMPTY),
	K_BOOL("watch", remotes.provider.file.watch, "false"),
	K_END
};

static const struct conf_key provider_keys[] = {
	K_ENUM("type", remotes.provider.type, "file", provider_names),
	K_SECTION("file", provider_file_keys),
	K_UINT("max_tracked", remotes.provider.max_tracked, "4096", 1,
	    10000000),
	K_END
};

static const struct conf_key initial_keys[] = {
	K_BOOL("enabled", remotes.probing.initial.enabled, "true"),
	K_UINT("max_concurrency", remotes.probing.initial.max_concurrency,
	    "100", 1, 100000),
	K_DURATION("timeout", remotes.probing.initial.timeout_ms, "500ms", 1,
	    MINUTES(1)),
	K_END
};

static const struct conf_key probing_keys[] = {
	K_DURATION("interval", remotes.probing.interval_ms, "15s", 100,
	    HOURS(24)),
	K_DURATION("timeout", remotes.probing.timeout_ms, "1s", 1, MINUTES(1)),
	K_UINT("probe_candidate_count", remotes.probing.probe_candidate_count,
	    "10", 1, 100000),
	K_SECTION("initial", initial_keys),
	K_END
};

static const struct conf_key weights_keys[] = {
	K_DOUBLE("latency", remotes.scoring.weights.latency, "0.45", 0, 1, 0),
	K_DOUBLE("jitter", remotes.scoring.weights.jitter, "0.15", 0, 1, 0),
	K_DOUBLE("success_rate", remotes.scoring.weights.success_rate, "0.40",
	    0, 1, 0),
	K_END
};

static const struct conf_key latency_keys[] = {
	K_DOUBLE("max_score", remotes.scoring.latency.max_score, "45.0", 0,
	    10000, 0),
	K_DOUBLE("ewma_alpha", remotes.scoring.latency.ewma_alpha, "0.2", 0, 1,
	    CONF_F_MIN_EXCL),
	K_DURATION("base_latency", remotes.scoring.latency.base_latency_ms,
	    "50ms", 0, MINUTES(1)),
	K_DURATION("max_acceptable_latency",
	    remotes.scoring.latency.max_acceptable_latency_ms, "800ms", 1,
	    MINUTES(1)),
	K_END
};

static const struct conf_key jitter_keys[] = {
	K_DOUBLE("max_score", remotes.scoring.jitter.max_score, "15.0", 0,
	    10000, 0),
	K_DOUBLE("ewma_alpha", remotes.scoring.jitter.ewma_alpha, "0.3", 0, 1,
	    CONF_F_MIN_EXCL),
	K_DURATION("base_jitter", remotes.scoring.jitter.base_jitter_ms,
	    "10ms", 0, MINUTES(1)),
	K_DURATION("max_acceptable_jitter",
	    remotes.scoring.jitter.max_acceptable_jitter_ms, "300ms", 1,
	    MINUTES(1)),
	K_END
};

static const struct conf_key success_rate_keys[] = {
	K_DOUBLE("max_score", remotes.scoring.success_rate.max_score, "40.0",
	    0, 10000, 0),
	K_DOUBLE("ewma_alpha", remotes.scoring.success_rate.ewma_alpha, "0.1",
	    0, 1, CONF_F_MIN_EXCL),
	K_END
};

static const struct conf_key penalty_keys[] = {
	K_DOUBLE("base_penalty", remotes.scoring.failure_penalty.base_penalty,
	    "5.0", 0, 10000, 0),
	K_DOUBLE("exponent_factor",
	    remotes.scoring.failure_penalty.exponent_factor, "1.8", 1, 100, 0),
	K_DOUBLE("max_penalty", remotes.scoring.failure_penalty.max_penalty,
	    "80.0", 0, 10000, 0),
	K_DOUBLE("recovery_per_check",
	    remotes.scoring.failure_penalty.recovery_per_check, "2.5", 0,
	    10000, 0),
	K_END
};

static const struct conf_key bonus_keys[] = {
	K_DOUBLE("max_bonus", remotes.scoring.historical_bonus.max_bonus,
	    "10.0", 0, 10000, 0),
	K_UINT("checks_per_point",
	    remotes.scoring.historical_bonus.checks_per_point, "120", 1,
	    1000000),
	K_END
};

static const struct conf_key scoring_keys[] = {
	K_SECTION("weights", weights_keys),
	K_SECTION("latency", latency_keys),
	K_SECTION("jitter", jitter_keys),
	K_SECTION("success_rate", success_rate_keys),
	K_SECTION("failure_penalty", penalty_keys),
	K_SECTION("historical_bonus", bonus_keys),
	K_END
};

static const struct conf_key switching_keys[] = {
	K_DURATION("debounce_interval",
	    remotes.selector.switching.debounce_interval_ms, "1m", 0,
	    HOURS(24)),
	K_DOUBLE("score_improvement_threshold",
	    remotes.selector.switching.score_improvement_threshold, "5.0", 0,
	    10000, 0),
	K_END
};

static const struct conf_key selector_keys[] = {
	K_DURATION("evaluation_interval",
	    remotes.selector.evaluation_interval_ms, "30s", 100, HOURS(24)),
	K_UINT("active_set_size", remotes.selector.active_set_size, "3", 1,
	    256),
	K_DOUBLE("min_score_threshold", remotes.selector.min_score_threshold,
	    "15.0", 0, 10000, 0),
	K_SECTION("switching", switching_keys),
	K_END
};

static const struct conf_key remotes_keys[] = {
	K_UINT("default_remote_port", remotes.default_remote_port, "80", 1,
	    65535),
	K_SECTION("provider", provider_keys),
	K_SECTION("probing", probing_keys),
	K_SECTION("scoring", scoring_keys),
	K_SECTION("selector", selector_keys),
	K_END
};

static const struct conf_key pools_common_keys[] = {
	K_DURATION("dial_timeout", pools.common.dial_timeout_ms, "1s", 1,
	    MINUTES(1)),
	K_DURATION("idle_timeout", pools.common.idle_timeout_ms, "10m",
	    SECONDS(1), HOURS(168)),
	K_DURATION("drain_timeout", pools.common.drain_timeout_ms, "30s", 0,
	    HOURS(1)),
	K_END
};

static const struct conf_key static_keys[] = {
	K_UINT("size_per_remote", pools.strategy.static_.size_per_remote, "50",
	    0, 100000),
	K_END
};

static const struct conf_key scaling_keys[] = {
	K_DURATION("interval", pools.strategy.dynamic.scaling.interval_ms,
	    "1s", 10, HOURS(1)),
	K_DOUBLE("target_buffer_ratio",
	    pools.strategy.dynamic.scaling.target_buffer_ratio, "0.2", 0, 10,
	    0),
	K_UINT("scale_up_increment",
	    pools.strategy.dynamic.scaling.scale_up_increment, "10", 1,
	    100000),
	K_UINT("scale_down_increment",
	    pools.strategy.dynamic.scaling.scale_down_increment, "5", 1,
	    100000),
	K_END
};

static const struct conf_key dynamic_keys[] = {
	K_UINT("min_size", pools.strategy.dynamic.min_size, "20", 0, 100000),
	K_UINT("max_size", pools.strategy.dynamic.max_size, "500", 1, 100000),
	K_SECTION("scaling", scaling_keys),
	K_END
};

static const struct conf_key strategy_keys[] = {
	K_ENUM("type", pools.strategy.type, "dynamic", strategy_names),
	K_SECTION("static", static_keys),
	K_SECTION("dynamic", dynamic_keys),
	K_END
};

static const struct conf_key pools_keys[] = {
	K_ENUM("algorithm", pools.algorithm, "least_connections",
	    algorithm_names),
	K_SECTION("common", pools_common_keys),
	K_SECTION("strategy", strategy_keys),
	K_END
};

static const struct conf_key ipc_keys[] = {
	K_STRING("url", ipc.url, "ipc:///run/tcp-forwarder/control.ipc",
	    CONF_F_NONEMPTY),
	K_END
};

static const struct conf_key dataplane_keys[] = {
	K_UINT_AUTO("workers", dataplane.workers, "1", 1, 1024),
	K_UINT("max_connections", dataplane.max_connections, "100000", 1,
	    10000000),
	K_PATH("state_file", dataplane.state_file, "./state/dataplane.json",
	    CONF_F_NONEMPTY),
	K_SIZE("pipe_size", dataplane.pipe_size, "256KiB", KIB(4), KIB(1024)),
	K_END
};

static const struct conf_key controlplane_keys[] = {
	K_PATH("state_file", controlplane.state_file, "./state/scores.json",
	    CONF_F_NONEMPTY),
	K_END
};

static const struct conf_key admin_keys[] = {
	K_ADDR("listen_addr", admin.listen_addr, "127.0.0.1:9099"),
	K_PATH("token_file", admin.token_file, "", 0),
	K_END
};

static const struct conf_key per_source_keys[] = {
	K_UINT("max_connections", limits.per_source_max_connections, "0", 0,
	    10000000),
	K_UINT("rate", limits.per_source_rate, "0", 0, 10000000),
	K_UINT("burst", limits.per_source_burst, "0", 0, 10000000),
	K_UINT("tracked", limits.per_source_tracked, "65536", 64, 16777216),
	K_END
};

static const struct conf_key per_backend_keys[] = {
	K_UINT("max_connections", limits.per_backend_max_connections, "0", 0,
	    10000000),
	K_END
};

static const struct conf_key limits_keys[] = {
	K_SECTION("per_source_ip", per_source_keys),
	K_SECTION("per_backend", per_backend_keys),
	K_END
};

static const struct conf_key config_keys[] = {
	K_SECTION("server", server_keys),
	K_SECTION("logging", logging_keys),
	K_SECTION("metrics", metrics_keys),
	K_SECTION("remotes", remotes_keys),
	K_SECTION("pools", pools_keys),
	K_SECTION("ipc", ipc_keys),
	K_SECTION("dataplane", dataplane_keys),
	K_SECTION("controlplane", controlplane_keys),
	K_SECTION("admin", admin_keys),
	K_SECTION("limits", limits_keys),
	K_END
};

/* A scratch config and the walk's context: too big for a thread stack. */
struct config_load {
	struct config cfg;
	struct conf_ctx ctx;
};

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* A default that does not parse is a bug in the tables above. */
	if (conf_defaults(config_keys, cfg) == -1)
		abort();
}

static void
collect(void *arg, const char *msg)
{
	struct config_errors *errs = arg;
	size_t slots = sizeof(errs->msg) / sizeof(errs->msg[0]);

	if (errs == NULL)
		return;
	if (errs->count < slots)
		snprintf(errs->msg[errs->count], sizeof(errs->msg[0]), "%s",
		    msg);
	if (errs->count < UINT_MAX)
		errs->count++;
}

/*
 * lo must stay below hi (base_latency < max_acceptable_latency). Reported
 * at whichever of the two the file set, lo first.
 */
static void
check_below(struct conf_ctx *ctx, const char *section, const char *lo_key,
    uint64_t lo, const char *hi_key, uint64_t hi)
{
	char lo_path[CONF_KEYPATH_MAX], hi_path[CONF_KEYPATH_MAX];
	char a[32], b[32];
	const struct conf_mark *m;

	if (lo < hi)
		return;
	snprintf(lo_path, sizeof(lo_path), "%s.%s", section, lo_key);
	snprintf(hi_path, sizeof(hi_path), "%s.%s", section, hi_key);
	conf_format_duration(lo, a, sizeof(a));
	conf_format_duration(hi, b, sizeof(b));
	if ((m = conf_mark_find(ctx, lo_path)) != NULL ||
	    conf_mark_find(ctx, hi_path) == NULL)
		conf_error_at(ctx, m, lo_path, "%s is not below %s "
		    "(expected less than %s)", a, hi_key, b);
	else
		conf_error_at(ctx, conf_mark_find(ctx, hi_path), hi_path,
		    "%s is not above %s (expected more than %s)", b, lo_key,
		    a);
}

static void
check_pool_sizes(struct conf_ctx *ctx, const struct config *c)
{
	static const char min_path[] = "pools.strategy.dynamic.min_size";
	static const char max_path[] = "pools.strategy.dynamic.max_size";
	uint32_t lo = c->pools.strategy.dynamic.min_size;
	uint32_t hi = c->pools.strategy.dynamic.max_size;
	const struct conf_mark *m;

	if (lo <= hi)
		return;
	if ((m = conf_mark_find(ctx, min_path)) != NULL ||
	    conf_mark_find(ctx, max_path) == NULL)
		conf_error_at(ctx, m, min_path, "%u is above max_size "
		    "(expected at most %u)", (unsigned)lo, (unsigned)hi);
	else
		conf_error_at(ctx, conf_mark_find(ctx, max_path), max_path,
		    "%u is below min_size (expected at least %u)",
		    (unsigned)hi, (unsigned)lo);
}

static void
check_admin_token(struct conf_ctx *ctx, const struct config *c)
{
	const struct conf_mark *m;

	if (addr_is_loopback(&c->admin.listen_addr) ||
	    c->admin.token_file[0] != '\0')
		return;
	if ((m = conf_mark_find(ctx, "admin.token_file")) == NULL)
		m = conf_mark_find(ctx, "admin.listen_addr");
	conf_error_at(ctx, m, "admin.token_file", "required when "
	    "admin.listen_addr is not loopback (expected the path of a file "
	    "holding the bearer token)");
}

/* The checks one key's own limits cannot express. */
static void
check_across(struct conf_ctx *ctx, const struct config *c)
{
	const struct scoring_conf *s = &c->remotes.scoring;
	const char *url = c->ipc.url;

	check_below(ctx, "remotes.scoring.latency", "base_latency",
	    s->latency.base_latency_ms, "max_acceptable_latency",
	    s->latency.max_acceptable_latency_ms);
	check_below(ctx, "remotes.scoring.jitter", "base_jitter",
	    s->jitter.base_jitter_ms, "max_acceptable_jitter",
	    s->jitter.max_acceptable_jitter_ms);
	check_pool_sizes(ctx, c);
	check_admin_token(ctx, c);
	if (c->metrics.path[0] != '/')
		conf_error_at(ctx, conf_mark_find(ctx, "metrics.path"),
		    "metrics.path", "\"%.64s\" does not start with \"/\" "
		    "(expected e.g. /metrics)", c->metrics.path);
	if ((strncmp(url, "ipc://", 6) != 0 || url[6] == '\0') &&
	    (strncmp(url, "tcp://", 6) != 0 || url[6] == '\0'))
		conf_error_at(ctx, conf_mark_find(ctx, "ipc.url"), "ipc.url",
		    "\"%.64s\" is not an nng URL (expected ipc:///path or "
		    "tcp://host:port)", url);
}

/* Parses text into a scratch copy; cfg changes only when all is well. */
static int
load_text(const char *text, size_t len, const char *name, const char *dir,
    const char *path, struct config *cfg, struct config_errors *errs)
{
	struct config_load *l;
	int rc = -1;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		collect(errs, "out of memory loading the configuration");
		return -1;
	}
	config_defaults(&l->cfg);
	conf_ctx_init(&l->ctx, name, dir, collect, errs);
	conf_parse(&l->ctx, config_keys, &l->cfg, text, len);
	if (!l->ctx.aborted)
		check_across(&l->ctx, &l->cfg);
	conf_resolve_paths(&l->ctx, config_keys, &l->cfg);
	if (strlen(path) >= sizeof(l->cfg.path))
		conf_error_at(&l->ctx, NULL, "", "file path too long "
		    "(expected at most %zu bytes)", sizeof(l->cfg.path) - 1);
	else
		memcpy(l->cfg.path, path, strlen(path) + 1);
	if (l->ctx.nerrors == 0) {
		*cfg = l->cfg;
		rc = 0;
	}
	free(l);
	return rc;
}

int
config_load_buffer(const char *text, size_t len, const char *name,
    const char *dir, struct config *cfg, struct config_errors *errs)
{
	if (errs != NULL)
		errs->count = 0;
	if (name == NULL)
		name = "<buffer>";
	if (text == NULL)
		len = 0;
	return load_text(text != NULL ? text : "", len, name, dir, name, cfg,
	    errs);
}

static void
file_error(struct config_errors *errs, const char *path, const char *what,
    int err)
{
	char msg[CONF_MSG_MAX];

	snprintf(msg, sizeof(msg), "%.160s: %s: %s", path, what,
	    strerror(err));
	collect(errs, msg);
}

/* Reads a whole regular file of at most CONFIG_FILE_MAX bytes. */
static int
read_file(const char *path, char **textp, size_t *lenp,
    struct config_errors *errs)
{
	struct stat st;
	char *text;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		file_error(errs, path, "cannot open", errno);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		file_error(errs, path, "cannot stat", errno);
		goto fail_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		file_error(errs, path, S_ISREG(st.st_mode) ? "too large "
		    "(at most 1 MiB)" : "not a regular file", EINVAL);
		goto fail_close;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		file_error(errs, path, "cannot read", ENOMEM);
		goto fail_close;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, text + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			file_error(errs, path, "cannot read", errno);
			goto fail_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	close(fd);
	*textp = text;
	*lenp = len;
	return 0;

fail_free:
	free(text);
fail_close:
	close(fd);
	return -1;
}

int
config_load(const char *path, struct config *cfg,
    struct config_errors *errs)
{
	char folder[PATH_MAX], dir[PATH_MAX], abs[PATH_MAX];
	const char *slash, *base;
	char *text;
	size_t len;
	int n, rc;

	if (errs != NULL)
		errs->count = 0;
	if ((slash = strrchr(path, '/')) == NULL) {
		snprintf(folder, sizeof(folder), ".");
		base = path;
	} else {
		snprintf(folder, sizeof(folder), "%.*s",
		    slash == path ? 1 : (int)(slash - path), path);
		base = slash + 1;
	}
	if (read_file(path, &text, &len, errs) == -1)
		return -1;
	if (realpath(folder, dir) == NULL) {
		file_error(errs, path, "cannot resolve its folder", errno);
		free(text);
		return -1;
	}
	n = snprintf(abs, sizeof(abs), "%s%s%s", dir,
	    strcmp(dir, "/") == 0 ? "" : "/", base);
	if (n < 0 || (size_t)n >= sizeof(abs)) {
		file_error(errs, path, "cannot use it", ENAMETOOLONG);
		free(text);
		return -1;
	}
	rc = load_text(text, len, path, dir, abs, cfg, errs);
	free(text);
	return rc;
}

void
config_errors_print(const struct config_errors *errs)
{
	size_t slots = sizeof(errs->msg) / sizeof(errs->msg[0]);
	unsigned i;

	for (i = 0; i < errs->count && i < slots; i++)
		fprintf(stderr, "%s\n", errs->msg[i]);
	if (errs->count > slots)
		fprintf(stderr, "... and %u more errors\n",
		    errs->count - (unsigned)slots);
}
