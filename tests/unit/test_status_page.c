/*
 * The status page at "/" of the admin listener (controlplane/status_page
 * .html, embedded by the Makefile): the route answers 200 text/html for
 * GET and HEAD with the whole page, whose element ids, API paths and lack
 * of external assets are checked; other methods get 405, the JSON index
 * stays at /api/v1, the metrics-only listener never serves the page; then
 * the same over nng's HTTP server on loopback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/evloop.h"
#include "../../controlplane/admin.h"
#include "../../controlplane/cp.h"
#include "../../controlplane/status_page.h"

#define CT_HTML "text/html; charset=utf-8"

/* ---- test doubles for cp_main.c ----------------------------------------- */

int
cp_disable(struct cp *cp, struct sb_entry *e, char *err, size_t errlen)
{
	(void)cp;
	(void)e;
	snprintf(err, errlen, "not in this test");
	return -1;
}

int
cp_enable(struct cp *cp, struct sb_entry *e, char *err, size_t errlen)
{
	(void)cp;
	(void)e;
	snprintf(err, errlen, "not in this test");
	return -1;
}

int
cp_reload(struct cp *cp, char *err, size_t errlen)
{
	(void)cp;
	snprintf(err, errlen, "not in this test");
	return -1;
}

uint64_t
cp_unix_ms(void)
{
	return 1700000000123ull;
}

/* ---- fixture ------------------------------------------------------------ */

static int
setup(void **state)
{
	struct cp *cp;

	if ((cp = calloc(1, sizeof(*cp))) == NULL)
		return -1;
	config_defaults(&cp->cfg);
	if (scoreboard_new(&cp->sb) == -1 || dataplanes_new(&cp->dps) == -1)
		return -1;
	*state = cp;
	return 0;
}

static int
teardown(void **state)
{
	struct cp *cp = *state;

	admin_stop(cp);
	evloop_free(cp->loop);
	dataplanes_free(cp->dps);
	scoreboard_free(cp->sb);
	free(cp);
	return 0;
}

/* Routes one request that must answer the page. */
static void
expect_page(struct cp *cp, const char *method, const char *uri)
{
	struct admin_reply r;

	assert_int_equal(admin_route(cp, method, uri, NULL, &r), 0);
	if (r.status != 200 || r.content_type == NULL ||
	    strcmp(r.content_type, CT_HTML) != 0) {
		print_error("%s %s: %d %s\n", method, uri, r.status,
		    r.content_type != NULL ? r.content_type : "(none)");
		fail();
	}
	assert_int_equal(r.len, status_page_html_len);
	assert_memory_equal(r.body, status_page_html, r.len);
	assert_int_equal(r.body[r.len], '\0');
	admin_reply_free(&r);
}

/* ---- the route ---------------------------------------------------------- */

static void
test_page_served(void **state)
{
	struct cp *cp = *state;

	expect_page(cp, "GET", "/");
	expect_page(cp, "HEAD", "/");
	expect_page(cp, "GET", "/?refresh=1");
	expect_page(cp, "GET", "/#backends");
	expect_page(cp, "GET", "http://127.0.0.1:9099/");
	expect_page(cp, "GET", "http://127.0.0.1:9099");
}

/* What the page needs and what the browser test looks for. */
static void
test_page_content(void **state)
{
	static const char *const needles[] = {
		"<!DOCTYPE html>", "<meta charset=\"utf-8\">",
		"name=\"viewport\"",
		"id=\"error-banner\"", "id=\"active-generation\"",
		"id=\"active-reason\"", "id=\"active-since\"",
		"id=\"active-members\"", "id=\"backends-body\"",
		"id=\"dataplanes-body\"", "id=\"total-connections\"",
		"\"api/v1/status\"", "\"api/v1/active-set\"",
		"\"api/v1/backends?limit=\"", "REFRESH_MS = 2000",
		"latency_ms", "jitter_ms", "success_rate", "penalty", "bonus",
		"consecutive_failures", "probes", "connections", "pool",
		"@media (max-width", "</html>",
	};
	const char *page = (const char *)status_page_html;
	unsigned i;

	(void)state;
	assert_int_equal(strlen(page), status_page_html_len);
	for (i = 0; i < sizeof(needles) / sizeof(needles[0]); i++) {
		if (strstr(page, needles[i]) == NULL) {
			print_error("the page lacks %s\n", needles[i]);
			fail();
		}
	}
}

/* Self-contained: no script, style, font or image from anywhere else. */
static void
test_page_no_external_assets(void **state)
{
	static const char *const banned[] = {
		"src=\"http", "src='http", "src=\"//", "href=\"http",
		"href=\"//", "url(http", "url(//", "@import", "<link rel=\"style",
		"<script src", "<iframe",
	};
	const char *page = (const char *)status_page_html;
	const char *p;
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
		if ((p = strcasestr(page, banned[i])) != NULL) {
			print_error("external asset: %.60s\n", p);
			fail();
		}
	}
	/* the only <link> is the empty inline icon */
	for (p = page; (p = strcasestr(p, "<link")) != NULL; p++)
		assert_int_equal(strncmp(p, "<link rel=\"icon\" href=\"data:",
		    28), 0);
}

static void
test_other_methods_and_paths(void **state)
{
	struct cp *cp = *state;
	struct admin_reply r;

	assert_int_equal(admin_route(cp, "POST", "/", NULL, &r), 0);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET, HEAD");
	assert_string_equal(r.content_type, "application/json");
	admin_reply_free(&r);

	assert_int_equal(admin_route(cp, "DELETE", "/", NULL, &r), 0);
	assert_int_equal(r.status, 405);
	admin_reply_free(&r);

	/* the JSON index moved to /api/v1; unknown paths stay JSON 404s */
	assert_int_equal(admin_route(cp, "GET", "/api/v1", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/json");
	assert_non_null(strstr(r.body, "\"endpoints\""));
	admin_reply_free(&r);
	assert_int_equal(admin_route(cp, "GET", "/index.html", NULL, &r), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.content_type, "application/json");
	admin_reply_free(&r);

	/* never on the metrics-only listener */
	assert_int_equal(admin_route_metrics(cp, "GET", "/", &r), 0);
	assert_int_equal(r.status, 404);
	admin_reply_free(&r);
}

/* ---- over HTTP ---------------------------------------------------------- */

struct client {
	uint16_t port;
	const char *request;
	char answer[256 * 1024];
	size_t len;
};

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
	c->answer[0] = '\0';
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

/* Sends request from a thread while this thread answers, as the loop. */
static void
roundtrip(struct cp *cp, struct client *c, const char *request)
{
	pthread_t t;
	int i;

	c->port = cp->cfg.admin.listen_addr.port;
	c->request = request;
	assert_int_equal(pthread_create(&t, NULL, client_main, c), 0);
	for (i = 0; i < 5000 && pthread_tryjoin_np(t, NULL) != 0; i++) {
		admin_process(cp);
		usleep(1000);
	}
	assert_true(i < 5000);
}

static void
test_http(void **state)
{
	struct cp *cp = *state;
	struct client *c;
	char err[256], a[32], want[64];
	const char *body;

	snprintf(a, sizeof(a), "127.0.0.1:%u", free_port());
	assert_int_equal(addr_parse(a, 0, &cp->cfg.admin.listen_addr, err,
	    sizeof(err)), 0);
	cp->cfg.metrics.listen_addr = cp->cfg.admin.listen_addr;
	assert_int_equal(evloop_new(&cp->loop), 0);
	if (admin_start(cp, err, sizeof(err)) != 0) {
		print_error("admin_start: %s\n", err);
		fail();
	}
	assert_non_null(c = calloc(1, sizeof(*c)));

	roundtrip(cp, c, "GET / HTTP/1.1\r\nHost: x\r\n"
	    "Accept: text/html\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(c->answer, "HTTP/1.1 200"));
	assert_non_null(strcasestr(c->answer,
	    "Content-Type: text/html; charset=utf-8\r\n"));
	snprintf(want, sizeof(want), "Content-Length: %zu\r\n",
	    status_page_html_len);
	assert_non_null(strcasestr(c->answer, want));
	assert_non_null(body = strstr(c->answer, "\r\n\r\n"));
	assert_int_equal(strlen(body + 4), status_page_html_len);
	assert_memory_equal(body + 4, status_page_html, status_page_html_len);

	/* HEAD: the same headers, no body */
	roundtrip(cp, c, "HEAD / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n");
	assert_non_null(strstr(c->answer, "HTTP/1.1 200"));
	assert_non_null(strcasestr(c->answer, "Content-Type: text/html"));
	assert_non_null(body = strstr(c->answer, "\r\n\r\n"));
	assert_string_equal(body + 4, "");
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_page_served, setup,
		    teardown),
		cmocka_unit_test(test_page_content),
		cmocka_unit_test(test_page_no_external_assets),
		cmocka_unit_test_setup_teardown(test_other_methods_and_paths,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_http, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
