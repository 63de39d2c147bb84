/*
 * The Prometheus exposition over a hand-built control plane: every metric
 * name of the seed with its type, HELP and TYPE once per family, families
 * contiguous, values from the scoreboard and the data-plane totals,
 * cumulative histograms ending at +Inf == _count, the per-backend series
 * cap and its order, label escaping, and `promtool check metrics`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/evloop.h"
#include "../../common/version.h"
#include "../../controlplane/cp.h"
#include "../../controlplane/metrics.h"
#include "../../controlplane/probe.h"

/* The seed's 监控指标 list, with the type each must have. */
static const struct {
	const char *name;
	const char *type;
} seed_metrics[] = {
	{ "tcp_forwarder_new_connections_total", "counter" },
	{ "tcp_forwarder_active_connections", "gauge" },
	{ "tcp_forwarder_connection_duration_seconds", "histogram" },
	{ "tcp_forwarder_bytes_transferred_total", "counter" },
	{ "tcp_forwarder_server_probe_success_total", "counter" },
	{ "tcp_forwarder_server_probe_duration_seconds", "histogram" },
	{ "tcp_forwarder_server_score", "gauge" },
	{ "tcp_forwarder_server_consecutive_failures", "gauge" },
	{ "tcp_forwarder_pool_connections", "gauge" },
	{ "tcp_forwarder_pool_hits_total", "counter" },
	{ "tcp_forwarder_pool_misses_total", "counter" },
	{ "tcp_forwarder_pool_scale_up_total", "counter" },
	{ "tcp_forwarder_pool_scale_down_total", "counter" },
	{ "tcp_forwarder_pool_total_connections", "gauge" },
	{ "tcp_forwarder_pool_available_connections", "gauge" },
	{ "tcp_forwarder_pool_active_connections", "gauge" },
	{ "tcp_forwarder_pool_utilization_percent", "gauge" },
	{ "tcp_forwarder_pool_peak_concurrency", "gauge" },
	{ "tcp_forwarder_lb_requests_total", "counter" },
	{ "tcp_forwarder_lb_backend_connections", "gauge" },
	{ "tcp_forwarder_uptime_seconds", "gauge" },
	{ "tcp_forwarder_errors_total", "counter" },
	{ "tcp_forwarder_health_checks_total", "counter" },
	/* ours */
	{ "tcp_forwarder_build_info", "gauge" },
	{ "tcp_forwarder_dataplanes", "gauge" },
	{ "tcp_forwarder_active_set_generation", "gauge" },
	{ "tcp_forwarder_active_set_size", "gauge" },
	{ "tcp_forwarder_active_set_switches_total", "counter" },
	{ "tcp_forwarder_server_active", "gauge" },
	{ "tcp_forwarder_tracked_backends", "gauge" },
	{ "tcp_forwarder_backend_dial_duration_seconds", "histogram" },
	{ "tcp_forwarder_backend_dials_total", "counter" },
	{ "tcp_forwarder_backend_series_omitted", "gauge" },
};

/* ---- fixture ------------------------------------------------------------ */

static struct sb_entry *
add(struct cp *cp, const char *name)
{
	struct sb_entry *e;
	struct addr a;
	char err[64];

	assert_int_equal(addr_parse(name, 0, &a, err, sizeof(err)), 0);
	e = scoreboard_add(cp->sb, &a, 1000);
	assert_non_null(e);
	return e;
}

static void
probe_ok(struct cp *cp, struct sb_entry *e, uint64_t us)
{
	unsigned i;

	assert_int_equal(score_success(&e->score, &cp->cfg.remotes.scoring,
	    (double)us / 1000.0), 0);
	e->probes_ok++;
	e->probe_seconds_sum += (double)us / 1e6;
	for (i = 0; i < PROTO_DIAL_BUCKETS; i++)
		if (us <= proto_dial_bounds_us[i])
			break;
	if (i < PROTO_DIAL_BUCKETS)
		e->probe_buckets[i]++;
}

/*
 * A 10.0.0.1:80 active, B 10.0.0.2:80 candidate (slow), C
 * [2001:db8::1]:443 disabled, D 10.0.0.3:80 never probed, E 10.0.0.4:80
 * draining; one data plane with counters, durations and dials.
 */
static int
setup(void **state)
{
	struct proto_report *r;
	struct sb_entry *a, *b, *c, *e;
	struct cp *cp;
	char err[64];

	cp = calloc(1, sizeof(*cp));
	assert_non_null(cp);
	config_defaults(&cp->cfg);
	assert_int_equal(scoreboard_new(&cp->sb), 0);
	assert_int_equal(dataplanes_new(&cp->dps), 0);
	a = add(cp, "10.0.0.1:80");
	b = add(cp, "10.0.0.2:80");
	c = add(cp, "[2001:db8::1]:443");
	(void)add(cp, "10.0.0.3:80");
	e = add(cp, "10.0.0.4:80");
	probe_ok(cp, a, 200);      /* first bucket */
	probe_ok(cp, a, 3000);     /* 0.005 */
	probe_ok(cp, a, 3000);
	probe_ok(cp, a, 2000000);  /* above the last bound: +Inf only */
	a->active = true;
	probe_ok(cp, b, 400000);
	probe_ok(cp, c, 30000);
	c->disabled = true;
	score_failure(&e->score, &cp->cfg.remotes.scoring);
	e->probes_failed = 2;
	e->probes_timeout = 1;

	cp->set.generation = 7;
	cp->set.sel.ids[0] = a->id;
	cp->set.sel.n = 1;
	cp->phase = CP_RUNNING;
	cp->start_ms = evloop_clock_ms() - 65000;
	cp->stats.switches[SELECTOR_INITIAL] = 1;
	cp->stats.switches[SELECTOR_IMPROVED] = 3;
	cp->stats.ipc_dropped = 2;
	cp->stats.reloads = 4;
	cp->stats.reload_errors = 1;

	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	snprintf(r->dp_id, sizeof(r->dp_id), "dp1");
	r->pid = 4242;
	r->workers = 2;
	r->connections_total = 100;
	r->connections_active = 9;
	r->bytes_in = 123456789;
	r->bytes_out = 987654321;
	r->errors[PROTO_ERR_NO_BACKEND] = 3;
	r->errors[PROTO_ERR_DIAL] = 5;
	r->ipc_dropped = 1;
	r->duration_buckets[0] = 10;  /* <= 10 ms */
	r->duration_buckets[3] = 20;  /* <= 1 s */
	r->duration_buckets[9] = 1;   /* <= 1 h */
	r->duration_count = 33;       /* 2 longer than an hour */
	r->duration_ms_sum = 4000000;
	r->n_backends = 2;
	assert_int_equal(addr_parse("10.0.0.1:80", 0, &r->backends[0].addr,
	    err, sizeof(err)), 0);
	r->backends[0].active = true;
	r->backends[0].connections = 6;
	r->backends[0].pool_idle = 2;
	r->backends[0].pool_target = 4;
	r->backends[0].pool_peak = 7;
	r->backends[0].connections_total = 90;
	r->backends[0].lb_picks = 91;
	r->backends[0].pool_hits = 80;
	r->backends[0].pool_misses = 11;
	r->backends[0].pool_scale_ups = 3;
	r->backends[0].pool_scale_downs = 1;
	r->backends[0].dials_ok = 11;
	r->backends[0].dials_failed = 2;
	r->backends[0].dials_timeout = 1;
	r->backends[0].dial_us_sum = 55000;
	r->backends[0].dial_buckets[2] = 4;
	r->backends[0].dial_buckets[4] = 7;
	r->backends[0].bytes_in = 1000;
	r->backends[0].bytes_out = 2000;
	assert_int_equal(addr_parse("10.0.0.4:80", 0, &r->backends[1].addr,
	    err, sizeof(err)), 0);
	r->backends[1].connections = 3;
	dataplanes_fold(cp->dps, r, evloop_clock_ms(), cp->sb,
	    &cp->cfg.remotes.scoring, false);
	free(r);
	*state = cp;
	return 0;
}

static int
teardown(void **state)
{
	struct cp *cp = *state;

	dataplanes_free(cp->dps);
	scoreboard_free(cp->sb);
	free(cp);
	return 0;
}

/* ---- parsing the exposition --------------------------------------------- */

static char *
render(const struct cp *cp)
{
	size_t len;
	char *text;

	text = metrics_render(cp, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_true(len > 0 && text[len - 1] == '\n');
	return text;
}

/* The value of the series written exactly as key ("name{labels}"), or
 * NAN when absent. */
static double
value_of(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p;

	for (p = text; p != NULL && *p != '\0';
	    p = strchr(p, '\n') != NULL ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return NAN;
}

#define assert_value(text, key, want) do {				\
	double got_ = value_of((text), (key));				\
	if (!(fabs(got_ - (double)(want)) < 1e-9)) {			\
		print_error("%s = %.12g, want %.12g\n", (key), got_,	\
		    (double)(want));					\
		fail();							\
	}								\
} while (0)

static bool
has_line_prefix(const char *text, const char *prefix)
{
	const char *p;
	size_t n = strlen(prefix);

	for (p = text; p != NULL && *p != '\0';
	    p = strchr(p, '\n') != NULL ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			return true;
	return false;
}

static unsigned
count_prefix(const char *text, const char *prefix)
{
	const char *p;
	size_t n = strlen(prefix);
	unsigned count = 0;

	for (p = text; p != NULL && *p != '\0';
	    p = strchr(p, '\n') != NULL ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			count++;
	return count;
}

static const char *
type_of(const char *text, const char *name, char *buf, size_t size)
{
	char prefix[160];
	const char *p;

	snprintf(prefix, sizeof(prefix), "# TYPE %s ", name);
	if ((p = strstr(text, prefix)) == NULL)
		return NULL;
	p += strlen(prefix);
	snprintf(buf, size, "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

/*
 * Walks every line: HELP then TYPE once per family, every sample belongs
 * to the family of the last TYPE (histograms: _bucket, _sum, _count),
 * histogram buckets cumulative with +Inf == _count. Returns the number of
 * families.
 */
static unsigned
check_structure(const char *text)
{
	char fam[128], type[16], name[128], series[256], prev_series[256];
	char seen[128][128];
	unsigned nfam = 0, i;
	double v, prev_cum = 0, prev_le = -1;
	const char *p, *end;
	bool have_help = false;

	fam[0] = type[0] = prev_series[0] = '\0';
	for (p = text; *p != '\0'; p = end + 1) {
		char line[512];
		size_t n;

		end = strchr(p, '\n');
		assert_non_null(end);
		n = (size_t)(end - p);
		assert_true(n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%127s", name), 1);
			have_help = true;
			snprintf(fam, sizeof(fam), "%s", name);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%127s %15s", name,
			    type), 2);
			assert_true(have_help);
			assert_string_equal(name, fam);
			for (i = 0; i < nfam; i++)
				if (strcmp(seen[i], name) == 0) {
					print_error("%s twice\n", name);
					fail();
				}
			assert_true(nfam < 128);
			snprintf(seen[nfam++], sizeof(seen[0]), "%s", name);
			have_help = false;
			prev_series[0] = '\0';
			if (strcmp(type, "counter") == 0) {
				n = strlen(name);
				assert_true(n > 6 &&
				    strcmp(name + n - 6, "_total") == 0);
			}
			continue;
		}
		assert_true(line[0] != '#' && line[0] != '\0');
		n = strcspn(line, "{ ");
		snprintf(name, sizeof(name), "%.*s", (int)n, line);
		v = strtod(strrchr(line, ' ') + 1, NULL);
		assert_true(isfinite(v));
		if (strcmp(type, "histogram") != 0) {
			assert_string_equal(name, fam);
			continue;
		}
		/* histogram: the series without its le label */
		if (strcmp(name, fam) == 0 ||
		    strncmp(name, fam, strlen(fam)) != 0) {
			print_error("%s is not a series of %s\n", name, fam);
			fail();
		}
		if (strcmp(name + strlen(fam), "_bucket") == 0) {
			const char *le = strstr(line, "le=\"");
			double lev;

			assert_non_null(le);
			snprintf(series, sizeof(series), "%.*s",
			    (int)(le - line), line);
			lev = strncmp(le + 4, "+Inf", 4) == 0 ? INFINITY :
			    strtod(le + 4, NULL);
			if (strcmp(series, prev_series) == 0) {
				assert_true(lev > prev_le);
				assert_true(v >= prev_cum);
			}
			snprintf(prev_series, sizeof(prev_series), "%s",
			    series);
			prev_le = lev;
			prev_cum = v;
		} else if (strcmp(name + strlen(fam), "_count") == 0) {
			/* follows its +Inf bucket, with the same value */
			assert_true(isinf(prev_le));
			assert_true(v == prev_cum);
		} else {
			assert_string_equal(name + strlen(fam), "_sum");
		}
	}
	return nfam;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_every_name_and_type(void **state)
{
	struct cp *cp = *state;
	char *text, buf[32];
	const char *t;
	size_t i;

	text = render(cp);
	assert_true(check_structure(text) >= 40);
	for (i = 0; i < sizeof(seed_metrics) / sizeof(seed_metrics[0]); i++) {
		t = type_of(text, seed_metrics[i].name, buf, sizeof(buf));
		if (t == NULL || strcmp(t, seed_metrics[i].type) != 0) {
			print_error("%s: type %s, want %s\n",
			    seed_metrics[i].name, t ? t : "(missing)",
			    seed_metrics[i].type);
			fail();
		}
	}
	assert_value(text, "tcp_forwarder_build_info{version=\""
	    TCPFWD_VERSION "\"}", 1);
	free(text);
}

static void
test_global_values(void **state)
{
	struct cp *cp = *state;
	char *text;
	double up;

	text = render(cp);
	assert_value(text, "tcp_forwarder_new_connections_total", 100);
	assert_value(text, "tcp_forwarder_active_connections", 9);
	assert_value(text, "tcp_forwarder_bytes_transferred_total"
	    "{direction=\"in\"}", 123456789);
	assert_value(text, "tcp_forwarder_bytes_transferred_total"
	    "{direction=\"out\"}", 987654321);
	assert_value(text, "tcp_forwarder_dataplanes", 1);
	assert_value(text, "tcp_forwarder_tracked_backends", 5);
	assert_value(text, "tcp_forwarder_backend_series_omitted", 0);
	assert_value(text, "tcp_forwarder_active_set_generation", 7);
	assert_value(text, "tcp_forwarder_active_set_size", 1);
	assert_value(text, "tcp_forwarder_active_set_degraded", 0);
	assert_value(text, "tcp_forwarder_active_set_switches_total"
	    "{reason=\"initial\"}", 1);
	assert_value(text, "tcp_forwarder_active_set_switches_total"
	    "{reason=\"improved\"}", 3);
	assert_value(text, "tcp_forwarder_active_set_switches_total"
	    "{reason=\"replaced\"}", 0);
	assert_value(text, "tcp_forwarder_reloads_total{result=\"ok\"}", 4);
	assert_value(text, "tcp_forwarder_reloads_total{result=\"error\"}", 1);
	assert_value(text, "tcp_forwarder_dataplane_reports_total", 1);
	up = value_of(text, "tcp_forwarder_uptime_seconds");
	assert_true(up >= 65.0 && up < 70.0);

	/* every error kind, always, and the dropped IPC of both planes */
	assert_value(text, "tcp_forwarder_errors_total{kind=\"no_backend\"}",
	    3);
	assert_value(text, "tcp_forwarder_errors_total{kind=\"dial_failed\"}",
	    5);
	assert_value(text, "tcp_forwarder_errors_total{kind=\"resource\"}", 0);
	assert_value(text, "tcp_forwarder_errors_total{kind=\"ipc_dropped\"}",
	    3);
	assert_int_equal(count_prefix(text, "tcp_forwarder_errors_total{"),
	    PROTO_ERR_COUNT + 1);

	/* durations in seconds, cumulative, +Inf == count */
	assert_value(text, "tcp_forwarder_connection_duration_seconds_bucket"
	    "{le=\"0.01\"}", 10);
	assert_value(text, "tcp_forwarder_connection_duration_seconds_bucket"
	    "{le=\"0.5\"}", 10);
	assert_value(text, "tcp_forwarder_connection_duration_seconds_bucket"
	    "{le=\"1\"}", 30);
	assert_value(text, "tcp_forwarder_connection_duration_seconds_bucket"
	    "{le=\"3600\"}", 31);
	assert_value(text, "tcp_forwarder_connection_duration_seconds_bucket"
	    "{le=\"+Inf\"}", 33);
	assert_value(text, "tcp_forwarder_connection_duration_seconds_count",
	    33);
	assert_value(text, "tcp_forwarder_connection_duration_seconds_sum",
	    4000);
	free(text);
}

static void
test_backend_values(void **state)
{
	struct cp *cp = *state;
	struct sb_entry *a = scoreboard_at(cp->sb, 0);
	char *text;

#define A "{backend=\"10.0.0.1:80\"}"
#define AL(l) "{backend=\"10.0.0.1:80\"," l "}"
	text = render(cp);
	assert_value(text, "tcp_forwarder_server_active" A, 1);
	assert_value(text, "tcp_forwarder_server_score" A, a->score.score);
	assert_true(value_of(text, "tcp_forwarder_server_score" A) > 50);
	assert_value(text, "tcp_forwarder_server_consecutive_failures" A, 0);
	assert_value(text, "tcp_forwarder_server_probe_success_total" A, 4);
	assert_value(text, "tcp_forwarder_health_checks_total"
	    AL("result=\"ok\""), 4);
	assert_value(text, "tcp_forwarder_health_checks_total"
	    AL("result=\"failed\""), 0);
	assert_value(text, "tcp_forwarder_lb_requests_total" A, 91);
	assert_value(text, "tcp_forwarder_lb_backend_connections" A, 6);
	assert_value(text, "tcp_forwarder_backend_connections_total" A, 90);
	assert_value(text, "tcp_forwarder_pool_connections" A, 4);
	assert_value(text, "tcp_forwarder_pool_available_connections" A, 2);
	assert_value(text, "tcp_forwarder_pool_active_connections" A, 6);
	assert_value(text, "tcp_forwarder_pool_total_connections" A, 8);
	assert_value(text, "tcp_forwarder_pool_utilization_percent" A, 75);
	assert_value(text, "tcp_forwarder_pool_peak_concurrency" A, 7);
	assert_value(text, "tcp_forwarder_pool_hits_total" A, 80);
	assert_value(text, "tcp_forwarder_pool_misses_total" A, 11);
	assert_value(text, "tcp_forwarder_pool_scale_up_total" A, 3);
	assert_value(text, "tcp_forwarder_pool_scale_down_total" A, 1);
	assert_value(text, "tcp_forwarder_backend_dials_total"
	    AL("result=\"ok\""), 11);
	assert_value(text, "tcp_forwarder_backend_dials_total"
	    AL("result=\"failed\""), 2);
	assert_value(text, "tcp_forwarder_backend_dials_total"
	    AL("result=\"timeout\""), 1);
	assert_value(text, "tcp_forwarder_backend_bytes_transferred_total"
	    AL("direction=\"in\""), 1000);
	assert_value(text, "tcp_forwarder_backend_bytes_transferred_total"
	    AL("direction=\"out\""), 2000);

	/* probe histogram: 200us, 3ms, 3ms, 2s (beyond the last bound) */
	assert_value(text, "tcp_forwarder_server_probe_duration_seconds_bucket"
	    AL("le=\"0.00025\""), 1);
	assert_value(text, "tcp_forwarder_server_probe_duration_seconds_bucket"
	    AL("le=\"0.0025\""), 1);
	assert_value(text, "tcp_forwarder_server_probe_duration_seconds_bucket"
	    AL("le=\"0.005\""), 3);
	assert_value(text, "tcp_forwarder_server_probe_duration_seconds_bucket"
	    AL("le=\"1\""), 3);
	assert_value(text, "tcp_forwarder_server_probe_duration_seconds_bucket"
	    AL("le=\"+Inf\""), 4);
	assert_value(text, "tcp_forwarder_server_probe_duration_seconds_count"
	    A, 4);
	assert_value(text, "tcp_forwarder_server_probe_duration_seconds_sum"
	    A, 2.0062);
	/* dial histogram: 4 at <= 1 ms, 7 at <= 5 ms */
	assert_value(text, "tcp_forwarder_backend_dial_duration_seconds_bucket"
	    AL("le=\"0.0005\""), 0);
	assert_value(text, "tcp_forwarder_backend_dial_duration_seconds_bucket"
	    AL("le=\"0.001\""), 4);
	assert_value(text, "tcp_forwarder_backend_dial_duration_seconds_bucket"
	    AL("le=\"0.005\""), 11);
	assert_value(text, "tcp_forwarder_backend_dial_duration_seconds_bucket"
	    AL("le=\"+Inf\""), 11);
	assert_value(text, "tcp_forwarder_backend_dial_duration_seconds_sum"
	    A, 0.055);
#undef A
#undef AL

	/* the others: no score yet is 0; draining has live connections */
	assert_value(text, "tcp_forwarder_server_score"
	    "{backend=\"10.0.0.3:80\"}", 0);
	assert_value(text, "tcp_forwarder_server_active"
	    "{backend=\"10.0.0.4:80\"}", 0);
	assert_value(text, "tcp_forwarder_server_consecutive_failures"
	    "{backend=\"10.0.0.4:80\"}", 1);
	assert_value(text, "tcp_forwarder_health_checks_total"
	    "{backend=\"10.0.0.4:80\",result=\"timeout\"}", 1);
	assert_value(text, "tcp_forwarder_pool_utilization_percent"
	    "{backend=\"10.0.0.4:80\"}", 100);
	assert_value(text, "tcp_forwarder_pool_utilization_percent"
	    "{backend=\"10.0.0.3:80\"}", 0);
	assert_value(text, "tcp_forwarder_server_score"
	    "{backend=\"[2001:db8::1]:443\"}", scoreboard_at(cp->sb,
	    2)->score.score);
	/* series sorted by address: IPv4 before IPv6 */
	assert_true(strstr(text, "tcp_forwarder_server_active"
	    "{backend=\"10.0.0.4:80\"}") < strstr(text,
	    "tcp_forwarder_server_active{backend=\"[2001:db8::1]:443\"}"));
	free(text);
}

static bool
has_backend(const char *text, const char *name)
{
	char key[128];

	snprintf(key, sizeof(key), "tcp_forwarder_server_active"
	    "{backend=\"%s\"}", name);
	return has_line_prefix(text, key);
}

static void
test_series_cap(void **state)
{
	struct cp *cp = *state;
	char *text;

	/* active and draining first */
	cp->cfg.metrics.max_backend_series = 2;
	text = render(cp);
	check_structure(text);
	assert_true(has_backend(text, "10.0.0.1:80"));
	assert_true(has_backend(text, "10.0.0.4:80"));
	assert_false(has_backend(text, "[2001:db8::1]:443"));
	assert_int_equal(count_prefix(text, "tcp_forwarder_server_active{"),
	    2);
	assert_int_equal(count_prefix(text, "tcp_forwarder_health_checks_"
	    "total{"), 6);
	assert_value(text, "tcp_forwarder_backend_series_omitted", 3);
	free(text);

	/* then disabled, then the best-scored candidate (B, not D) */
	cp->cfg.metrics.max_backend_series = 4;
	text = render(cp);
	assert_true(has_backend(text, "[2001:db8::1]:443"));
	assert_true(has_backend(text, "10.0.0.2:80"));
	assert_false(has_backend(text, "10.0.0.3:80"));
	assert_value(text, "tcp_forwarder_backend_series_omitted", 1);
	free(text);

	/* none: families stay, without series */
	cp->cfg.metrics.max_backend_series = 0;
	text = render(cp);
	check_structure(text);
	assert_int_equal(count_prefix(text, "tcp_forwarder_server_active{"),
	    0);
	assert_true(has_line_prefix(text, "# TYPE tcp_forwarder_server_score "
	    "gauge"));
	assert_value(text, "tcp_forwarder_backend_series_omitted", 5);
	free(text);
}

static void
test_many_backends(void **state)
{
	struct cp *cp = *state;
	struct sb_entry *e;
	char name[32], *text;
	unsigned i;

	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "10.1.%u.%u:80", i / 250,
		    i % 250 + 1);
		e = add(cp, name);
		if (i % 3 == 0)
			probe_ok(cp, e, 1000 + i);
	}
	cp->cfg.metrics.max_backend_series = 200;
	text = render(cp);
	check_structure(text);
	assert_int_equal(count_prefix(text, "tcp_forwarder_server_active{"),
	    200);
	assert_value(text, "tcp_forwarder_backend_series_omitted", 2805);
	assert_value(text, "tcp_forwarder_tracked_backends", 3005);
	/* the fastest sampled backend made it, an unprobed one did not */
	assert_true(has_backend(text, "10.1.0.1:80"));
	assert_false(has_backend(text, "10.1.0.2:80"));
	free(text);
}

static void
test_escaping(void **state)
{
	struct cp *cp = *state;
	struct sb_entry *d = scoreboard_at(cp->sb, 3);
	char *text;

	/* names come from addr_format, but the writer must not trust that */
	snprintf(d->name, sizeof(d->name), "we\"ird\\na\nme");
	text = render(cp);
	check_structure(text);
	assert_value(text, "tcp_forwarder_server_active"
	    "{backend=\"we\\\"ird\\\\na\\nme\"}", 0);
	free(text);
}

static void
test_empty_control_plane(void **state)
{
	struct cp cp;
	char *text;

	(void)state;
	memset(&cp, 0, sizeof(cp));
	config_defaults(&cp.cfg);
	cp.start_ms = evloop_clock_ms();
	text = render(&cp);
	check_structure(text);
	assert_value(text, "tcp_forwarder_tracked_backends", 0);
	assert_value(text, "tcp_forwarder_new_connections_total", 0);
	assert_value(text, "tcp_forwarder_connection_duration_seconds_count",
	    0);
	free(text);
}

/* Runs promtool over text; skips when promtool is missing. */
static void
promtool_check(const char *text, const char *what)
{
	char path[] = "/tmp/test_metrics.XXXXXX", cmd[256];
	FILE *f;
	int fd, rc;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		print_message("promtool missing: skipping the %s check\n",
		    what);
		return;
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	rc = system(cmd);
	unlink(path);
	if (rc != 0) {
		print_error("promtool check metrics failed on the %s output\n",
		    what);
		fail();
	}
}

static void
test_promtool(void **state)
{
	struct cp *cp = *state;
	struct sb_entry *d = scoreboard_at(cp->sb, 3);
	char *text;

	text = render(cp);
	promtool_check(text, "full");
	free(text);
	cp->cfg.metrics.max_backend_series = 0;
	text = render(cp);
	promtool_check(text, "no-backend");
	free(text);
	cp->cfg.metrics.max_backend_series = 200;
	snprintf(d->name, sizeof(d->name), "we\"ird\\na\nme");
	text = render(cp);
	promtool_check(text, "escaped");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_every_name_and_type),
		T(test_global_values),
		T(test_backend_values),
		T(test_series_cap),
		T(test_many_backends),
		T(test_escaping),
		T(test_empty_control_plane),
		T(test_promtool),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
