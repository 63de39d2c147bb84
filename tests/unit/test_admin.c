/*
 * The admin API's routing core over a hand-built control plane: every
 * route's status, content type and JSON, sorting and filters, URL
 * decoding, 400/401/404/405/409/414 answers, the bearer token, odd URIs;
 * then the nng listener itself on loopback (a request answered through
 * the queue, 503 on stop, the non-loopback refusal).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/evloop.h"
#include "../../common/version.h"
#include "../../controlplane/admin.h"
#include "../../controlplane/cp.h"
#include "../../controlplane/probe.h"

#define T_UNIX_MS 1700000000123ull /* 2023-11-14T22:13:20.123Z */

/* ---- test doubles for cp_main.c ----------------------------------------- */

static unsigned disable_calls, enable_calls, reload_calls;
static bool refuse_disable, fail_reload;

int
cp_disable(struct cp *cp, struct sb_entry *e, char *err, size_t errlen)
{
	(void)cp;
	disable_calls++;
	if (refuse_disable) {
		snprintf(err, errlen, "%s is the last backend of the active "
		    "set; enable another one first", e->name);
		return -1;
	}
	e->disabled = true;
	return 0;
}

int
cp_enable(struct cp *cp, struct sb_entry *e, char *err, size_t errlen)
{
	(void)cp;
	(void)err;
	(void)errlen;
	enable_calls++;
	e->disabled = false;
	return 0;
}

int
cp_reload(struct cp *cp, char *err, size_t errlen)
{
	(void)cp;
	reload_calls++;
	if (fail_reload) {
		snprintf(err, errlen, "config.yaml:3:7: remotes.probing."
		    "interval: invalid duration \"15x\"");
		return -1;
	}
	return 0;
}

uint64_t
cp_unix_ms(void)
{
	return T_UNIX_MS;
}

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
probe_ok(struct cp *cp, struct sb_entry *e, double ms)
{
	assert_int_equal(score_success(&e->score, &cp->cfg.remotes.scoring,
	    ms), 0);
	e->probes_ok++;
	e->last_outcome = PROBE_OK;
	e->last_latency_ms = ms;
	e->last_probe_unix_ms = T_UNIX_MS;
}

/*
 * Five backends: A 10.0.0.1:80 active (fast), B 10.0.0.2:80 candidate
 * (slow), C [2001:db8::1]:443 disabled (scored), D 10.0.0.3:80 never
 * probed, E 10.0.0.4:80 draining (probe failed, connections open). One
 * data plane serving the set, generation 7.
 */
static int
setup(void **state)
{
	struct proto_report *r;
	struct sb_entry *a, *b, *c, *d, *e;
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
	d = add(cp, "10.0.0.3:80");
	e = add(cp, "10.0.0.4:80");
	probe_ok(cp, a, 10.0);
	probe_ok(cp, a, 12.0);
	probe_ok(cp, a, 11.0);
	a->listed = true;
	a->active = true;
	probe_ok(cp, b, 400.0);
	probe_ok(cp, c, 30.0);
	c->disabled = true;
	(void)d;
	score_failure(&e->score, &cp->cfg.remotes.scoring);
	e->probes_failed++;
	e->last_outcome = PROBE_FAILED;
	e->last_probe_unix_ms = T_UNIX_MS;

	snprintf(cp->set.instance, sizeof(cp->set.instance), "cafe01");
	cp->set.generation = 7;
	cp->set.changed_at_unix_ms = T_UNIX_MS;
	snprintf(cp->set.reason, sizeof(cp->set.reason),
	    "initial: 10.0.0.1:80 joined");
	cp->set.sel.ids[0] = a->id;
	cp->set.sel.n = 1;
	cp->phase = CP_RUNNING;
	cp->start_ms = evloop_clock_ms() - 65000;
	cp->start_unix_ms = T_UNIX_MS - 65000;
	cp->stats.switches[SELECTOR_INITIAL] = 1;

	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	snprintf(r->dp_id, sizeof(r->dp_id), "dp1");
	r->pid = 4242;
	r->workers = 2;
	r->uptime_ms = 120500;
	snprintf(r->serving_instance, sizeof(r->serving_instance), "cafe01");
	r->serving_generation = 7;
	r->connections_total = 100;
	r->connections_active = 9;
	r->n_backends = 2;
	assert_int_equal(addr_parse("10.0.0.1:80", 0, &r->backends[0].addr,
	    err, sizeof(err)), 0);
	r->backends[0].active = true;
	r->backends[0].connections = 5;
	r->backends[0].pool_idle = 3;
	r->backends[0].pool_target = 4;
	r->backends[0].pool_peak = 7;
	r->backends[0].dials_ok = 10;
	r->backends[0].dials_failed = 2;
	r->backends[0].dials_timeout = 1;
	assert_int_equal(addr_parse("10.0.0.4:80", 0, &r->backends[1].addr,
	    err, sizeof(err)), 0);
	r->backends[1].connections = 4;
	dataplanes_fold(cp->dps, r, evloop_clock_ms(), cp->sb,
	    &cp->cfg.remotes.scoring, false);
	free(r);

	disable_calls = enable_calls = reload_calls = 0;
	refuse_disable = fail_reload = false;
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

/* ---- helpers ------------------------------------------------------------ */

/* Routes and checks status and JSON; returns the parsed body (decref). */
#define call(cp, m, u, auth, want) call_at((cp), (m), (u), (auth), (want), \
    NULL, __FILE__, __LINE__)

static json_t *
call_at(struct cp *cp, const char *method, const char *uri,
    const char *auth, int want, struct admin_reply *keep, const char *file,
    int line)
{
	struct admin_reply r;
	json_error_t jerr;
	json_t *j;

	if (admin_route(cp, method, uri, auth, &r) != 0) {
		print_error("admin_route failed\n");
		_fail(file, line);
	}
	if (r.status != want || r.body == NULL ||
	    strlen(r.body) != r.len ||
	    strcmp(r.content_type, "application/json") != 0) {
		print_error("%s %s: status %d (want %d), type %s, body %s\n",
		    method ? method : "(null)", uri ? uri : "(null)", r.status,
		    want, r.content_type, r.body ? r.body : "(null)");
		_fail(file, line);
	}
	if ((j = json_loads(r.body, 0, &jerr)) == NULL) {
		print_error("bad JSON %s: %s\n", r.body, jerr.text);
		_fail(file, line);
	}
	if (keep != NULL)
		*keep = r;
	else
		admin_reply_free(&r);
	return j;
}

static const char *
jget_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_int_t
jget_int(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static double
jget_num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void
assert_error(json_t *j, const char *want)
{
	assert_string_equal(jget_str(j, "error"), want);
	json_decref(j);
}

static void
assert_error_has(json_t *j, const char *part)
{
	const char *msg = jget_str(j, "error");

	if (strstr(msg, part) == NULL) {
		print_error("error \"%s\" lacks \"%s\"\n", msg, part);
		fail();
	}
	json_decref(j);
}

/* ---- GET routes --------------------------------------------------------- */

static void
test_healthz(void **state)
{
	struct cp *cp = *state;
	json_t *j;

	j = call(cp, "GET", "/healthz", NULL, 200);
	assert_string_equal(jget_str(j, "status"), "ok");
	assert_int_equal(jget_int(j, "dataplanes"), 1);
	assert_int_equal(json_object_size(j), 2);
	json_decref(j);
	json_decref(call(cp, "HEAD", "/healthz", NULL, 200));
	json_decref(call(cp, "GET", "/healthz/", NULL, 200));
	json_decref(call(cp, "GET", "/healthz?probe=1", NULL, 200));
	json_decref(call(cp, "GET", "/healthz#top", NULL, 200));
	json_decref(call(cp, "GET", "http://127.0.0.1:9099/healthz", NULL,
	    200));
}

static void
test_index(void **state)
{
	struct cp *cp = *state;
	json_t *j;

	/* "/" is the status page (tests/unit/test_status_page.c) */
	j = call(cp, "GET", "/api/v1", NULL, 200);
	assert_true(json_is_array(json_object_get(j, "endpoints")));
	assert_string_equal(jget_str(j, "version"), TCPFWD_VERSION);
	json_decref(j);
	json_decref(call(cp, "GET", "/api/v1/", NULL, 200));
	json_decref(call(cp, "GET", "http://host/api/v1", NULL, 200));
}

static void
test_status(void **state)
{
	struct cp *cp = *state;
	json_t *j, *dps, *d, *c;

	j = call(cp, "GET", "/api/v1/status", NULL, 200);
	assert_string_equal(jget_str(j, "version"), TCPFWD_VERSION);
	assert_in_range(jget_int(j, "uptime_seconds"), 65, 70);
	assert_string_equal(jget_str(j, "phase"), "running");
	assert_string_equal(jget_str(j, "instance"), "cafe01");
	assert_int_equal(jget_int(j, "generation"), 7);
	assert_int_equal(jget_int(j, "active_set_size"), 1);
	assert_string_equal(jget_str(j, "last_switch"),
	    "2023-11-14T22:13:20.123Z");
	assert_int_equal(jget_int(j, "last_switch_unix_ms"), T_UNIX_MS);
	assert_string_equal(jget_str(j, "last_switch_reason"),
	    "initial: 10.0.0.1:80 joined");
	assert_true(json_is_false(json_object_get(j, "degraded")));
	assert_int_equal(jget_int(j, "tracked_backends"), 5);
	assert_string_equal(jget_str(j, "started_at"),
	    "2023-11-14T22:12:15.123Z");
	dps = json_object_get(j, "dataplanes");
	assert_true(json_is_array(dps));
	assert_int_equal(json_array_size(dps), 1);
	d = json_array_get(dps, 0);
	assert_string_equal(jget_str(d, "id"), "dp1");
	assert_int_equal(jget_int(d, "pid"), 4242);
	assert_int_equal(jget_int(d, "workers"), 2);
	assert_int_equal(jget_int(d, "uptime_seconds"), 120);
	assert_int_equal(jget_int(d, "serving_generation"), 7);
	assert_true(json_is_true(json_object_get(d, "in_sync")));
	assert_int_equal(jget_int(d, "connections_active"), 9);
	assert_true(jget_num(d, "last_seen_seconds_ago") < 5.0);
	c = json_object_get(j, "counters");
	assert_true(json_is_object(c));
	assert_int_equal(jget_int(json_object_get(c, "switches"), "initial"),
	    1);
	assert_true(jget_int(c, "admin_requests") >= 1);
	assert_int_equal(jget_int(c, "dataplane_reports"), 1);
	json_decref(j);

	/* out of sync once our generation moves on */
	cp->set.generation = 8;
	j = call(cp, "GET", "/api/v1/status", NULL, 200);
	d = json_array_get(json_object_get(j, "dataplanes"), 0);
	assert_true(json_is_false(json_object_get(d, "in_sync")));
	json_decref(j);

	/* no switch yet: null time */
	cp->set.changed_at_unix_ms = 0;
	cp->phase = CP_LEARNING;
	j = call(cp, "GET", "/api/v1/status", NULL, 200);
	assert_true(json_is_null(json_object_get(j, "last_switch")));
	assert_string_equal(jget_str(j, "phase"), "learning");
	json_decref(j);
}

static void
test_active_set(void **state)
{
	struct cp *cp = *state;
	json_t *j, *b;

	j = call(cp, "GET", "/api/v1/active-set", NULL, 200);
	assert_int_equal(json_object_size(j), 7);
	assert_int_equal(jget_int(j, "generation"), 7);
	assert_string_equal(jget_str(j, "instance"), "cafe01");
	b = json_object_get(j, "backends");
	assert_int_equal(json_array_size(b), 1);
	assert_string_equal(json_string_value(json_array_get(b, 0)),
	    "10.0.0.1:80");
	assert_string_equal(jget_str(j, "changed_at"),
	    "2023-11-14T22:13:20.123Z");
	assert_int_equal(jget_int(j, "changed_at_unix_ms"), T_UNIX_MS);
	assert_string_equal(jget_str(j, "reason"),
	    "initial: 10.0.0.1:80 joined");
	assert_true(json_is_false(json_object_get(j, "degraded")));
	json_decref(j);
}

static const char *const backend_keys[] = {
	"address", "state", "score", "latency_ms", "jitter_ms",
	"success_rate", "consecutive_failures", "penalty", "bonus", "probes",
	"listed", "last_probe", "connections", "pool", "passive",
};

static void
assert_backend_shape(json_t *b)
{
	size_t i;

	for (i = 0; i < sizeof(backend_keys) / sizeof(backend_keys[0]); i++)
		if (json_object_get(b, backend_keys[i]) == NULL) {
			print_error("backend lacks %s\n", backend_keys[i]);
			fail();
		}
	assert_int_equal(json_object_size(b),
	    sizeof(backend_keys) / sizeof(backend_keys[0]));
	assert_true(json_is_object(json_object_get(b, "pool")));
	assert_true(json_is_object(json_object_get(b, "passive")));
}

static void
test_backends_sorted(void **state)
{
	static const char *const order[] = { "10.0.0.1:80",
	    "[2001:db8::1]:443", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80" };
	static const char *const states[] = { "active", "disabled",
	    "candidate", "candidate", "draining" };
	struct cp *cp = *state;
	struct sb_entry *a = scoreboard_at(cp->sb, 0);
	json_t *j, *arr, *b, *lp;
	size_t i;

	j = call(cp, "GET", "/api/v1/backends", NULL, 200);
	arr = json_object_get(j, "backends");
	assert_int_equal(json_array_size(arr), 5);
	assert_int_equal(jget_int(j, "total"), 5);
	for (i = 0; i < 5; i++) {
		b = json_array_get(arr, i);
		assert_backend_shape(b);
		assert_string_equal(jget_str(b, "address"), order[i]);
		assert_string_equal(jget_str(b, "state"), states[i]);
	}

	/* A: three probes, every part known, live figures from the report */
	b = json_array_get(arr, 0);
	assert_true(jget_num(b, "score") > 50.0);
	assert_true(fabs(jget_num(b, "latency_ms") -
	    round(a->score.latency_ewma_ms * 1000.0) / 1000.0) < 1e-9);
	assert_true(fabs(jget_num(b, "latency_ms") - 10.52) < 1e-9);
	assert_true(json_is_real(json_object_get(b, "jitter_ms")));
	assert_true(fabs(jget_num(b, "success_rate") - 1.0) < 1e-9);
	assert_int_equal(jget_int(b, "consecutive_failures"), 0);
	assert_int_equal(jget_int(b, "probes"), 3);
	assert_true(json_is_true(json_object_get(b, "listed")));
	assert_int_equal(jget_int(b, "connections"), 5);
	assert_int_equal(jget_int(json_object_get(b, "pool"), "idle"), 3);
	assert_int_equal(jget_int(json_object_get(b, "pool"), "target"), 4);
	assert_int_equal(jget_int(json_object_get(b, "pool"), "peak"), 7);
	assert_int_equal(jget_int(json_object_get(b, "passive"),
	    "dials_ok"), 10);
	assert_int_equal(jget_int(json_object_get(b, "passive"),
	    "dials_failed"), 2);
	assert_int_equal(jget_int(json_object_get(b, "passive"),
	    "dials_timeout"), 1);
	lp = json_object_get(b, "last_probe");
	assert_int_equal(jget_int(lp, "at_unix_ms"), T_UNIX_MS);
	assert_string_equal(jget_str(lp, "outcome"), "ok");
	assert_true(fabs(jget_num(lp, "latency_ms") - 11.0) < 1e-9);

	/* C: one probe, so no jitter yet */
	b = json_array_get(arr, 1);
	assert_true(json_is_null(json_object_get(b, "jitter_ms")));
	assert_true(json_is_number(json_object_get(b, "score")));

	/* D: never probed */
	b = json_array_get(arr, 3);
	assert_true(json_is_null(json_object_get(b, "score")));
	assert_true(json_is_null(json_object_get(b, "latency_ms")));
	assert_true(json_is_null(json_object_get(b, "jitter_ms")));
	assert_true(json_is_null(json_object_get(b, "success_rate")));
	assert_true(json_is_null(json_object_get(b, "last_probe")));
	assert_int_equal(jget_int(b, "probes"), 0);

	/* E: failed probe, a penalty, no score, draining */
	b = json_array_get(arr, 4);
	assert_true(json_is_null(json_object_get(b, "score")));
	assert_true(fabs(jget_num(b, "success_rate")) < 1e-9);
	assert_int_equal(jget_int(b, "consecutive_failures"), 1);
	assert_true(jget_num(b, "penalty") > 0.0);
	lp = json_object_get(b, "last_probe");
	assert_string_equal(jget_str(lp, "outcome"), "failed");
	assert_true(json_is_null(json_object_get(lp, "latency_ms")));
	assert_int_equal(jget_int(b, "connections"), 4);
	json_decref(j);
}

static void
assert_addresses(json_t *j, unsigned total, unsigned n, ...)
{
	json_t *arr = json_object_get(j, "backends");
	va_list ap;
	unsigned i;

	assert_int_equal(jget_int(j, "total"), total);
	assert_int_equal(json_array_size(arr), n);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_string_equal(jget_str(json_array_get(arr, i),
		    "address"), va_arg(ap, const char *));
	va_end(ap);
	json_decref(j);
}

static void
test_backends_query(void **state)
{
	struct cp *cp = *state;

	assert_addresses(call(cp, "GET", "/api/v1/backends?state=active",
	    NULL, 200), 1, 1, "10.0.0.1:80");
	assert_addresses(call(cp, "GET", "/api/v1/backends?state=disabled",
	    NULL, 200), 1, 1, "[2001:db8::1]:443");
	assert_addresses(call(cp, "GET", "/api/v1/backends?state=draining",
	    NULL, 200), 1, 1, "10.0.0.4:80");
	assert_addresses(call(cp, "GET", "/api/v1/backends?state=candidate",
	    NULL, 200), 2, 2, "10.0.0.2:80", "10.0.0.3:80");
	assert_addresses(call(cp, "GET", "/api/v1/backends?limit=2", NULL,
	    200), 5, 2, "10.0.0.1:80", "[2001:db8::1]:443");
	assert_addresses(call(cp, "GET", "/api/v1/backends?limit=0", NULL,
	    200), 5, 0);
	assert_addresses(call(cp, "GET",
	    "/api/v1/backends?state=candidate&limit=1", NULL, 200), 2, 1,
	    "10.0.0.2:80");
	assert_error_has(call(cp, "GET",
	    "/api/v1/backends?st%61te=act%69ve&x=1&&=&limit", NULL, 400),
	    "bad limit");
}

static void
test_backends_query_errors(void **state)
{
	struct cp *cp = *state;

	assert_addresses(call(cp, "GET",
	    "/api/v1/backends?st%61te=act%69ve&x=1&&=", NULL, 200), 1, 1,
	    "10.0.0.1:80");
	assert_addresses(call(cp, "GET",
	    "/api/v1/backends?state=disabled&state=active", NULL, 200), 1, 1,
	    "10.0.0.1:80");
	assert_error_has(call(cp, "GET", "/api/v1/backends?state=bogus",
	    NULL, 400), "bad state \"bogus\"");
	assert_error_has(call(cp, "GET", "/api/v1/backends?state=", NULL,
	    400), "bad state");
	assert_error_has(call(cp, "GET", "/api/v1/backends?limit=x", NULL,
	    400), "bad limit");
	assert_error_has(call(cp, "GET", "/api/v1/backends?limit=-1", NULL,
	    400), "bad limit");
	assert_error_has(call(cp, "GET", "/api/v1/backends?limit=99999999999",
	    NULL, 400), "bad limit");
	assert_error_has(call(cp, "GET", "/api/v1/backends?limit=%zz", NULL,
	    400), "limit");
	assert_error_has(call(cp, "GET", "/api/v1/backends?state=%00", NULL,
	    400), "state");
	assert_error_has(call(cp, "GET", "/api/v1/backends?state=%ff%fe",
	    NULL, 400), "bad state \"??\"");
}

static void
test_backend_one(void **state)
{
	struct cp *cp = *state;
	json_t *j;

	j = call(cp, "GET", "/api/v1/backends/10.0.0.1:80", NULL, 200);
	assert_backend_shape(j);
	assert_string_equal(jget_str(j, "address"), "10.0.0.1:80");
	json_decref(j);
	/* URL-encoded IPv6 brackets, raw brackets, the default port */
	j = call(cp, "GET", "/api/v1/backends/%5B2001:db8::1%5D:443", NULL,
	    200);
	assert_string_equal(jget_str(j, "address"), "[2001:db8::1]:443");
	json_decref(j);
	j = call(cp, "GET", "/api/v1/backends/%5b2001%3Adb8%3A%3A1%5d%3a443",
	    NULL, 200);
	assert_string_equal(jget_str(j, "state"), "disabled");
	json_decref(j);
	j = call(cp, "GET", "/api/v1/backends/[2001:db8::1]:443/", NULL, 200);
	json_decref(j);
	j = call(cp, "GET", "/api/v1/backends/10.0.0.3", NULL, 200);
	assert_string_equal(jget_str(j, "address"), "10.0.0.3:80");
	json_decref(j);

	assert_error(call(cp, "GET", "/api/v1/backends/1.2.3.4:80", NULL,
	    404), "backend 1.2.3.4:80 is not tracked");
	assert_error(call(cp, "GET", "/api/v1/backends/%5B::1%5D:80", NULL,
	    404), "backend [::1]:80 is not tracked");
	assert_error_has(call(cp, "GET", "/api/v1/backends/nonsense", NULL,
	    400), "bad backend address \"nonsense\"");
	assert_error_has(call(cp, "GET", "/api/v1/backends/1.2.3.4:99999",
	    NULL, 400), "bad backend address");
	assert_error_has(call(cp, "GET", "/api/v1/backends/10.0.0.1%3A80%00",
	    NULL, 400), "percent-encoding");
	assert_error_has(call(cp, "GET", "/api/v1/backends/%G0", NULL, 400),
	    "percent-encoding");
	assert_error_has(call(cp, "GET", "/api/v1/backends/10.0.0.1:8%", NULL,
	    400), "percent-encoding");
	assert_error_has(call(cp, "GET", "/api/v1/backends/%E2%82", NULL,
	    400), "bad backend address \"??\"");
}

/* ---- errors ------------------------------------------------------------- */

static void
test_not_found(void **state)
{
	static const char *const paths[] = {
		"/nope", "/api", "/api/v2/status", "/api/v1/statu",
		"/api/v1/status/extra", "/api/v1/backends/10.0.0.1:80/x",
		"/api/v1/backends/10.0.0.1:80/disable/now", "//", "/healthz//",
		"/api/v1//status", "/api/v1/backends//disable",
		"/a/b/c/d/e/f/g/h/i/j/k",
		"/API/V1/STATUS", "/metricsx", "/%2e%2e/healthz",
	};
	struct cp *cp = *state;
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_error_has(call(cp, "GET", paths[i], NULL, 404),
		    "no such path");
}

static void
test_method_not_allowed(void **state)
{
	struct cp *cp = *state;
	struct admin_reply r;
	json_t *j;

	j = call_at(cp, "DELETE", "/api/v1/status", NULL, 405, &r, __FILE__,
	    __LINE__);
	assert_string_equal(r.allow, "GET, HEAD");
	admin_reply_free(&r);
	assert_error(j, "method DELETE not allowed on /api/v1/status "
	    "(use GET)");
	j = call_at(cp, "GET", "/api/v1/reload", NULL, 405, &r, __FILE__,
	    __LINE__);
	assert_string_equal(r.allow, "POST");
	admin_reply_free(&r);
	json_decref(j);
	json_decref(call(cp, "POST", "/api/v1/backends", NULL, 405));
	json_decref(call(cp, "PUT", "/api/v1/backends/10.0.0.1:80", NULL,
	    405));
	json_decref(call(cp, "POST", "/healthz", NULL, 405));
	json_decref(call(cp, "GET", "/api/v1/backends/10.0.0.1:80/disable",
	    NULL, 405));
	json_decref(call(cp, "post", "/api/v1/reload", NULL, 405));
	assert_error_has(call(cp, "G\xff\x01T", "/healthz", NULL, 405),
	    "method G??T not allowed");
	assert_int_equal(reload_calls + disable_calls, 0);
}

static void
test_bad_requests(void **state)
{
	struct cp *cp = *state;
	struct admin_reply r;
	char *uri;
	size_t i;

	assert_error_has(call(cp, "GET", "", NULL, 400), "not a path");
	assert_error_has(call(cp, "GET", "*", NULL, 400), "not a path");
	assert_error_has(call(cp, "GET", "healthz", NULL, 400), "not a path");
	assert_error_has(call(cp, "", "/healthz", NULL, 400), "malformed");
	assert_error_has(call(cp, NULL, "/healthz", NULL, 400), "malformed");
	assert_error_has(call(cp, "GET", NULL, NULL, 400), "malformed");

	/* the longest URI routed, then one byte more */
	uri = malloc(ADMIN_URI_MAX + 2);
	assert_non_null(uri);
	memset(uri, 'a', ADMIN_URI_MAX + 1);
	uri[0] = '/';
	uri[ADMIN_URI_MAX] = '\0';
	assert_error_has(call(cp, "GET", uri, NULL, 404),
	    "no such path: /aaa");
	uri[ADMIN_URI_MAX] = 'a';
	uri[ADMIN_URI_MAX + 1] = '\0';
	assert_error_has(call(cp, "GET", uri, NULL, 414), "longer than");
	/* a long query with a long state value */
	memcpy(uri, "/api/v1/backends?state=", 23);
	uri[ADMIN_URI_MAX] = '\0';
	assert_error_has(call(cp, "GET", uri, NULL, 400), "state");
	/* many segments, every one an escape */
	for (i = 0; i + 4 <= ADMIN_URI_MAX; i += 4)
		memcpy(uri + i, "/%41", 4);
	uri[i] = '\0';
	json_decref(call(cp, "GET", uri, NULL, 404));
	free(uri);

	/* control bytes and invalid UTF-8 still give valid JSON */
	assert_int_equal(admin_route(cp, "GET", "/\x01\xff\xfe\"\\", NULL, &r),
	    0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body,
	    "{\"error\":\"no such path: /???\\\"\\\\\"}\n");
	admin_reply_free(&r);
	admin_reply_free(&r); /* twice is fine */
}

static void
test_unsafe_numbers_and_text(void **state)
{
	struct cp *cp = *state;
	struct sb_entry *a = scoreboard_at(cp->sb, 0);
	json_t *j, *b;

	a->score.penalty = NAN;
	a->score.bonus = INFINITY;
	a->score.score = -INFINITY;
	a->score.latency_ewma_ms = 1e308 * 10.0;
	a->last_latency_ms = NAN;
	/* a reason cut inside a UTF-8 character */
	snprintf(cp->set.reason, sizeof(cp->set.reason), "caf\xc3");
	j = call(cp, "GET", "/api/v1/backends/10.0.0.1:80", NULL, 200);
	assert_true(json_is_null(json_object_get(j, "penalty")));
	assert_true(json_is_null(json_object_get(j, "bonus")));
	assert_true(json_is_null(json_object_get(j, "score")));
	assert_true(json_is_null(json_object_get(j, "latency_ms")));
	b = json_object_get(j, "last_probe");
	assert_true(json_is_null(json_object_get(b, "latency_ms")));
	json_decref(j);
	j = call(cp, "GET", "/api/v1/active-set", NULL, 200);
	assert_string_equal(jget_str(j, "reason"), "caf?");
	json_decref(j);
	json_decref(call(cp, "GET", "/api/v1/status", NULL, 200));
	json_decref(call(cp, "GET", "/api/v1/backends", NULL, 200));
}

/* ---- mutating calls ----------------------------------------------------- */

static void
test_disable_enable(void **state)
{
	struct cp *cp = *state;
	json_t *j;

	j = call(cp, "POST", "/api/v1/backends/10.0.0.2:80/disable", NULL,
	    200);
	assert_backend_shape(j);
	assert_string_equal(jget_str(j, "state"), "disabled");
	json_decref(j);
	assert_int_equal(disable_calls, 1);
	j = call(cp, "POST", "/api/v1/backends/10.0.0.2%3A80/enable/", NULL,
	    200);
	assert_string_equal(jget_str(j, "state"), "candidate");
	json_decref(j);
	assert_int_equal(enable_calls, 1);

	refuse_disable = true;
	assert_error(call(cp, "POST", "/api/v1/backends/10.0.0.1:80/disable",
	    NULL, 409), "10.0.0.1:80 is the last backend of the active set; "
	    "enable another one first");
	assert_error(call(cp, "POST", "/api/v1/backends/9.9.9.9:80/disable",
	    NULL, 404), "backend 9.9.9.9:80 is not tracked");
	assert_error_has(call(cp, "POST", "/api/v1/backends/bad/enable",
	    NULL, 400), "bad backend address");
	assert_int_equal(disable_calls, 2);
	assert_int_equal(enable_calls, 1);
}

static void
test_reload(void **state)
{
	struct cp *cp = *state;
	json_t *j;

	j = call(cp, "POST", "/api/v1/reload", NULL, 200);
	assert_string_equal(jget_str(j, "status"), "reloaded");
	json_decref(j);
	fail_reload = true;
	assert_error(call(cp, "POST", "/api/v1/reload?now=1", NULL, 500),
	    "reload failed: config.yaml:3:7: remotes.probing.interval: "
	    "invalid duration \"15x\"");
	assert_int_equal(reload_calls, 2);
}

static void
test_token(void **state)
{
	static const char *const bad[] = {
		NULL, "", "Bearer", "Bearer ", "Bearer s3cre",
		"Bearer s3cretX",
		"Basic s3cret", "Bearers3cret", "s3cret", "Bearer S3CRET",
		"Bearer s3cret extra", "Bearer \ts3cre t",
	};
	static const char *const good[] = {
		"Bearer s3cret", "bearer s3cret", "BEARER  s3cret ",
		"\tBearer\ts3cret\t",
	};
	struct cp *cp = *state;
	struct admin_reply r;
	json_t *j;
	size_t i;

	snprintf(cp->token, sizeof(cp->token), "s3cret");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = call_at(cp, "POST", "/api/v1/reload", bad[i], 401, &r,
		    __FILE__, __LINE__);
		assert_true(r.authenticate);
		admin_reply_free(&r);
		assert_error_has(j, "Authorization: Bearer");
		assert_error_has(call(cp, "POST",
		    "/api/v1/backends/10.0.0.2:80/disable", bad[i], 401),
		    "Bearer");
	}
	assert_int_equal(reload_calls + disable_calls, 0);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		json_decref(call(cp, "POST", "/api/v1/reload", good[i], 200));
	assert_int_equal(reload_calls, 4);
	json_decref(call(cp, "POST", "/api/v1/backends/10.0.0.2:80/disable",
	    "Bearer s3cret", 200));
	/* GET stays open; a wrong method is 405 before any token check */
	json_decref(call(cp, "GET", "/api/v1/status", NULL, 200));
	json_decref(call(cp, "GET", "/api/v1/backends", "Bearer wrong", 200));
	json_decref(call(cp, "GET", "/api/v1/reload", NULL, 405));
	/* no token configured: POST is open */
	cp->token[0] = '\0';
	json_decref(call(cp, "POST", "/api/v1/reload", NULL, 200));
	json_decref(call(cp, "POST", "/api/v1/reload", "Bearer any", 200));
}

/* ---- metrics paths ------------------------------------------------------ */

static void
test_metrics_paths(void **state)
{
	struct cp *cp = *state;
	struct admin_reply r;

	assert_int_equal(admin_route(cp, "GET", "/metrics", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type,
	    "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body, "tcp_forwarder_build_info{version=\""
	    TCPFWD_VERSION "\"} 1\n"));
	assert_int_equal(strlen(r.body), r.len);
	admin_reply_free(&r);
	json_decref(call(cp, "POST", "/metrics", NULL, 405));

	/* the metrics-only listener: nothing but metrics.path */
	assert_int_equal(admin_route_metrics(cp, "GET", "/metrics?x", &r), 0);
	assert_int_equal(r.status, 200);
	admin_reply_free(&r);
	assert_int_equal(admin_route_metrics(cp, "GET", "/api/v1/status", &r),
	    0);
	assert_int_equal(r.status, 404);
	admin_reply_free(&r);
	assert_int_equal(admin_route_metrics(cp, "POST", "/api/v1/reload",
	    &r), 0);
	assert_int_equal(r.status, 404);
	admin_reply_free(&r);
	assert_int_equal(admin_route_metrics(cp, "GET", "/", &r), 0);
	assert_int_equal(r.status, 404);
	admin_reply_free(&r);
	assert_int_equal(reload_calls, 0);

	/* another path, then metrics off */
	snprintf(cp->cfg.metrics.path, sizeof(cp->cfg.metrics.path), "/prom");
	assert_int_equal(admin_route(cp, "GET", "/prom/", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	admin_reply_free(&r);
	json_decref(call(cp, "GET", "/metrics", NULL, 404));
	cp->cfg.metrics.enabled = false;
	json_decref(call(cp, "GET", "/prom", NULL, 404));
	assert_int_equal(admin_route_metrics(cp, "GET", "/prom", &r), 0);
	assert_int_equal(r.status, 404);
	admin_reply_free(&r);
}

static void
test_request_counter(void **state)
{
	struct cp *cp = *state;
	uint64_t before = cp->stats.admin_requests;

	json_decref(call(cp, "GET", "/healthz", NULL, 200));
	json_decref(call(cp, "GET", "/nope", NULL, 404));
	assert_int_equal(cp->stats.admin_requests, before + 2);
}

/* ---- the nng listener --------------------------------------------------- */

struct client {
	uint16_t port;
	const char *request;
	char answer[65536];
	size_t len;
};

/* A free loopback port (another process may take it; unlikely). */
static uint16_t
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in sin;
	struct pollfd pfd;
	ssize_t n;
	int fd;

	c->len = 0;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return NULL;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(c->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    write(fd, c->request, strlen(c->request)) !=
	    (ssize_t)strlen(c->request)) {
		close(fd);
		return NULL;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (c->len + 1 < sizeof(c->answer) && poll(&pfd, 1, 5000) == 1) {
		n = read(fd, c->answer + c->len, sizeof(c->answer) - 1 -
		    c->len);
		if (n <= 0)
			break;
		c->len += (size_t)n;
	}
	c->answer[c->len] = '\0';
	close(fd);
	return NULL;
}

static void
start_on(struct cp *cp, uint16_t port)
{
	char err[256], a[32];

	snprintf(a, sizeof(a), "127.0.0.1:%u", port);
	assert_int_equal(addr_parse(a, 0, &cp->cfg.admin.listen_addr, err,
	    sizeof(err)), 0);
	cp->cfg.metrics.listen_addr = cp->cfg.admin.listen_addr;
	assert_int_equal(evloop_new(&cp->loop), 0);
	if (admin_start(cp, err, sizeof(err)) != 0) {
		print_error("admin_start: %s\n", err);
		fail();
	}
	assert_non_null(cp->admin);
}

static void
test_http_roundtrip(void **state)
{
	struct cp *cp = *state;
	struct client c;
	pthread_t t;
	int i;

	start_on(cp, free_port());
	c.port = cp->cfg.admin.listen_addr.port;
	c.request = "GET /api/v1/backends/%5B2001:db8::1%5D:443 HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n";
	assert_int_equal(pthread_create(&t, NULL, client_main, &c), 0);
	for (i = 0; i < 3000 && pthread_tryjoin_np(t, NULL) != 0; i++) {
		admin_process(cp);
		usleep(1000);
	}
	assert_true(i < 3000);
	assert_non_null(strstr(c.answer, "HTTP/1.1 200"));
	assert_non_null(strstr(c.answer, "Content-Type: application/json"));
	assert_non_null(strstr(c.answer, "\"address\":\"[2001:db8::1]:443\""));

	/* 405 with Allow, 401 with WWW-Authenticate, JSON 404 */
	snprintf(cp->token, sizeof(cp->token), "tok");
	c.request = "POST /api/v1/reload HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(pthread_create(&t, NULL, client_main, &c), 0);
	for (i = 0; i < 3000 && pthread_tryjoin_np(t, NULL) != 0; i++) {
		admin_process(cp);
		usleep(1000);
	}
	assert_non_null(strstr(c.answer, "HTTP/1.1 401"));
	assert_non_null(strstr(c.answer, "WWW-Authenticate: Bearer"));
	c.request = "DELETE /healthz HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	assert_int_equal(pthread_create(&t, NULL, client_main, &c), 0);
	for (i = 0; i < 3000 && pthread_tryjoin_np(t, NULL) != 0; i++) {
		admin_process(cp);
		usleep(1000);
	}
	assert_non_null(strstr(c.answer, "HTTP/1.1 405"));
	assert_non_null(strstr(c.answer, "Allow: GET, HEAD"));
	c.request = "GET /no/such/thing HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	assert_int_equal(pthread_create(&t, NULL, client_main, &c), 0);
	for (i = 0; i < 3000 && pthread_tryjoin_np(t, NULL) != 0; i++) {
		admin_process(cp);
		usleep(1000);
	}
	assert_non_null(strstr(c.answer, "HTTP/1.1 404"));
	assert_non_null(strstr(c.answer, "{\"error\":\"no such path"));
	assert_int_equal(reload_calls, 0);

	admin_stop(cp);
	assert_null(cp->admin);
	admin_stop(cp); /* accepts NULL */
	evloop_free(cp->loop);
	cp->loop = NULL;
}

static void
test_http_stop_answers_503(void **state)
{
	struct cp *cp = *state;
	struct client c;
	pthread_t t;

	start_on(cp, free_port());
	c.port = cp->cfg.admin.listen_addr.port;
	c.request = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	assert_int_equal(pthread_create(&t, NULL, client_main, &c), 0);
	usleep(300000); /* queued, never processed */
	admin_stop(cp);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_non_null(strstr(c.answer, "HTTP/1.1 503"));
	assert_non_null(strstr(c.answer, "stopping"));
	evloop_free(cp->loop);
	cp->loop = NULL;
}

/* Reads whatever fd has within ms into buf; returns the bytes read. */
static size_t
read_some(int fd, char *buf, size_t size, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size && poll(&pfd, 1, ms) == 1) {
		if ((n = read(fd, buf + len, size - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		ms = 50;
	}
	buf[len] = '\0';
	return len;
}

static void
test_http_queue_limit(void **state)
{
	enum { EXTRA = 20, N = ADMIN_QUEUE_MAX + EXTRA };
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	struct cp *cp = *state;
	struct sockaddr_in sin;
	char buf[2048];
	int fds[N], busy, ok, i, k;
	bool done[N];

	start_on(cp, free_port());
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(cp->cfg.admin.listen_addr.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < N; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		assert_int_equal(write(fds[i], req, sizeof(req) - 1),
		    (ssize_t)sizeof(req) - 1);
		done[i] = false;
	}
	/* nothing processed yet: exactly the overflow is refused at once */
	busy = 0;
	for (k = 0; k < 500 && busy < EXTRA; k++) {
		for (i = 0; i < N; i++) {
			if (done[i] ||
			    read_some(fds[i], buf, sizeof(buf), 0) == 0)
				continue;
			done[i] = true;
			assert_non_null(strstr(buf, "HTTP/1.1 503"));
			assert_non_null(strstr(buf, "busy"));
			busy++;
		}
		usleep(10000);
	}
	assert_int_equal(busy, EXTRA);
	/* the loop then answers every queued one */
	ok = 0;
	for (k = 0; k < 3000 && ok < ADMIN_QUEUE_MAX; k++) {
		admin_process(cp);
		for (i = 0; i < N; i++) {
			if (done[i] ||
			    read_some(fds[i], buf, sizeof(buf), 0) == 0)
				continue;
			done[i] = true;
			assert_non_null(strstr(buf, "HTTP/1.1 200"));
			ok++;
		}
		usleep(1000);
	}
	assert_int_equal(ok, ADMIN_QUEUE_MAX);
	for (i = 0; i < N; i++)
		close(fds[i]);
	admin_stop(cp);
	evloop_free(cp->loop);
	cp->loop = NULL;
}

static void
test_refuses_public_without_token(void **state)
{
	struct cp *cp = *state;
	char err[256];

	assert_int_equal(addr_parse("0.0.0.0:19099", 0,
	    &cp->cfg.admin.listen_addr, err, sizeof(err)), 0);
	assert_int_equal(admin_start(cp, err, sizeof(err)), -1);
	assert_string_equal(err, "admin.listen_addr 0.0.0.0:19099 is not "
	    "loopback: set admin.token_file");
	assert_null(cp->admin);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_healthz),
		T(test_index),
		T(test_status),
		T(test_active_set),
		T(test_backends_sorted),
		T(test_backends_query),
		T(test_backends_query_errors),
		T(test_backend_one),
		T(test_not_found),
		T(test_method_not_allowed),
		T(test_bad_requests),
		T(test_unsafe_numbers_and_text),
		T(test_disable_enable),
		T(test_reload),
		T(test_token),
		T(test_metrics_paths),
		T(test_request_counter),
		T(test_http_roundtrip),
		T(test_http_stop_answers_503),
		T(test_http_queue_limit),
		T(test_refuses_public_without_token),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
