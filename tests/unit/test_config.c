/*
 * Unit tests of the config loader (common/config.c over common/conf.c):
 * every key lands in its field, defaults equal the seed's, every error
 * message exactly with its line and column, checks across keys, relative
 * paths, loading from files, and cfg untouched on failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/config.h"
#include "../../common/log.h"

#define DIR "/etc/tcpfwd"

/* Big structs: static, never on cmocka's stack. */
static struct config cfg, want;
static struct config_errors errs;

static const char *
addr_str(const struct addr *a)
{
	static char buf[4][ADDR_STRLEN];
	static unsigned n;

	return addr_format(a, buf[n++ % 4], ADDR_STRLEN);
}

static int
load(const char *yaml)
{
	return config_load_buffer(yaml, strlen(yaml), "t.yaml", DIR, &cfg,
	    &errs);
}

static void
print_errors(void)
{
	unsigned i;

	for (i = 0; i < errs.count && i < 32; i++)
		print_message("  error: %s\n", errs.msg[i]);
}

static void
load_ok(const char *yaml)
{
	if (load(yaml) != 0) {
		print_errors();
		fail_msg("config rejected:\n%s", yaml);
	}
	assert_int_equal(errs.count, 0);
}

/*
 * Loads yaml, which must fail with exactly the messages given (a NULL
 * ends the list), in order, and leave cfg as it was.
 */
static void
load_fails(const char *yaml, ...)
{
	static struct config before;
	const char *m;
	unsigned n = 0;
	va_list ap;

	config_defaults(&cfg);
	before = cfg;
	if (load(yaml) != -1)
		fail_msg("config accepted:\n%s", yaml);
	va_start(ap, yaml);
	while ((m = va_arg(ap, const char *)) != NULL) {
		if (n >= errs.count) {
			print_errors();
			fail_msg("missing error #%u: %s", n + 1, m);
		}
		if (strcmp(errs.msg[n], m) != 0) {
			print_errors();
			fail_msg("error #%u:\n got  %s\n want %s", n + 1,
			    errs.msg[n], m);
		}
		n++;
	}
	va_end(ap);
	if (errs.count != n) {
		print_errors();
		fail_msg("%u errors, want %u", errs.count, n);
	}
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

#define assert_dbl(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

/* Field by field, so padding never matters. */
static void
assert_config_equal(const struct config *a, const struct config *b)
{
	const struct remotes_conf *ra = &a->remotes, *rb = &b->remotes;
	const struct scoring_conf *sa = &ra->scoring, *sb = &rb->scoring;
	const struct pools_conf *pa = &a->pools, *pb = &b->pools;

	assert_string_equal(a->path, b->path);
	assert_true(addr_equal(&a->server.listen_addr,
	    &b->server.listen_addr));
	assert_int_equal(a->server.backlog, b->server.backlog);
	assert_true(a->server.keepalive_ms == b->server.keepalive_ms);
	assert_int_equal(a->logging.level, b->logging.level);
	assert_int_equal(a->logging.format, b->logging.format);
	assert_string_equal(a->logging.output, b->logging.output);
	assert_int_equal(a->metrics.enabled, b->metrics.enabled);
	assert_true(addr_equal(&a->metrics.listen_addr,
	    &b->metrics.listen_addr));
	assert_string_equal(a->metrics.path, b->metrics.path);
	assert_int_equal(a->metrics.max_backend_series,
	    b->metrics.max_backend_series);

	assert_int_equal(ra->default_remote_port, rb->default_remote_port);
	assert_int_equal(ra->provider.type, rb->provider.type);
	assert_string_equal(ra->provider.file.path, rb->provider.file.path);
	assert_int_equal(ra->provider.file.watch, rb->provider.file.watch);
	assert_int_equal(ra->provider.max_tracked, rb->provider.max_tracked);
	assert_true(ra->probing.interval_ms == rb->probing.interval_ms);
	assert_true(ra->probing.timeout_ms == rb->probing.timeout_ms);
	assert_int_equal(ra->probing.probe_candidate_count,
	    rb->probing.probe_candidate_count);
	assert_int_equal(ra->probing.initial.enabled,
	    rb->probing.initial.enabled);
	assert_int_equal(ra->probing.initial.max_concurrency,
	    rb->probing.initial.max_concurrency);
	assert_true(ra->probing.initial.timeout_ms ==
	    rb->probing.initial.timeout_ms);

	assert_dbl(sa->weights.latency, sb->weights.latency);
	assert_dbl(sa->weights.jitter, sb->weights.jitter);
	assert_dbl(sa->weights.success_rate, sb->weights.success_rate);
	assert_dbl(sa->latency.max_score, sb->latency.max_score);
	assert_dbl(sa->latency.ewma_alpha, sb->latency.ewma_alpha);
	assert_true(sa->latency.base_latency_ms == sb->latency.base_latency_ms);
	assert_true(sa->latency.max_acceptable_latency_ms ==
	    sb->latency.max_acceptable_latency_ms);
	assert_dbl(sa->jitter.max_score, sb->jitter.max_score);
	assert_dbl(sa->jitter.ewma_alpha, sb->jitter.ewma_alpha);
	assert_true(sa->jitter.base_jitter_ms == sb->jitter.base_jitter_ms);
	assert_true(sa->jitter.max_acceptable_jitter_ms ==
	    sb->jitter.max_acceptable_jitter_ms);
	assert_dbl(sa->success_rate.max_score, sb->success_rate.max_score);
	assert_dbl(sa->success_rate.ewma_alpha, sb->success_rate.ewma_alpha);
	assert_dbl(sa->failure_penalty.base_penalty,
	    sb->failure_penalty.base_penalty);
	assert_dbl(sa->failure_penalty.exponent_factor,
	    sb->failure_penalty.exponent_factor);
	assert_dbl(sa->failure_penalty.max_penalty,
	    sb->failure_penalty.max_penalty);
	assert_dbl(sa->failure_penalty.recovery_per_check,
	    sb->failure_penalty.recovery_per_check);
	assert_dbl(sa->historical_bonus.max_bonus,
	    sb->historical_bonus.max_bonus);
	assert_int_equal(sa->historical_bonus.checks_per_point,
	    sb->historical_bonus.checks_per_point);

	assert_true(ra->selector.evaluation_interval_ms ==
	    rb->selector.evaluation_interval_ms);
	assert_int_equal(ra->selector.active_set_size,
	    rb->selector.active_set_size);
	assert_dbl(ra->selector.min_score_threshold,
	    rb->selector.min_score_threshold);
	assert_true(ra->selector.switching.debounce_interval_ms ==
	    rb->selector.switching.debounce_interval_ms);
	assert_dbl(ra->selector.switching.score_improvement_threshold,
	    rb->selector.switching.score_improvement_threshold);

	assert_int_equal(pa->algorithm, pb->algorithm);
	assert_true(pa->common.dial_timeout_ms == pb->common.dial_timeout_ms);
	assert_true(pa->common.idle_timeout_ms == pb->common.idle_timeout_ms);
	assert_true(pa->common.drain_timeout_ms ==
	    pb->common.drain_timeout_ms);
	assert_int_equal(pa->strategy.type, pb->strategy.type);
	assert_int_equal(pa->strategy.static_.size_per_remote,
	    pb->strategy.static_.size_per_remote);
	assert_int_equal(pa->strategy.dynamic.min_size,
	    pb->strategy.dynamic.min_size);
	assert_int_equal(pa->strategy.dynamic.max_size,
	    pb->strategy.dynamic.max_size);
	assert_true(pa->strategy.dynamic.scaling.interval_ms ==
	    pb->strategy.dynamic.scaling.interval_ms);
	assert_dbl(pa->strategy.dynamic.scaling.target_buffer_ratio,
	    pb->strategy.dynamic.scaling.target_buffer_ratio);
	assert_int_equal(pa->strategy.dynamic.scaling.scale_up_increment,
	    pb->strategy.dynamic.scaling.scale_up_increment);
	assert_int_equal(pa->strategy.dynamic.scaling.scale_down_increment,
	    pb->strategy.dynamic.scaling.scale_down_increment);

	assert_string_equal(a->ipc.url, b->ipc.url);
	assert_int_equal(a->dataplane.workers, b->dataplane.workers);
	assert_int_equal(a->dataplane.max_connections,
	    b->dataplane.max_connections);
	assert_string_equal(a->dataplane.state_file, b->dataplane.state_file);
	assert_true(a->dataplane.pipe_size == b->dataplane.pipe_size);
	assert_string_equal(a->controlplane.state_file,
	    b->controlplane.state_file);
	assert_true(addr_equal(&a->admin.listen_addr, &b->admin.listen_addr));
	assert_string_equal(a->admin.token_file, b->admin.token_file);
	assert_int_equal(a->limits.per_source_max_connections,
	    b->limits.per_source_max_connections);
	assert_int_equal(a->limits.per_source_rate, b->limits.per_source_rate);
	assert_int_equal(a->limits.per_source_burst,
	    b->limits.per_source_burst);
	assert_int_equal(a->limits.per_source_tracked,
	    b->limits.per_source_tracked);
	assert_int_equal(a->limits.per_backend_max_connections,
	    b->limits.per_backend_max_connections);
}

/* The defaults as a load with folder DIR sees them. */
static void
defaults_in_dir(struct config *c)
{
	config_defaults(c);
	snprintf(c->path, sizeof(c->path), "t.yaml");
	snprintf(c->remotes.provider.file.path,
	    sizeof(c->remotes.provider.file.path), DIR "/ip_list.txt");
	snprintf(c->dataplane.state_file, sizeof(c->dataplane.state_file),
	    DIR "/state/dataplane.json");
	snprintf(c->controlplane.state_file,
	    sizeof(c->controlplane.state_file), DIR "/state/scores.json");
}

/* ---- defaults ---------------------------------------------------------- */

static void
test_defaults_equal_seed(void **state)
{
	struct config *c = &cfg;

	(void)state;
	config_defaults(c);
	assert_string_equal(c->path, "");
	assert_string_equal(addr_str(&c->server.listen_addr),
	    "127.0.0.1:1234");
	assert_int_equal(c->server.backlog, 4096);
	assert_true(c->server.keepalive_ms == 60000);

	assert_int_equal(c->logging.level, LOGL_DEBUG);
	assert_int_equal(c->logging.format, LOG_FORMAT_TEXT);
	assert_string_equal(c->logging.output, "stdout");

	assert_true(c->metrics.enabled);
	assert_string_equal(addr_str(&c->metrics.listen_addr),
	    "127.0.0.1:9099");
	assert_string_equal(c->metrics.path, "/metrics");
	assert_int_equal(c->metrics.max_backend_series, 200);

	assert_int_equal(c->remotes.default_remote_port, 80);
	assert_int_equal(c->remotes.provider.type, PROVIDER_FILE);
	assert_string_equal(c->remotes.provider.file.path, "./ip_list.txt");
	assert_false(c->remotes.provider.file.watch);
	assert_int_equal(c->remotes.provider.max_tracked, 4096);

	assert_true(c->remotes.probing.interval_ms == 15000);
	assert_true(c->remotes.probing.timeout_ms == 1000);
	assert_int_equal(c->remotes.probing.probe_candidate_count, 10);
	assert_true(c->remotes.probing.initial.enabled);
	assert_int_equal(c->remotes.probing.initial.max_concurrency, 100);
	assert_true(c->remotes.probing.initial.timeout_ms == 500);

	assert_dbl(c->remotes.scoring.weights.latency, 0.45);
	assert_dbl(c->remotes.scoring.weights.jitter, 0.15);
	assert_dbl(c->remotes.scoring.weights.success_rate, 0.40);
	assert_dbl(c->remotes.scoring.latency.max_score, 45.0);
	assert_dbl(c->remotes.scoring.latency.ewma_alpha, 0.2);
	assert_true(c->remotes.scoring.latency.base_latency_ms == 50);
	assert_true(c->remotes.scoring.latency.max_acceptable_latency_ms ==
	    800);
	assert_dbl(c->remotes.scoring.jitter.max_score, 15.0);
	assert_dbl(c->remotes.scoring.jitter.ewma_alpha, 0.3);
	assert_true(c->remotes.scoring.jitter.base_jitter_ms == 10);
	assert_true(c->remotes.scoring.jitter.max_acceptable_jitter_ms ==
	    300);
	assert_dbl(c->remotes.scoring.success_rate.max_score, 40.0);
	assert_dbl(c->remotes.scoring.success_rate.ewma_alpha, 0.1);
	assert_dbl(c->remotes.scoring.failure_penalty.base_penalty, 5.0);
	assert_dbl(c->remotes.scoring.failure_penalty.exponent_factor, 1.8);
	assert_dbl(c->remotes.scoring.failure_penalty.max_penalty, 80.0);
	assert_dbl(c->remotes.scoring.failure_penalty.recovery_per_check,
	    2.5);
	assert_dbl(c->remotes.scoring.historical_bonus.max_bonus, 10.0);
	assert_int_equal(c->remotes.scoring.historical_bonus.checks_per_point,
	    120);

	assert_true(c->remotes.selector.evaluation_interval_ms == 30000);
	assert_int_equal(c->remotes.selector.active_set_size, 3);
	assert_dbl(c->remotes.selector.min_score_threshold, 15.0);
	assert_true(c->remotes.selector.switching.debounce_interval_ms ==
	    60000);
	assert_dbl(c->remotes.selector.switching.score_improvement_threshold,
	    5.0);

	assert_int_equal(c->pools.algorithm, LB_LEAST_CONNECTIONS);
	assert_true(c->pools.common.dial_timeout_ms == 1000);
	assert_true(c->pools.common.idle_timeout_ms == 600000);
	assert_true(c->pools.common.drain_timeout_ms == 30000);
	assert_int_equal(c->pools.strategy.type, POOL_STRATEGY_DYNAMIC);
	assert_int_equal(c->pools.strategy.static_.size_per_remote, 50);
	assert_int_equal(c->pools.strategy.dynamic.min_size, 20);
	assert_int_equal(c->pools.strategy.dynamic.max_size, 500);
	assert_true(c->pools.strategy.dynamic.scaling.interval_ms == 1000);
	assert_dbl(c->pools.strategy.dynamic.scaling.target_buffer_ratio, 0.2);
	assert_int_equal(c->pools.strategy.dynamic.scaling.scale_up_increment,
	    10);
	assert_int_equal(
	    c->pools.strategy.dynamic.scaling.scale_down_increment, 5);

	assert_string_equal(c->ipc.url, "ipc:///run/tcp-forwarder/control.ipc");
	assert_int_equal(c->dataplane.workers, 1);
	assert_int_equal(c->dataplane.max_connections, 100000);
	assert_string_equal(c->dataplane.state_file, "./state/dataplane.json");
	assert_true(c->dataplane.pipe_size == 256 * 1024);
	assert_string_equal(c->controlplane.state_file, "./state/scores.json");
	assert_string_equal(addr_str(&c->admin.listen_addr), "127.0.0.1:9099");
	assert_string_equal(c->admin.token_file, "");
}

static void
test_empty_inputs_give_defaults(void **state)
{
	static const char *const texts[] = {
		"", "\n", "# only a comment\n\n", "---\n", "---\n...\n", "{}",
		"~\n", "server:\n", "server: ~\nlogging: null\n",
		"server: {}\nremotes:\n  scoring:\n",
	};
	size_t i;

	(void)state;
	defaults_in_dir(&want);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		load_ok(texts[i]);
		assert_config_equal(&cfg, &want);
	}
}

/* ---- every key --------------------------------------------------------- */

static const char full_yaml[] =
    "server:\n"
    "  listen_addr: \"[::1]:2345\"\n"
    "  backlog: 128\n"
    "  keepalive: 2m\n"
    "logging:\n"
    "  level: warn\n"
    "  format: json\n"
    "  output: /var/log/tcpfwd.log\n"
    "metrics:\n"
    "  enabled: false\n"
    "  listen_addr: 0.0.0.0:9100\n"
    "  path: /prom\n"
    "  max_backend_series: 50\n"
    "remotes:\n"
    "  default_remote_port: 443\n"
    "  provider:\n"
    "    type: file\n"
    "    file:\n"
    "      path: /srv/ips.txt\n"
    "      watch: true\n"
    "    max_tracked: 100\n"
    "  probing:\n"
    "    interval: 20s\n"
    "    timeout: 2s\n"
    "    probe_candidate_count: 25\n"
    "    initial:\n"
    "      enabled: false\n"
    "      max_concurrency: 7\n"
    "      timeout: 750ms\n"
    "  scoring:\n"
    "    weights:\n"
    "      latency: 0.5\n"
    "      jitter: 0.25\n"
    "      success_rate: 0.25\n"
    "    latency:\n"
    "      max_score: 50.5\n"
    "      ewma_alpha: 0.25\n"
    "      base_latency: 40ms\n"
    "      max_acceptable_latency: 900ms\n"
    "    jitter:\n"
    "      max_score: 16\n"
    "      ewma_alpha: 0.35\n"
    "      base_jitter: 5ms\n"
    "      max_acceptable_jitter: 250ms\n"
    "    success_rate:\n"
    "      max_score: 41\n"
    "      ewma_alpha: 0.15\n"
    "    failure_penalty:\n"
    "      base_penalty: 6\n"
    "      exponent_factor: 2\n"
    "      max_penalty: 90\n"
    "      recovery_per_check: 3\n"
    "    historical_bonus:\n"
    "      max_bonus: 11\n"
    "      checks_per_point: 60\n"
    "  selector:\n"
    "    evaluation_interval: 45s\n"
    "    active_set_size: 5\n"
    "    min_score_threshold: 20\n"
    "    switching:\n"
    "      debounce_interval: 2m\n"
    "      score_improvement_threshold: 7.5\n"
    "pools:\n"
    "  algorithm: round_robin\n"
    "  common:\n"
    "    dial_timeout: 3s\n"
    "    idle_timeout: 5m\n"
    "    drain_timeout: 1m\n"
    "  strategy:\n"
    "    type: static\n"
    "    static:\n"
    "      size_per_remote: 0\n"
    "    dynamic:\n"
    "      min_size: 2\n"
    "      max_size: 30\n"
    "      scaling:\n"
    "        interval: 2s\n"
    "        target_buffer_ratio: 0.5\n"
    "        scale_up_increment: 4\n"
    "        scale_down_increment: 3\n"
    "ipc:\n"
    "  url: tcp://10.0.0.1:7000\n"
    "dataplane:\n"
    "  workers: 4\n"
    "  max_connections: 5000\n"
    "  state_file: /var/lib/tcpfwd/dp.json\n"
    "  pipe_size: 64KiB\n"
    "controlplane:\n"
    "  state_file: /var/lib/tcpfwd/cp.json\n"
    "admin:\n"
    "  listen_addr: 0.0.0.0:9099\n"
    "  token_file: /etc/tcpfwd/token\n"
    "limits:\n"
    "  per_source_ip:\n"
    "    max_connections: 64\n"
    "    rate: 20\n"
    "    burst: 40\n"
    "    tracked: 1024\n"
    "  per_backend:\n"
    "    max_connections: 900\n";

static void
test_every_key(void **state)
{
	const struct remotes_conf *r = &cfg.remotes;
	const struct scoring_conf *s = &cfg.remotes.scoring;
	const struct pools_conf *p = &cfg.pools;

	(void)state;
	load_ok(full_yaml);
	assert_string_equal(cfg.path, "t.yaml");
	assert_string_equal(addr_str(&cfg.server.listen_addr), "[::1]:2345");
	assert_int_equal(cfg.server.backlog, 128);
	assert_true(cfg.server.keepalive_ms == 120000);
	assert_int_equal(cfg.logging.level, LOGL_WARN);
	assert_int_equal(cfg.logging.format, LOG_FORMAT_JSON);
	assert_string_equal(cfg.logging.output, "/var/log/tcpfwd.log");
	assert_false(cfg.metrics.enabled);
	assert_string_equal(addr_str(&cfg.metrics.listen_addr),
	    "0.0.0.0:9100");
	assert_string_equal(cfg.metrics.path, "/prom");
	assert_int_equal(cfg.metrics.max_backend_series, 50);

	assert_int_equal(r->default_remote_port, 443);
	assert_int_equal(r->provider.type, PROVIDER_FILE);
	assert_string_equal(r->provider.file.path, "/srv/ips.txt");
	assert_true(r->provider.file.watch);
	assert_int_equal(r->provider.max_tracked, 100);
	assert_true(r->probing.interval_ms == 20000);
	assert_true(r->probing.timeout_ms == 2000);
	assert_int_equal(r->probing.probe_candidate_count, 25);
	assert_false(r->probing.initial.enabled);
	assert_int_equal(r->probing.initial.max_concurrency, 7);
	assert_true(r->probing.initial.timeout_ms == 750);

	assert_dbl(s->weights.latency, 0.5);
	assert_dbl(s->weights.jitter, 0.25);
	assert_dbl(s->weights.success_rate, 0.25);
	assert_dbl(s->latency.max_score, 50.5);
	assert_dbl(s->latency.ewma_alpha, 0.25);
	assert_true(s->latency.base_latency_ms == 40);
	assert_true(s->latency.max_acceptable_latency_ms == 900);
	assert_dbl(s->jitter.max_score, 16);
	assert_dbl(s->jitter.ewma_alpha, 0.35);
	assert_true(s->jitter.base_jitter_ms == 5);
	assert_true(s->jitter.max_acceptable_jitter_ms == 250);
	assert_dbl(s->success_rate.max_score, 41);
	assert_dbl(s->success_rate.ewma_alpha, 0.15);
	assert_dbl(s->failure_penalty.base_penalty, 6);
	assert_dbl(s->failure_penalty.exponent_factor, 2);
	assert_dbl(s->failure_penalty.max_penalty, 90);
	assert_dbl(s->failure_penalty.recovery_per_check, 3);
	assert_dbl(s->historical_bonus.max_bonus, 11);
	assert_int_equal(s->historical_bonus.checks_per_point, 60);

	assert_true(r->selector.evaluation_interval_ms == 45000);
	assert_int_equal(r->selector.active_set_size, 5);
	assert_dbl(r->selector.min_score_threshold, 20);
	assert_true(r->selector.switching.debounce_interval_ms == 120000);
	assert_dbl(r->selector.switching.score_improvement_threshold, 7.5);

	assert_int_equal(p->algorithm, LB_ROUND_ROBIN);
	assert_true(p->common.dial_timeout_ms == 3000);
	assert_true(p->common.idle_timeout_ms == 300000);
	assert_true(p->common.drain_timeout_ms == 60000);
	assert_int_equal(p->strategy.type, POOL_STRATEGY_STATIC);
	assert_int_equal(p->strategy.static_.size_per_remote, 0);
	assert_int_equal(p->strategy.dynamic.min_size, 2);
	assert_int_equal(p->strategy.dynamic.max_size, 30);
	assert_true(p->strategy.dynamic.scaling.interval_ms == 2000);
	assert_dbl(p->strategy.dynamic.scaling.target_buffer_ratio, 0.5);
	assert_int_equal(p->strategy.dynamic.scaling.scale_up_increment, 4);
	assert_int_equal(p->strategy.dynamic.scaling.scale_down_increment, 3);

	assert_string_equal(cfg.ipc.url, "tcp://10.0.0.1:7000");
	assert_int_equal(cfg.dataplane.workers, 4);
	assert_int_equal(cfg.dataplane.max_connections, 5000);
	assert_string_equal(cfg.dataplane.state_file,
	    "/var/lib/tcpfwd/dp.json");
	assert_true(cfg.dataplane.pipe_size == 65536);
	assert_string_equal(cfg.controlplane.state_file,
	    "/var/lib/tcpfwd/cp.json");
	assert_string_equal(addr_str(&cfg.admin.listen_addr), "0.0.0.0:9099");
	assert_string_equal(cfg.admin.token_file, "/etc/tcpfwd/token");
	assert_int_equal(cfg.limits.per_source_max_connections, 64);
	assert_int_equal(cfg.limits.per_source_rate, 20);
	assert_int_equal(cfg.limits.per_source_burst, 40);
	assert_int_equal(cfg.limits.per_source_tracked, 1024);
	assert_int_equal(cfg.limits.per_backend_max_connections, 900);
}

static void
test_partial_file_keeps_other_defaults(void **state)
{
	(void)state;
	load_ok("remotes:\n"
	    "  probing:\n"
	    "    timeout: 3s\n"
	    "pools:\n"
	    "  strategy:\n"
	    "    dynamic:\n"
	    "      scaling:\n"
	    "        scale_up_increment: 99\n");
	defaults_in_dir(&want);
	want.remotes.probing.timeout_ms = 3000;
	want.pools.strategy.dynamic.scaling.scale_up_increment = 99;
	assert_config_equal(&cfg, &want);
}

static void
test_scalar_styles(void **state)
{
	(void)state;
	/* Quoted or not, flow or block: the same values. */
	load_ok("remotes:\n"
	    "  probing:\n"
	    "    interval: \"15s\"\n"
	    "    timeout: '2s'\n"
	    "    probe_candidate_count: \"12\"\n"
	    "    initial: {enabled: 'no', timeout: 1s500ms}\n"
	    "  scoring: {latency: {ewma_alpha: \"0.5\"}}\n"
	    "dataplane: {workers: \"auto\", pipe_size: '1MiB'}\n"
	    "metrics:\n"
	    "  path: >-\n"
	    "    /folded\n"
	    "admin:\n"
	    "  token_file: |-\n"
	    "    tok\n");
	assert_true(cfg.remotes.probing.interval_ms == 15000);
	assert_true(cfg.remotes.probing.timeout_ms == 2000);
	assert_int_equal(cfg.remotes.probing.probe_candidate_count, 12);
	assert_false(cfg.remotes.probing.initial.enabled);
	assert_true(cfg.remotes.probing.initial.timeout_ms == 1500);
	assert_dbl(cfg.remotes.scoring.latency.ewma_alpha, 0.5);
	assert_int_equal(cfg.dataplane.workers, 0);
	assert_true(cfg.dataplane.pipe_size == 1048576);
	assert_string_equal(cfg.metrics.path, "/folded");
	assert_string_equal(cfg.admin.token_file, DIR "/tok");

	/* Quoted keys, CRLF line ends, a byte order mark. */
	load_ok("\xef\xbb\xbf\"server\":\r\n  'backlog': 7\r\n");
	assert_int_equal(cfg.server.backlog, 7);
}

static void
test_enum_words(void **state)
{
	static const struct {
		const char *yaml;
		const int *field;
		int want;
	} cases[] = {
		{ "logging: {level: trace}", &cfg.logging.level, LOGL_TRACE },
		{ "logging: {level: debug}", &cfg.logging.level, LOGL_DEBUG },
		{ "logging: {level: info}", &cfg.logging.level, LOGL_INFO },
		{ "logging: {level: warn}", &cfg.logging.level, LOGL_WARN },
		{ "logging: {level: error}", &cfg.logging.level, LOGL_ERROR },
		{ "logging: {format: text}", &cfg.logging.format,
		  LOG_FORMAT_TEXT },
		{ "logging: {format: json}", &cfg.logging.format,
		  LOG_FORMAT_JSON },
		{ "remotes: {provider: {type: file}}",
		  &cfg.remotes.provider.type, PROVIDER_FILE },
		{ "pools: {algorithm: least_connections}",
		  &cfg.pools.algorithm, LB_LEAST_CONNECTIONS },
		{ "pools: {algorithm: round_robin}", &cfg.pools.algorithm,
		  LB_ROUND_ROBIN },
		{ "pools: {algorithm: random}", &cfg.pools.algorithm,
		  LB_RANDOM },
		{ "pools: {strategy: {type: static}}",
		  &cfg.pools.strategy.type, POOL_STRATEGY_STATIC },
		{ "pools: {strategy: {type: dynamic}}",
		  &cfg.pools.strategy.type, POOL_STRATEGY_DYNAMIC },
		{ "pools: {strategy: {type: none}}",
		  &cfg.pools.strategy.type, POOL_STRATEGY_NONE },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_ok(cases[i].yaml);
		assert_int_equal(*cases[i].field, cases[i].want);
	}
}

static void
test_bool_words(void **state)
{
	static const struct {
		const char *word;
		bool want;
	} cases[] = {
		{ "true", true }, { "false", false }, { "yes", true },
		{ "no", false }, { "on", true }, { "off", false },
		{ "True", true }, { "FALSE", false }, { "\"yes\"", true },
	};
	char yaml[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml), "metrics: {enabled: %s}",
		    cases[i].word);
		load_ok(yaml);
		assert_int_equal(cfg.metrics.enabled, cases[i].want);
	}
}

static void
test_limits_accepted(void **state)
{
	(void)state;
	load_ok("remotes:\n"
	    "  default_remote_port: 65535\n"
	    "  selector: {active_set_size: 256}\n"
	    "  scoring:\n"
	    "    latency: {ewma_alpha: 1, max_score: 0}\n"
	    "    jitter: {base_jitter: 0, max_acceptable_jitter: 1ms}\n"
	    "dataplane: {pipe_size: 4KiB, workers: 1024}\n"
	    "server: {keepalive: 0}\n"
	    "pools:\n"
	    "  common: {drain_timeout: 0}\n"
	    "  strategy: {dynamic: {min_size: 500, max_size: 500}}\n");
	assert_int_equal(cfg.remotes.default_remote_port, 65535);
	assert_int_equal(cfg.remotes.selector.active_set_size, 256);
	assert_dbl(cfg.remotes.scoring.latency.ewma_alpha, 1);
	assert_true(cfg.remotes.scoring.jitter.base_jitter_ms == 0);
	assert_true(cfg.dataplane.pipe_size == 4096);
	assert_int_equal(cfg.dataplane.workers, 1024);
	assert_true(cfg.server.keepalive_ms == 0);
	assert_true(cfg.pools.common.drain_timeout_ms == 0);
	assert_int_equal(cfg.pools.strategy.dynamic.min_size, 500);
}

/* ---- errors, one kind at a time ----------------------------------------- */

static void
test_error_spec_example(void **state)
{
	/* SPEC section 3's example, to the byte. */
	static char yaml[2048];
	size_t o = 0;
	int i;

	(void)state;
	o += (size_t)snprintf(yaml + o, sizeof(yaml) - o,
	    "remotes:\n  probing:\n");
	for (i = 3; i < 42; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o,
		    "    # line %d\n", i);
	snprintf(yaml + o, sizeof(yaml) - o, "    interval: \"15x\"\n");
	config_defaults(&cfg);
	assert_int_equal(config_load_buffer(yaml, strlen(yaml), "config.yaml",
	    DIR, &cfg, &errs), -1);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msg[0], "config.yaml:42:15: "
	    "remotes.probing.interval: invalid duration \"15x\" "
	    "(expected e.g. 500ms, 15s, 1m)");
}

static void
test_error_unknown_keys(void **state)
{
	(void)state;
	load_fails("servr:\n  backlog: 1\n",
	    "t.yaml:1:1: servr: unknown key (expected one of: server, "
	    "logging, metrics, remotes, pools, ipc, dataplane, controlplane, "
	    "admin, limits)", NULL);
	load_fails("server:\n  listen: 1.2.3.4:5\n",
	    "t.yaml:2:3: server.listen: unknown key (expected one of: "
	    "listen_addr, backlog, keepalive)", NULL);
	load_fails("remotes:\n  scoring:\n    latency:\n      alpha: 0.5\n",
	    "t.yaml:4:7: remotes.scoring.latency.alpha: unknown key "
	    "(expected one of: max_score, ewma_alpha, base_latency, "
	    "max_acceptable_latency)", NULL);
	/* Keys are case-sensitive; a typo never falls back to a default. */
	load_fails("Server: {}\n",
	    "t.yaml:1:1: Server: unknown key (expected one of: server, "
	    "logging, metrics, remotes, pools, ipc, dataplane, controlplane, "
	    "admin, limits)", NULL);
	/* The value of an unknown key is skipped whole, nested or not. */
	load_fails("pools:\n  extra:\n    a: [1, {b: 2}]\n    c: 3\n"
	    "  algorithm: random\n",
	    "t.yaml:2:3: pools.extra: unknown key (expected one of: "
	    "algorithm, common, strategy)", NULL);
	/* Odd bytes in a key are shown safely. */
	load_fails("\"a\\tb\": 1\n",
	    "t.yaml:1:1: a?b: unknown key (expected one of: server, logging, "
	    "metrics, remotes, pools, ipc, dataplane, controlplane, admin, "
	    "limits)", NULL);
}

static void
test_error_wrong_node_types(void **state)
{
	(void)state;
	load_fails("server:\n  backlog:\n    a: 1\n",
	    "t.yaml:3:5: server.backlog: got a mapping (expected a whole "
	    "number from 1 to 1000000)", NULL);
	load_fails("remotes:\n  probing:\n    interval: [15s]\n",
	    "t.yaml:3:15: remotes.probing.interval: got a sequence (expected "
	    "a duration, e.g. 500ms, 15s, 1m)", NULL);
	load_fails("logging:\n  level:\n    - info\n",
	    "t.yaml:3:5: logging.level: got a sequence (expected one of: "
	    "trace, debug, info, warn, error)", NULL);
	load_fails("server: 1.2.3.4:80\n",
	    "t.yaml:1:9: server: got \"1.2.3.4:80\" (expected a mapping)",
	    NULL);
	load_fails("remotes:\n  provider: [file]\n",
	    "t.yaml:2:13: remotes.provider: got a sequence (expected a "
	    "mapping)", NULL);
	load_fails("- server\n",
	    "t.yaml:1:1: the top level must be a mapping of sections (got a "
	    "sequence)", NULL);
	load_fails("just words\n",
	    "t.yaml:1:1: the top level must be a mapping of sections (got a "
	    "scalar)", NULL);
	load_fails("? [a]\n: 1\n",
	    "t.yaml:1:3: got a sequence as a key (expected a plain word)",
	    NULL);
	load_fails("server:\n  ? {a: 1}\n  : 1\n  backlog: 0\n",
	    "t.yaml:2:5: server: got a mapping as a key (expected a plain "
	    "word)",
	    "t.yaml:4:12: server.backlog: 0 is out of range (expected a "
	    "whole number from 1 to 1000000)", NULL);
}

static void
test_error_bad_scalars(void **state)
{
	(void)state;
	load_fails("server:\n  keepalive: -1s\n",
	    "t.yaml:2:14: server.keepalive: invalid duration \"-1s\" "
	    "(expected e.g. 500ms, 15s, 1m)", NULL);
	load_fails("server:\n  keepalive: 3h\n",
	    "t.yaml:2:14: server.keepalive: 3h is out of range (expected a "
	    "duration from 0 to 2h)", NULL);
	load_fails("server:\n  backlog: 1e3\n",
	    "t.yaml:2:12: server.backlog: invalid number \"1e3\" (expected a "
	    "whole number from 1 to 1000000)", NULL);
	load_fails("remotes:\n  selector:\n    active_set_size: 300\n",
	    "t.yaml:3:22: remotes.selector.active_set_size: 300 is out of "
	    "range (expected a whole number from 1 to 256)", NULL);
	load_fails("remotes:\n  default_remote_port: 0\n",
	    "t.yaml:2:24: remotes.default_remote_port: 0 is out of range "
	    "(expected a whole number from 1 to 65535)", NULL);
	load_fails("remotes:\n  default_remote_port: 65536\n",
	    "t.yaml:2:24: remotes.default_remote_port: 65536 is out of range "
	    "(expected a whole number from 1 to 65535)", NULL);
	load_fails("remotes: {scoring: {jitter: {ewma_alpha: 0}}}\n",
	    "t.yaml:1:42: remotes.scoring.jitter.ewma_alpha: 0 is out of "
	    "range (expected a number greater than 0 and at most 1)", NULL);
	load_fails("remotes: {scoring: {success_rate: {ewma_alpha: 1.01}}}\n",
	    "t.yaml:1:48: remotes.scoring.success_rate.ewma_alpha: 1.01 is "
	    "out of range (expected a number greater than 0 and at most 1)",
	    NULL);
	load_fails("remotes: {scoring: {latency: {max_score: -1}}}\n",
	    "t.yaml:1:42: remotes.scoring.latency.max_score: -1 is out of "
	    "range (expected a number from 0 to 10000)", NULL);
	load_fails("remotes: {scoring: {weights: {jitter: .nan}}}\n",
	    "t.yaml:1:39: remotes.scoring.weights.jitter: invalid number "
	    "\".nan\" (expected a number from 0 to 1)", NULL);
	load_fails("metrics: {enabled: maybe}\n",
	    "t.yaml:1:20: metrics.enabled: invalid boolean \"maybe\" "
	    "(expected true or false)", NULL);
	load_fails("logging:\n  level: verbose\n",
	    "t.yaml:2:10: logging.level: invalid value \"verbose\" (expected "
	    "one of: trace, debug, info, warn, error)", NULL);
	load_fails("pools:\n  strategy:\n    type: off\n",
	    "t.yaml:3:11: pools.strategy.type: invalid value \"off\" "
	    "(expected one of: static, dynamic, none)", NULL);
	load_fails("pools: {algorithm: fastest}\n",
	    "t.yaml:1:20: pools.algorithm: invalid value \"fastest\" "
	    "(expected one of: least_connections, round_robin, random)",
	    NULL);
	load_fails("dataplane: {workers: many}\n",
	    "t.yaml:1:22: dataplane.workers: invalid value \"many\" "
	    "(expected a whole number from 1 to 1024, or auto)", NULL);
	load_fails("dataplane: {workers: 0}\n",
	    "t.yaml:1:22: dataplane.workers: 0 is out of range (expected a "
	    "whole number from 1 to 1024, or auto)", NULL);
	load_fails("dataplane: {pipe_size: 2MiB}\n",
	    "t.yaml:1:24: dataplane.pipe_size: 2MiB is out of range "
	    "(expected a size from 4KiB to 1MiB)", NULL);
	load_fails("dataplane: {pipe_size: 64KB}\n",
	    "t.yaml:1:24: dataplane.pipe_size: invalid size \"64KB\" "
	    "(expected e.g. 4096, 64KiB, 1MiB)", NULL);
	load_fails("remotes: {probing: {initial: {timeout: 0}}}\n",
	    "t.yaml:1:40: remotes.probing.initial.timeout: 0 is out of range "
	    "(expected a duration from 1ms to 1m)", NULL);
}

static void
test_error_bad_addresses(void **state)
{
	(void)state;
	load_fails("server:\n  listen_addr: 127.0.0.1\n",
	    "t.yaml:2:16: server.listen_addr: invalid address \"127.0.0.1\": "
	    "missing port (expected ip:port, e.g. 127.0.0.1:9099 or "
	    "[::1]:9099)", NULL);
	load_fails("server:\n  listen_addr: localhost:1234\n",
	    "t.yaml:2:16: server.listen_addr: invalid address "
	    "\"localhost:1234\": not an IP address (expected ip:port, e.g. "
	    "127.0.0.1:9099 or [::1]:9099)", NULL);
	load_fails("admin:\n  listen_addr: \"127.0.0.1:0\"\n",
	    "t.yaml:2:16: admin.listen_addr: invalid address "
	    "\"127.0.0.1:0\": port must be 1 to 65535 (expected ip:port, "
	    "e.g. 127.0.0.1:9099 or [::1]:9099)", NULL);
	load_fails("metrics:\n  listen_addr: \"::1:9099\"\n",
	    "t.yaml:2:16: metrics.listen_addr: invalid address \"::1:9099\": "
	    "missing port (expected ip:port, e.g. 127.0.0.1:9099 or "
	    "[::1]:9099)", NULL);
	load_fails("metrics:\n  listen_addr: \" 127.0.0.1:9099\"\n",
	    "t.yaml:2:16: metrics.listen_addr: invalid address \" "
	    "127.0.0.1:9099\": unexpected whitespace (expected ip:port, e.g. "
	    "127.0.0.1:9099 or [::1]:9099)", NULL);
}

static void
test_error_strings(void **state)
{
	static char yaml[600];
	char big[300];

	(void)state;
	load_fails("metrics: {path: \"\"}\n",
	    "t.yaml:1:17: metrics.path: must not be empty (expected a "
	    "string)", NULL);
	load_fails("dataplane:\n  state_file: ''\n",
	    "t.yaml:2:15: dataplane.state_file: must not be empty (expected "
	    "a file path)", NULL);
	load_fails("logging:\n  output:\n",
	    "t.yaml:2:10: logging.output: must not be empty (expected a file "
	    "path)", NULL);
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	snprintf(yaml, sizeof(yaml), "ipc:\n  url: ipc:///%s\n", big);
	load_fails(yaml,
	    "t.yaml:2:8: ipc.url: too long: 306 bytes (expected at most 255)",
	    NULL);
	load_fails("server:\n  backlog: \"1\\02\"\n",
	    "t.yaml:2:12: server.backlog: value contains a NUL byte", NULL);
}

static void
test_error_missing_values(void **state)
{
	(void)state;
	load_fails("server:\n  keepalive:\n",
	    "t.yaml:2:13: server.keepalive: missing value (expected a "
	    "duration, e.g. 500ms, 15s, 1m)", NULL);
	load_fails("server: {backlog: ~}\n",
	    "t.yaml:1:19: server.backlog: missing value (expected a whole "
	    "number from 1 to 1000000)", NULL);
	load_fails("metrics: {enabled: null}\n",
	    "t.yaml:1:20: metrics.enabled: missing value (expected true or "
	    "false)", NULL);
	/* A quoted "null" is a word like any other. */
	load_fails("metrics: {enabled: \"null\"}\n",
	    "t.yaml:1:20: metrics.enabled: invalid boolean \"null\" "
	    "(expected true or false)", NULL);
	/* An empty string is allowed where it means "none". */
	load_ok("admin: {token_file: }\n");
	assert_string_equal(cfg.admin.token_file, "");
}

static void
test_error_duplicates(void **state)
{
	(void)state;
	load_fails("server:\n  backlog: 1\n  backlog: 2\n  backlog: 3\n",
	    "t.yaml:3:3: server.backlog: duplicate key (first set at line 2)",
	    "t.yaml:4:3: server.backlog: duplicate key (first set at line 2)",
	    NULL);
	load_fails("server: {}\nlogging: {}\nserver: {backlog: 0}\n",
	    "t.yaml:3:1: server: duplicate key (first set at line 1)", NULL);
	/* The same name in two sections is no duplicate. */
	load_ok("metrics: {listen_addr: 127.0.0.1:1}\n"
	    "admin: {listen_addr: 127.0.0.1:2}\n");
	assert_int_equal(cfg.metrics.listen_addr.port, 1);
	assert_int_equal(cfg.admin.listen_addr.port, 2);
}

static void
test_error_syntax(void **state)
{
	(void)state;
	load_fails("server:\n\tbacklog: 1\n",
	    "t.yaml:2:1: syntax error: found character that cannot start any "
	    "token (while scanning for the next token at line 2, column 1)",
	    NULL);
	load_fails("server:\n  backlog: 1\n bad\n",
	    "t.yaml:3:2: syntax error: did not find expected key (while "
	    "parsing a block mapping at line 1, column 1)", NULL);
	load_fails("server: {backlog: 1\n",
	    "t.yaml:2:1: syntax error: did not find expected ',' or '}' "
	    "(while parsing a flow mapping at line 1, column 9)", NULL);
	load_fails("metrics:\n  path: \"/abc\n",
	    "t.yaml:3:1: syntax error: found unexpected end of stream (while "
	    "scanning a quoted scalar at line 2, column 9)", NULL);
	load_fails("server: a: b\n",
	    "t.yaml:1:9: server: got \"a\" (expected a mapping)",
	    "t.yaml:1:10: syntax error: mapping values are not allowed in "
	    "this context", NULL);
	load_fails("server: {}\n---\nlogging: {}\n",
	    "t.yaml:2:1: only one YAML document is allowed", NULL);
	load_fails("server: {}\n\xff\n",
	    "t.yaml:2:1: invalid input: invalid leading UTF-8 octet", NULL);
	/* Errors before the syntax error stay reported. */
	load_fails("server:\n  backlog: x\n  keepalive: 1s\n bad\n",
	    "t.yaml:2:12: server.backlog: invalid number \"x\" (expected a "
	    "whole number from 1 to 1000000)",
	    "t.yaml:4:2: syntax error: did not find expected key (while "
	    "parsing a block mapping at line 1, column 1)", NULL);
}

static void
test_error_anchors_and_tags(void **state)
{
	(void)state;
	load_fails("server:\n  listen_addr: &a 127.0.0.1:1\n"
	    "metrics:\n  listen_addr: *a\n",
	    "t.yaml:2:16: server.listen_addr: anchors are not supported",
	    "t.yaml:4:16: metrics.listen_addr: aliases are not supported",
	    NULL);
	load_fails("server:\n  backlog: !!int 5\n",
	    "t.yaml:2:12: server.backlog: tags are not supported", NULL);
	load_fails("server: !!map\n  backlog: 5\n",
	    "t.yaml:1:9: server: tags are not supported", NULL);
	load_fails("&top\nserver: {}\n",
	    "t.yaml:1:1: anchors are not supported", NULL);
	load_fails("server:\n  &k backlog: 5\n",
	    "t.yaml:2:3: server.backlog: anchors are not supported", NULL);
}

/* ---- checks across keys ----------------------------------------------- */

static void
test_cross_latency_and_jitter(void **state)
{
	(void)state;
	load_fails("remotes:\n  scoring:\n    latency:\n"
	    "      base_latency: 800ms\n",
	    "t.yaml:4:7: remotes.scoring.latency.base_latency: 800ms is not "
	    "below max_acceptable_latency (expected less than 800ms)", NULL);
	load_fails("remotes:\n  scoring:\n    latency:\n"
	    "      max_acceptable_latency: 40ms\n",
	    "t.yaml:4:7: remotes.scoring.latency.max_acceptable_latency: 40ms "
	    "is not above base_latency (expected more than 50ms)", NULL);
	/* Both set: reported at the first of the pair. */
	load_fails("remotes:\n  scoring:\n    latency:\n"
	    "      max_acceptable_latency: 1s\n      base_latency: 2s\n",
	    "t.yaml:5:7: remotes.scoring.latency.base_latency: 2s is not "
	    "below max_acceptable_latency (expected less than 1s)", NULL);
	load_fails("remotes:\n  scoring:\n    jitter:\n"
	    "      base_jitter: 1s\n",
	    "t.yaml:4:7: remotes.scoring.jitter.base_jitter: 1s is not below "
	    "max_acceptable_jitter (expected less than 300ms)", NULL);
	load_fails("remotes:\n  scoring:\n    jitter:\n"
	    "      max_acceptable_jitter: 5ms\n",
	    "t.yaml:4:7: remotes.scoring.jitter.max_acceptable_jitter: 5ms is "
	    "not above base_jitter (expected more than 10ms)", NULL);
	/* Probing timeout may exceed the interval. */
	load_ok("remotes: {probing: {interval: 1s, timeout: 5s}}\n");
}

static void
test_cross_pool_sizes(void **state)
{
	(void)state;
	load_fails("pools:\n  strategy:\n    dynamic:\n      min_size: 600\n",
	    "t.yaml:4:7: pools.strategy.dynamic.min_size: 600 is above "
	    "max_size (expected at most 500)", NULL);
	load_fails("pools:\n  strategy:\n    dynamic:\n      max_size: 10\n",
	    "t.yaml:4:7: pools.strategy.dynamic.max_size: 10 is below "
	    "min_size (expected at least 20)", NULL);
}

static void
test_cross_admin_token(void **state)
{
	(void)state;
	load_fails("admin:\n  listen_addr: 0.0.0.0:9099\n",
	    "t.yaml:2:3: admin.token_file: required when admin.listen_addr is "
	    "not loopback (expected the path of a file holding the bearer "
	    "token)", NULL);
	load_fails("admin:\n  token_file: \"\"\n  listen_addr: "
	    "\"[2001:db8::1]:9099\"\n",
	    "t.yaml:2:3: admin.token_file: required when admin.listen_addr is "
	    "not loopback (expected the path of a file holding the bearer "
	    "token)", NULL);
	load_ok("admin: {listen_addr: \"0.0.0.0:9099\", token_file: tok}\n");
	assert_string_equal(cfg.admin.token_file, DIR "/tok");
	load_ok("admin: {listen_addr: \"[::1]:9099\"}\n");
	load_ok("admin: {listen_addr: 127.8.9.10:9099}\n");
}

static void
test_cross_metrics_path_and_ipc_url(void **state)
{
	(void)state;
	load_fails("metrics:\n  path: metrics\n",
	    "t.yaml:2:3: metrics.path: \"metrics\" does not start with \"/\" "
	    "(expected e.g. /metrics)", NULL);
	load_fails("ipc:\n  url: http://127.0.0.1:1\n",
	    "t.yaml:2:3: ipc.url: \"http://127.0.0.1:1\" is not an nng URL "
	    "(expected ipc:///path or tcp://host:port)", NULL);
	load_fails("ipc: {url: \"ipc://\"}\n",
	    "t.yaml:1:7: ipc.url: \"ipc://\" is not an nng URL (expected "
	    "ipc:///path or tcp://host:port)", NULL);
	load_fails("ipc: {url: \"tcp://\"}\n",
	    "t.yaml:1:7: ipc.url: \"tcp://\" is not an nng URL (expected "
	    "ipc:///path or tcp://host:port)", NULL);
	load_ok("ipc: {url: \"tcp://10.1.1.1:7000\"}\n");
	load_ok("ipc: {url: \"ipc:///tmp/x.ipc\"}\n");
	assert_string_equal(cfg.ipc.url, "ipc:///tmp/x.ipc");
}

static void
test_cross_checks_skipped_after_syntax_error(void **state)
{
	(void)state;
	/* The token_file after the break is never seen: no second error. */
	load_fails("admin:\n  listen_addr: 0.0.0.0:1\n  x: [\n",
	    "t.yaml:3:3: admin.x: unknown key (expected one of: listen_addr, "
	    "token_file)",
	    "t.yaml:4:1: syntax error: did not find expected node content "
	    "(while parsing a flow node at line 4, column 1)", NULL);
}

static void
test_many_errors_in_one_file(void **state)
{
	(void)state;
	load_fails("server:\n"
	    "  listen_addr: 1.2.3.4\n"
	    "  backlog: 0\n"
	    "  colour: blue\n"
	    "remotes:\n"
	    "  probing:\n"
	    "    interval: \"15x\"\n"
	    "  scoring:\n"
	    "    latency:\n"
	    "      base_latency: 900ms\n"
	    "logging:\n"
	    "  level: loud\n"
	    "admin:\n"
	    "  listen_addr: 0.0.0.0:9099\n"
	    "metrics:\n"
	    "  path: x\n",
	    "t.yaml:2:16: server.listen_addr: invalid address \"1.2.3.4\": "
	    "missing port (expected ip:port, e.g. 127.0.0.1:9099 or "
	    "[::1]:9099)",
	    "t.yaml:3:12: server.backlog: 0 is out of range (expected a "
	    "whole number from 1 to 1000000)",
	    "t.yaml:4:3: server.colour: unknown key (expected one of: "
	    "listen_addr, backlog, keepalive)",
	    "t.yaml:7:15: remotes.probing.interval: invalid duration \"15x\" "
	    "(expected e.g. 500ms, 15s, 1m)",
	    "t.yaml:12:10: logging.level: invalid value \"loud\" (expected "
	    "one of: trace, debug, info, warn, error)",
	    "t.yaml:10:7: remotes.scoring.latency.base_latency: 900ms is not "
	    "below max_acceptable_latency (expected less than 800ms)",
	    "t.yaml:14:3: admin.token_file: required when admin.listen_addr "
	    "is not loopback (expected the path of a file holding the bearer "
	    "token)",
	    "t.yaml:16:3: metrics.path: \"x\" does not start with \"/\" "
	    "(expected e.g. /metrics)", NULL);
}

static void
test_error_overflow_and_print(void **state)
{
	static char yaml[8192], out[8192];
	size_t o = 0;
	ssize_t n;
	int i, fd, saved;
	char tmpl[] = "/tmp/test_config_XXXXXX";

	(void)state;
	for (i = 0; i < 40; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o,
		    "bad%d: 1\n", i);
	assert_int_equal(load(yaml), -1);
	assert_int_equal(errs.count, 40);
	assert_true(strncmp(errs.msg[31], "t.yaml:32:1: bad31: unknown key",
	    31) == 0);

	fd = mkstemp(tmpl);
	assert_true(fd != -1);
	unlink(tmpl);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	config_errors_print(&errs);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	assert_true(n > 0);
	out[n] = '\0';
	assert_true(strncmp(out, "t.yaml:1:1: bad0: unknown key", 29) == 0);
	assert_non_null(strstr(out, "\nt.yaml:32:1: bad31: unknown key"));
	assert_null(strstr(out, "bad32"));
	assert_non_null(strstr(out, "\n... and 8 more errors\n"));
}

/* ---- paths -------------------------------------------------------------- */

static void
test_relative_paths(void **state)
{
	(void)state;
	load_ok("remotes: {provider: {file: {path: lists/ips.txt}}}\n"
	    "dataplane: {state_file: ././dp.json}\n"
	    "controlplane: {state_file: .//cp.json}\n"
	    "logging: {output: ./log/fwd.log}\n"
	    "admin: {token_file: ../secrets/token}\n");
	assert_string_equal(cfg.remotes.provider.file.path,
	    DIR "/lists/ips.txt");
	assert_string_equal(cfg.dataplane.state_file, DIR "/dp.json");
	assert_string_equal(cfg.controlplane.state_file, DIR "/cp.json");
	assert_string_equal(cfg.logging.output, DIR "/log/fwd.log");
	assert_string_equal(cfg.admin.token_file, DIR "/../secrets/token");

	/* Absolute paths, stdio words and "" stay as written. */
	load_ok("remotes: {provider: {file: {path: /srv/ips}}}\n"
	    "logging: {output: stderr}\n");
	assert_string_equal(cfg.remotes.provider.file.path, "/srv/ips");
	assert_string_equal(cfg.logging.output, "stderr");
	assert_string_equal(cfg.admin.token_file, "");
	load_ok("logging: {output: stdout}\n");
	assert_string_equal(cfg.logging.output, "stdout");

	/* The folder "/" and a folder with a trailing slash. */
	assert_int_equal(config_load_buffer("", 0, "t.yaml", "/", &cfg, &errs),
	    0);
	assert_string_equal(cfg.remotes.provider.file.path, "/ip_list.txt");
	assert_int_equal(config_load_buffer("", 0, "t.yaml", "/x/", &cfg,
	    &errs), 0);
	assert_string_equal(cfg.dataplane.state_file,
	    "/x/state/dataplane.json");

	/* No folder: every path as written. */
	assert_int_equal(config_load_buffer("", 0, NULL, NULL, &cfg, &errs),
	    0);
	assert_string_equal(cfg.path, "<buffer>");
	assert_string_equal(cfg.remotes.provider.file.path, "./ip_list.txt");
	assert_string_equal(cfg.dataplane.state_file,
	    "./state/dataplane.json");
}

static void
test_path_too_long_once_resolved(void **state)
{
	static char yaml[CONFIG_PATH_MAX + 64], dir[150];
	char name[CONFIG_PATH_MAX - 100];

	(void)state;
	memset(name, 'n', sizeof(name));
	name[sizeof(name) - 1] = '\0';
	memset(dir, 'd', sizeof(dir));
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	snprintf(yaml, sizeof(yaml), "controlplane:\n  state_file: %s\n",
	    name);
	config_defaults(&cfg);
	assert_int_equal(config_load_buffer(yaml, strlen(yaml), "t.yaml",
	    dir, &cfg, &errs), -1);
	assert_int_equal(errs.count, 1);
	assert_true(strncmp(errs.msg[0], "t.yaml:2:3: controlplane.state_file:"
	    " too long once resolved against /ddd", 72) == 0);
	assert_non_null(strstr(errs.msg[0],
	    "(expected at most 1023 bytes)"));
	/* The same file is fine where the folder is short. */
	assert_int_equal(config_load_buffer(yaml, strlen(yaml), "t.yaml",
	    "/a", &cfg, &errs), 0);
}

/* ---- files -------------------------------------------------------------- */

static char tmpdir[PATH_MAX];

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
make_tmpdir(void **state)
{
	char tmpl[] = "/tmp/test_config_XXXXXX";

	(void)state;
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, tmpdir) == NULL)
		return -1;
	return 0;
}

static int
remove_tmpdir(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_load_file(void **state)
{
	char path[PATH_MAX + 64], sub[PATH_MAX + 64], link[PATH_MAX + 64];
	char cwd[PATH_MAX];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/etc", tmpdir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/etc/config.yaml", tmpdir);
	write_file(path, "remotes:\n  provider:\n    file:\n"
	    "      path: ips.txt\nserver: {backlog: 9}\n");

	assert_int_equal(config_load(path, &cfg, &errs), 0);
	assert_int_equal(errs.count, 0);
	assert_string_equal(cfg.path, path);
	assert_int_equal(cfg.server.backlog, 9);
	snprintf(path, sizeof(path), "%s/etc/ips.txt", tmpdir);
	assert_string_equal(cfg.remotes.provider.file.path, path);
	snprintf(path, sizeof(path), "%s/etc/state/scores.json", tmpdir);
	assert_string_equal(cfg.controlplane.state_file, path);

	/* A relative config path: its folder is made absolute. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(config_load("etc/config.yaml", &cfg, &errs), 0);
	assert_int_equal(chdir(sub), 0);
	assert_int_equal(config_load("config.yaml", &cfg, &errs), 0);
	assert_int_equal(chdir(cwd), 0);
	snprintf(path, sizeof(path), "%s/etc/config.yaml", tmpdir);
	assert_string_equal(cfg.path, path);
	snprintf(path, sizeof(path), "%s/etc/ips.txt", tmpdir);
	assert_string_equal(cfg.remotes.provider.file.path, path);

	/* Through a symlinked folder: the real folder is used. */
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	assert_int_equal(symlink(sub, link), 0);
	snprintf(path, sizeof(path), "%s/link/config.yaml", tmpdir);
	assert_int_equal(config_load(path, &cfg, &errs), 0);
	snprintf(path, sizeof(path), "%s/etc/config.yaml", tmpdir);
	assert_string_equal(cfg.path, path);
}

static void
test_load_file_errors(void **state)
{
	static char big[CONFIG_PATH_MAX * 1100];
	char path[PATH_MAX + 64], msg[PATH_MAX + 128];

	(void)state;
	config_defaults(&cfg);
	want = cfg;

	snprintf(path, sizeof(path), "%s/missing.yaml", tmpdir);
	assert_int_equal(config_load(path, &cfg, &errs), -1);
	assert_int_equal(errs.count, 1);
	snprintf(msg, sizeof(msg), "%s: cannot open: %s", path,
	    strerror(ENOENT));
	assert_string_equal(errs.msg[0], msg);

	assert_int_equal(config_load(tmpdir, &cfg, &errs), -1);
	snprintf(msg, sizeof(msg), "%s: not a regular file: %s", tmpdir,
	    strerror(EINVAL));
	assert_string_equal(errs.msg[0], msg);

	snprintf(path, sizeof(path), "%s/big.yaml", tmpdir);
	memset(big, '#', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big);
	assert_int_equal(config_load(path, &cfg, &errs), -1);
	snprintf(msg, sizeof(msg), "%s: too large (at most 1 MiB): %s", path,
	    strerror(EINVAL));
	assert_string_equal(errs.msg[0], msg);

	/* Messages carry the path as given. */
	snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
	write_file(path, "server:\n  backlog: -5\n");
	assert_int_equal(config_load(path, &cfg, &errs), -1);
	snprintf(msg, sizeof(msg), "%.900s:2:12: server.backlog: invalid "
	    "number \"-5\" (expected a whole number from 1 to 1000000)",
	    path);
	assert_string_equal(errs.msg[0], msg);

	assert_memory_equal(&cfg, &want, sizeof(cfg));
}

static void
test_cfg_untouched_on_failure(void **state)
{
	static struct config before;

	(void)state;
	load_ok(full_yaml);
	before = cfg;
	assert_int_equal(load("server: {backlog: 77}\nlogging: {level: x}\n"),
	    -1);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
	assert_int_equal(load("server: {backlog: 77}\nbroken: ["), -1);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
	assert_int_equal(load("admin: {listen_addr: 0.0.0.0:1}\n"), -1);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
	/* errs may be NULL: the result alone tells. */
	assert_int_equal(config_load_buffer("x: 1", 4, "t", NULL, &cfg, NULL),
	    -1);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
	assert_int_equal(config_load("/nonexistent/c.yaml", &cfg, NULL), -1);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void
test_buffer_is_length_bound(void **state)
{
	static const char text[] = "server: {backlog: 12}garbage";

	(void)state;
	/* Only len bytes are read; no NUL needed. */
	assert_int_equal(config_load_buffer(text, 21, "t.yaml", DIR, &cfg,
	    &errs), 0);
	assert_int_equal(cfg.server.backlog, 12);
	assert_int_equal(config_load_buffer(text, 20, "t.yaml", DIR, &cfg,
	    &errs), -1);
	/* No text at all is an empty file. */
	assert_int_equal(config_load_buffer(NULL, 5, "t.yaml", DIR, &cfg,
	    &errs), 0);
	assert_int_equal(cfg.server.backlog, 4096);
}

/* The demo config.yaml at the top of the repository loads cleanly. */
static void
test_repo_config(void **state)
{
	char path[PATH_MAX], dir[PATH_MAX];
	const char *file = __FILE__, *tail = "tests/unit/test_config.c";
	size_t flen = strlen(file), tlen = strlen(tail);
	int n;

	(void)state;
	if (flen < tlen || strcmp(file + flen - tlen, tail) != 0)
		skip();
	n = snprintf(path, sizeof(path), "%.*s%s", (int)(flen - tlen), file,
	    "config.yaml");
	assert_true(n > 0 && (size_t)n < sizeof(path));
	if (access(path, R_OK) != 0) {
		print_message("no %s from here; skipped\n", path);
		skip();
	}
	if (config_load(path, &cfg, &errs) != 0) {
		print_errors();
		fail_msg("%s rejected", path);
	}
	snprintf(dir, sizeof(dir), "%s", cfg.path);
	*strrchr(dir, '/') = '\0';

	/* The seed's example values, apart from the demo's own. */
	config_defaults(&want);
	snprintf(want.path, sizeof(want.path), "%s", cfg.path);
	want.logging.level = LOGL_INFO;
	/* Shorter than the seed's so `make demo` shows changes quickly. */
	want.remotes.probing.interval_ms = 5000;
	want.remotes.selector.evaluation_interval_ms = 10000;
	want.remotes.selector.switching.debounce_interval_ms = 30000;
	snprintf(want.ipc.url, sizeof(want.ipc.url),
	    "ipc:///tmp/tcp-forwarder-demo/control.ipc");
	snprintf(want.remotes.provider.file.path,
	    sizeof(want.remotes.provider.file.path), "%.900s/ip_list.txt", dir);
	snprintf(want.dataplane.state_file, sizeof(want.dataplane.state_file),
	    "%.900s/state/dataplane.json", dir);
	snprintf(want.controlplane.state_file,
	    sizeof(want.controlplane.state_file), "%.900s/state/scores.json", dir);
	assert_config_equal(&cfg, &want);
}

/* ---- hostile inputs, and what the fuzzer found ------------------------- */

static char hostile[200000];

static void
test_hostile_inputs(void **state)
{
	size_t o, i;

	(void)state;
	/* 20000 open brackets: no recursion, no stack to blow. */
	o = (size_t)snprintf(hostile, sizeof(hostile), "a: ");
	memset(hostile + o, '[', 20000);
	hostile[o + 20000] = '\0';
	load_fails(hostile,
	    "t.yaml:1:1: a: unknown key (expected one of: server, logging, "
	    "metrics, remotes, pools, ipc, dataplane, controlplane, admin, limits)",
	    "t.yaml:2:1: syntax error: did not find expected node content "
	    "(while parsing a flow node at line 2, column 1)", NULL);

	/* Deep block nesting under an unknown key is skipped whole. */
	o = (size_t)snprintf(hostile, sizeof(hostile), "server:\n  x:\n");
	for (i = 0; i < 300; i++)
		o += (size_t)snprintf(hostile + o, sizeof(hostile) - o,
		    "%*sk%zu:\n", (int)(2 * i + 4), "", i);
	snprintf(hostile + o, sizeof(hostile) - o, "logging: {level: x}\n");
	load_fails(hostile,
	    "t.yaml:2:3: server.x: unknown key (expected one of: "
	    "listen_addr, backlog, keepalive)",
	    "t.yaml:303:18: logging.level: invalid value \"x\" (expected one "
	    "of: trace, debug, info, warn, error)", NULL);

	/* A NUL byte inside the text, and nothing but one. */
	assert_int_equal(config_load_buffer("server: {}\0x", 13, "t.yaml",
	    DIR, &cfg, &errs), -1);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msg[0], "t.yaml:1:11: invalid input: "
	    "control characters are not allowed");
	assert_int_equal(config_load_buffer("\0", 1, "t.yaml", DIR, &cfg,
	    &errs), -1);
	assert_string_equal(errs.msg[0], "t.yaml:1:1: invalid input: "
	    "control characters are not allowed");

	/* Long keys and values are cut in messages, at a character. */
	memset(hostile, 'k', 1000);
	snprintf(hostile + 1000, sizeof(hostile) - 1000, ": 1\n");
	load_fails(hostile,
	    "t.yaml:1:1: kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...: unknown "
	    "key (expected one of: server, logging, metrics, remotes, pools, "
	    "ipc, dataplane, controlplane, admin, limits)", NULL);
	o = (size_t)snprintf(hostile, sizeof(hostile), "ipc: {url: \"");
	memset(hostile + o, 'u', 100000);
	snprintf(hostile + o + 100000, sizeof(hostile) - o - 100000, "\"}");
	load_fails(hostile,
	    "t.yaml:1:12: ipc.url: too long: 100000 bytes (expected at most "
	    "255)", NULL);
	load_fails("server: {backlog: \"x\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
	    "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
	    "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}\n",
	    "t.yaml:1:19: server.backlog: invalid number \"x\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9...\" (expected a whole number from 1 to 1000000)", NULL);

	/* Thousands of errors: all counted, 32 kept. */
	o = (size_t)snprintf(hostile, sizeof(hostile), "server: {");
	for (i = 0; i < 5000; i++)
		o += (size_t)snprintf(hostile + o, sizeof(hostile) - o,
		    "b%zu: 1, ", i);
	snprintf(hostile + o, sizeof(hostile) - o, "backlog: 5}\n");
	assert_int_equal(load(hostile), -1);
	assert_int_equal(errs.count, 5000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_equal_seed),
		cmocka_unit_test(test_empty_inputs_give_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_partial_file_keeps_other_defaults),
		cmocka_unit_test(test_scalar_styles),
		cmocka_unit_test(test_enum_words),
		cmocka_unit_test(test_bool_words),
		cmocka_unit_test(test_limits_accepted),
		cmocka_unit_test(test_error_spec_example),
		cmocka_unit_test(test_error_unknown_keys),
		cmocka_unit_test(test_error_wrong_node_types),
		cmocka_unit_test(test_error_bad_scalars),
		cmocka_unit_test(test_error_bad_addresses),
		cmocka_unit_test(test_error_strings),
		cmocka_unit_test(test_error_missing_values),
		cmocka_unit_test(test_error_duplicates),
		cmocka_unit_test(test_error_syntax),
		cmocka_unit_test(test_error_anchors_and_tags),
		cmocka_unit_test(test_cross_latency_and_jitter),
		cmocka_unit_test(test_cross_pool_sizes),
		cmocka_unit_test(test_cross_admin_token),
		cmocka_unit_test(test_cross_metrics_path_and_ipc_url),
		cmocka_unit_test(test_cross_checks_skipped_after_syntax_error),
		cmocka_unit_test(test_many_errors_in_one_file),
		cmocka_unit_test(test_error_overflow_and_print),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_path_too_long_once_resolved),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_file_errors),
		cmocka_unit_test(test_cfg_untouched_on_failure),
		cmocka_unit_test(test_buffer_is_length_bound),
		cmocka_unit_test(test_repo_config),
		cmocka_unit_test(test_hostile_inputs),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
