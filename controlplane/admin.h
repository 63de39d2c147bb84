/*
 * The admin HTTP API and /metrics, on nng's HTTP server. Requests arrive
 * on nng's threads and are queued to the control plane's loop, which
 * builds every answer from struct cp and completes the request: the
 * control plane's state has a single owner.
 */
#ifndef TCPFWD_CP_ADMIN_H
#define TCPFWD_CP_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

struct cp;

/* Longest request URI routed; a longer one is answered 414. */
#define ADMIN_URI_MAX 4096
/* Requests waiting for the loop at once; beyond it nng's thread answers
 * 503 at once. */
#define ADMIN_QUEUE_MAX 256
/* Largest request body accepted (no request needs one). */
#define ADMIN_BODY_MAX 4096

/* One answer of the admin API. */
struct admin_reply {
	int status;               /* HTTP status code */
	const char *content_type; /* static string */
	const char *allow;        /* Allow header (405), static, or NULL */
	bool authenticate;        /* send WWW-Authenticate: Bearer (401) */
	char *body;               /* malloc'ed, NUL-terminated */
	size_t len;               /* bytes of body, without the NUL */
};

/* Starts listening on cfg.admin.listen_addr (and cfg.metrics.listen_addr
 * when metrics are enabled and it differs). Refuses a non-loopback address
 * without a token. Returns 0, or -1 with err. */
int admin_start(struct cp *cp, char *err, size_t errlen);

/* Answers every queued request; the loop calls it each iteration. */
void admin_process(struct cp *cp);

/* Stops the server; queued requests get 503. Accepts cp->admin NULL. */
void admin_stop(struct cp *cp);

/*
 * Routes one request on the owner thread, without HTTP: method ("GET",
 * "HEAD", "POST", ...), the request URI as sent (path, percent-encoded,
 * maybe a query; an absolute "http://host/..." form is accepted) and the
 * Authorization header or NULL. Serves every admin path, metrics.path
 * (when metrics are enabled) and "/". Mutating calls (POST) need
 * "Bearer <cp->token>" whenever cp->token is set. Any input is safe: a bad
 * one gets a 4xx answer. Returns 0 with out filled (free it with
 * admin_reply_free()), or -1 when memory ran out (out then holds nothing).
 */
int admin_route(struct cp *cp, const char *method, const char *uri,
    const char *authorization, struct admin_reply *out);

/* The same for the listener of metrics.listen_addr when it is not
 * admin.listen_addr: only metrics.path (GET/HEAD), everything else 404,
 * never the admin API. */
int admin_route_metrics(struct cp *cp, const char *method, const char *uri,
    struct admin_reply *out);

/* Frees out's body; accepts a reply already freed. */
void admin_reply_free(struct admin_reply *out);

#endif
