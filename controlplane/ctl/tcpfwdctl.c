/*
 * tcpfwdctl: the command-line client of the control plane's admin API
 * (SPEC section 5). A small blocking HTTP/1.1 client over a plain socket,
 * one request per run, tables for people and --json for scripts.
 *
 * Exit status: 0 done, 1 the control plane answered an error, 2 bad usage
 * (or an unreadable config or token file), 3 the control plane could not
 * be reached or did not answer like one.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../common/addr.h"
#include "../../common/config.h"
#include "../../common/version.h"

#define EXIT_SERVER 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

#define DEFAULT_URL "http://127.0.0.1:9099"
#define DEFAULT_TIMEOUT_S 5.0
#define RESPONSE_MAX (16u << 20)
#define TOKEN_MAX 256
#define HOST_MAX 256

/* Where and how to ask. */
struct target {
	char url[CONFIG_URL_MAX];     /* as given, for messages */
	char host[HOST_MAX];          /* without brackets */
	char port[8];
	char base[CONFIG_URL_MAX];    /* path prefix, no trailing "/" */
	char token[TOKEN_MAX];
	double timeout_s;
};

/* One answer. */
struct answer {
	int status;
	char *body;                   /* NUL-terminated */
	size_t len;
};

struct command {
	const char *name;
	const char *args;             /* usage of the argument, or NULL */
	const char *method;
	const char *path;             /* "%s" takes the encoded address */
	void (*print)(json_t *);
	const char *help;
};

static void print_status(json_t *);
static void print_backends(json_t *);
static void print_active_set(json_t *);
static void print_toggled(json_t *);
static void print_reloaded(json_t *);

static const struct command commands[] = {
	{ "status", NULL, "GET", "/api/v1/status", print_status,
	    "version, uptime, active set, data planes" },
	{ "backends", NULL, "GET", "/api/v1/backends", print_backends,
	    "every tracked backend with its score, best first" },
	{ "active-set", NULL, "GET", "/api/v1/active-set", print_active_set,
	    "the active set, its generation, when and why it changed" },
	{ "disable", "ADDR", "POST", "/api/v1/backends/%s/disable",
	    print_toggled, "take a backend out of selection now" },
	{ "enable", "ADDR", "POST", "/api/v1/backends/%s/enable",
	    print_toggled, "give a backend back to selection" },
	{ "reload", NULL, "POST", "/api/v1/reload", print_reloaded,
	    "re-read the IP list and settings (as SIGHUP)" },
};

static void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
warnx_(const char *fmt, ...)
{
	va_list ap;

	fputs("tcpfwdctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: tcpfwdctl [options] COMMAND [ADDR]\n"
	    "\n"
	    "Talks to the control plane's admin API.\n"
	    "\n"
	    "options:\n"
	    "  -u, --url URL          admin API (default: admin.listen_addr "
	    "of -c,\n"
	    "                         else " DEFAULT_URL ")\n"
	    "  -c, --config PATH      read admin.listen_addr and "
	    "admin.token_file\n"
	    "  -t, --token-file PATH  bearer token for disable, enable and "
	    "reload\n"
	    "  -j, --json             print the control plane's JSON as is\n"
	    "  -T, --timeout SECONDS  for the whole request (default 5)\n"
	    "  -h, --help             this text\n"
	    "  -V, --version          print the version\n"
	    "\n"
	    "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-11s %-5s %s\n", commands[i].name,
		    commands[i].args != NULL ? commands[i].args : "",
		    commands[i].help);
	fprintf(f,
	    "\n"
	    "ADDR is ip:port or [ipv6]:port (a bare ip takes "
	    "remotes.default_remote_port).\n"
	    "exit status: 0 done, 1 the control plane refused, 2 usage, 3 "
	    "unreachable\n");
}

/* ---- configuration ------------------------------------------------------ */

/* Reads the token: the first line, trimmed. Returns 0 or -1 (said). */
static int
read_token(const char *path, char *token, size_t size)
{
	char buf[TOKEN_MAX + 2];
	size_t n, i, j;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		warnx_("token file %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	for (i = 0; buf[i] == ' ' || buf[i] == '\t'; i++)
		;
	for (j = strlen(buf); j > i && (buf[j - 1] == ' ' ||
	    buf[j - 1] == '\t'); j--)
		;
	if (j == i || j - i >= size) {
		warnx_("token file %s: %s", path, j == i ? "empty" :
		    "token too long");
		return -1;
	}
	memcpy(token, buf + i, j - i);
	token[j - i] = '\0';
	return 0;
}

/* Splits "http://host:port/base" into t. Returns 0 or -1 (said). */
static int
parse_url(const char *url, struct target *t)
{
	const char *p, *hs, *he, *ps, *slash;
	size_t n;

	snprintf(t->url, sizeof(t->url), "%s", url);
	if (strncasecmp(url, "http://", 7) != 0) {
		warnx_("bad URL %s (expected http://host:port)", url);
		return -1;
	}
	p = url + 7;
	slash = p + strcspn(p, "/?#");
	if (*p == '[') {
		hs = p + 1;
		if ((he = memchr(hs, ']', (size_t)(slash - hs))) == NULL)
			goto bad;
		ps = he + 1;
	} else {
		hs = p;
		he = memchr(hs, ':', (size_t)(slash - hs));
		if (he == NULL)
			he = slash;
		ps = he;
	}
	n = (size_t)(he - hs);
	if (n == 0 || n >= sizeof(t->host))
		goto bad;
	memcpy(t->host, hs, n);
	t->host[n] = '\0';
	if (ps == slash)
		snprintf(t->port, sizeof(t->port), "80");
	else {
		if (*ps != ':' || slash - ps < 2 || slash - ps > 6)
			goto bad;
		memcpy(t->port, ps + 1, (size_t)(slash - ps - 1));
		t->port[slash - ps - 1] = '\0';
		if (strspn(t->port, "0123456789") != strlen(t->port))
			goto bad;
	}
	if (*slash != '\0' && *slash != '/')
		goto bad;
	snprintf(t->base, sizeof(t->base), "%s", slash);
	n = strlen(t->base);
	while (n > 0 && t->base[n - 1] == '/')
		t->base[--n] = '\0';
	return 0;

bad:
	warnx_("bad URL %s (expected http://host:port)", url);
	return -1;
}

/* The URL of admin.listen_addr; a wildcard address means this host. */
static void
url_of(const struct addr *a, char *url, size_t size)
{
	struct addr local = *a;
	char name[ADDR_STRLEN];

	if (addr_is_any(&local)) {
		memset(local.ip, 0, sizeof(local.ip));
		if (local.family == AF_INET) {
			local.ip[0] = 127;
			local.ip[3] = 1;
		} else
			local.ip[15] = 1;
	}
	snprintf(url, size, "http://%s", addr_format(&local, name,
	    sizeof(name)));
}

/* ---- HTTP --------------------------------------------------------------- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left before deadline, at least 0. */
static int
left_ms(double deadline)
{
	double ms = (deadline - now_s()) * 1000.0;

	if (ms <= 0)
		return 0;
	return ms > 86400000.0 ? 86400000 : (int)ms + 1;
}

/* Waits for events on fd; 0 ready, -1 with errno (ETIMEDOUT). */
static int
wait_fd(int fd, short events, double deadline)
{
	struct pollfd pfd;
	int rv;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		rv = poll(&pfd, 1, left_ms(deadline));
		if (rv == 1)
			return 0;
		if (rv == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* Connects to t before deadline. Returns the fd, -1 with errno and what
 * failed in *step, or -2 when the name did not resolve (said). */
static int
dial(const struct target *t, double deadline, const char **step)
{
	struct addrinfo hints, *res, *ai;
	socklen_t len;
	int fd = -1, rv, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	*step = "resolve";
	if ((rv = getaddrinfo(t->host, t->port, &hints, &res)) != 0) {
		if (rv == EAI_SYSTEM)
			return -1;
		warnx_("cannot reach the control plane at %s: %s: %s", t->url,
		    t->host, gai_strerror(rv));
		return -2;
	}
	*step = "connect";
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) ==
		    0) {
			len = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &len) == 0 && err == 0)
				break;
		} else
			err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		errno = err != 0 ? err : ECONNREFUSED;
	return fd;
}

static int
send_all(int fd, const char *buf, size_t len, double deadline)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) == -1)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

/* Reads until EOF into a new buffer. Returns 0, or -1 with errno
 * (EFBIG past RESPONSE_MAX). */
static int
recv_all(int fd, double deadline, char **out, size_t *outlen)
{
	size_t len = 0, cap = 65536;
	char *buf, *p;
	ssize_t n;

	if ((buf = malloc(cap + 1)) == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			if (cap >= RESPONSE_MAX) {
				free(buf);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			if ((p = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return -1;
			}
			buf = p;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(fd, POLLIN, deadline) == 0)
			continue;
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

/* Value of header name in the header block h (ending "\r\n\r\n"), into
 * val; false when absent. */
static bool
header(const char *h, const char *name, char *val, size_t size)
{
	size_t n = strlen(name), k;
	const char *p, *e;

	for (p = strstr(h, "\r\n"); p != NULL && p[2] != '\r';
	    p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) != 0 || p[2 + n] != ':')
			continue;
		p += 3 + n;
		while (*p == ' ' || *p == '\t')
			p++;
		e = strstr(p, "\r\n");
		k = (size_t)(e - p);
		if (k >= size)
			k = size - 1;
		memcpy(val, p, k);
		val[k] = '\0';
		return true;
	}
	return false;
}

/* Decodes a chunked body in place. Returns its length or -1. */
static long
unchunk(char *b, size_t len)
{
	size_t in = 0, out = 0;
	unsigned long n;
	char *end;

	for (;;) {
		n = strtoul(b + in, &end, 16);
		if (end == b + in || (end = strstr(end, "\r\n")) == NULL)
			return -1;
		in = (size_t)(end - b) + 2;
		if (n == 0)
			return (long)out;
		if (n > len - in || len - in - n < 2)
			return -1;
		memmove(b + out, b + in, n);
		out += n;
		in += n + 2;
	}
}

/*
 * Sends one request and reads the answer. Returns 0; or -1 after saying
 * why (the control plane is unreachable or did not answer in HTTP).
 */
static int
request(const struct target *t, const char *method, const char *path,
    struct answer *a)
{
	char req[CONFIG_URL_MAX * 2 + TOKEN_MAX + 512], val[64];
	const char *step;
	double deadline;
	char *raw, *body;
	size_t rawlen, hlen;
	int fd, n, major, minor, status;
	long clen;

	deadline = now_s() + t->timeout_s;
	n = snprintf(req, sizeof(req), "%s %s%s HTTP/1.1\r\n"
	    "Host: %s%s%s:%s\r\n"
	    "User-Agent: tcpfwdctl/" TCPFWD_VERSION "\r\n"
	    "Accept: application/json\r\n"
	    "Connection: close\r\n"
	    "%s%s%s"
	    "%s"
	    "\r\n", method, t->base, path,
	    strchr(t->host, ':') != NULL ? "[" : "", t->host,
	    strchr(t->host, ':') != NULL ? "]" : "", t->port,
	    t->token[0] != '\0' ? "Authorization: Bearer " : "", t->token,
	    t->token[0] != '\0' ? "\r\n" : "",
	    strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req)) {
		warnx_("request too long");
		return -1;
	}
	if ((fd = dial(t, deadline, &step)) == -2)
		return -1;
	if (fd == -1)
		goto fail_errno;
	step = "send";
	if (send_all(fd, req, (size_t)n, deadline) == -1) {
		close(fd);
		goto fail_errno;
	}
	step = "read";
	if (recv_all(fd, deadline, &raw, &rawlen) == -1) {
		close(fd);
		goto fail_errno;
	}
	close(fd);

	if (sscanf(raw, "HTTP/%d.%d %3d", &major, &minor, &status) != 3 ||
	    status < 100 || status > 599 ||
	    (body = strstr(raw, "\r\n\r\n")) == NULL) {
		warnx_("%s did not answer in HTTP (%zu bytes)", t->url,
		    rawlen);
		free(raw);
		return -1;
	}
	hlen = (size_t)(body - raw) + 4;
	body[2] = '\0'; /* ends the header block for header() */
	a->status = status;
	a->len = rawlen - hlen;
	if (header(raw, "Transfer-Encoding", val, sizeof(val)) &&
	    strcasecmp(val, "chunked") == 0) {
		if ((clen = unchunk(raw + hlen, a->len)) < 0) {
			warnx_("%s sent a broken chunked answer", t->url);
			free(raw);
			return -1;
		}
		a->len = (size_t)clen;
	} else if (header(raw, "Content-Length", val, sizeof(val))) {
		clen = strtol(val, NULL, 10);
		if (clen >= 0 && (size_t)clen < a->len)
			a->len = (size_t)clen;
	}
	memmove(raw, raw + hlen, a->len);
	raw[a->len] = '\0';
	a->body = raw;
	return 0;

fail_errno:
	if (errno == ETIMEDOUT)
		warnx_("cannot reach the control plane at %s: %s: timed out "
		    "after %g s", t->url, step, t->timeout_s);
	else if (errno == EFBIG)
		warnx_("cannot read the answer of %s: larger than %u MiB",
		    t->url, RESPONSE_MAX >> 20);
	else
		warnx_("cannot reach the control plane at %s: %s: %s",
		    t->url, step, strerror(errno));
	return -1;
}

/* Percent-encodes everything but unreserved characters. */
static void
url_encode(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	unsigned char c;

	for (; *s != '\0' && n + 4 < size; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			out[n++] = (char)c;
		else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
}

/* ---- printing ----------------------------------------------------------- */

static const char *
str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "-";
}

static long long
num_i(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* A number with decimals, or "-" for null; suffix appended. */
static const char *
fmt_num(json_t *v, int decimals, double scale, const char *suffix,
    char *buf, size_t size)
{
	if (!json_is_number(v)) {
		snprintf(buf, size, "-");
		return buf;
	}
	snprintf(buf, size, "%.*f%s", decimals, json_number_value(v) * scale,
	    suffix);
	return buf;
}

static const char *
fmt_duration(long long s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, size, "%lldd %lldh", s / 86400,
		    s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(buf, size, "%llds", s);
	return buf;
}

static void
print_status(json_t *j)
{
	json_t *dps = json_object_get(j, "dataplanes"), *d;
	char up[32], dup[32];
	size_t i;

	printf("version      %s\n", str(j, "version"));
	printf("uptime       %s (since %s)\n", fmt_duration(num_i(j,
	    "uptime_seconds"), up, sizeof(up)), str(j, "started_at"));
	printf("phase        %s\n", str(j, "phase"));
	printf("instance     %s\n", str(j, "instance"));
	printf("active set   generation %lld, %lld backends%s\n",
	    num_i(j, "generation"), num_i(j, "active_set_size"),
	    json_is_true(json_object_get(j, "degraded")) ?
	    ", DEGRADED (none passes the score threshold)" : "");
	printf("last switch  %s%s%s\n", str(j, "last_switch"),
	    *str(j, "last_switch_reason") != '\0' ? ": " : "",
	    *str(j, "last_switch_reason") != '\0' ?
	    str(j, "last_switch_reason") : "");
	printf("tracked      %lld backends\n", num_i(j, "tracked_backends"));
	printf("data planes  %zu\n", json_array_size(dps));
	if (json_array_size(dps) == 0)
		return;
	printf("\n%-18s %8s %7s %9s %10s %7s %11s %9s\n", "DATA PLANE", "PID",
	    "WORKERS", "UPTIME", "GENERATION", "IN SYNC", "CONNECTIONS",
	    "LAST SEEN");
	json_array_foreach(dps, i, d) {
		char seen[32];

		printf("%-18s %8lld %7lld %9s %10lld %7s %11lld %9s\n",
		    str(d, "id"), num_i(d, "pid"), num_i(d, "workers"),
		    fmt_duration(num_i(d, "uptime_seconds"), dup,
		    sizeof(dup)), num_i(d, "serving_generation"),
		    json_is_true(json_object_get(d, "in_sync")) ? "yes" : "NO",
		    num_i(d, "connections_active"),
		    fmt_num(json_object_get(d, "last_seen_seconds_ago"), 1,
		    1.0, "s ago", seen, sizeof(seen)));
	}
}

static void
print_backends(json_t *j)
{
	json_t *arr = json_object_get(j, "backends"), *b, *pool;
	char score[16], lat[24], jit[24], succ[16], pen[16], bon[16];
	int w = 7;
	size_t i;

	json_array_foreach(arr, i, b) {
		int n = (int)strlen(str(b, "address"));

		if (n > w)
			w = n;
	}
	printf("%-*s %-9s %6s %10s %10s %8s %5s %7s %5s %7s %6s %9s\n", w,
	    "ADDRESS", "STATE", "SCORE", "LATENCY", "JITTER", "SUCCESS",
	    "FAILS", "PENALTY", "BONUS", "PROBES", "CONNS", "POOL");
	json_array_foreach(arr, i, b) {
		char poolbuf[32];

		pool = json_object_get(b, "pool");
		snprintf(poolbuf, sizeof(poolbuf), "%lld/%lld",
		    num_i(pool, "idle"), num_i(pool, "target"));
		printf("%-*s %-9s %6s %10s %10s %8s %5lld %7s %5s %7lld %6lld "
		    "%9s\n", w, str(b, "address"), str(b, "state"),
		    fmt_num(json_object_get(b, "score"), 1, 1.0, "", score,
		    sizeof(score)),
		    fmt_num(json_object_get(b, "latency_ms"), 1, 1.0, "ms",
		    lat, sizeof(lat)),
		    fmt_num(json_object_get(b, "jitter_ms"), 1, 1.0, "ms",
		    jit, sizeof(jit)),
		    fmt_num(json_object_get(b, "success_rate"), 1, 100.0, "%",
		    succ, sizeof(succ)),
		    num_i(b, "consecutive_failures"),
		    fmt_num(json_object_get(b, "penalty"), 1, 1.0, "", pen,
		    sizeof(pen)),
		    fmt_num(json_object_get(b, "bonus"), 1, 1.0, "", bon,
		    sizeof(bon)),
		    num_i(b, "probes"), num_i(b, "connections"), poolbuf);
	}
	if (json_integer_value(json_object_get(j, "total")) >
	    (json_int_t)json_array_size(arr))
		printf("(%zu of %lld shown)\n", json_array_size(arr),
		    num_i(j, "total"));
}

static void
print_active_set(json_t *j)
{
	json_t *arr = json_object_get(j, "backends"), *b;
	size_t i;

	printf("generation  %lld (instance %s)\n", num_i(j, "generation"),
	    str(j, "instance"));
	printf("changed     %s%s%s\n", str(j, "changed_at"),
	    *str(j, "reason") != '\0' ? ": " : "",
	    *str(j, "reason") != '\0' ? str(j, "reason") : "");
	printf("degraded    %s\n", json_is_true(json_object_get(j,
	    "degraded")) ? "yes (none passes the score threshold)" : "no");
	printf("backends    %zu\n", json_array_size(arr));
	json_array_foreach(arr, i, b)
		printf("  %s\n", json_string_value(b) != NULL ?
		    json_string_value(b) : "?");
}

static void
print_toggled(json_t *j)
{
	printf("%s: %s\n", str(j, "address"), str(j, "state"));
}

static void
print_reloaded(json_t *j)
{
	printf("%s\n", str(j, "status"));
}

/* ---- main --------------------------------------------------------------- */

static const struct command *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Runs cmd; returns the exit status. */
static int
run(const struct target *t, const struct command *cmd, const char *arg,
    bool as_json)
{
	char enc[ADDR_STRLEN * 3 + 1], path[sizeof(enc) + 64];
	struct answer a;
	json_error_t jerr;
	json_t *j, *err;
	int rc;

	if (cmd->args != NULL) {
		url_encode(arg, enc, sizeof(enc));
		snprintf(path, sizeof(path), cmd->path, enc);
	} else
		snprintf(path, sizeof(path), "%s", cmd->path);
	if (request(t, cmd->method, path, &a) == -1)
		return EXIT_UNREACHABLE;

	j = json_loadb(a.body, a.len, 0, &jerr);
	if (a.status >= 400) {
		err = json_object_get(j, "error");
		if (json_is_string(err))
			warnx_("%s (HTTP %d)", json_string_value(err),
			    a.status);
		else
			warnx_("%s answered HTTP %d", t->url, a.status);
		rc = EXIT_SERVER;
	} else if (as_json) {
		fwrite(a.body, 1, a.len, stdout);
		if (a.len > 0 && a.body[a.len - 1] != '\n')
			putchar('\n');
		rc = 0;
	} else if (!json_is_object(j)) {
		warnx_("%s answered with something other than JSON: %s",
		    t->url, jerr.text);
		rc = EXIT_UNREACHABLE;
	} else {
		cmd->print(j);
		rc = 0;
	}
	json_decref(j);
	free(a.body);
	if (fflush(stdout) == EOF && rc == 0) {
		warnx_("stdout: %s", strerror(errno));
		rc = EXIT_SERVER;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "config", required_argument, NULL, 'c' },
		{ "token-file", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *config = NULL, *token_file = NULL;
	const struct command *cmd;
	struct config_errors errs;
	struct config *cfg;
	struct target t;
	char cfg_url[CONFIG_URL_MAX], cfg_token[CONFIG_PATH_MAX];
	bool as_json = false;
	char *end;
	int ch;

	memset(&t, 0, sizeof(t));
	t.timeout_s = DEFAULT_TIMEOUT_S;
	cfg_url[0] = cfg_token[0] = '\0';
	while ((ch = getopt_long(argc, argv, "u:c:t:jT:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'T':
			t.timeout_s = strtod(optarg, &end);
			if (end == optarg || *end != '\0' ||
			    !isfinite(t.timeout_s) || t.timeout_s <= 0 ||
			    t.timeout_s > 3600) {
				warnx_("bad timeout %s (expected seconds, "
				    "e.g. 5 or 0.5)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("tcpfwdctl %s\n", TCPFWD_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((cmd = find_command(argv[optind])) == NULL) {
		warnx_("unknown command %s", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc - optind != (cmd->args != NULL ? 2 : 1)) {
		warnx_("%s takes %s", cmd->name, cmd->args != NULL ?
		    "one address (ip:port or [ipv6]:port)" : "no argument");
		return EXIT_USAGE;
	}

	if (config != NULL) {
		if ((cfg = malloc(sizeof(*cfg))) == NULL) {
			warnx_("out of memory");
			return EXIT_USAGE;
		}
		if (config_load(config, cfg, &errs) == -1) {
			config_errors_print(&errs);
			free(cfg);
			return EXIT_USAGE;
		}
		url_of(&cfg->admin.listen_addr, cfg_url, sizeof(cfg_url));
		snprintf(cfg_token, sizeof(cfg_token), "%s",
		    cfg->admin.token_file);
		free(cfg);
	}
	if (url == NULL)
		url = cfg_url[0] != '\0' ? cfg_url : DEFAULT_URL;
	if (token_file == NULL && cfg_token[0] != '\0')
		token_file = cfg_token;
	if (parse_url(url, &t) == -1)
		return EXIT_USAGE;
	/* only mutating calls need the token */
	if (token_file != NULL && strcmp(cmd->method, "POST") == 0 &&
	    read_token(token_file, t.token, sizeof(t.token)) == -1)
		return EXIT_USAGE;
	return run(&t, cmd, cmd->args != NULL ? argv[optind + 1] : NULL,
	    as_json);
}
