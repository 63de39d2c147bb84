/*
 * Logging for both daemons: per-module levels, text or JSON lines, one
 * write(2) per line. Lines are built in a stack buffer, so threads share
 * nothing but the output descriptor, which is swapped in place with dup3()
 * on reopen and therefore never closed under a writer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 4096	/* one line, newline included */
#define LOG_MSG_MAX 2048	/* the formatted message before escaping */
#define LOG_IDENT_MAX 32
#define LOG_TRUNC "..."

atomic_int log_levels[LOGM_COUNT] = {
	[0 ... LOGM_COUNT - 1] = LOGL_INFO,
};

static const char *const log_level_names[] = {
	[LOGL_ERROR] = "error",
	[LOGL_WARN] = "warn",
	[LOGL_INFO] = "info",
	[LOGL_DEBUG] = "debug",
	[LOGL_TRACE] = "trace",
};

static const char *const log_level_upper[] = {
	[LOGL_ERROR] = "ERROR",
	[LOGL_WARN] = "WARN",
	[LOGL_INFO] = "INFO",
	[LOGL_DEBUG] = "DEBUG",
	[LOGL_TRACE] = "TRACE",
};

static const char *const log_module_names[LOGM_COUNT] = {
	[LOGM_MAIN] = "main",
	[LOGM_CONFIG] = "config",
	[LOGM_IPC] = "ipc",
	[LOGM_STATE] = "state",
	[LOGM_WORKER] = "worker",
	[LOGM_SESSION] = "session",
	[LOGM_POOLS] = "pools",
	[LOGM_LB] = "lb",
	[LOGM_PROBING] = "probing",
	[LOGM_SCORING] = "scoring",
	[LOGM_SELECTOR] = "selector",
	[LOGM_ADMIN] = "admin",
	[LOGM_METRICS] = "metrics",
};

/* Where lines go. Until log_init() succeeds this is stderr itself. */
static atomic_int log_fd = STDERR_FILENO;
static atomic_int log_format = LOG_FORMAT_TEXT;

/*
 * Guards log_owned_fd and log_path: log_init() and log_reopen() only. The
 * descriptor we own keeps its number for the life of the process; a new
 * target is dup3()'d over it, which is atomic for concurrent writers.
 */
static pthread_mutex_t log_conf_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_owned_fd = -1;
static char log_path[4096];

/* Set once at start, before threads (see log.h). */
static char log_ident[LOG_IDENT_MAX + 1];

struct log_buf {
	char *b_ptr;
	size_t b_len;
	size_t b_cap;		/* room for text; the tail has a reserve */
	int b_full;
};

static int log_open_output(const char *, char *, size_t);
static void log_install_fd(int);
static void log_put(struct log_buf *, const char *, size_t);
static void log_puts(struct log_buf *, const char *);
static void log_put_text_escaped(struct log_buf *, const char *);
static void log_put_json_escaped(struct log_buf *, const char *);
static size_t log_utf8_seq(const unsigned char *);
static void log_timestamp(char *, size_t);
static void log_vemit(enum log_module, enum log_level, bool, const char *,
    va_list) __attribute__((format(printf, 4, 0)));
static void log_write_all(int, const char *, size_t);
static int log_lookup_module(const char *, size_t);
static int log_lookup_level(const char *, size_t);

int
log_level_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	return log_lookup_level(name, strlen(name));
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level > LOGL_TRACE)
		return "unknown";
	return log_level_names[level];
}

const char *
log_module_name(enum log_module module)
{
	if ((unsigned)module >= LOGM_COUNT)
		return "unknown";
	return log_module_names[module];
}

static int
log_lookup_level(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]);
	    i++) {
		if (strlen(log_level_names[i]) == len &&
		    strncmp(log_level_names[i], s, len) == 0)
			return (int)i;
	}
	return -1;
}

static int
log_lookup_module(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < LOGM_COUNT; i++) {
		if (strlen(log_module_names[i]) == len &&
		    strncmp(log_module_names[i], s, len) == 0)
			return (int)i;
	}
	return -1;
}

/* Trims blanks around s[0..*len) and returns the new start. */
static const char *
log_trim(const char *s, size_t *len)
{
	while (*len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		(*len)--;
	}
	while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	return s;
}

int
log_parse_spec(const char *spec, enum log_level def,
    unsigned char levels[LOGM_COUNT], char *err, size_t errlen)
{
	unsigned char tmp[LOGM_COUNT];
	signed char over[LOGM_COUNT];
	const char *p, *item, *eq;
	size_t len, i;
	int lvl, mod;

	if ((unsigned)def > LOGL_TRACE) {
		snprintf(err, errlen, "invalid default level %d", (int)def);
		return -1;
	}
	memset(over, -1, sizeof(over));
	p = spec;
	while (p != NULL && *p != '\0') {
		len = strcspn(p, ",");
		item = log_trim(p, &len);
		if (len == 0) {
			snprintf(err, errlen, "empty item in \"%s\"", spec);
			return -1;
		}
		eq = memchr(item, '=', len);
		if (eq == NULL) {
			/* A bare level sets the default wherever it stands. */
			if ((lvl = log_lookup_level(item, len)) == -1)
				goto bad_level;
			def = (enum log_level)lvl;
		} else {
			size_t mlen = (size_t)(eq - item);
			size_t llen = len - mlen - 1;
			const char *m = log_trim(item, &mlen);
			const char *l = log_trim(eq + 1, &llen);

			if ((mod = log_lookup_module(m, mlen)) == -1) {
				snprintf(err, errlen, "unknown log module "
				    "\"%.*s\"", (int)mlen, m);
				return -1;
			}
			item = l;
			len = llen;
			if ((lvl = log_lookup_level(item, len)) == -1)
				goto bad_level;
			over[mod] = (signed char)lvl;
		}
		p += strcspn(p, ",");
		if (*p == ',') {
			p++;
			if (*p == '\0') {
				snprintf(err, errlen, "empty item in \"%s\"",
				    spec);
				return -1;
			}
		}
	}
	for (i = 0; i < LOGM_COUNT; i++)
		tmp[i] = over[i] >= 0 ? (unsigned char)over[i] :
		    (unsigned char)def;
	memcpy(levels, tmp, sizeof(tmp));
	return 0;

bad_level:
	snprintf(err, errlen, "unknown log level \"%.*s\" (expected error, "
	    "warn, info, debug or trace)", (int)len, item);
	return -1;
}

/* Opens output as a new O_CLOEXEC descriptor. Returns it or -1 with err. */
static int
log_open_output(const char *output, char *err, size_t errlen)
{
	int fd;

	if (strcmp(output, "stdout") == 0)
		fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	else if (strcmp(output, "stderr") == 0)
		fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	else if (output[0] == '\0') {
		snprintf(err, errlen, "empty log output");
		return -1;
	} else
		fd = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0640);
	if (fd == -1)
		snprintf(err, errlen, "cannot open log output %s: %s", output,
		    strerror(errno));
	return fd;
}

/* Makes fd the output and consumes it. Called under log_conf_lock. */
static void
log_install_fd(int fd)
{
	if (log_owned_fd == -1) {
		log_owned_fd = fd;
		atomic_store(&log_fd, fd);
		return;
	}
	if (dup3(fd, log_owned_fd, O_CLOEXEC) == -1) {
		/* Keep writing to the old target rather than to nothing. */
		close(fd);
		return;
	}
	close(fd);
}

int
log_init(enum log_level level, enum log_format format, const char *output,
    char *err, size_t errlen)
{
	unsigned char levels[LOGM_COUNT];
	const char *env;
	char perr[256];
	int saved = errno;
	int fd, i;

	if ((unsigned)format > LOG_FORMAT_JSON) {
		snprintf(err, errlen, "invalid log format %d", (int)format);
		return -1;
	}
	if ((unsigned)level > LOGL_TRACE) {
		snprintf(err, errlen, "invalid log level %d", (int)level);
		return -1;
	}
	for (i = 0; i < LOGM_COUNT; i++)
		levels[i] = (unsigned char)level;
	env = getenv("TCPFWD_LOG");
	if (env != NULL && env[0] != '\0' &&
	    log_parse_spec(env, level, levels, perr, sizeof(perr)) == -1) {
		snprintf(err, errlen, "TCPFWD_LOG: %s", perr);
		return -1;
	}
	if (output == NULL)
		output = "stderr";
	if (strlen(output) >= sizeof(log_path)) {
		snprintf(err, errlen, "log output path too long");
		return -1;
	}

	pthread_mutex_lock(&log_conf_lock);
	if ((fd = log_open_output(output, err, errlen)) == -1) {
		pthread_mutex_unlock(&log_conf_lock);
		errno = saved;
		return -1;
	}
	log_install_fd(fd);
	if (strcmp(output, "stdout") == 0 || strcmp(output, "stderr") == 0)
		log_path[0] = '\0';
	else
		snprintf(log_path, sizeof(log_path), "%s", output);
	pthread_mutex_unlock(&log_conf_lock);

	atomic_store(&log_format, (int)format);
	for (i = 0; i < LOGM_COUNT; i++)
		atomic_store_explicit(&log_levels[i], levels[i],
		    memory_order_relaxed);
	errno = saved;
	return 0;
}

void
log_reopen(void)
{
	char err[256];
	int saved = errno;
	int fd;

	pthread_mutex_lock(&log_conf_lock);
	if (log_path[0] != '\0' &&
	    (fd = log_open_output(log_path, err, sizeof(err))) != -1)
		log_install_fd(fd);
	pthread_mutex_unlock(&log_conf_lock);
	errno = saved;
}

void
log_set_ident(const char *ident)
{
	snprintf(log_ident, sizeof(log_ident), "%s",
	    ident != NULL ? ident : "");
}

/*
 * Appends n bytes whole or not at all, so an escape sequence is never cut;
 * once something did not fit, the line stays full.
 */
static void
log_put(struct log_buf *lb, const char *s, size_t n)
{
	if (lb->b_full)
		return;
	if (n > lb->b_cap - lb->b_len) {
		lb->b_full = 1;
		return;
	}
	memcpy(lb->b_ptr + lb->b_len, s, n);
	lb->b_len += n;
}

static void
log_puts(struct log_buf *lb, const char *s)
{
	log_put(lb, s, strlen(s));
}

/* Length of a valid UTF-8 sequence at s, or 0 when it is invalid. */
static size_t
log_utf8_seq(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/*
 * Text lines stay one line: control characters are written as \n, \r, \t
 * or \xNN so a message cannot forge a second entry.
 */
static void
log_put_text_escaped(struct log_buf *lb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];

	for (; *p != '\0' && !lb->b_full; p++) {
		if (*p == '\n')
			log_puts(lb, "\\n");
		else if (*p == '\r')
			log_puts(lb, "\\r");
		else if (*p == '\t')
			log_puts(lb, "\\t");
		else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			log_puts(lb, esc);
		} else
			log_put(lb, (const char *)p, 1);
	}
}

/* Writes s as the inside of a JSON string; invalid UTF-8 becomes U+FFFD. */
static void
log_put_json_escaped(struct log_buf *lb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t n;

	while (*p != '\0' && !lb->b_full) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			log_put(lb, esc, 2);
			p++;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			switch (*p) {
			case '\n':
				log_puts(lb, "\\n");
				break;
			case '\r':
				log_puts(lb, "\\r");
				break;
			case '\t':
				log_puts(lb, "\\t");
				break;
			default:
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				log_puts(lb, esc);
				break;
			}
			p++;
			continue;
		}
		if ((n = log_utf8_seq(p)) == 0) {
			log_puts(lb, "\\ufffd");
			p++;
			continue;
		}
		log_put(lb, (const char *)p, n);
		p += n;
	}
}

/* "2026-11-26T14:25:11.123Z" */
static void
log_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

static void
log_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
log_vemit(enum log_module module, enum log_level level, bool with_errno,
    const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX], msg[LOG_MSG_MAX], ts[96], num[32];
	struct log_buf lb;
	const char *ident, *tail;
	char ebuf[128];
	int saved = errno;
	int n, truncated = 0;
	size_t mlen;

	if ((unsigned)module >= LOGM_COUNT)
		module = LOGM_MAIN;
	if ((unsigned)level > LOGL_TRACE)
		level = LOGL_TRACE;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0) {
		msg[0] = '\0';
		n = 0;
	}
	if ((size_t)n >= sizeof(msg))
		truncated = 1;
	if (with_errno && !truncated) {
		mlen = (size_t)n;
		n = snprintf(msg + mlen, sizeof(msg) - mlen, ": %s",
		    strerror_r(saved, ebuf, sizeof(ebuf)));
		if (n < 0 || (size_t)n >= sizeof(msg) - mlen)
			truncated = 1;
	}

	ident = log_ident[0] != '\0' ? log_ident :
	    program_invocation_short_name;
	log_timestamp(ts, sizeof(ts));
	snprintf(num, sizeof(num), "%ld", (long)getpid());

	/* Keep room for the longest tail: "...\"}\n". */
	lb.b_ptr = line;
	lb.b_len = 0;
	lb.b_cap = sizeof(line) - 8;
	lb.b_full = 0;

	if (atomic_load(&log_format) == LOG_FORMAT_JSON) {
		log_puts(&lb, "{\"ts\":\"");
		log_puts(&lb, ts);
		log_puts(&lb, "\",\"level\":\"");
		log_puts(&lb, log_level_names[level]);
		log_puts(&lb, "\",\"process\":\"");
		log_put_json_escaped(&lb, ident);
		log_puts(&lb, "\",\"pid\":");
		log_puts(&lb, num);
		log_puts(&lb, ",\"module\":\"");
		log_puts(&lb, log_module_names[module]);
		log_puts(&lb, "\",\"msg\":\"");
		log_put_json_escaped(&lb, msg);
		tail = "\"}\n";
	} else {
		log_puts(&lb, ts);
		log_puts(&lb, " ");
		log_put_text_escaped(&lb, ident);
		log_puts(&lb, "[");
		log_puts(&lb, num);
		log_puts(&lb, "] ");
		log_puts(&lb, log_level_upper[level]);
		log_puts(&lb, " ");
		log_puts(&lb, log_module_names[module]);
		log_puts(&lb, ": ");
		log_put_text_escaped(&lb, msg);
		tail = "\n";
	}
	if (lb.b_full)
		truncated = 1;
	lb.b_cap = sizeof(line);
	lb.b_full = 0;
	if (truncated)
		log_puts(&lb, LOG_TRUNC);
	log_puts(&lb, tail);

	log_write_all(atomic_load(&log_fd), line, lb.b_len);
	errno = saved;
}

void
log_emit(enum log_module module, enum log_level level, bool with_errno,
    const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if ((unsigned)module < LOGM_COUNT && !log_enabled(module, level))
		return;
	va_start(ap, fmt);
	log_vemit(module, level, with_errno, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_fatal(enum log_module module, bool with_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(module, LOGL_ERROR, with_errno, fmt, ap);
	va_end(ap);
	exit(1);
}
