/*
 * The admin API's routing core: URI parsing and percent-decoding, the
 * route table, bearer-token checks and the JSON of every path. Runs on the
 * control plane's loop only (admin.c queues requests to it) and is tested
 * without HTTP (tests/unit/test_admin.c, tests/fuzz/fuzz_admin.c).
 */
#define LOG_MODULE LOGM_ADMIN

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../common/log.h"
#include "../common/version.h"
#include "admin.h"
#include "cp.h"
#include "metrics.h"
#include "probe.h"
#include "status_page.h"

#define CT_JSON "application/json"
#define CT_HTML "text/html; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define ALLOW_GET "GET, HEAD"
#define ALLOW_POST "POST"

/* Path segments routed at most ("/api/v1/backends/ADDR/disable" is 5). */
#define SEGS_MAX 8
/* Client text quoted in an error message at most. */
#define QUOTE_MAX 64

enum route_id {
	RT_NONE = 0,
	RT_PAGE,
	RT_INDEX,
	RT_HEALTHZ,
	RT_METRICS,
	RT_STATUS,
	RT_BACKENDS,
	RT_BACKEND,
	RT_DISABLE,
	RT_ENABLE,
	RT_ACTIVE_SET,
	RT_RELOAD,
};

/* One request URI, split. Segments point into dec. */
struct req_uri {
	char path[ADMIN_URI_MAX + 1];  /* raw, without query */
	char query[ADMIN_URI_MAX + 1]; /* raw, "" when none */
	char dec[ADMIN_URI_MAX + 1];   /* decoded segments, NUL separated */
	const char *seg[SEGS_MAX];
	unsigned nseg;
	bool too_deep;
};

static const char *const phase_names[] = {
	[CP_LEARNING] = "learning",
	[CP_PROBING] = "probing",
	[CP_RUNNING] = "running",
};

/* ---- replies ------------------------------------------------------------ */

/* Copies at most QUOTE_MAX bytes of client text into dst (size > QUOTE_MAX
 * + 3), printable ASCII only, so it can go into a message and JSON. */
static const char *
quote_client(const char *s, char *dst, size_t size)
{
	size_t i, n;

	for (i = n = 0; s[i] != '\0' && n + 4 < size; i++) {
		if (i == QUOTE_MAX) {
			memcpy(dst + n, "...", 3);
			n += 3;
			break;
		}
		dst[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	}
	dst[n] = '\0';
	return dst;
}

/* A string as JSON: s itself when it is valid UTF-8, else an ASCII copy
 * (a reason cut inside a character by a fixed-size buffer). */
static json_t *
jstr(const char *s)
{
	json_t *v;
	char *copy;
	size_t i;

	if ((v = json_string(s)) != NULL)
		return v;
	if ((copy = strdup(s)) == NULL)
		return NULL;
	for (i = 0; copy[i] != '\0'; i++)
		if ((unsigned char)copy[i] < 0x20 ||
		    (unsigned char)copy[i] >= 0x7f)
			copy[i] = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

/* A finite double rounded to 3 decimals, or null. */
static json_t *
jnum(double v)
{
	if (!isfinite(v))
		return json_null();
	v = round(v * 1000.0) / 1000.0;
	if (!isfinite(v))
		return json_null();
	if (v == 0.0)
		v = 0.0; /* no "-0.0" */
	return json_real(v);
}

static json_t *
jnum_if(bool known, double v)
{
	return known ? jnum(v) : json_null();
}

static json_t *
juint(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* "2024-05-01T12:00:00.123Z", or null for 0 or a time gmtime refuses. */
static json_t *
jtime(uint64_t unix_ms)
{
	char buf[64];
	struct tm tm;
	time_t t;
	size_t n;

	if (unix_ms == 0 || unix_ms / 1000 > (uint64_t)INT32_MAX * 64)
		return json_null();
	t = (time_t)(unix_ms / 1000);
	if (gmtime_r(&t, &tm) == NULL)
		return json_null();
	if ((n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
		return json_null();
	snprintf(buf + n, sizeof(buf) - n, ".%03uZ",
	    (unsigned)(unix_ms % 1000));
	return json_string(buf);
}

/* Fills out with root as compact JSON plus a newline; steals root. */
static int
reply_json(struct admin_reply *out, int status, json_t *root)
{
	char *s, *body;
	size_t n;

	if (root == NULL)
		return -1;
	s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(root);
	if (s == NULL)
		return -1;
	n = strlen(s);
	if ((body = realloc(s, n + 2)) == NULL) {
		free(s);
		return -1;
	}
	body[n] = '\n';
	body[n + 1] = '\0';
	out->status = status;
	out->content_type = CT_JSON;
	out->body = body;
	out->len = n + 1;
	return 0;
}

static int reply_error(struct admin_reply *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* {"error":"..."} with status; the message is plain ASCII. */
static int
reply_error(struct admin_reply *out, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_json(out, status, json_pack("{s:o}", "error",
	    jstr(msg)));
}

/* ---- URI ---------------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes src[0..n) into dst (room for n + 1 bytes), '+' as a
 * space when plus_space (query strings). Returns 0, or -1 for a broken
 * escape or an encoded NUL.
 */
static int
pct_decode(const char *src, size_t n, char *dst, bool plus_space)
{
	size_t i, o;
	int hi, lo;

	for (i = o = 0; i < n; i++) {
		if (src[i] == '%') {
			if (i + 2 >= n)
				return -1;
			if ((hi = hexval(src[i + 1])) < 0 ||
			    (lo = hexval(src[i + 2])) < 0)
				return -1;
			if (hi == 0 && lo == 0)
				return -1;
			dst[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (plus_space && src[i] == '+')
			dst[o++] = ' ';
		else
			dst[o++] = src[i];
	}
	dst[o] = '\0';
	return 0;
}

/*
 * Splits uri into path segments (decoded) and the raw query. A trailing
 * "/" is ignored, so "/" has no segment. Returns 0, or -1 with why for a
 * URI that is not a path or has a bad escape.
 */
static int
parse_uri(const char *uri, struct req_uri *r, const char **why)
{
	const char *p, *s, *e, *end;
	size_t plen, qlen, off;

	r->nseg = 0;
	r->too_deep = false;
	p = uri;
	if (strncasecmp(p, "http://", 7) == 0 ||
	    strncasecmp(p, "https://", 8) == 0) {
		p = strchr(p, ':') + 3;
		if ((p = strchr(p, '/')) == NULL)
			p = "/";
	}
	if (*p != '/') {
		*why = "the request URI is not a path";
		return -1;
	}
	plen = strcspn(p, "?#");
	end = p + plen;
	qlen = 0;
	if (*end == '?')
		qlen = strcspn(end + 1, "#");
	if (plen > ADMIN_URI_MAX || qlen > ADMIN_URI_MAX) {
		*why = "the request URI is too long";
		return -1;
	}
	memcpy(r->path, p, plen);
	r->path[plen] = '\0';
	memcpy(r->query, end + (qlen > 0 ? 1 : 0), qlen);
	r->query[qlen] = '\0';

	off = 0;
	for (s = r->path + 1;; s = e + 1) {
		e = s + strcspn(s, "/");
		if (*e == '\0' && e == s)
			break; /* "/" alone, or a trailing "/" */
		if (r->nseg == SEGS_MAX) {
			r->too_deep = true;
			break;
		}
		if (pct_decode(s, (size_t)(e - s), r->dec + off, false) ==
		    -1) {
			*why = "bad percent-encoding in the path";
			return -1;
		}
		r->seg[r->nseg++] = r->dec + off;
		off += strlen(r->dec + off) + 1;
		if (*e == '\0')
			break;
	}
	return 0;
}

/*
 * Finds key in the raw query q into val (decoded, size valsize). Returns 1
 * when found (the last one wins), 0 when absent, -1 for a bad escape or a
 * value longer than valsize - 1.
 */
static int
query_get(const char *q, const char *key, char *val, size_t valsize)
{
	char name[64];
	const char *p, *amp, *eq;
	size_t klen, vlen;
	int found;

	found = 0;
	for (p = q; *p != '\0'; p = *amp == '\0' ? amp : amp + 1) {
		amp = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(amp - p));
		klen = (size_t)((eq != NULL ? eq : amp) - p);
		if (klen == 0 || klen >= sizeof(name))
			continue;
		if (pct_decode(p, klen, name, true) == -1)
			return -1;
		if (strcmp(name, key) != 0)
			continue;
		vlen = eq != NULL ? (size_t)(amp - eq - 1) : 0;
		if (vlen >= valsize)
			return -1;
		if (pct_decode(eq != NULL ? eq + 1 : amp, vlen, val, true) ==
		    -1)
			return -1;
		found = 1;
	}
	return found;
}

/* ---- backends ----------------------------------------------------------- */

static unsigned
tracked(const struct cp *cp)
{
	return cp->sb != NULL ? scoreboard_count(cp->sb) : 0;
}

/* One backend's JSON (new reference, NULL when memory runs out). */
static json_t *
backend_json(const struct sb_entry *e)
{
	const struct score_state *st = &e->score;
	json_t *last;

	if (e->last_outcome < 0 || e->last_probe_unix_ms == 0)
		last = json_null();
	else
		last = json_pack("{s:o, s:s, s:o}",
		    "at_unix_ms", juint(e->last_probe_unix_ms),
		    "outcome", probe_outcome_name(e->last_outcome),
		    "latency_ms", jnum_if(e->last_outcome == PROBE_OK,
		    e->last_latency_ms));
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:o, s:o,"
	    " s:o, s:b, s:o, s:I, s:{s:I, s:I, s:I}, s:{s:o, s:o, s:o}}",
	    "address", e->name,
	    "state", sb_state_name(sb_entry_state(e)),
	    "score", jnum_if(score_eligible(st), st->score),
	    "latency_ms", jnum_if(st->latency_init, st->latency_ewma_ms),
	    "jitter_ms", jnum_if(st->jitter_init, st->jitter_ewma_ms),
	    "success_rate", jnum_if(st->success_init, st->success_ewma),
	    "consecutive_failures", (json_int_t)st->consecutive_failures,
	    "penalty", jnum(st->penalty),
	    "bonus", jnum(st->bonus),
	    "probes", juint(st->probes),
	    "listed", e->listed,
	    "last_probe", last,
	    "connections", (json_int_t)e->live.connections,
	    "pool",
	    "idle", (json_int_t)e->live.pool_idle,
	    "target", (json_int_t)e->live.pool_target,
	    "peak", (json_int_t)e->live.pool_peak,
	    "passive",
	    "dials_ok", juint(e->dp.dials_ok),
	    "dials_failed", juint(e->dp.dials_failed),
	    "dials_timeout", juint(e->dp.dials_timeout));
}

/* Score descending (backends without a score last), then address. */
static int
cmp_backend(const void *a, const void *b)
{
	const struct sb_entry *x = *(const struct sb_entry *const *)a;
	const struct sb_entry *y = *(const struct sb_entry *const *)b;
	bool ex = score_eligible(&x->score) && isfinite(x->score.score);
	bool ey = score_eligible(&y->score) && isfinite(y->score.score);

	if (ex != ey)
		return ex ? -1 : 1;
	if (ex && x->score.score != y->score.score)
		return x->score.score > y->score.score ? -1 : 1;
	return addr_compare(&x->addr, &y->addr);
}

static int
get_backends(struct cp *cp, const struct req_uri *r, struct admin_reply *out)
{
	struct sb_entry **v;
	char val[32], q[QUOTE_MAX + 4];
	json_t *arr, *o;
	unsigned i, n, total, limit;
	int rv, want;
	char *end;
	unsigned long l;

	want = -1;
	if ((rv = query_get(r->query, "state", val, sizeof(val))) == -1)
		return reply_error(out, 400, "bad query parameter state");
	if (rv == 1) {
		for (want = SB_CANDIDATE; want <= SB_DRAINING; want++)
			if (strcmp(val, sb_state_name(want)) == 0)
				break;
		if (want > SB_DRAINING)
			return reply_error(out, 400, "bad state \"%s\" "
			    "(expected active, candidate, disabled or "
			    "draining)", quote_client(val, q, sizeof(q)));
	}
	limit = UINT32_MAX;
	if ((rv = query_get(r->query, "limit", val, sizeof(val))) == -1)
		return reply_error(out, 400, "bad query parameter limit");
	if (rv == 1) {
		l = strtoul(val, &end, 10);
		if (val[0] < '0' || val[0] > '9' || *end != '\0' ||
		    l > 100000000)
			return reply_error(out, 400, "bad limit \"%s\" "
			    "(expected a number)",
			    quote_client(val, q, sizeof(q)));
		limit = (unsigned)l;
	}

	n = tracked(cp);
	if ((v = calloc(n > 0 ? n : 1, sizeof(*v))) == NULL)
		return -1;
	for (i = total = 0; i < n; i++) {
		struct sb_entry *e = scoreboard_at(cp->sb, i);

		if (want < 0 || sb_entry_state(e) == (enum sb_state)want)
			v[total++] = e;
	}
	qsort(v, total, sizeof(*v), cmp_backend);
	if ((arr = json_array()) == NULL)
		goto fail_free;
	for (i = 0; i < total && i < limit; i++) {
		if ((o = backend_json(v[i])) == NULL ||
		    json_array_append_new(arr, o) == -1) {
			json_decref(arr);
			goto fail_free;
		}
	}
	free(v);
	return reply_json(out, 200, json_pack("{s:o, s:I}", "backends", arr,
	    "total", (json_int_t)total));

fail_free:
	free(v);
	return -1;
}

/* The entry named by a path segment, or an answer (400/404) in out. */
static struct sb_entry *
find_backend(struct cp *cp, const char *name, struct admin_reply *out,
    int *rv)
{
	struct sb_entry *e;
	struct addr a;
	char err[128], q[QUOTE_MAX + 4], buf[ADDR_STRLEN];

	if (addr_parse(name, cp->cfg.remotes.default_remote_port, &a, err,
	    sizeof(err)) == -1) {
		*rv = reply_error(out, 400, "bad backend address \"%s\": %s",
		    quote_client(name, q, sizeof(q)), err);
		return NULL;
	}
	if (cp->sb == NULL || (e = scoreboard_find(cp->sb, &a)) == NULL) {
		*rv = reply_error(out, 404, "backend %s is not tracked",
		    addr_format(&a, buf, sizeof(buf)));
		return NULL;
	}
	return e;
}

static int
get_backend(struct cp *cp, const char *name, struct admin_reply *out)
{
	struct sb_entry *e;
	int rv;

	if ((e = find_backend(cp, name, out, &rv)) == NULL)
		return rv;
	return reply_json(out, 200, backend_json(e));
}

static int
post_toggle(struct cp *cp, const char *name, bool disable,
    struct admin_reply *out)
{
	struct sb_entry *e;
	char err[256];
	int rv;

	if ((e = find_backend(cp, name, out, &rv)) == NULL)
		return rv;
	err[0] = '\0';
	rv = disable ? cp_disable(cp, e, err, sizeof(err)) :
	    cp_enable(cp, e, err, sizeof(err));
	if (rv == -1) {
		log_warnx("%s %s refused: %s",
		    disable ? "disable" : "enable", e->name, err);
		return reply_error(out, 409, "%s", err[0] != '\0' ? err :
		    "refused");
	}
	log_info("backend %s %s", e->name,
	    disable ? "disabled" : "enabled");
	return reply_json(out, 200, backend_json(e));
}

/* ---- status, active set, health, reload --------------------------------- */

static json_t *
set_members(const struct cp *cp)
{
	const struct sb_entry *e;
	json_t *arr;
	unsigned i;

	if ((arr = json_array()) == NULL)
		return NULL;
	for (i = 0; i < cp->set.sel.n && i < SELECTOR_MAX; i++) {
		if (cp->sb == NULL ||
		    (e = scoreboard_by_id(cp->sb, cp->set.sel.ids[i])) == NULL)
			continue;
		if (json_array_append_new(arr, json_string(e->name)) == -1) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static int
get_active_set(struct cp *cp, struct admin_reply *out)
{
	return reply_json(out, 200, json_pack("{s:I, s:o, s:o, s:o, s:o,"
	    " s:o, s:b}",
	    "generation", (json_int_t)cp->set.generation,
	    "instance", jstr(cp->set.instance),
	    "backends", set_members(cp),
	    "changed_at", jtime(cp->set.changed_at_unix_ms),
	    "changed_at_unix_ms", juint(cp->set.changed_at_unix_ms),
	    "reason", jstr(cp->set.reason),
	    "degraded", cp->set.degraded));
}

static unsigned
dp_count(const struct cp *cp)
{
	return cp->dps != NULL ? dataplanes_count(cp->dps) : 0;
}

static json_t *
dataplanes_json(const struct cp *cp, uint64_t now)
{
	const struct dp_info *d;
	json_t *arr, *o;
	unsigned i;

	if ((arr = json_array()) == NULL)
		return NULL;
	for (i = 0; i < dp_count(cp); i++) {
		d = dataplanes_at(cp->dps, i);
		o = json_pack("{s:o, s:I, s:I, s:I, s:I, s:b, s:I, s:o}",
		    "id", jstr(d->dp_id),
		    "pid", (json_int_t)d->pid,
		    "workers", (json_int_t)d->workers,
		    "uptime_seconds", (json_int_t)(d->uptime_ms / 1000),
		    "serving_generation", (json_int_t)d->serving_generation,
		    "in_sync", cp->set.generation != 0 &&
		    d->serving_generation == cp->set.generation &&
		    strcmp(d->serving_instance, cp->set.instance) == 0,
		    "connections_active", (json_int_t)d->connections_active,
		    "last_seen_seconds_ago", jnum(now > d->last_seen_ms ?
		    (double)(now - d->last_seen_ms) / 1000.0 : 0.0));
		if (o == NULL || json_array_append_new(arr, o) == -1) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *
counters_json(const struct cp *cp)
{
	const struct cp_stats *s = &cp->stats;
	json_t *sw;
	int r;

	if ((sw = json_object()) == NULL)
		return NULL;
	for (r = SELECTOR_INITIAL; r <= SELECTOR_IMPROVED; r++)
		if (json_object_set_new(sw, selector_reason_name(r),
		    juint(s->switches[r])) == -1) {
			json_decref(sw);
			return NULL;
		}
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:o, s:o}",
	    "probe_rounds", juint(s->probe_rounds),
	    "evaluations", juint(s->evaluations),
	    "switches", sw,
	    "degraded_evaluations", juint(s->degraded_evaluations),
	    "pushes", juint(s->pushes),
	    "ipc_dropped", juint(s->ipc_dropped),
	    "state_saves", juint(s->state_saves),
	    "state_save_errors", juint(s->state_save_errors),
	    "reloads", juint(s->reloads),
	    "reload_errors", juint(s->reload_errors),
	    "admin_requests", juint(s->admin_requests),
	    "evictions", juint(s->evictions),
	    "samples_added", juint(s->samples_added),
	    "dataplane_reports", juint(cp->dps != NULL ?
	    dataplanes_totals(cp->dps)->reports : 0));
}

static int
get_status(struct cp *cp, struct admin_reply *out)
{
	uint64_t now = evloop_clock_ms();
	const char *phase;

	phase = (unsigned)cp->phase < sizeof(phase_names) /
	    sizeof(phase_names[0]) ? phase_names[cp->phase] : "unknown";
	return reply_json(out, 200, json_pack("{s:s, s:I, s:o, s:o, s:s,"
	    " s:o, s:I, s:I, s:o, s:o, s:o, s:b, s:b, s:I, s:o, s:o}",
	    "version", TCPFWD_VERSION,
	    "uptime_seconds", (json_int_t)(now > cp->start_ms ?
	    (now - cp->start_ms) / 1000 : 0),
	    "started_at", jtime(cp->start_unix_ms),
	    "started_at_unix_ms", juint(cp->start_unix_ms),
	    "phase", phase,
	    "instance", jstr(cp->set.instance),
	    "generation", (json_int_t)cp->set.generation,
	    "active_set_size", (json_int_t)cp->set.sel.n,
	    "last_switch", jtime(cp->set.changed_at_unix_ms),
	    "last_switch_unix_ms", juint(cp->set.changed_at_unix_ms),
	    "last_switch_reason", jstr(cp->set.reason),
	    "degraded", cp->set.degraded,
	    "adopted", cp->set.adopted,
	    "tracked_backends", (json_int_t)tracked(cp),
	    "dataplanes", dataplanes_json(cp, now),
	    "counters", counters_json(cp)));
}

static int
get_healthz(struct cp *cp, struct admin_reply *out)
{
	return reply_json(out, 200, json_pack("{s:s, s:I}", "status", "ok",
	    "dataplanes", (json_int_t)dp_count(cp)));
}

static int
get_index(struct cp *cp, struct admin_reply *out)
{
	json_t *paths;

	paths = json_pack("[s, s, s, s, s, s, s, s]", "GET /healthz",
	    "GET /api/v1/status", "GET /api/v1/backends?state=&limit=",
	    "GET /api/v1/backends/{address}", "GET /api/v1/active-set",
	    "POST /api/v1/backends/{address}/disable",
	    "POST /api/v1/backends/{address}/enable",
	    "POST /api/v1/reload");
	if (paths != NULL && cp->cfg.metrics.enabled) {
		char m[sizeof(cp->cfg.metrics.path) + 8];

		snprintf(m, sizeof(m), "GET %s", cp->cfg.metrics.path);
		if (json_array_append_new(paths, jstr(m)) == -1) {
			json_decref(paths);
			paths = NULL;
		}
	}
	return reply_json(out, 200, json_pack("{s:s, s:s, s:o}", "service",
	    "tcp-forwarder control plane", "version", TCPFWD_VERSION,
	    "endpoints", paths));
}

/* "/": the status page for people (status_page.html, embedded); the JSON
 * index stays at /api/v1. */
static int
get_page(struct admin_reply *out)
{
	char *body;

	if ((body = malloc(status_page_html_len + 1)) == NULL)
		return -1;
	memcpy(body, status_page_html, status_page_html_len + 1);
	out->status = 200;
	out->content_type = CT_HTML;
	out->body = body;
	out->len = status_page_html_len;
	return 0;
}

static int
post_reload(struct cp *cp, struct admin_reply *out)
{
	char err[512];

	err[0] = '\0';
	if (cp_reload(cp, err, sizeof(err)) == -1) {
		log_warnx("reload failed: %s", err);
		return reply_error(out, 500, "reload failed: %s",
		    err[0] != '\0' ? err : "unknown error");
	}
	log_info("configuration reloaded");
	return reply_json(out, 200, json_pack("{s:s}", "status",
	    "reloaded"));
}

static int
get_metrics(struct cp *cp, struct admin_reply *out)
{
	size_t len;
	char *text;

	if ((text = metrics_render(cp, &len)) == NULL)
		return -1;
	out->status = 200;
	out->content_type = CT_METRICS;
	out->body = text;
	out->len = len;
	return 0;
}

/* ---- routing ------------------------------------------------------------ */

static bool
is_metrics_path(const struct cp *cp, const struct req_uri *r)
{
	const char *mp = cp->cfg.metrics.path;
	size_t n = strlen(mp);

	if (!cp->cfg.metrics.enabled || mp[0] != '/')
		return false;
	if (strcmp(r->path, mp) == 0)
		return true;
	/* "/metrics/" too, but "/" never matches "//" */
	return n > 1 && strncmp(r->path, mp, n) == 0 &&
	    r->path[n] == '/' && r->path[n + 1] == '\0';
}

static bool
seg_is(const struct req_uri *r, unsigned i, const char *s)
{
	return i < r->nseg && strcmp(r->seg[i], s) == 0;
}

/* The route for r, and the backend segment when it names one. */
static enum route_id
match(const struct cp *cp, const struct req_uri *r, const char **backend)
{
	*backend = NULL;
	if (is_metrics_path(cp, r))
		return RT_METRICS;
	if (r->too_deep)
		return RT_NONE;
	if (r->nseg == 0)
		return RT_PAGE;
	if (r->nseg == 1 && seg_is(r, 0, "healthz"))
		return RT_HEALTHZ;
	if (!seg_is(r, 0, "api") || !seg_is(r, 1, "v1"))
		return RT_NONE;
	if (r->nseg == 2)
		return RT_INDEX;
	if (r->nseg == 3) {
		if (seg_is(r, 2, "status"))
			return RT_STATUS;
		if (seg_is(r, 2, "backends"))
			return RT_BACKENDS;
		if (seg_is(r, 2, "active-set"))
			return RT_ACTIVE_SET;
		if (seg_is(r, 2, "reload"))
			return RT_RELOAD;
		return RT_NONE;
	}
	if (!seg_is(r, 2, "backends") || r->seg[3][0] == '\0')
		return RT_NONE;
	*backend = r->seg[3];
	if (r->nseg == 4)
		return RT_BACKEND;
	if (r->nseg == 5 && seg_is(r, 4, "disable"))
		return RT_DISABLE;
	if (r->nseg == 5 && seg_is(r, 4, "enable"))
		return RT_ENABLE;
	*backend = NULL;
	return RT_NONE;
}

/* Compares in time that depends only on the token's length. */
static bool
token_ok(const char *token, const char *authorization)
{
	const char *h = authorization != NULL ? authorization : "";
	volatile unsigned char diff;
	size_t i, hl, tl;

	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		h = "";
	else
		h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	hl = strlen(h);
	while (hl > 0 && (h[hl - 1] == ' ' || h[hl - 1] == '\t'))
		hl--;
	tl = strlen(token);
	diff = hl != tl;
	for (i = 0; i < tl; i++)
		diff |= (unsigned char)token[i] ^
		    (unsigned char)(i < hl ? h[i] : 0);
	return diff == 0;
}

static int
route(struct cp *cp, const char *method, const char *uri,
    const char *authorization, bool metrics_only, struct admin_reply *out)
{
	struct req_uri *r;
	enum route_id id;
	const char *why, *backend;
	char q[QUOTE_MAX + 4], p[QUOTE_MAX + 4];
	bool get, post;
	int rv;

	memset(out, 0, sizeof(*out));
	cp->stats.admin_requests++;
	if (method == NULL || method[0] == '\0' || uri == NULL)
		return reply_error(out, 400, "malformed request");
	if (strlen(uri) > ADMIN_URI_MAX)
		return reply_error(out, 414, "request URI longer than %d "
		    "bytes", ADMIN_URI_MAX);
	if ((r = malloc(sizeof(*r))) == NULL)
		return -1;
	if (parse_uri(uri, r, &why) == -1) {
		rv = reply_error(out, 400, "%s", why);
		goto done;
	}
	id = match(cp, r, &backend);
	if (metrics_only && id != RT_METRICS)
		id = RT_NONE;
	if (id == RT_NONE) {
		rv = reply_error(out, 404, "no such path: %s",
		    quote_client(r->path, p, sizeof(p)));
		goto done;
	}

	get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	post = strcmp(method, "POST") == 0;
	if (id == RT_DISABLE || id == RT_ENABLE || id == RT_RELOAD) {
		if (!post) {
			out->allow = ALLOW_POST;
			rv = reply_error(out, 405, "method %s not allowed on "
			    "%s (use POST)", quote_client(method, q,
			    sizeof(q)), quote_client(r->path, p, sizeof(p)));
			goto done;
		}
		if (cp->token[0] != '\0' &&
		    !token_ok(cp->token, authorization)) {
			out->authenticate = true;
			rv = reply_error(out, 401, "this call needs "
			    "\"Authorization: Bearer <token>\" with the token "
			    "of admin.token_file");
			goto done;
		}
	} else if (!get) {
		out->allow = ALLOW_GET;
		rv = reply_error(out, 405, "method %s not allowed on %s "
		    "(use GET)", quote_client(method, q, sizeof(q)),
		    quote_client(r->path, p, sizeof(p)));
		goto done;
	}

	switch (id) {
	case RT_PAGE:
		rv = get_page(out);
		break;
	case RT_INDEX:
		rv = get_index(cp, out);
		break;
	case RT_HEALTHZ:
		rv = get_healthz(cp, out);
		break;
	case RT_METRICS:
		rv = get_metrics(cp, out);
		break;
	case RT_STATUS:
		rv = get_status(cp, out);
		break;
	case RT_BACKENDS:
		rv = get_backends(cp, r, out);
		break;
	case RT_BACKEND:
		rv = get_backend(cp, backend, out);
		break;
	case RT_DISABLE:
	case RT_ENABLE:
		rv = post_toggle(cp, backend, id == RT_DISABLE, out);
		break;
	case RT_ACTIVE_SET:
		rv = get_active_set(cp, out);
		break;
	case RT_RELOAD:
		rv = post_reload(cp, out);
		break;
	case RT_NONE:
	default:
		rv = reply_error(out, 404, "no such path");
		break;
	}

done:
	free(r);
	if (rv == -1) {
		admin_reply_free(out);
		memset(out, 0, sizeof(*out));
	}
	return rv;
}

int
admin_route(struct cp *cp, const char *method, const char *uri,
    const char *authorization, struct admin_reply *out)
{
	return route(cp, method, uri, authorization, false, out);
}

int
admin_route_metrics(struct cp *cp, const char *method, const char *uri,
    struct admin_reply *out)
{
	return route(cp, method, uri, NULL, true, out);
}

void
admin_reply_free(struct admin_reply *out)
{
	free(out->body);
	out->body = NULL;
	out->len = 0;
}
