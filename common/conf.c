/*
 * The generic config walker: drives libyaml's event API over static
 * struct conf_key tables, writes each value where its key says, and
 * reports every problem with file, line, column and key path. Knows
 * nothing about the tcp-forwarder schema (that is config.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "addr.h"
#include "conf.h"

/* State of one walk over one YAML text. */
struct walk {
	struct conf_ctx *ctx;
	yaml_parser_t parser;
	const char *text;
	size_t len;
	void *base;
	char path[CONF_KEYPATH_MAX];
};

static void walk_error(struct walk *, yaml_mark_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int walk_mapping(struct walk *, const struct conf_key *);

void
conf_ctx_init(struct conf_ctx *ctx, const char *name, const char *dir,
    conf_error_cb *cb, void *arg)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->name = name != NULL ? name : "<config>";
	ctx->dir = dir;
	ctx->on_error = cb;
	ctx->arg = arg;
}

static void
report(struct conf_ctx *ctx, unsigned line, unsigned col, const char *path,
    const char *fmt, va_list ap)
{
	char what[CONF_MSG_MAX], where[192];
	char msg[sizeof(what) + sizeof(where) + CONF_KEYPATH_MAX + 8];

	vsnprintf(what, sizeof(what), fmt, ap);
	if (line > 0)
		snprintf(where, sizeof(where), "%.*s:%u:%u", 160, ctx->name,
		    line, col);
	else
		snprintf(where, sizeof(where), "%.*s", 160, ctx->name);
	if (path != NULL && *path != '\0')
		snprintf(msg, sizeof(msg), "%s: %s: %s", where, path, what);
	else
		snprintf(msg, sizeof(msg), "%s: %s", where, what);
	ctx->nerrors++;
	if (ctx->on_error != NULL)
		ctx->on_error(ctx->arg, msg);
}

void
conf_error_at(struct conf_ctx *ctx, const struct conf_mark *mark,
    const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (mark != NULL)
		report(ctx, mark->line, mark->col, path, fmt, ap);
	else
		report(ctx, 0, 0, path, fmt, ap);
	va_end(ap);
}

static void
walk_error(struct walk *w, yaml_mark_t m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(w->ctx, (unsigned)m.line + 1, (unsigned)m.column + 1, w->path,
	    fmt, ap);
	va_end(ap);
}

const struct conf_mark *
conf_mark_find(const struct conf_ctx *ctx, const char *path)
{
	unsigned i;

	for (i = 0; i < ctx->nmarks; i++)
		if (strcmp(ctx->marks[i].path, path) == 0)
			return &ctx->marks[i];
	return NULL;
}

static void
mark_add(struct conf_ctx *ctx, const char *path, yaml_mark_t m)
{
	struct conf_mark *cm;

	if (ctx->nmarks == CONF_MARKS_MAX)
		return;
	cm = &ctx->marks[ctx->nmarks++];
	snprintf(cm->path, sizeof(cm->path), "%s", path);
	cm->line = (unsigned)m.line + 1;
	cm->col = (unsigned)m.column + 1;
}

/* Appends a key name to the path, with anything odd in it made safe. */
static size_t
path_push(struct walk *w, const char *name, size_t len)
{
	size_t old = strlen(w->path), o = old, i;
	unsigned char c;

	if (old > 0 && o + 1 < sizeof(w->path))
		w->path[o++] = '.';
	for (i = 0; i < len && i < CONF_QUOTE_LEN && o + 4 < sizeof(w->path);
	    i++) {
		c = (unsigned char)name[i];
		w->path[o++] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (i < len && o + 4 < sizeof(w->path)) {
		memcpy(w->path + o, "...", 3);
		o += 3;
	}
	w->path[o] = '\0';
	return old;
}

static void
path_pop(struct walk *w, size_t old)
{
	w->path[old] = '\0';
}

/* Checks that k's field has the size its type writes. */
static bool
key_ok(const struct conf_key *k)
{
	switch (k->type) {
	case CONF_SECTION:
		return k->children != NULL;
	case CONF_BOOL:
		return k->size == sizeof(bool);
	case CONF_UINT:
	case CONF_UINT_AUTO:
		return k->umin <= k->umax && k->size <= sizeof(uint64_t);
	case CONF_DURATION:
	case CONF_SIZE:
		return k->umin <= k->umax && k->size == sizeof(uint64_t);
	case CONF_DOUBLE:
		return k->dmin <= k->dmax && k->size == sizeof(double);
	case CONF_STRING:
	case CONF_PATH:
		return k->size > 0;
	case CONF_ADDR:
		return k->size == sizeof(struct addr);
	case CONF_ENUM:
		return k->size == sizeof(int) && k->names != NULL;
	default:
		return false;
	}
}

static int
defaults_in(const struct conf_key *table, void *base, unsigned *nkeys)
{
	const struct conf_key *k;
	char err[CONF_MSG_MAX];

	for (k = table; k->name != NULL; k++) {
		if (!key_ok(k) || ++*nkeys > CONF_MARKS_MAX)
			return -1;
		if (k->type == CONF_SECTION) {
			if (defaults_in(k->children, base, nkeys) == -1)
				return -1;
		} else if (k->def == NULL ||
		    conf_set(k, base, k->def, err, sizeof(err)) == -1)
			return -1;
	}
	return 0;
}

int
conf_defaults(const struct conf_key *table, void *base)
{
	unsigned nkeys = 0;

	return defaults_in(table, base, &nkeys);
}

/* Reports the parser's error at the best location it gives. */
static void
yaml_failure(struct walk *w)
{
	yaml_parser_t *p = &w->parser;
	yaml_mark_t m;
	size_t i;

	w->path[0] = '\0';
	memset(&m, 0, sizeof(m));
	if (p->error == YAML_MEMORY_ERROR || p->problem == NULL) {
		walk_error(w, m, "out of memory while parsing");
	} else if (p->error == YAML_READER_ERROR) {
		/* The reader gives a byte offset only: count lines to it. */
		for (i = 0; i < p->problem_offset && i < w->len; i++) {
			if (w->text[i] == '\n') {
				m.line++;
				m.column = 0;
			} else
				m.column++;
		}
		walk_error(w, m, "invalid input: %s", p->problem);
	} else if (p->context != NULL) {
		walk_error(w, p->problem_mark, "syntax error: %s (%s at line "
		    "%u, column %u)", p->problem, p->context,
		    (unsigned)p->context_mark.line + 1,
		    (unsigned)p->context_mark.column + 1);
	} else
		walk_error(w, p->problem_mark, "syntax error: %s", p->problem);
}

/* Fetches the next event; a YAML error is reported and ends the walk. */
static int
next_event(struct walk *w, yaml_event_t *ev)
{
	if (yaml_parser_parse(&w->parser, ev))
		return 0;
	yaml_failure(w);
	return -1;
}

/* Consumes the node that starts with ev (already fetched) and deletes it. */
static int
skip_node(struct walk *w, yaml_event_t *ev)
{
	int depth = 0;

	for (;;) {
		if (ev->type == YAML_MAPPING_START_EVENT ||
		    ev->type == YAML_SEQUENCE_START_EVENT)
			depth++;
		else if (ev->type == YAML_MAPPING_END_EVENT ||
		    ev->type == YAML_SEQUENCE_END_EVENT)
			depth--;
		yaml_event_delete(ev);
		if (depth <= 0)
			return 0;
		if (next_event(w, ev) == -1)
			return -1;
	}
}

static int
skip_value(struct walk *w)
{
	yaml_event_t ev;

	if (next_event(w, &ev) == -1)
		return -1;
	return skip_node(w, &ev);
}

/*
 * What this loader refuses in a node event: aliases, anchors and tags
 * (they buy nothing in a config file and make positions ambiguous).
 * Returns NULL when the event is plain.
 */
static const char *
unsupported(const yaml_event_t *ev)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return "aliases are not supported";
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	default:
		break;
	}
	if (anchor != NULL)
		return "anchors are not supported";
	if (tag != NULL)
		return "tags are not supported";
	return NULL;
}

static bool
is_null(const yaml_event_t *ev)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL",
	    NULL };
	const char *v = (const char *)ev->data.scalar.value;
	size_t i;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (i = 0; nulls[i] != NULL; i++)
		if (strcmp(v, nulls[i]) == 0)
			return true;
	return false;
}

static const char *
node_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a sequence";
	case YAML_ALIAS_EVENT:
		return "an alias";
	default:
		return "a scalar";
	}
}

static void
set_scalar(struct walk *w, const struct conf_key *k, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	char err[CONF_MSG_MAX], ex[CONF_EXPECT_MAX];

	if (memchr(v, '\0', ev->data.scalar.length) != NULL) {
		walk_error(w, ev->start_mark, "value contains a NUL byte");
		return;
	}
	if (is_null(ev)) {
		if (k->type == CONF_STRING || k->type == CONF_PATH)
			v = "";
		else {
			conf_expect(k, ex, sizeof(ex));
			walk_error(w, ev->start_mark,
			    "missing value (expected %s)", ex);
			return;
		}
	}
	if (conf_set(k, w->base, v, err, sizeof(err)) == -1)
		walk_error(w, ev->start_mark, "%s", err);
}

/* The value of key k: a nested section or one scalar. */
static int
walk_value(struct walk *w, const struct conf_key *k)
{
	yaml_event_t ev;
	char ex[CONF_EXPECT_MAX], q[CONF_QUOTE_MAX];
	const char *bad;

	if (next_event(w, &ev) == -1)
		return -1;
	if ((bad = unsupported(&ev)) != NULL) {
		walk_error(w, ev.start_mark, "%s", bad);
		return skip_node(w, &ev);
	}
	if (k->type == CONF_SECTION && ev.type == YAML_MAPPING_START_EVENT) {
		yaml_event_delete(&ev);
		return walk_mapping(w, k->children);
	}
	if (ev.type == YAML_SCALAR_EVENT) {
		if (k->type != CONF_SECTION)
			set_scalar(w, k, &ev);
		else if (!is_null(&ev))
			walk_error(w, ev.start_mark, "got %s (expected a "
			    "mapping)", conf_quote((const char *)
			    ev.data.scalar.value, ev.data.scalar.length, q,
			    sizeof(q)));
		yaml_event_delete(&ev);
		return 0;
	}
	conf_expect(k, ex, sizeof(ex));
	walk_error(w, ev.start_mark, "got %s (expected %s)", node_kind(&ev),
	    ex);
	return skip_node(w, &ev);
}

static const struct conf_key *
find_key(const struct conf_key *table, const char *name, size_t len)
{
	const struct conf_key *k;

	for (k = table; k->name != NULL; k++)
		if (strlen(k->name) == len && memcmp(k->name, name, len) == 0)
			return k;
	return NULL;
}

static void
unknown_key(struct walk *w, const struct conf_key *table, yaml_mark_t m)
{
	char allowed[CONF_MSG_MAX];
	const struct conf_key *k;
	size_t o = 0;

	allowed[0] = '\0';
	for (k = table; k->name != NULL && o < sizeof(allowed); k++)
		o += (size_t)snprintf(allowed + o, sizeof(allowed) - o,
		    "%s%s", k->name, k[1].name != NULL ? ", " : "");
	walk_error(w, m, "unknown key (expected one of: %s)", allowed);
}

/* The keys of one mapping, up to and including its end event. */
static int
walk_mapping(struct walk *w, const struct conf_key *table)
{
	yaml_event_t ev;
	const struct conf_key *k;
	const struct conf_mark *first;
	yaml_mark_t m;
	const char *bad;
	size_t old;
	int rc;

	for (;;) {
		if (next_event(w, &ev) == -1)
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			walk_error(w, ev.start_mark, "got %s as a key "
			    "(expected a plain word)", node_kind(&ev));
			if (skip_node(w, &ev) == -1 || skip_value(w) == -1)
				return -1;
			continue;
		}
		m = ev.start_mark;
		bad = unsupported(&ev);
		k = find_key(table, (const char *)ev.data.scalar.value,
		    ev.data.scalar.length);
		old = path_push(w, (const char *)ev.data.scalar.value,
		    ev.data.scalar.length);
		yaml_event_delete(&ev);

		first = conf_mark_find(w->ctx, w->path);
		if (bad != NULL) {
			walk_error(w, m, "%s", bad);
			rc = skip_value(w);
		} else if (k == NULL) {
			unknown_key(w, table, m);
			rc = skip_value(w);
		} else if (first != NULL) {
			walk_error(w, m, "duplicate key (first set at line %u)",
			    first->line);
			rc = skip_value(w);
		} else {
			mark_add(w->ctx, w->path, m);
			rc = walk_value(w, k);
		}
		path_pop(w, old);
		if (rc == -1)
			return -1;
	}
}

/* Stream start, at most one document whose root is a mapping, end. */
static int
walk_stream(struct walk *w, const struct conf_key *table)
{
	yaml_event_t ev;
	const char *bad;

	if (next_event(w, &ev) == -1)	/* stream start */
		return -1;
	yaml_event_delete(&ev);
	if (next_event(w, &ev) == -1)
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev);		/* document start */

	if (next_event(w, &ev) == -1)
		return -1;
	if ((bad = unsupported(&ev)) != NULL) {
		walk_error(w, ev.start_mark, "%s", bad);
		if (skip_node(w, &ev) == -1)
			return -1;
	} else if (ev.type == YAML_MAPPING_START_EVENT) {
		yaml_event_delete(&ev);
		if (walk_mapping(w, table) == -1)
			return -1;
	} else if (ev.type == YAML_SCALAR_EVENT && is_null(&ev)) {
		yaml_event_delete(&ev);
	} else {
		walk_error(w, ev.start_mark, "the top level must be a mapping "
		    "of sections (got %s)", node_kind(&ev));
		if (skip_node(w, &ev) == -1)
			return -1;
	}

	if (next_event(w, &ev) == -1)	/* document end */
		return -1;
	yaml_event_delete(&ev);
	if (next_event(w, &ev) == -1)
		return -1;
	if (ev.type != YAML_STREAM_END_EVENT) {
		walk_error(w, ev.start_mark,
		    "only one YAML document is allowed");
		yaml_event_delete(&ev);
		return -1;
	}
	yaml_event_delete(&ev);
	return 0;
}

int
conf_parse(struct conf_ctx *ctx, const struct conf_key *table, void *base,
    const char *text, size_t len)
{
	struct walk w;
	yaml_mark_t nowhere;
	int rc;

	memset(&w, 0, sizeof(w));
	w.ctx = ctx;
	w.base = base;
	w.text = text;
	w.len = len;
	if (!yaml_parser_initialize(&w.parser)) {
		memset(&nowhere, 0, sizeof(nowhere));
		walk_error(&w, nowhere, "out of memory while parsing");
		ctx->aborted = true;
		return -1;
	}
	yaml_parser_set_input_string(&w.parser, (const unsigned char *)text,
	    len);
	rc = walk_stream(&w, table);
	yaml_parser_delete(&w.parser);
	if (rc == -1)
		ctx->aborted = true;
	return rc == -1 || ctx->nerrors > 0 ? -1 : 0;
}

static bool
is_stdio_word(const char *s)
{
	return strcmp(s, "stdout") == 0 || strcmp(s, "stderr") == 0;
}

static void
resolve_in(struct conf_ctx *ctx, const struct conf_key *table, void *base,
    char *path, size_t pathcap)
{
	const struct conf_key *k;
	size_t old = strlen(path), dirlen, restlen;
	const char *rest;
	char *field;

	for (k = table; k->name != NULL; k++) {
		snprintf(path + old, pathcap - old, "%s%s", old ? "." : "",
		    k->name);
		if (k->type == CONF_SECTION) {
			resolve_in(ctx, k->children, base, path, pathcap);
			continue;
		}
		if (k->type != CONF_PATH)
			continue;
		field = (char *)base + k->offset;
		if (field[0] == '\0' || field[0] == '/' ||
		    ((k->flags & CONF_F_STDIO) && is_stdio_word(field)))
			continue;
		for (rest = field; rest[0] == '.' && rest[1] == '/';)
			for (rest += 2; *rest == '/'; rest++)
				;
		/* Trailing slashes go, so "/" + "x" is "/x", not "//x". */
		dirlen = strlen(ctx->dir);
		while (dirlen > 0 && ctx->dir[dirlen - 1] == '/')
			dirlen--;
		restlen = strlen(rest);
		if (dirlen + 1 + restlen >= k->size) {
			conf_error_at(ctx, conf_mark_find(ctx, path), path,
			    "too long once resolved against %s (expected at "
			    "most %zu bytes)", ctx->dir, k->size - 1);
			continue;
		}
		/* rest points into field: move it before writing dir. */
		memmove(field + dirlen + 1, rest, restlen + 1);
		memcpy(field, ctx->dir, dirlen);
		field[dirlen] = '/';
	}
	path[old] = '\0';
}

int
conf_resolve_paths(struct conf_ctx *ctx, const struct conf_key *table,
    void *base)
{
	char path[CONF_KEYPATH_MAX] = "";
	unsigned before = ctx->nerrors;

	if (ctx->dir == NULL || ctx->dir[0] == '\0')
		return 0;
	resolve_in(ctx, table, base, path, sizeof(path));
	return ctx->nerrors > before ? -1 : 0;
}
