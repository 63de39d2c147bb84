/*
 * libFuzzer target for the admin API's routing core: admin_route() and
 * admin_route_metrics() over a hand-built control plane. Input: one flag
 * character, then "METHOD\nURI\nAUTHORIZATION" (missing parts: GET, "/",
 * none). Flag bits: 1 the metrics-only listener, 2 a token is set, 4
 * disable is refused, 8 reload fails. Checks every answer: a status
 * between 200 and 599, a NUL-terminated body of the stated length, valid
 * JSON with an "error" string for every JSON error, Allow on 405,
 * WWW-Authenticate on 401.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/evloop.h"
#include "../../common/log.h"
#include "../../controlplane/admin.h"
#include "../../controlplane/cp.h"

#define FUZZ_TOKEN "fuzz-token"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cp *fz_cp;
static bool refuse_disable, fail_reload;

static void
check(int ok)
{
	if (!ok)
		abort();
}

/* ---- test doubles for cp_main.c ----------------------------------------- */

int
cp_disable(struct cp *cp, struct sb_entry *e, char *err, size_t errlen)
{
	(void)cp;
	if (refuse_disable) {
		snprintf(err, errlen, "%s is the last backend", e->name);
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
	e->disabled = false;
	return 0;
}

int
cp_reload(struct cp *cp, char *err, size_t errlen)
{
	(void)cp;
	if (fail_reload) {
		snprintf(err, errlen, "config.yaml:1:1: broken \xc3");
		return -1;
	}
	return 0;
}

uint64_t
cp_unix_ms(void)
{
	return 1700000000123ull;
}

/* ---- fixture ------------------------------------------------------------ */

static struct sb_entry *
add(struct cp *cp, const char *name)
{
	struct sb_entry *e;
	struct addr a;
	char err[64];

	check(addr_parse(name, 0, &a, err, sizeof(err)) == 0);
	check((e = scoreboard_add(cp->sb, &a, 1000)) != NULL);
	return e;
}

static void
fixture(void)
{
	const struct scoring_conf *sc;
	struct proto_report *r;
	struct sb_entry *a, *b, *c;
	struct cp *cp;
	char err[64];

	log_levels[LOGM_ADMIN] = LOGL_ERROR;
	log_levels[LOGM_IPC] = LOGL_ERROR;
	check((cp = calloc(1, sizeof(*cp))) != NULL);
	config_defaults(&cp->cfg);
	check(scoreboard_new(&cp->sb) == 0);
	check(dataplanes_new(&cp->dps) == 0);
	sc = &cp->cfg.remotes.scoring;
	a = add(cp, "10.0.0.1:80");
	b = add(cp, "[2001:db8::1]:443");
	c = add(cp, "10.0.0.3:80");
	add(cp, "192.0.2.7:8080");
	score_success(&a->score, sc, 10.0);
	score_success(&a->score, sc, 14.0);
	a->active = true;
	a->probes_ok = 2;
	a->last_outcome = 0;
	a->last_probe_unix_ms = 1700000000000ull;
	score_success(&b->score, sc, 90.0);
	score_failure(&c->score, sc);
	c->disabled = true;
	snprintf(cp->set.instance, sizeof(cp->set.instance), "fuzz");
	cp->set.generation = 3;
	cp->set.changed_at_unix_ms = 1700000000000ull;
	snprintf(cp->set.reason, sizeof(cp->set.reason), "initial");
	cp->set.sel.ids[0] = a->id;
	cp->set.sel.n = 1;
	cp->phase = CP_RUNNING;
	cp->start_ms = evloop_clock_ms();

	check((r = calloc(1, sizeof(*r))) != NULL);
	snprintf(r->dp_id, sizeof(r->dp_id), "dp1");
	snprintf(r->serving_instance, sizeof(r->serving_instance), "fuzz");
	r->serving_generation = 3;
	r->n_backends = 1;
	check(addr_parse("10.0.0.1:80", 0, &r->backends[0].addr, err,
	    sizeof(err)) == 0);
	r->backends[0].active = true;
	r->backends[0].connections = 2;
	dataplanes_fold(cp->dps, r, evloop_clock_ms(), cp->sb, sc, false);
	free(r);
	fz_cp = cp;
}

/* Copies the next '\n'-terminated field (or the rest) into a new string. */
static char *
field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl;
	size_t n;
	char *s;

	nl = memchr(*p, '\n', (size_t)(end - *p));
	n = (size_t)((nl != NULL ? nl : end) - *p);
	check((s = malloc(n + 1)) != NULL);
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = nl != NULL ? nl + 1 : end;
	return s;
}

static void
check_reply(const struct admin_reply *r)
{
	json_error_t jerr;
	json_t *j, *e;

	check(r->status >= 200 && r->status <= 599);
	check(r->body != NULL && strlen(r->body) == r->len);
	check(r->content_type != NULL);
	check(r->status != 405 || r->allow != NULL);
	check(r->status != 401 || r->authenticate);
	if (strcmp(r->content_type, "application/json") != 0) {
		check(r->status == 200 && r->len > 0 &&
		    r->body[r->len - 1] == '\n');
		return;
	}
	check((j = json_loads(r->body, 0, &jerr)) != NULL);
	if (r->status >= 400) {
		e = json_object_get(j, "error");
		check(json_is_string(e));
	}
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p, *end;
	struct admin_reply r;
	char *method, *uri, *auth;
	unsigned flags, i;
	int rv;

	if (fz_cp == NULL)
		fixture();
	if (size == 0)
		return 0;
	flags = data[0];
	p = data + 1;
	end = data + size;
	method = field(&p, end);
	uri = field(&p, end);
	auth = p < end ? field(&p, end) : NULL;

	snprintf(fz_cp->token, sizeof(fz_cp->token), "%s",
	    (flags & 2) ? FUZZ_TOKEN : "");
	refuse_disable = (flags & 4) != 0;
	fail_reload = (flags & 8) != 0;
	if (flags & 1)
		rv = admin_route_metrics(fz_cp, method, uri, &r);
	else
		rv = admin_route(fz_cp, method, uri, auth, &r);
	check(rv == 0);
	check_reply(&r);
	admin_reply_free(&r);

	/* back to the fixture's flags for the next input */
	for (i = 0; i < scoreboard_count(fz_cp->sb); i++)
		scoreboard_at(fz_cp->sb, i)->disabled = i == 2;
	free(method);
	free(uri);
	free(auth);
	return 0;
}
