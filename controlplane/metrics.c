/*
 * Prometheus text exposition (format 0.0.4) of the control plane (see
 * metrics.h): built on the loop from struct cp, served by admin.c at
 * metrics.path. Every family is written whole (# HELP, # TYPE, then all
 * its series) before the next one starts.
 *
 * What each name means, all prefixed tcp_forwarder_ ("dp" = summed over
 * data planes from their reports, monotonic across data-plane restarts):
 *
 * family                               type       source
 * build_info{version}                  gauge      1
 * uptime_seconds                       gauge      control plane's uptime
 * dataplanes                           gauge      data planes heard within
 *                                                 DATAPLANES_TIMEOUT_MS
 * tracked_backends                     gauge      scoreboard entries
 * backend_series_omitted               gauge      tracked backends left out
 *                                                 of per-backend series
 * active_set_generation                gauge      generation pushed
 * active_set_size                      gauge      backends in the set
 * active_set_degraded                  gauge      1 when none passes the
 *                                                 score threshold
 * active_set_switches_total{reason}    counter    set changes by selector
 *                                                 reason
 * probe_rounds_total                   counter    probe rounds started
 * selector_evaluations_total           counter    selector evaluations
 * active_set_pushes_total              counter    sets sent to data planes
 * reloads_total{result=ok|error}       counter    SIGHUP / POST reload
 * dataplane_reports_total              counter    reports folded
 * new_connections_total                counter    dp client connections
 * active_connections                   gauge      dp client connections
 *                                                 open now
 * bytes_transferred_total{direction}   counter    dp bytes, in = client ->
 *                                                 backend, out = backend
 *                                                 -> client
 * connection_duration_seconds          histogram  dp closed connections
 * errors_total{kind}                   counter    dp errors by proto kind
 *                                                 (all kinds, always), and
 *                                                 kind="ipc_dropped": bad
 *                                                 IPC messages dropped by
 *                                                 either plane
 *
 * Per backend, label backend="ip:port":
 * server_active                        gauge      1 in the active set
 * server_score                         gauge      score, 0 while it has none
 * server_consecutive_failures          gauge      current failure streak
 * server_probe_success_total           counter    successful probes
 * health_checks_total{result}          counter    probes by outcome: ok,
 *                                                 failed, timeout
 * server_probe_duration_seconds        histogram  connect time of
 *                                                 successful probes
 * backend_dials_total{result}          counter    dp real dials: ok,
 *                                                 failed, timeout
 * backend_dial_duration_seconds        histogram  dp connect time of
 *                                                 successful real dials
 * backend_connections_total            counter    dp connections forwarded
 * backend_bytes_transferred_total      counter    dp bytes, as above
 *   {direction}
 * lb_requests_total                    counter    dp load-balancer picks
 * lb_backend_connections               gauge      dp client connections
 *                                                 open now (live)
 * pool_connections                     gauge      pool size the data planes
 *                                                 steer to (live target)
 * pool_available_connections           gauge      idle pre-connected
 *                                                 sockets ready (live idle)
 * pool_active_connections              gauge      connections in use (live
 *                                                 connections)
 * pool_total_connections               gauge      available + active
 * pool_utilization_percent             gauge      active / total * 100, 0
 *                                                 when total is 0
 * pool_peak_concurrency                gauge      recent peak concurrency
 * pool_hits_total                      counter    dp pooled sockets used
 * pool_misses_total                    counter    dp picks that had to dial
 * pool_scale_up_total                  counter    dp pool grow steps
 * pool_scale_down_total                counter    dp pool shrink steps
 *
 * Cardinality: a CIDR range may put thousands of sampled backends on the
 * scoreboard, so per-backend series cover at most
 * metrics.max_backend_series backends (0: none): every active one first,
 * then draining, then disabled, then the best-scored others; the number
 * left out is backend_series_omitted. A backend's series appear and
 * disappear as it enters and leaves that top list.
 *
 * Histograms: the data planes and the prober count successful connects in
 * fixed buckets (proto_dial_bounds_us, proto_duration_bounds_ms); _count
 * is the number of observations (never less than the buckets' sum, so an
 * observation above the last bound lands only in +Inf).
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/evloop.h"
#include "../common/version.h"
#include "cp.h"
#include "metrics.h"

#define PREFIX "tcp_forwarder_"
/* Room for backend="<escaped ip:port>". */
#define LABEL_MAX (2 * ADDR_STRLEN + 16)

struct mbuf {
	char *p;
	size_t len;
	size_t cap;
	bool failed;
};

/* One backend with series, and its label pair. */
struct mseries {
	const struct sb_entry *e;
	char label[LABEL_MAX];
};

static void mb_printf(struct mbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
mb_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room, cap;
	char *p;
	int n;

	if (b->failed)
		return;
	for (;;) {
		room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		cap = b->cap * 2;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* Writes name="value" into dst with value escaped as the format wants
 * (backslash, double quote, newline). */
static void
label_pair(char *dst, size_t size, const char *name, const char *value)
{
	size_t n, i;
	int w;

	w = snprintf(dst, size, "%s=\"", name);
	if (w < 0 || (size_t)w >= size) {
		dst[0] = '\0';
		return;
	}
	n = (size_t)w;
	for (i = 0; value[i] != '\0' && n + 4 < size; i++) {
		switch (value[i]) {
		case '\\':
			dst[n++] = '\\';
			dst[n++] = '\\';
			break;
		case '"':
			dst[n++] = '\\';
			dst[n++] = '"';
			break;
		case '\n':
			dst[n++] = '\\';
			dst[n++] = 'n';
			break;
		default:
			dst[n++] = value[i];
			break;
		}
	}
	dst[n++] = '"';
	dst[n] = '\0';
}

static void
family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mb_printf(b, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n",
	    name, help, name, type);
}

/* One series; labels "" or "a=\"x\",b=\"y\"". */
static void
sample_u64(struct mbuf *b, const char *name, const char *labels, uint64_t v)
{
	mb_printf(b, PREFIX "%s%s%s%s %" PRIu64 "\n", name,
	    labels[0] != '\0' ? "{" : "", labels,
	    labels[0] != '\0' ? "}" : "", v);
}

static void
sample_f(struct mbuf *b, const char *name, const char *labels, double v)
{
	if (!isfinite(v))
		v = 0.0;
	mb_printf(b, PREFIX "%s%s%s%s %.10g\n", name,
	    labels[0] != '\0' ? "{" : "", labels,
	    labels[0] != '\0' ? "}" : "", v);
}

/* Family with one unlabelled series. */
static void
single_u64(struct mbuf *b, const char *name, const char *type,
    const char *help, uint64_t v)
{
	family(b, name, type, help);
	sample_u64(b, name, "", v);
}

static void
single_f(struct mbuf *b, const char *name, const char *help, double v)
{
	family(b, name, "gauge", help);
	sample_f(b, name, "", v);
}

/*
 * The series of one histogram: non-cumulative buckets with upper bounds
 * le (seconds), count observations summing to sum seconds.
 */
static void
histogram(struct mbuf *b, const char *name, const char *labels,
    const uint64_t *buckets, const double *le, unsigned n, uint64_t count,
    double sum)
{
	const char *sep = labels[0] != '\0' ? "," : "";
	uint64_t cum;
	unsigned i;

	for (i = 0, cum = 0; i < n; i++) {
		cum += buckets[i];
		mb_printf(b, PREFIX "%s_bucket{%s%sle=\"%.6g\"} %" PRIu64 "\n",
		    name, labels, sep, le[i], cum);
	}
	if (count < cum)
		count = cum;
	mb_printf(b, PREFIX "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name,
	    labels, sep, count);
	if (!isfinite(sum) || sum < 0.0)
		sum = 0.0;
	if (labels[0] != '\0') {
		mb_printf(b, PREFIX "%s_sum{%s} %.10g\n", name, labels, sum);
		mb_printf(b, PREFIX "%s_count{%s} %" PRIu64 "\n", name, labels,
		    count);
	} else {
		mb_printf(b, PREFIX "%s_sum %.10g\n", name, sum);
		mb_printf(b, PREFIX "%s_count %" PRIu64 "\n", name, count);
	}
}

/* ---- which backends get series ------------------------------------------ */

static int
rank_class(const struct sb_entry *e)
{
	switch (sb_entry_state(e)) {
	case SB_ACTIVE:
		return 0;
	case SB_DRAINING:
		return 1;
	case SB_DISABLED:
		return 2;
	case SB_CANDIDATE:
		break;
	}
	return 3;
}

static bool
has_score(const struct sb_entry *e)
{
	return score_eligible(&e->score) && isfinite(e->score.score);
}

/* Class, then score descending (none last), then address. */
static int
cmp_rank(const void *a, const void *b)
{
	const struct sb_entry *x = *(const struct sb_entry *const *)a;
	const struct sb_entry *y = *(const struct sb_entry *const *)b;
	int cx = rank_class(x), cy = rank_class(y);

	if (cx != cy)
		return cx < cy ? -1 : 1;
	if (has_score(x) != has_score(y))
		return has_score(x) ? -1 : 1;
	if (has_score(x) && x->score.score != y->score.score)
		return x->score.score > y->score.score ? -1 : 1;
	return addr_compare(&x->addr, &y->addr);
}

static int
cmp_addr(const void *a, const void *b)
{
	const struct mseries *x = a, *y = b;

	return addr_compare(&x->e->addr, &y->e->addr);
}

/*
 * Picks the backends that get series (see the top of the file), sorted by
 * address, into a new array (*out, caller frees; may be NULL when *n is
 * 0). Returns 0 or -1 when memory runs out.
 */
static int
select_series(const struct cp *cp, struct mseries **out, unsigned *n,
    unsigned *omitted)
{
	const struct sb_entry **all;
	struct mseries *s;
	unsigned total, keep, i;

	*out = NULL;
	*n = 0;
	total = cp->sb != NULL ? scoreboard_count(cp->sb) : 0;
	keep = total < cp->cfg.metrics.max_backend_series ? total :
	    cp->cfg.metrics.max_backend_series;
	*omitted = total - keep;
	if (keep == 0)
		return 0;
	if ((all = malloc(total * sizeof(*all))) == NULL)
		return -1;
	for (i = 0; i < total; i++)
		all[i] = scoreboard_at(cp->sb, i);
	if (keep < total)
		qsort(all, total, sizeof(*all), cmp_rank);
	if ((s = calloc(keep, sizeof(*s))) == NULL) {
		free(all);
		return -1;
	}
	for (i = 0; i < keep; i++) {
		s[i].e = all[i];
		label_pair(s[i].label, sizeof(s[i].label), "backend",
		    all[i]->name);
	}
	free(all);
	qsort(s, keep, sizeof(*s), cmp_addr);
	*out = s;
	*n = keep;
	return 0;
}

/* ---- per-backend families ----------------------------------------------- */

static double
pool_total(const struct sb_entry *e)
{
	return (double)e->live.pool_idle + (double)e->live.connections;
}

static double
g_active(const struct sb_entry *e)
{
	return sb_entry_state(e) == SB_ACTIVE ? 1.0 : 0.0;
}

static double
g_score(const struct sb_entry *e)
{
	return has_score(e) ? e->score.score : 0.0;
}

static double
g_failures(const struct sb_entry *e)
{
	return e->score.consecutive_failures;
}

static double
g_pool_target(const struct sb_entry *e)
{
	return e->live.pool_target;
}

static double
g_pool_idle(const struct sb_entry *e)
{
	return e->live.pool_idle;
}

static double
g_connections(const struct sb_entry *e)
{
	return e->live.connections;
}

static double
g_pool_utilization(const struct sb_entry *e)
{
	double total = pool_total(e);

	return total > 0.0 ? (double)e->live.connections / total * 100.0 :
	    0.0;
}

static double
g_pool_peak(const struct sb_entry *e)
{
	return e->live.pool_peak;
}

static uint64_t
c_probe_ok(const struct sb_entry *e)
{
	return e->probes_ok;
}

static uint64_t
c_connections(const struct sb_entry *e)
{
	return e->dp.connections_total;
}

static uint64_t
c_lb_picks(const struct sb_entry *e)
{
	return e->dp.lb_picks;
}

static uint64_t
c_pool_hits(const struct sb_entry *e)
{
	return e->dp.pool_hits;
}

static uint64_t
c_pool_misses(const struct sb_entry *e)
{
	return e->dp.pool_misses;
}

static uint64_t
c_scale_ups(const struct sb_entry *e)
{
	return e->dp.pool_scale_ups;
}

static uint64_t
c_scale_downs(const struct sb_entry *e)
{
	return e->dp.pool_scale_downs;
}

static const struct {
	const char *name;
	const char *help;
	double (*value)(const struct sb_entry *);
} backend_gauges[] = {
	{ "server_active", "1 when the backend is in the active set",
	    g_active },
	{ "server_score", "Backend score (0 while it has no successful "
	    "probe)", g_score },
	{ "server_consecutive_failures", "Backend's current streak of "
	    "failed checks", g_failures },
	{ "lb_backend_connections", "Client connections open to the "
	    "backend, all data planes", g_connections },
	{ "pool_connections", "Pool size the data planes steer to for the "
	    "backend", g_pool_target },
	{ "pool_available_connections", "Idle pre-connected sockets ready "
	    "for the backend", g_pool_idle },
	{ "pool_active_connections", "Connections to the backend in use "
	    "by clients", g_connections },
	{ "pool_total_connections", "Available plus active connections to "
	    "the backend", pool_total },
	{ "pool_utilization_percent", "Active connections as a percentage "
	    "of the total (0 when there are none)", g_pool_utilization },
	{ "pool_peak_concurrency", "Recent peak of concurrent connections "
	    "to the backend", g_pool_peak },
};

static const struct {
	const char *name;
	const char *help;
	uint64_t (*value)(const struct sb_entry *);
} backend_counters[] = {
	{ "server_probe_success_total", "Successful health probes of the "
	    "backend", c_probe_ok },
	{ "backend_connections_total", "Client connections forwarded to "
	    "the backend", c_connections },
	{ "lb_requests_total", "Times the load balancer picked the "
	    "backend", c_lb_picks },
	{ "pool_hits_total", "Client connections served from the "
	    "backend's pool", c_pool_hits },
	{ "pool_misses_total", "Client connections that found the "
	    "backend's pool empty", c_pool_misses },
	{ "pool_scale_up_total", "Times a data plane grew the backend's "
	    "pool", c_scale_ups },
	{ "pool_scale_down_total", "Times a data plane shrank the "
	    "backend's pool", c_scale_downs },
};

static void
backend_families(struct mbuf *b, const struct mseries *s, unsigned n)
{
	double dial_le[PROTO_DIAL_BUCKETS];
	const struct sb_entry *e;
	char labels[LABEL_MAX + 32];
	size_t k;
	unsigned i;

	for (k = 0; k < PROTO_DIAL_BUCKETS; k++)
		dial_le[k] = (double)proto_dial_bounds_us[k] / 1e6;

	for (k = 0; k < sizeof(backend_gauges) / sizeof(backend_gauges[0]);
	    k++) {
		family(b, backend_gauges[k].name, "gauge",
		    backend_gauges[k].help);
		for (i = 0; i < n; i++)
			sample_f(b, backend_gauges[k].name, s[i].label,
			    backend_gauges[k].value(s[i].e));
	}
	for (k = 0; k < sizeof(backend_counters) /
	    sizeof(backend_counters[0]); k++) {
		family(b, backend_counters[k].name, "counter",
		    backend_counters[k].help);
		for (i = 0; i < n; i++)
			sample_u64(b, backend_counters[k].name, s[i].label,
			    backend_counters[k].value(s[i].e));
	}

	family(b, "health_checks_total", "counter",
	    "Health probes of the backend by result");
	for (i = 0; i < n; i++) {
		e = s[i].e;
		snprintf(labels, sizeof(labels), "%s,result=\"ok\"",
		    s[i].label);
		sample_u64(b, "health_checks_total", labels, e->probes_ok);
		snprintf(labels, sizeof(labels), "%s,result=\"failed\"",
		    s[i].label);
		sample_u64(b, "health_checks_total", labels,
		    e->probes_failed);
		snprintf(labels, sizeof(labels), "%s,result=\"timeout\"",
		    s[i].label);
		sample_u64(b, "health_checks_total", labels,
		    e->probes_timeout);
	}

	family(b, "backend_dials_total", "counter",
	    "Real dials of the data planes to the backend by result");
	for (i = 0; i < n; i++) {
		e = s[i].e;
		snprintf(labels, sizeof(labels), "%s,result=\"ok\"",
		    s[i].label);
		sample_u64(b, "backend_dials_total", labels, e->dp.dials_ok);
		snprintf(labels, sizeof(labels), "%s,result=\"failed\"",
		    s[i].label);
		sample_u64(b, "backend_dials_total", labels,
		    e->dp.dials_failed);
		snprintf(labels, sizeof(labels), "%s,result=\"timeout\"",
		    s[i].label);
		sample_u64(b, "backend_dials_total", labels,
		    e->dp.dials_timeout);
	}

	family(b, "backend_bytes_transferred_total", "counter",
	    "Bytes forwarded through the backend (in: client to backend, "
	    "out: backend to client)");
	for (i = 0; i < n; i++) {
		snprintf(labels, sizeof(labels), "%s,direction=\"in\"",
		    s[i].label);
		sample_u64(b, "backend_bytes_transferred_total", labels,
		    s[i].e->dp.bytes_in);
		snprintf(labels, sizeof(labels), "%s,direction=\"out\"",
		    s[i].label);
		sample_u64(b, "backend_bytes_transferred_total", labels,
		    s[i].e->dp.bytes_out);
	}

	family(b, "server_probe_duration_seconds", "histogram",
	    "Connect time of successful health probes");
	for (i = 0; i < n; i++) {
		e = s[i].e;
		histogram(b, "server_probe_duration_seconds", s[i].label,
		    e->probe_buckets, dial_le, PROTO_DIAL_BUCKETS,
		    e->probes_ok, e->probe_seconds_sum);
	}

	family(b, "backend_dial_duration_seconds", "histogram",
	    "Connect time of the data planes' successful real dials");
	for (i = 0; i < n; i++) {
		e = s[i].e;
		histogram(b, "backend_dial_duration_seconds", s[i].label,
		    e->dp.dial_buckets, dial_le, PROTO_DIAL_BUCKETS,
		    e->dp.dials_ok, (double)e->dp.dial_us_sum / 1e6);
	}
}

/* ---- process-wide families ---------------------------------------------- */

static void
global_families(struct mbuf *b, const struct cp *cp, unsigned omitted)
{
	static const struct dp_totals none;
	const struct dp_totals *t;
	double dur_le[PROTO_DURATION_BUCKETS];
	char labels[96];
	uint64_t now, active;
	unsigned i, ndp;
	int r;

	t = cp->dps != NULL ? dataplanes_totals(cp->dps) : &none;
	ndp = cp->dps != NULL ? dataplanes_count(cp->dps) : 0;
	now = evloop_clock_ms();

	family(b, "build_info", "gauge", "Version of tcp-forwarder");
	label_pair(labels, sizeof(labels), "version", TCPFWD_VERSION);
	sample_u64(b, "build_info", labels, 1);
	single_f(b, "uptime_seconds", "Seconds since the control plane "
	    "started", now > cp->start_ms ?
	    (double)(now - cp->start_ms) / 1000.0 : 0.0);
	single_u64(b, "dataplanes", "gauge", "Data planes reporting", ndp);
	single_u64(b, "tracked_backends", "gauge",
	    "Backends on the scoreboard", cp->sb != NULL ?
	    scoreboard_count(cp->sb) : 0);
	single_u64(b, "backend_series_omitted", "gauge", "Tracked backends "
	    "without per-backend series (metrics.max_backend_series)",
	    omitted);
	single_u64(b, "active_set_generation", "gauge",
	    "Generation of the active set pushed", cp->set.generation);
	single_u64(b, "active_set_size", "gauge",
	    "Backends in the active set", cp->set.sel.n);
	single_u64(b, "active_set_degraded", "gauge", "1 when no answering "
	    "backend passes the score threshold", cp->set.degraded ? 1 : 0);

	family(b, "active_set_switches_total", "counter",
	    "Active set changes by reason");
	for (r = SELECTOR_INITIAL; r <= SELECTOR_IMPROVED; r++) {
		label_pair(labels, sizeof(labels), "reason",
		    selector_reason_name(r));
		sample_u64(b, "active_set_switches_total", labels,
		    cp->stats.switches[r]);
	}
	single_u64(b, "probe_rounds_total", "counter", "Probe rounds started",
	    cp->stats.probe_rounds);
	single_u64(b, "selector_evaluations_total", "counter",
	    "Active set evaluations", cp->stats.evaluations);
	single_u64(b, "active_set_pushes_total", "counter",
	    "Active sets sent to the data planes", cp->stats.pushes);
	family(b, "reloads_total", "counter", "Configuration reloads by "
	    "result");
	sample_u64(b, "reloads_total", "result=\"ok\"", cp->stats.reloads);
	sample_u64(b, "reloads_total", "result=\"error\"",
	    cp->stats.reload_errors);
	single_u64(b, "dataplane_reports_total", "counter",
	    "Data-plane reports received", t->reports);

	single_u64(b, "new_connections_total", "counter",
	    "Client connections accepted by the data planes",
	    t->connections_total);
	for (i = 0, active = 0; i < ndp; i++)
		active += dataplanes_at(cp->dps, i)->connections_active;
	single_u64(b, "active_connections", "gauge",
	    "Client connections open now", active);
	family(b, "bytes_transferred_total", "counter", "Bytes forwarded "
	    "(in: client to backend, out: backend to client)");
	sample_u64(b, "bytes_transferred_total", "direction=\"in\"",
	    t->bytes_in);
	sample_u64(b, "bytes_transferred_total", "direction=\"out\"",
	    t->bytes_out);
	family(b, "connection_duration_seconds", "histogram",
	    "Lifetime of closed client connections");
	for (i = 0; i < PROTO_DURATION_BUCKETS; i++)
		dur_le[i] = (double)proto_duration_bounds_ms[i] / 1000.0;
	histogram(b, "connection_duration_seconds", "", t->duration_buckets,
	    dur_le, PROTO_DURATION_BUCKETS, t->duration_count,
	    (double)t->duration_ms_sum / 1000.0);

	family(b, "errors_total", "counter", "Errors by kind (client "
	    "connections refused or cut, bad IPC messages)");
	for (i = 0; i < PROTO_ERR_COUNT; i++) {
		label_pair(labels, sizeof(labels), "kind",
		    proto_err_kind_name(i));
		sample_u64(b, "errors_total", labels, t->errors[i]);
	}
	sample_u64(b, "errors_total", "kind=\"ipc_dropped\"",
	    t->ipc_dropped + cp->stats.ipc_dropped);
}

char *
metrics_render(const struct cp *cp, size_t *len)
{
	struct mbuf b;
	struct mseries *s;
	unsigned n, omitted;

	if (select_series(cp, &s, &n, &omitted) == -1)
		return NULL;
	b.cap = 16384 + (size_t)n * 4096;
	b.len = 0;
	b.failed = false;
	if ((b.p = malloc(b.cap)) == NULL) {
		free(s);
		return NULL;
	}
	b.p[0] = '\0';
	global_families(&b, cp, omitted);
	backend_families(&b, s, n);
	free(s);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}
