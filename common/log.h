/*
 * Logging for both daemons: levels per module, text or JSON lines, one
 * write(2) per line so threads never interleave. The level test is a macro
 * that runs before any argument is formatted.
 */
#ifndef TCPFWD_LOG_H
#define TCPFWD_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOGL_ERROR = 0,
	LOGL_WARN,
	LOGL_INFO,
	LOGL_DEBUG,
	LOGL_TRACE,
};

/* Modules, as named in TCPFWD_LOG ("info,probing=debug,pools=trace"). */
enum log_module {
	LOGM_MAIN = 0,
	LOGM_CONFIG,
	LOGM_IPC,
	LOGM_STATE,
	LOGM_WORKER,
	LOGM_SESSION,
	LOGM_POOLS,
	LOGM_LB,
	LOGM_PROBING,
	LOGM_SCORING,
	LOGM_SELECTOR,
	LOGM_ADMIN,
	LOGM_METRICS,
	LOGM_COUNT
};

enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_JSON,
};

/* Read by every thread, rewritten by a reload: relaxed atomics. */
extern atomic_int log_levels[LOGM_COUNT];

/*
 * Sets the default level, format and output ("stdout", "stderr" or a file
 * path, opened for append). The TCPFWD_LOG environment variable, when set,
 * overrides the levels. Returns 0, or -1 with a message in err when the
 * output cannot be opened or TCPFWD_LOG cannot be parsed; on failure the
 * previous settings stay.
 */
int log_init(enum log_level level, enum log_format format,
    const char *output, char *err, size_t errlen);

/* Reopens a file output (after logrotate); no-op for stdout/stderr. */
void log_reopen(void);

/* Names the process in every line ("dataplane", "controlplane"). Call it
 * once at start, before any thread logs. */
void log_set_ident(const char *ident);

/*
 * Parses a TCPFWD_LOG-style spec into levels[]: a default level and
 * module=level pairs, comma separated. Returns 0 or -1 (levels untouched).
 */
int log_parse_spec(const char *spec, enum log_level def,
    unsigned char levels[LOGM_COUNT], char *err, size_t errlen);

/* "error".."trace" to a level; -1 when unknown. */
int log_level_from_name(const char *name);
const char *log_level_name(enum log_level level);
const char *log_module_name(enum log_module module);

void log_emit(enum log_module module, enum log_level level, bool with_errno,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Logs at error level and exits(1). For start-up failures and bugs only. */
void log_fatal(enum log_module module, bool with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#define log_enabled(m, l)                                                     \
	(atomic_load_explicit(&log_levels[(m)], memory_order_relaxed) >=      \
	    (int)(l))

#ifndef LOG_MODULE
#define LOG_MODULE LOGM_MAIN
#endif

#define log_at(lvl, werr, ...)                                                \
	do {                                                                  \
		if (log_enabled(LOG_MODULE, (lvl)))                           \
			log_emit(LOG_MODULE, (lvl), (werr), __VA_ARGS__);     \
	} while (0)

/* log_warn/log_error append strerror(errno); the x variants do not. */
#define log_error(...) log_at(LOGL_ERROR, true, __VA_ARGS__)
#define log_errorx(...) log_at(LOGL_ERROR, false, __VA_ARGS__)
#define log_warn(...) log_at(LOGL_WARN, true, __VA_ARGS__)
#define log_warnx(...) log_at(LOGL_WARN, false, __VA_ARGS__)
#define log_info(...) log_at(LOGL_INFO, false, __VA_ARGS__)
#define log_debug(...) log_at(LOGL_DEBUG, false, __VA_ARGS__)
#define log_trace(...) log_at(LOGL_TRACE, false, __VA_ARGS__)
#define fatal(...) log_fatal(LOG_MODULE, true, __VA_ARGS__)
#define fatalx(...) log_fatal(LOG_MODULE, false, __VA_ARGS__)

#endif
