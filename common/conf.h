/*
 * Generic table-driven YAML loader (libyaml's event API) and the scalar
 * parsers behind it. A caller describes each section with a static const
 * struct conf_key table; the walker fills a plain struct from it and
 * reports every problem as "file:line:col: key.path: what (expected ...)".
 * Used by config.c; only conf.c includes <yaml.h>.
 */
#ifndef TCPFWD_CONF_H
#define TCPFWD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONF_KEYPATH_MAX 128	/* "remotes.scoring.latency.ewma_alpha" */
#define CONF_MARKS_MAX 256	/* keys remembered per load */
#define CONF_MSG_MAX 320	/* one formatted error */
#define CONF_QUOTE_LEN 40	/* bytes of a bad value echoed in a message */
#define CONF_QUOTE_MAX 64	/* buffer for conf_quote() */
#define CONF_EXPECT_MAX 200	/* buffer for conf_expect() */

enum conf_type {
	CONF_SECTION = 0,	/* a mapping described by children */
	CONF_BOOL,		/* bool: true/false, yes/no, on/off */
	CONF_UINT,		/* uint8/16/32/64_t by size, umin..umax */
	CONF_UINT_AUTO,		/* as CONF_UINT, plus the word "auto" = 0 */
	CONF_DOUBLE,		/* double, dmin..dmax, finite */
	CONF_DURATION,		/* uint64_t milliseconds, umin..umax */
	CONF_SIZE,		/* uint64_t bytes, umin..umax */
	CONF_STRING,		/* char[size], NUL-terminated */
	CONF_PATH,		/* char[size]; relative ones are resolved */
	CONF_ADDR,		/* struct addr, "ip:port", port required */
	CONF_ENUM,		/* int, one of names */
};

/* Flags of a key. */
#define CONF_F_MIN_EXCL 0x01	/* DOUBLE: value must be above dmin */
#define CONF_F_NONEMPTY 0x02	/* STRING, PATH: "" is an error */
#define CONF_F_STDIO 0x04	/* PATH: "stdout", "stderr" kept as is */

/* One accepted word of a CONF_ENUM; a table ends with name NULL. */
struct conf_enum {
	const char *name;
	int value;
};

/*
 * One key of a section table; a table ends with name NULL. offset is from
 * the start of the whole struct being filled (not from the section), so
 * sections are only a grouping. def is the default written as in YAML and
 * parsed by the same code as the file ("defaults live in one place");
 * NULL for sections.
 */
struct conf_key {
	const char *name;
	enum conf_type type;
	size_t offset;
	size_t size;
	const char *def;
	unsigned flags;
	uint64_t umin, umax;	/* UINT, UINT_AUTO, DURATION, SIZE */
	double dmin, dmax;	/* DOUBLE */
	const struct conf_enum *names;	   /* ENUM */
	const struct conf_key *children;   /* SECTION */
};

/* Receives each formatted error, without a newline. */
typedef void conf_error_cb(void *arg, const char *msg);

/* Where a key was written: its dotted path and 1-based line and column. */
struct conf_mark {
	char path[CONF_KEYPATH_MAX];
	unsigned line;
	unsigned col;
};

/*
 * One load: where messages go, the file name they carry, the folder that
 * relative paths are resolved against, and the marks of every key seen.
 * Big (about 34 KiB): allocate it, or keep it static, rather than putting
 * it on a thread's stack.
 */
struct conf_ctx {
	const char *name;
	const char *dir;
	conf_error_cb *on_error;
	void *arg;
	unsigned nerrors;
	bool aborted;		/* a YAML error ended the walk early */
	unsigned nmarks;
	struct conf_mark marks[CONF_MARKS_MAX];
};

/*
 * Prepares ctx. name appears in every message ("config.yaml"); dir is the
 * folder for relative paths, or NULL to keep them as written; cb may be
 * NULL to only count errors. ctx borrows name and dir for its lifetime.
 */
void conf_ctx_init(struct conf_ctx *ctx, const char *name, const char *dir,
    conf_error_cb *cb, void *arg);

/*
 * Writes every default of table into base. Returns 0, or -1 when a default
 * does not parse or a table is malformed: a bug in the table, never input.
 */
int conf_defaults(const struct conf_key *table, void *base);

/*
 * Walks the YAML in text[0..len) (no NUL needed) over table, writing the
 * keys it finds into base, which should already hold the defaults. Every
 * error goes to ctx and the walk goes on where it can; a YAML syntax error
 * ends it (ctx->aborted is then set: checks across keys would see half a
 * file). Returns 0, or -1 when ctx has any error. base may be partly
 * written on failure: parse into a scratch copy.
 */
int conf_parse(struct conf_ctx *ctx, const struct conf_key *table,
    void *base, const char *text, size_t len);

/*
 * Rewrites every relative CONF_PATH value of table in base (defaults
 * included) as ctx->dir + "/" + value, dropping a leading "./". Absolute
 * paths, "" and the stdio words of CONF_F_STDIO keys stay as they are.
 * No-op when ctx->dir is NULL. Returns 0, or -1 after reporting a path
 * that no longer fits.
 */
int conf_resolve_paths(struct conf_ctx *ctx, const struct conf_key *table,
    void *base);

/* The mark of the key at path ("remotes.probing.interval"), or NULL when
 * the file did not set it. Borrowed from ctx. */
const struct conf_mark *conf_mark_find(const struct conf_ctx *ctx,
    const char *path);

/*
 * Reports "name:line:col: path: message" at mark, or "name: path: message"
 * when mark is NULL (the key was not in the file). For checks across keys
 * made after conf_parse().
 */
void conf_error_at(struct conf_ctx *ctx, const struct conf_mark *mark,
    const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Scalar parsers (conf_types.c). Each takes a NUL-terminated word with no
 * surrounding whitespace, returns 0 and sets *out, or returns -1 and
 * leaves *out alone.
 */

/* "0", "250ms", "15s", "1m", "2h", "1m30s" (units largest first, each at
 * most once). Rejects signs, fractions, spaces, overflow. */
int conf_parse_duration(const char *s, uint64_t *ms);

/* "4096", "4096B", "64KiB", "1MiB", "2GiB", "1TiB". */
int conf_parse_size(const char *s, uint64_t *bytes);

/* true/false, yes/no, on/off, any case. */
int conf_parse_bool(const char *s, bool *out);

/* Decimal digits only; no sign, no overflow. */
int conf_parse_uint(const char *s, uint64_t *out);

/* A finite decimal number ("0.5", "45", "-1e3"); no hex, NaN or inf. */
int conf_parse_double(const char *s, double *out);

/* Exact match against names; *out gets the entry's value. */
int conf_parse_enum(const char *s, const struct conf_enum *names, int *out);

/*
 * Parses the word s as k's type and range and stores it in k's field of
 * base; the one place a value is interpreted (defaults and the file both
 * go through it). Returns 0, or -1 with "what was wrong (expected ...)" in
 * err and the field untouched. Not for CONF_SECTION keys.
 */
int conf_set(const struct conf_key *k, void *base, const char *s, char *err,
    size_t errlen);

/* Describes what k accepts ("a duration, e.g. 500ms, 15s, 1m") into buf
 * (CONF_EXPECT_MAX is enough). */
void conf_expect(const struct conf_key *k, char *buf, size_t len);

/*
 * Writes s[0..len) in double quotes for a message, escaping quotes,
 * backslashes and control bytes, cut with "..." after CONF_QUOTE_LEN
 * bytes. buflen must be at least CONF_QUOTE_MAX; returns buf.
 */
char *conf_quote(const char *s, size_t len, char *buf, size_t buflen);

/* Writes ms as the shortest duration text ("1m30s", "250ms", "0");
 * returns buf. */
char *conf_format_duration(uint64_t ms, char *buf, size_t len);

/* Writes bytes with the largest exact unit ("256KiB", "1000"); returns
 * buf. */
char *conf_format_size(uint64_t bytes, char *buf, size_t len);

#endif
