/*
 * The admin HTTP API and /metrics on nng's HTTP server (see admin.h): the
 * nng glue. nng calls our handler on its own threads; the handler only
 * copies the request into a job, queues it under a mutex and wakes the
 * loop, which routes it (admin_routes.c) and completes the request.
 * Nothing reads struct cp off the loop's thread.
 *
 * Lifetimes. struct admin is shared with nng: the control plane holds one
 * reference and every registered handler another (dropped by nng when it
 * frees the handler, which it does only after every request that handler
 * began has completed), so a late nng callback never finds it freed.
 * Cancellation: a queued request's aio is deferred with admin_cancel(),
 * which removes the job and fails the aio; a job the loop has already
 * taken is simply completed by the loop (the cancel finds nothing). The
 * handler defers while holding the mutex and admin_stop() sets stopping
 * under it before it stops the servers, so no request can begin on a
 * closing server between the two (nng_aio_defer() on a stopped aio would
 * silently drop it).
 */
#define LOG_MODULE LOGM_ADMIN

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/util/platform.h>

#include "../common/evloop.h"
#include "../common/log.h"
#include "admin.h"
#include "cp.h"

/* ---- nng glue ----------------------------------------------------------- */

/* Jobs answered per admin_process() call; the rest wait for the next
 * iteration, so a burst cannot starve probes and reports. */
#define ADMIN_BATCH 32
/* Authorization header kept at most (tokens are shorter). */
#define AUTH_MAX 1024
#define METHOD_MAX 16
/* How long admin_stop() lets nng write the 503s of queued requests. */
#define STOP_GRACE_MS 100

struct admin_job {
	TAILQ_ENTRY(admin_job) aj_link;
	nng_aio *aj_aio;
	bool aj_metrics_only;          /* from the metrics-only listener */
	char aj_method[METHOD_MAX + 1];
	char aj_auth[AUTH_MAX + 1];
	char aj_uri[];                 /* NUL-terminated */
};

TAILQ_HEAD(admin_jobs, admin_job);

struct admin {
	pthread_mutex_t ad_mtx;
	struct admin_jobs ad_jobs;     /* waiting for the loop */
	unsigned ad_njobs;
	unsigned ad_refs;              /* the control plane + handlers */
	bool ad_stopping;
	struct evloop *ad_loop;
	nng_http_server *ad_servers[2];
	unsigned ad_nservers;
};

static const char busy_body[] =
    "{\"error\":\"admin API busy, try again\"}\n";
static const char stopping_body[] =
    "{\"error\":\"the control plane is stopping\"}\n";
static const char oom_body[] = "{\"error\":\"out of memory\"}\n";

static void
admin_ref(struct admin *ad)
{
	pthread_mutex_lock(&ad->ad_mtx);
	ad->ad_refs++;
	pthread_mutex_unlock(&ad->ad_mtx);
}

static void
admin_unref(void *arg)
{
	struct admin *ad = arg;
	unsigned left;

	pthread_mutex_lock(&ad->ad_mtx);
	left = --ad->ad_refs;
	pthread_mutex_unlock(&ad->ad_mtx);
	if (left > 0)
		return;
	pthread_mutex_destroy(&ad->ad_mtx);
	free(ad);
}

/* A response with a body and headers, or NULL (nng's own 500 then). */
static nng_http_res *
make_res(uint16_t status, const char *ctype, const void *body, size_t len,
    const char *allow, bool authenticate)
{
	nng_http_res *res;
	int rv;

	if ((rv = nng_http_res_alloc(&res)) != 0)
		return NULL;
	if ((rv = nng_http_res_set_status(res, status)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Content-Type", ctype)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Cache-Control",
	    "no-store")) != 0 ||
	    (allow != NULL &&
	    (rv = nng_http_res_set_header(res, "Allow", allow)) != 0) ||
	    (authenticate && (rv = nng_http_res_set_header(res,
	    "WWW-Authenticate", "Bearer realm=\"tcp-forwarder\"")) != 0) ||
	    (rv = nng_http_res_copy_data(res, body, len)) != 0) {
		nng_http_res_free(res);
		return NULL;
	}
	return res;
}

/* Completes aio with res; with no response the connection just closes. */
static void
complete(nng_aio *aio, nng_http_res *res)
{
	if (res == NULL) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void
complete_static(nng_aio *aio, uint16_t status, const char *body)
{
	complete(aio, make_res(status, "application/json", body,
	    strlen(body), NULL, false));
}

/* nng's cancel: a queued request whose connection is going away. */
static void
admin_cancel(nng_aio *aio, void *arg, int rv)
{
	struct admin *ad = arg;
	struct admin_job *j;

	pthread_mutex_lock(&ad->ad_mtx);
	TAILQ_FOREACH(j, &ad->ad_jobs, aj_link)
		if (j->aj_aio == aio)
			break;
	if (j != NULL) {
		TAILQ_REMOVE(&ad->ad_jobs, j, aj_link);
		ad->ad_njobs--;
	}
	pthread_mutex_unlock(&ad->ad_mtx);
	if (j == NULL)
		return; /* the loop has it and completes it */
	free(j);
	nng_aio_finish(aio, rv);
}

static void
copy_capped(char *dst, size_t size, const char *src)
{
	size_t n;

	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	n = strlen(src);
	if (n >= size)
		n = 0; /* longer than anything valid: as if absent */
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Runs on an nng thread: queue the request for the loop. */
static void
handle(nng_aio *aio, bool metrics_only)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct admin *ad = nng_http_handler_get_data(h);
	struct admin_job *j;
	const char *uri;
	size_t ulen;

	uri = nng_http_req_get_uri(req);
	ulen = strlen(uri);
	if (ulen > ADMIN_URI_MAX) {
		complete_static(aio, 414,
		    "{\"error\":\"request URI too long\"}\n");
		return;
	}
	if ((j = malloc(sizeof(*j) + ulen + 1)) == NULL) {
		complete_static(aio, 500, oom_body);
		return;
	}
	j->aj_aio = aio;
	j->aj_metrics_only = metrics_only;
	copy_capped(j->aj_method, sizeof(j->aj_method),
	    nng_http_req_get_method(req));
	copy_capped(j->aj_auth, sizeof(j->aj_auth),
	    nng_http_req_get_header(req, "Authorization"));
	memcpy(j->aj_uri, uri, ulen + 1);

	pthread_mutex_lock(&ad->ad_mtx);
	if (ad->ad_stopping || ad->ad_njobs >= ADMIN_QUEUE_MAX) {
		bool stopping = ad->ad_stopping;

		pthread_mutex_unlock(&ad->ad_mtx);
		free(j);
		complete_static(aio, 503, stopping ? stopping_body :
		    busy_body);
		return;
	}
	TAILQ_INSERT_TAIL(&ad->ad_jobs, j, aj_link);
	ad->ad_njobs++;
	nng_aio_defer(aio, admin_cancel, ad);
	evloop_wake(ad->ad_loop);
	pthread_mutex_unlock(&ad->ad_mtx);
}

static void
admin_http_cb(nng_aio *aio)
{
	handle(aio, false);
}

static void
metrics_http_cb(nng_aio *aio)
{
	handle(aio, true);
}

/* Builds the nng response for one routed job (on the loop). */
static nng_http_res *
answer(struct cp *cp, const struct admin_job *j)
{
	struct admin_reply rep;
	nng_http_res *res;
	int rv;

	if (j->aj_metrics_only)
		rv = admin_route_metrics(cp, j->aj_method, j->aj_uri, &rep);
	else
		rv = admin_route(cp, j->aj_method, j->aj_uri,
		    j->aj_auth[0] != '\0' ? j->aj_auth : NULL, &rep);
	if (rv == -1) {
		log_warnx("out of memory answering %s %.128s",
		    j->aj_method, j->aj_uri);
		return make_res(500, "application/json", oom_body,
		    strlen(oom_body), NULL, false);
	}
	log_debug("%s %.256s -> %d", j->aj_method, j->aj_uri,
	    rep.status);
	res = make_res((uint16_t)rep.status, rep.content_type, rep.body,
	    rep.len, rep.allow, rep.authenticate);
	admin_reply_free(&rep);
	return res;
}

void
admin_process(struct cp *cp)
{
	struct admin *ad = cp->admin;
	struct admin_job *j;
	unsigned done;

	if (ad == NULL)
		return;
	for (done = 0; done < ADMIN_BATCH; done++) {
		pthread_mutex_lock(&ad->ad_mtx);
		if ((j = TAILQ_FIRST(&ad->ad_jobs)) != NULL) {
			TAILQ_REMOVE(&ad->ad_jobs, j, aj_link);
			ad->ad_njobs--;
		}
		pthread_mutex_unlock(&ad->ad_mtx);
		if (j == NULL)
			return;
		complete(j->aj_aio, answer(cp, j));
		free(j);
	}
	pthread_mutex_lock(&ad->ad_mtx);
	if (!TAILQ_EMPTY(&ad->ad_jobs))
		evloop_set_pending(cp->loop);
	pthread_mutex_unlock(&ad->ad_mtx);
}

/* Registers one handler for path on srv; any method, small bodies. */
static int
add_handler(struct admin *ad, nng_http_server *srv, const char *path,
    bool tree, void (*cb)(nng_aio *))
{
	nng_http_handler *h;
	int rv;

	if ((rv = nng_http_handler_alloc(&h, path, cb)) != 0)
		return rv;
	if ((rv = nng_http_handler_set_method(h, NULL)) != 0 ||
	    (tree && (rv = nng_http_handler_set_tree(h)) != 0) ||
	    (rv = nng_http_handler_collect_body(h, true,
	    ADMIN_BODY_MAX)) != 0) {
		nng_http_handler_free(h);
		return rv;
	}
	admin_ref(ad);
	if ((rv = nng_http_handler_set_data(h, ad, admin_unref)) != 0) {
		admin_unref(ad);
		nng_http_handler_free(h);
		return rv;
	}
	if ((rv = nng_http_server_add_handler(srv, h)) != 0) {
		nng_http_handler_free(h); /* drops our reference */
		return rv;
	}
	return 0;
}

/* Holds the server for a and registers the handlers: the whole API, or
 * only metrics.path. Returns 0 or an nng error with what failed in err. */
static int
open_server(struct admin *ad, const struct cp *cp, const struct addr *a,
    bool metrics_only, char *err, size_t errlen)
{
	char url[ADDR_STRLEN + 16], name[ADDR_STRLEN];
	const char *mp = cp->cfg.metrics.path;
	void (*cb)(nng_aio *);
	nng_http_server *srv;
	nng_url *u;
	int rv;

	snprintf(url, sizeof(url), "http://%s",
	    addr_format(a, name, sizeof(name)));
	if ((rv = nng_url_parse(&u, url)) != 0) {
		snprintf(err, errlen, "admin: bad listen URL %s: %s", url,
		    nng_strerror(rv));
		return rv;
	}
	rv = nng_http_server_hold(&srv, u);
	nng_url_free(u);
	if (rv != 0) {
		snprintf(err, errlen, "admin: cannot serve %s: %s", url,
		    nng_strerror(rv));
		return rv;
	}
	ad->ad_servers[ad->ad_nservers++] = srv;

	cb = metrics_only ? metrics_http_cb : admin_http_cb;
	if (!metrics_only &&
	    ((rv = add_handler(ad, srv, "/api/v1", true, cb)) != 0 ||
	    (rv = add_handler(ad, srv, "/healthz", false, cb)) != 0))
		goto fail;
	/* "/" as a tree catches every other path, so even a 404 is JSON;
	 * metrics.path gets its own handler unless "/" or an API path. */
	if (cp->cfg.metrics.enabled && strcmp(mp, "/") != 0 &&
	    strcmp(mp, "/healthz") != 0 && strcmp(mp, "/api/v1") != 0 &&
	    (rv = add_handler(ad, srv, mp, false, cb)) != 0)
		goto fail;
	if ((rv = add_handler(ad, srv, "/", true, cb)) != 0)
		goto fail;
	if ((rv = nng_http_server_start(srv)) != 0) {
		snprintf(err, errlen, "admin: cannot listen on %s: %s", url,
		    nng_strerror(rv));
		return rv;
	}
	log_info("serving %s on %s", metrics_only ?
	    "metrics only" : "the admin API", url);
	return 0;

fail:
	snprintf(err, errlen, "admin: cannot register handlers on %s: %s",
	    url, nng_strerror(rv));
	return rv;
}

int
admin_start(struct cp *cp, char *err, size_t errlen)
{
	const struct addr *aa = &cp->cfg.admin.listen_addr;
	const struct addr *ma = &cp->cfg.metrics.listen_addr;
	struct admin *ad;
	char name[ADDR_STRLEN];
	unsigned i;

	if (!addr_is_loopback(aa) && cp->token[0] == '\0') {
		snprintf(err, errlen, "admin.listen_addr %s is not loopback: "
		    "set admin.token_file", addr_format(aa, name,
		    sizeof(name)));
		return -1;
	}
	if ((ad = calloc(1, sizeof(*ad))) == NULL) {
		snprintf(err, errlen, "admin: out of memory");
		return -1;
	}
	if (pthread_mutex_init(&ad->ad_mtx, NULL) != 0) {
		free(ad);
		snprintf(err, errlen, "admin: cannot create a mutex");
		return -1;
	}
	TAILQ_INIT(&ad->ad_jobs);
	ad->ad_refs = 1;
	ad->ad_loop = cp->loop;

	if (open_server(ad, cp, aa, false, err, errlen) != 0)
		goto fail_release;
	if (cp->cfg.metrics.enabled && !addr_equal(ma, aa) &&
	    open_server(ad, cp, ma, true, err, errlen) != 0)
		goto fail_release;
	cp->admin = ad;
	return 0;

fail_release:
	for (i = 0; i < ad->ad_nservers; i++) {
		nng_http_server_stop(ad->ad_servers[i]);
		nng_http_server_release(ad->ad_servers[i]);
	}
	admin_unref(ad);
	return -1;
}

void
admin_stop(struct cp *cp)
{
	struct admin *ad = cp->admin;
	struct admin_jobs jobs;
	struct admin_job *j;
	unsigned i;

	if (ad == NULL)
		return;
	TAILQ_INIT(&jobs);
	pthread_mutex_lock(&ad->ad_mtx);
	ad->ad_stopping = true;
	ad->ad_loop = NULL;
	while ((j = TAILQ_FIRST(&ad->ad_jobs)) != NULL) {
		TAILQ_REMOVE(&ad->ad_jobs, j, aj_link);
		TAILQ_INSERT_TAIL(&jobs, j, aj_link);
	}
	ad->ad_njobs = 0;
	pthread_mutex_unlock(&ad->ad_mtx);

	if (!TAILQ_EMPTY(&jobs)) {
		while ((j = TAILQ_FIRST(&jobs)) != NULL) {
			TAILQ_REMOVE(&jobs, j, aj_link);
			complete_static(j->aj_aio, 503, stopping_body);
			free(j);
		}
		/* nng writes the answers on its threads; stopping the server
		 * closes every connection at once, so give them a moment. */
		nng_msleep(STOP_GRACE_MS);
	}
	for (i = 0; i < ad->ad_nservers; i++) {
		nng_http_server_stop(ad->ad_servers[i]);
		nng_http_server_release(ad->ad_servers[i]);
		ad->ad_servers[i] = NULL;
	}
	ad->ad_nservers = 0;
	cp->admin = NULL;
	admin_unref(ad);
}
