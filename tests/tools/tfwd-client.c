/*
 * tfwd-client: client and load generator of the integration tests and of
 * the benchmark (modes bulk, hold, rate, latency, halfclose, greet). Test
 * tool only: single-threaded, non-blocking, edge-triggered epoll; checks
 * every byte it gets back against the stream pattern of pattern.h.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"

#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2
#define EXIT_TIMEOUT	3

#define SCRATCH_SIZE	(512 * 1024)
#define TURN_BYTES	(4 * 1024 * 1024)
#define MAX_EVENTS	512
#define HIST_US		1000000	/* 1 us buckets up to 1 s */
#define REPORT_MAX	64
#define TEXT_MAX	128
#define MAX_BIND	64

enum mode {
	MODE_BULK = 0,
	MODE_HOLD,
	MODE_RATE,
	MODE_LATENCY,
	MODE_HALFCLOSE,
	MODE_GREET,
};

enum direction {
	DIR_UP = 0,
	DIR_DOWN,
	DIR_BOTH,
};

enum err_kind {
	ERR_REFUSED = 0,
	ERR_CONNECT_TIMEOUT,
	ERR_ADDR_NOT_AVAIL,
	ERR_CONNECT,
	ERR_RESET,
	ERR_EOF,
	ERR_MISMATCH,
	ERR_REPLY,
	ERR_IO_TIMEOUT,
	ERR_IO,
	ERR_CLOSED,
	ERR_COUNT
};

static const char *err_names[ERR_COUNT] = {
	"refused", "connect_timeout", "addr_not_avail", "connect", "reset",
	"eof", "mismatch", "reply", "io_timeout", "io", "closed",
};

enum rx_kind {
	RX_UNKNOWN = 0,
	RX_PATTERN,
	RX_TEXT,
};

/* What came back on a connection: the echoed pattern or a text reply. */
struct rxcheck {
	uint64_t rc_seed;
	int rc_kind;
	uint64_t rc_n;		/* bytes received */
	int rc_bad;
	uint64_t rc_bad_at;
	char rc_text[TEXT_MAX];
	size_t rc_tlen;
};

struct options {
	enum mode mode;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	const char *dst_text;
	struct sockaddr_storage src[MAX_BIND];
	socklen_t src_len[MAX_BIND];
	int nsrc;		/* connections rotate over the sources */
	unsigned next_src;
	uint64_t streams;
	uint64_t bytes;
	double seconds;
	enum direction dir;
	uint64_t conns;
	uint64_t hold_ms;
	uint64_t ramp;
	uint64_t concurrency;
	uint64_t size;
	uint64_t count;
	uint64_t warmup;
	uint64_t conn_timeout_ms;
	uint64_t seed;
	uint64_t corrupt_at;
	double timeout;
	const char *expect;
	const char *ready_file;
	int have_seconds, have_bytes, corrupt, echo_check, json, verify,
	    fail_on_error, linger0, greet_echo, verbose, no_spread;
};

enum rep_type {
	REP_U64 = 0,
	REP_I64,
	REP_DBL,
	REP_STR,
	REP_BOOL,
};

struct rep_entry {
	const char *re_key;
	int re_type;
	uint64_t re_u;
	int64_t re_i;
	double re_d;
	char re_s[160];
};

struct report {
	struct rep_entry r_e[REPORT_MAX];
	int r_n;
	uint64_t r_errors[ERR_COUNT];
	int r_has_errors;
};

struct hist {
	uint32_t h_b[HIST_US];
	uint64_t h_n;
	uint64_t h_over;
	uint64_t h_max;
	uint64_t h_min;
	double h_sum;
};

static struct options opts;
static struct report rep;
static uint64_t t_start, t_deadline;
static unsigned char scratch[SCRATCH_SIZE];
static const char *progname = "tfwd-client";

static void usage(FILE *) __attribute__((noreturn));
static void die(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

/* ---- small helpers ---------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: tfwd-client MODE --connect ADDR:PORT [options]\n"
"modes:\n"
"  bulk      --streams N --bytes B | --seconds S --direction up|down|both\n"
"            [--no-verify]\n"
"  hold      --conns N [--hold-ms T] [--echo-check] [--ramp N]\n"
"            [--ready-file F]  (F written once all are connected)\n"
"  rate      --concurrency C --seconds S [--size 64] [--fail-on-error]\n"
"            [--linger0] [--no-spread]  (to 127/8 without --bind: from\n"
"            16 sources 127.0.0.1-16, else TIME_WAIT ports run out)\n"
"  latency   --count N [--size 64] [--warmup N]\n"
"  halfclose --bytes B\n"
"  greet     --expect STRING [--no-echo]\n"
"common options:\n"
"  --bind IP              source address; repeat it and connections\n"
"                         rotate over the addresses (up to 64)\n"
"  --timeout S            give up after S seconds, exit 3 (60)\n"
"  --conn-timeout-ms N    per-connection limit in hold and rate (10000)\n"
"  --seed N               base seed of the streams (default: random)\n"
"  --corrupt-at N         flip byte N of what is sent (tests verifiers)\n"
"  --json                 print one JSON object with every figure\n"
"  -v, --verbose          say why each failed connection failed\n"
"exit: 0 ok, 1 verification or connection failure, 2 usage, 3 timeout\n");
	exit(f == stderr ? EXIT_USAGE : EXIT_OK);
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

static void
vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
vlog(const char *fmt, ...)
{
	va_list ap;

	if (!opts.verbose)
		return;
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
timed_out(void)
{
	return now_ns() >= t_deadline;
}

/* epoll/poll timeout in ms: until the deadline or until, at most cap ms. */
static int
wait_ms(uint64_t until, int cap)
{
	uint64_t now = now_ns(), t = t_deadline < until ? t_deadline : until;
	uint64_t ms;

	if (t <= now)
		return 0;
	ms = (t - now + 999999) / 1000000;
	return ms < (uint64_t)cap ? (int)ms : cap;
}

static void
on_alarm(int sig)
{
	static const char msg[] = "tfwd-client: timeout (watchdog)\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(EXIT_TIMEOUT);
	_exit(EXIT_TIMEOUT);
}

static uint64_t
parse_u64(const char *opt, const char *s)
{
	unsigned long long v;
	char *end;
	int base;

	errno = 0;
	if (*s == '-' || *s == '\0')
		die("%s: not a non-negative number: \"%s\"", opt, s);
	/* decimal, or hex with 0x; never octal */
	base = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10;
	v = strtoull(s, &end, base);
	if (errno != 0)
		die("%s: not a number: \"%s\"", opt, s);
	/* size suffixes for byte counts: K, M, G (powers of 1024) */
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end != '\0')
		die("%s: not a number: \"%s\"", opt, s);
	return v;
}

static double
parse_dbl(const char *opt, const char *s)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || end == s || !(v >= 0))
		die("%s: not a non-negative number: \"%s\"", opt, s);
	return v;
}

/* Parses a numeric "ip:port" or "[v6]:port"; port may be absent (0). */
static socklen_t
parse_sockaddr(const char *s, struct sockaddr_storage *ss, int need_port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *h, *colon = NULL;
	size_t hl;
	uint64_t port = 0;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		h = s + 1;
		colon = strchr(s, ']');
		if (colon == NULL)
			die("bad address \"%s\"", s);
		hl = (size_t)(colon - h);
		colon = colon[1] == ':' ? colon + 1 : NULL;
	} else {
		h = s;
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon)
			colon = NULL;	/* a bare IPv6 address */
		hl = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (hl == 0 || hl >= sizeof(host))
		die("bad address \"%s\"", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (colon != NULL) {
		port = parse_u64("port", colon + 1);
		if (port > 65535)
			die("bad port in \"%s\"", s);
	} else if (need_port)
		die("address \"%s\" needs a port", s);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return sizeof(*sin6);
	}
	die("bad address \"%s\" (numeric IPv4 or IPv6 only)", s);
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* A seed whose first byte is >= 0x80: never the start of a text reply. */
static uint64_t
stream_seed(uint64_t i)
{
	uint64_t s = pattern_mix(opts.seed + i * PATTERN_GOLDEN + 1);

	return (s & ~0xffULL) | 0x80 | (s & 0x7f);
}

static enum err_kind
connect_err_kind(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return ERR_REFUSED;
	case ETIMEDOUT:
		return ERR_CONNECT_TIMEOUT;
	case EADDRNOTAVAIL:
		return ERR_ADDR_NOT_AVAIL;
	case ECONNRESET:
		return ERR_RESET;
	default:
		return ERR_CONNECT;
	}
}

static enum err_kind
io_err_kind(int err)
{
	return err == ECONNRESET || err == EPIPE ? ERR_RESET : ERR_IO;
}

/*
 * Starts a non-blocking connect to opts.dst. Returns the socket, or -1 with
 * errno set when the connect failed at once.
 */
static int
connect_start(void)
{
	unsigned i;
	int fd, one = 1, err;

	fd = socket(opts.dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opts.nsrc != 0) {
		i = opts.next_src++ % (unsigned)opts.nsrc;
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		if (bind(fd, (struct sockaddr *)&opts.src[i],
		    opts.src_len[i]) == -1)
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&opts.dst, opts.dst_len) == -1 &&
	    errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* The pending error of a connecting socket: 0 once connected. */
static int
connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

static void
close_linger0(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* ---- report ----------------------------------------------------------- */

static struct rep_entry *
rep_add(const char *key, int type)
{
	struct rep_entry *e;

	if (rep.r_n == REPORT_MAX)
		die("internal: report full");
	e = &rep.r_e[rep.r_n++];
	e->re_key = key;
	e->re_type = type;
	return e;
}

static void
rep_u64(const char *key, uint64_t v)
{
	rep_add(key, REP_U64)->re_u = v;
}

static void
rep_i64(const char *key, int64_t v)
{
	rep_add(key, REP_I64)->re_i = v;
}

static void
rep_dbl(const char *key, double v)
{
	rep_add(key, REP_DBL)->re_d = v;
}

static void
rep_bool(const char *key, int v)
{
	rep_add(key, REP_BOOL)->re_u = v != 0;
}

static void
rep_str(const char *key, const char *v)
{
	snprintf(rep_add(key, REP_STR)->re_s, sizeof(rep.r_e[0].re_s), "%s",
	    v);
}

static void
rep_err(enum err_kind k)
{
	rep.r_errors[k]++;
	rep.r_has_errors = 1;
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* Prints the report and returns the exit code. */
static int
rep_finish(const char *mode, int failed, int timeout)
{
	struct rep_entry *e;
	int code, i, k, first;

	code = timeout ? EXIT_TIMEOUT : failed ? EXIT_FAIL : EXIT_OK;
	if (opts.json) {
		printf("{\"mode\":\"%s\",\"ok\":%s,\"exit\":%d,"
		    "\"timeout\":%s,\"connect\":", mode,
		    code == 0 ? "true" : "false", code,
		    timeout ? "true" : "false");
		json_str(stdout, opts.dst_text);
		printf(",\"seed\":%" PRIu64 ",\"elapsed_s\":%.6f", opts.seed,
		    (double)(now_ns() - t_start) / 1e9);
		for (i = 0; i < rep.r_n; i++) {
			e = &rep.r_e[i];
			printf(",\"%s\":", e->re_key);
			switch (e->re_type) {
			case REP_U64:
				printf("%" PRIu64, e->re_u);
				break;
			case REP_I64:
				printf("%" PRId64, e->re_i);
				break;
			case REP_DBL:
				printf("%.6g", isfinite(e->re_d) ? e->re_d : 0);
				break;
			case REP_BOOL:
				printf("%s", e->re_u ? "true" : "false");
				break;
			default:
				json_str(stdout, e->re_s);
			}
		}
		printf(",\"errors\":{");
		for (k = 0, first = 1; k < ERR_COUNT; k++) {
			if (rep.r_errors[k] == 0)
				continue;
			printf("%s\"%s\":%" PRIu64, first ? "" : ",",
			    err_names[k], rep.r_errors[k]);
			first = 0;
		}
		printf("}}\n");
	} else {
		printf("%s %s: %s\n", mode, opts.dst_text, code == 0 ? "OK" :
		    timeout ? "TIMEOUT" : "FAILED");
		for (i = 0; i < rep.r_n; i++) {
			e = &rep.r_e[i];
			printf("  %-22s ", e->re_key);
			switch (e->re_type) {
			case REP_U64:
				printf("%" PRIu64 "\n", e->re_u);
				break;
			case REP_I64:
				printf("%" PRId64 "\n", e->re_i);
				break;
			case REP_DBL:
				printf("%.3f\n", e->re_d);
				break;
			case REP_BOOL:
				printf("%s\n", e->re_u ? "yes" : "no");
				break;
			default:
				printf("%s\n", e->re_s);
			}
		}
		if (rep.r_has_errors) {
			printf("  %-22s", "errors");
			for (k = 0; k < ERR_COUNT; k++)
				if (rep.r_errors[k] != 0)
					printf(" %s=%" PRIu64, err_names[k],
					    rep.r_errors[k]);
			printf("\n");
		}
		printf("  %-22s %.3f\n", "elapsed_s",
		    (double)(now_ns() - t_start) / 1e9);
	}
	fflush(stdout);
	return code;
}

/* ---- histogram -------------------------------------------------------- */

static struct hist *
hist_new(void)
{
	struct hist *h = calloc(1, sizeof(*h));

	if (h == NULL)
		die("out of memory");
	h->h_min = UINT64_MAX;
	return h;
}

static void
hist_add(struct hist *h, uint64_t us)
{
	if (us < HIST_US)
		h->h_b[us]++;
	else
		h->h_over++;
	h->h_n++;
	h->h_sum += (double)us;
	if (us > h->h_max)
		h->h_max = us;
	if (us < h->h_min)
		h->h_min = us;
}

static uint64_t
hist_pct(const struct hist *h, double p)
{
	uint64_t want, seen = 0;
	size_t i;

	if (h->h_n == 0)
		return 0;
	want = (uint64_t)ceil(p / 100.0 * (double)h->h_n);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_US; i++) {
		seen += h->h_b[i];
		if (seen >= want)
			return i;
	}
	return h->h_max;
}

/* ---- received-data checks --------------------------------------------- */

static void
rx_init(struct rxcheck *rc, uint64_t seed, int kind)
{
	memset(rc, 0, sizeof(*rc));
	rc->rc_seed = seed;
	rc->rc_kind = kind;
}

static void
rx_feed(struct rxcheck *rc, const unsigned char *buf, size_t len)
{
	size_t r, n;

	if (len == 0)
		return;
	if (rc->rc_kind == RX_UNKNOWN)
		rc->rc_kind = buf[0] == (rc->rc_seed & 0xff) ? RX_PATTERN :
		    RX_TEXT;
	if (rc->rc_kind == RX_TEXT) {
		n = sizeof(rc->rc_text) - 1 - rc->rc_tlen;
		if (n > len)
			n = len;
		memcpy(rc->rc_text + rc->rc_tlen, buf, n);
		rc->rc_tlen += n;
		rc->rc_text[rc->rc_tlen] = '\0';
	} else if (opts.verify && !rc->rc_bad) {
		r = pattern_check(rc->rc_seed, rc->rc_n, buf, len);
		if (r != len) {
			rc->rc_bad = 1;
			rc->rc_bad_at = rc->rc_n + r;
		}
	}
	rc->rc_n += len;
}

/*
 * Judges what came back for sent bytes whose checksum is sum (checked only
 * when have_sum). Returns 0, or an error kind with a message in msg and
 * *bad_at set (or -1) for a mismatch.
 */
static int
rx_judge(const struct rxcheck *rc, uint64_t sent, uint64_t sum,
    int have_sum, char *msg, size_t msglen, int64_t *bad_at)
{
	unsigned long long a, b;

	*bad_at = -1;
	if (rc->rc_kind == RX_PATTERN || (rc->rc_kind == RX_UNKNOWN &&
	    sent == 0)) {
		if (rc->rc_bad) {
			*bad_at = (int64_t)rc->rc_bad_at;
			snprintf(msg, msglen, "mismatch at offset %" PRIu64,
			    rc->rc_bad_at);
			return ERR_MISMATCH;
		}
		if (rc->rc_n != sent) {
			snprintf(msg, msglen, "got %" PRIu64 " bytes back of %"
			    PRIu64, rc->rc_n, sent);
			return rc->rc_n < sent ? ERR_EOF : ERR_MISMATCH;
		}
		return 0;
	}
	if (rc->rc_kind == RX_UNKNOWN) {
		snprintf(msg, msglen, "no reply");
		return ERR_EOF;
	}
	if (sscanf(rc->rc_text, "OK %llu", &a) == 1) {
		if (a != sent) {
			snprintf(msg, msglen, "backend verified %llu bytes of %"
			    PRIu64, a, sent);
			return ERR_REPLY;
		}
		return 0;
	}
	if (sscanf(rc->rc_text, "BAD at %llu", &a) == 1) {
		*bad_at = (int64_t)a;
		snprintf(msg, msglen, "backend saw a mismatch at offset %llu",
		    a);
		return ERR_MISMATCH;
	}
	if (sscanf(rc->rc_text, "COUNT %llu SUM %llx", &a, &b) == 2) {
		if (a != sent) {
			snprintf(msg, msglen, "backend counted %llu bytes of %"
			    PRIu64, a, sent);
			return ERR_REPLY;
		}
		if (have_sum && b != sum) {
			snprintf(msg, msglen, "backend checksum %016llx, "
			    "expected %016" PRIx64, b, sum);
			return ERR_MISMATCH;
		}
		return 0;
	}
	snprintf(msg, msglen, "unexpected reply \"%.40s\"", rc->rc_text);
	return ERR_REPLY;
}

/* ---- bulk ------------------------------------------------------------- */

struct stream {
	int s_fd;
	int s_idx;
	uint64_t s_seed;
	int s_connected, s_wr_shut, s_done, s_failed, s_in_ready;
	uint64_t s_tx;		/* bytes written */
	uint64_t s_goal;	/* bytes to write; UINT64_MAX until stopped */
	unsigned char *s_tb;	/* generated, not yet written */
	size_t s_tb_off, s_tb_len, s_tb_cap;
	uint64_t s_gen;		/* bytes generated */
	struct pattern_sum s_sum;
	struct rxcheck s_rc;
	uint64_t s_rx_goal;	/* down: bytes asked for */
	struct stream *s_ready_next;
};

struct bulk {
	struct stream *b_s;
	int b_ep;
	int b_left;		/* streams not done */
	int b_stopped;		/* --seconds elapsed */
	struct stream *b_ready;
	uint64_t b_fail_stream;
	int64_t b_bad_at;
	char b_err[200];
	int b_nfailed;
};

static void
bulk_fail(struct bulk *b, struct stream *s, int kind, const char *msg,
    int64_t bad_at)
{
	if (s->s_done)
		return;
	s->s_done = s->s_failed = 1;
	close(s->s_fd);
	s->s_fd = -1;
	b->b_left--;
	rep_err(kind);
	if (b->b_nfailed++ == 0) {
		b->b_fail_stream = (uint64_t)s->s_idx;
		b->b_bad_at = bad_at;
		snprintf(b->b_err, sizeof(b->b_err), "stream %d: %s", s->s_idx,
		    msg);
	}
	vlog("stream %d: %s", s->s_idx, msg);
}

static void
bulk_done(struct bulk *b, struct stream *s)
{
	char msg[160];
	int64_t bad_at;
	int k;

	if (opts.dir == DIR_DOWN) {
		if (b->b_stopped && s->s_rc.rc_n < s->s_rx_goal)
			s->s_rx_goal = s->s_rc.rc_n;
		k = rx_judge(&s->s_rc, s->s_rx_goal, 0, 0, msg, sizeof(msg),
		    &bad_at);
	} else
		k = rx_judge(&s->s_rc, s->s_tx, pattern_sum_value(&s->s_sum),
		    opts.verify, msg, sizeof(msg), &bad_at);
	if (k != 0) {
		bulk_fail(b, s, k, msg, bad_at);
		return;
	}
	s->s_done = 1;
	close(s->s_fd);
	s->s_fd = -1;
	b->b_left--;
}

/* Refills the transmit buffer. Returns 0 when there is nothing to send. */
static int
bulk_refill(struct stream *s)
{
	uint64_t left = s->s_goal - s->s_gen;
	size_t len = left < s->s_tb_cap ? (size_t)left : s->s_tb_cap;

	if (len == 0)
		return 0;
	pattern_fill(s->s_seed, s->s_gen, s->s_tb, len);
	if (opts.verify && opts.dir == DIR_UP)	/* for a sink's reply */
		pattern_sum_update(&s->s_sum, s->s_tb, len);
	if (opts.corrupt && opts.corrupt_at >= s->s_gen &&
	    opts.corrupt_at < s->s_gen + len)
		s->s_tb[opts.corrupt_at - s->s_gen] ^= 0x20;
	s->s_gen += len;
	s->s_tb_off = 0;
	s->s_tb_len = len;
	return 1;
}

static void
bulk_ready(struct bulk *b, struct stream *s)
{
	if (s->s_in_ready)
		return;
	s->s_in_ready = 1;
	s->s_ready_next = b->b_ready;
	b->b_ready = s;
}

static void
bulk_io(struct bulk *b, struct stream *s)
{
	size_t wbudget = TURN_BYTES, rbudget = TURN_BYTES;
	char msg[160];
	ssize_t n;
	int err;

	if (s->s_done)
		return;
	if (!s->s_connected) {
		err = connect_result(s->s_fd);
		if (err != 0) {
			snprintf(msg, sizeof(msg), "connect: %s",
			    strerror(err));
			bulk_fail(b, s, connect_err_kind(err), msg, -1);
			return;
		}
		s->s_connected = 1;
	}
	/* write side */
	while (!s->s_wr_shut) {
		if (s->s_tb_len == 0 && (opts.dir == DIR_DOWN ||
		    !bulk_refill(s))) {
			if (opts.dir == DIR_DOWN)
				break;
			if (s->s_gen < s->s_goal)
				break;
			shutdown(s->s_fd, SHUT_WR);
			s->s_wr_shut = 1;
			break;
		}
		if (wbudget == 0) {
			bulk_ready(b, s);
			break;
		}
		n = write(s->s_fd, s->s_tb + s->s_tb_off,
		    s->s_tb_len < wbudget ? s->s_tb_len : wbudget);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			snprintf(msg, sizeof(msg), "write: %s",
			    strerror(errno));
			bulk_fail(b, s, io_err_kind(errno), msg, -1);
			return;
		}
		s->s_tb_off += (size_t)n;
		s->s_tb_len -= (size_t)n;
		wbudget -= (size_t)n;
		if (opts.dir != DIR_DOWN)
			s->s_tx += (uint64_t)n;
	}
	/* read side */
	for (;;) {
		if (rbudget == 0) {
			bulk_ready(b, s);
			return;
		}
		n = read(s->s_fd, scratch, sizeof(scratch));
		if (n > 0) {
			rx_feed(&s->s_rc, scratch, (size_t)n);
			rbudget = (size_t)n >= rbudget ? 0 :
			    rbudget - (size_t)n;
			continue;
		}
		if (n == 0) {
			if (!s->s_wr_shut && opts.dir != DIR_DOWN) {
				snprintf(msg, sizeof(msg), "closed by the "
				    "peer after %" PRIu64 " bytes sent",
				    s->s_tx);
				bulk_fail(b, s, ERR_EOF, msg, -1);
				return;
			}
			bulk_done(b, s);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return;
		snprintf(msg, sizeof(msg), "read: %s", strerror(errno));
		bulk_fail(b, s, io_err_kind(errno), msg, -1);
		return;
	}
}

/* --seconds elapsed: stop sending (up, both) or stop receiving (down). */
static void
bulk_stop(struct bulk *b)
{
	struct stream *s;
	uint64_t i;

	b->b_stopped = 1;
	for (i = 0; i < opts.streams; i++) {
		s = &b->b_s[i];
		if (s->s_done)
			continue;
		if (opts.dir == DIR_DOWN) {
			if (!s->s_connected) {
				bulk_fail(b, s, ERR_CONNECT_TIMEOUT,
				    "not connected", -1);
				continue;
			}
			bulk_done(b, s);
			continue;
		}
		s->s_goal = s->s_gen;	/* finish what is generated */
		bulk_io(b, s);
	}
}

static int
mode_bulk(void)
{
	struct epoll_event evs[MAX_EVENTS], ev;
	struct bulk b;
	struct stream *s, *list;
	uint64_t i, t_stop = UINT64_MAX, t_end = 0, up = 0, down = 0;
	uint64_t snap_up = 0, snap_down = 0, run_ns;
	size_t cap;
	char cmd[80];
	int n, j, timeout = 0, len;

	memset(&b, 0, sizeof(b));
	b.b_bad_at = -1;
	b.b_s = calloc(opts.streams, sizeof(*b.b_s));
	b.b_ep = epoll_create1(EPOLL_CLOEXEC);
	if (b.b_s == NULL || b.b_ep == -1)
		die("setup: %s", strerror(errno));
	cap = (size_t)(32 * 1024 * 1024 / opts.streams);
	if (cap > 1024 * 1024)
		cap = 1024 * 1024;
	if (cap < 16 * 1024)
		cap = 16 * 1024;
	b.b_left = (int)opts.streams;
	for (i = 0; i < opts.streams; i++) {
		s = &b.b_s[i];
		s->s_idx = (int)i;
		s->s_seed = stream_seed(i);
		s->s_goal = opts.have_seconds ? UINT64_MAX : opts.bytes;
		pattern_sum_init(&s->s_sum);
		rx_init(&s->s_rc, s->s_seed, opts.dir == DIR_UP ? RX_UNKNOWN :
		    RX_PATTERN);
		s->s_tb_cap = cap;
		s->s_tb = malloc(cap);
		if (s->s_tb == NULL)
			die("out of memory");
		if (opts.dir == DIR_DOWN) {
			/* a "forever" request when timed: cut at the stop */
			s->s_rx_goal = opts.have_seconds ? (1ULL << 62) :
			    opts.bytes;
			len = snprintf(cmd, sizeof(cmd), "SEND %" PRIu64
			    " 0x%016" PRIx64 "\n", s->s_rx_goal, s->s_seed);
			memcpy(s->s_tb, cmd, (size_t)len);
			s->s_tb_len = (size_t)len;
		}
	}
	t_start = now_ns();
	if (opts.have_seconds)
		t_stop = t_start + (uint64_t)(opts.seconds * 1e9);
	for (i = 0; i < opts.streams; i++) {
		s = &b.b_s[i];
		s->s_fd = connect_start();
		if (s->s_fd == -1) {
			snprintf(cmd, sizeof(cmd), "connect: %s",
			    strerror(errno));
			bulk_fail(&b, s, connect_err_kind(errno), cmd, -1);
			continue;
		}
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = s;
		if (epoll_ctl(b.b_ep, EPOLL_CTL_ADD, s->s_fd, &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
	}
	while (b.b_left > 0) {
		if (timed_out()) {
			timeout = 1;
			break;
		}
		n = epoll_wait(b.b_ep, evs, MAX_EVENTS, b.b_ready != NULL ? 0 :
		    wait_ms(t_stop, 200));
		for (j = 0; j < n; j++)
			bulk_io(&b, evs[j].data.ptr);
		list = b.b_ready;
		b.b_ready = NULL;
		while ((s = list) != NULL) {
			list = s->s_ready_next;
			s->s_in_ready = 0;
			bulk_io(&b, s);
		}
		if (!b.b_stopped && now_ns() >= t_stop) {
			for (i = 0; i < opts.streams; i++) {
				snap_up += b.b_s[i].s_tx;
				snap_down += b.b_s[i].s_rc.rc_n;
			}
			bulk_stop(&b);
		}
	}
	t_end = now_ns();
	for (i = 0; i < opts.streams; i++) {
		up += b.b_s[i].s_tx;
		down += b.b_s[i].s_rc.rc_kind == RX_PATTERN ?
		    b.b_s[i].s_rc.rc_n : 0;
		if (!b.b_s[i].s_done && b.b_s[i].s_fd != -1)
			close(b.b_s[i].s_fd);
	}
	if (opts.have_seconds && b.b_stopped) {
		run_ns = t_stop - t_start;
		up = snap_up;
		down = snap_down;
	} else
		run_ns = t_end - t_start;
	if (run_ns == 0)
		run_ns = 1;
	rep_str("direction", opts.dir == DIR_UP ? "up" : opts.dir ==
	    DIR_DOWN ? "down" : "both");
	rep_u64("streams", opts.streams);
	rep_u64("streams_ok", opts.streams - (uint64_t)b.b_nfailed -
	    (uint64_t)(timeout ? b.b_left : 0));
	rep_u64("streams_failed", (uint64_t)b.b_nfailed);
	rep_u64("bytes_up", up);
	rep_u64("bytes_down", down);
	rep_dbl("seconds", (double)run_ns / 1e9);
	rep_dbl("gbps_up", (double)up * 8 / ((double)run_ns));
	rep_dbl("gbps_down", (double)down * 8 / ((double)run_ns));
	rep_dbl("gbps_total", (double)(up + down) * 8 / ((double)run_ns));
	rep_bool("verified", opts.verify);
	for (i = 0; i < opts.streams; i++)
		free(b.b_s[i].s_tb);
	free(b.b_s);
	close(b.b_ep);
	if (b.b_nfailed > 0) {
		rep_i64("mismatch_at", b.b_bad_at);
		rep_u64("first_failed_stream", b.b_fail_stream);
		rep_str("error", b.b_err);
		fprintf(stderr, "%s: %s\n", progname, b.b_err);
	}
	return rep_finish("bulk", b.b_nfailed > 0, timeout);
}

/* ---- hold ------------------------------------------------------------- */

#define HOLD_MSG 32

enum hold_state {
	H_IDLE = 0,	/* not started */
	H_CONNECTING,
	H_HELD,
	H_ECHO,		/* message sent, waiting for its echo */
	H_OK,
	H_FAILED,
};

struct hconn {
	int hc_fd;
	int hc_state;
	uint64_t hc_t0;
	size_t hc_got;
	size_t hc_sent;
};

struct hold {
	struct hconn *h_c;
	int h_ep;
	uint64_t h_connecting;
	uint64_t h_connected;
	uint64_t h_failed;
	uint64_t h_ok;
	uint64_t h_waiting;	/* echoes outstanding */
};

static void
hold_fail(struct hold *h, uint64_t i, int kind, const char *what, int err)
{
	struct hconn *c = &h->h_c[i];

	if (c->hc_state == H_CONNECTING)
		h->h_connecting--;
	if (c->hc_state == H_ECHO)
		h->h_waiting--;
	if (c->hc_fd != -1)
		close(c->hc_fd);
	c->hc_fd = -1;
	c->hc_state = H_FAILED;
	h->h_failed++;
	rep_err(kind);
	vlog("conn %" PRIu64 ": %s%s%s", i, what, err ? ": " : "",
	    err ? strerror(err) : "");
}

static void
hold_start(struct hold *h, uint64_t i)
{
	struct hconn *c = &h->h_c[i];
	struct epoll_event ev;

	c->hc_t0 = now_ns();
	c->hc_fd = connect_start();
	if (c->hc_fd == -1) {
		c->hc_state = H_IDLE;
		hold_fail(h, i, connect_err_kind(errno), "connect", errno);
		return;
	}
	c->hc_state = H_CONNECTING;
	h->h_connecting++;
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = i;
	if (epoll_ctl(h->h_ep, EPOLL_CTL_ADD, c->hc_fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
}

static void
hold_send(struct hold *h, uint64_t i)
{
	struct hconn *c = &h->h_c[i];
	unsigned char msg[HOLD_MSG];
	ssize_t n;

	pattern_fill(stream_seed(i), 0, msg, sizeof(msg));
	if (opts.corrupt && opts.corrupt_at < sizeof(msg) && i == 0)
		msg[opts.corrupt_at] ^= 0x20;
	while (c->hc_sent < sizeof(msg)) {
		n = write(c->hc_fd, msg + c->hc_sent, sizeof(msg) -
		    c->hc_sent);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			hold_fail(h, i, io_err_kind(errno), "write", errno);
			return;
		}
		c->hc_sent += (size_t)n;
	}
}

static void
hold_io(struct hold *h, uint64_t i)
{
	struct hconn *c = &h->h_c[i];
	unsigned char buf[256];
	ssize_t n;
	size_t r;
	int err;

	if (c->hc_state == H_CONNECTING) {
		err = connect_result(c->hc_fd);
		if (err != 0) {
			hold_fail(h, i, connect_err_kind(err), "connect", err);
			return;
		}
		c->hc_state = H_HELD;
		h->h_connecting--;
		h->h_connected++;
	}
	if (c->hc_state == H_ECHO && c->hc_sent < HOLD_MSG) {
		hold_send(h, i);
		if (c->hc_state != H_ECHO)
			return;
	}
	if (c->hc_state != H_HELD && c->hc_state != H_ECHO)
		return;
	for (;;) {
		n = read(c->hc_fd, buf, sizeof(buf));
		if (n > 0) {
			if (c->hc_state != H_ECHO)
				continue;	/* e.g. a banner: not ours */
			r = c->hc_got + (size_t)n > HOLD_MSG ? 0 :
			    pattern_check(stream_seed(i), c->hc_got, buf,
			    (size_t)n);
			if (r != (size_t)n) {
				hold_fail(h, i, ERR_MISMATCH, "echo mismatch",
				    0);
				return;
			}
			c->hc_got += (size_t)n;
			if (c->hc_got == HOLD_MSG) {
				c->hc_state = H_OK;
				h->h_waiting--;
				h->h_ok++;
			}
			continue;
		}
		if (n == 0) {
			hold_fail(h, i, c->hc_state == H_ECHO ? ERR_EOF :
			    ERR_CLOSED, "closed by the peer", 0);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			hold_fail(h, i, io_err_kind(errno), "read", errno);
		return;
	}
}

static int
hold_poll(struct hold *h, uint64_t until)
{
	struct epoll_event evs[MAX_EVENTS];
	int n, j;

	n = epoll_wait(h->h_ep, evs, MAX_EVENTS, wait_ms(until, 100));
	for (j = 0; j < n; j++)
		hold_io(h, evs[j].data.u64);
	return n;
}

/* Fails connections stuck connecting for longer than --conn-timeout-ms. */
static void
hold_expire(struct hold *h, uint64_t upto)
{
	uint64_t i, now = now_ns(), lim = opts.conn_timeout_ms * 1000000;

	for (i = 0; i < upto; i++)
		if (h->h_c[i].hc_state == H_CONNECTING &&
		    now - h->h_c[i].hc_t0 > lim)
			hold_fail(h, i, ERR_CONNECT_TIMEOUT,
			    "connect timed out", 0);
}

/* Tells a waiting script that every connection is up (or failed). */
static void
ready_write(uint64_t connected, uint64_t failed)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", opts.ready_file) >=
	    (int)sizeof(tmp))
		die("--ready-file: path too long");
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "connected=%" PRIu64 "\nfailed=%" PRIu64
	    "\n", connected, failed) < 0 || fclose(f) != 0 ||
	    rename(tmp, opts.ready_file) == -1)
		fprintf(stderr, "%s: %s: %s\n", progname, opts.ready_file,
		    strerror(errno));
}

static int
mode_hold(void)
{
	struct hold h;
	uint64_t i, next = 0, t_conn = 0, t_hold, last_expire = 0;
	int timeout = 0, failed;

	memset(&h, 0, sizeof(h));
	h.h_c = calloc(opts.conns, sizeof(*h.h_c));
	h.h_ep = epoll_create1(EPOLL_CLOEXEC);
	if (h.h_c == NULL || h.h_ep == -1)
		die("setup: %s", strerror(errno));
	for (i = 0; i < opts.conns; i++)
		h.h_c[i].hc_fd = -1;
	t_start = now_ns();
	/* connect, at most --ramp handshakes in flight */
	while (next < opts.conns || h.h_connecting > 0) {
		if (timed_out()) {
			timeout = 1;
			goto out;
		}
		while (next < opts.conns && h.h_connecting < opts.ramp)
			hold_start(&h, next++);
		hold_poll(&h, UINT64_MAX);
		if (now_ns() - last_expire > 100000000) {
			hold_expire(&h, next);
			last_expire = now_ns();
		}
	}
	t_conn = now_ns() - t_start;
	if (opts.ready_file != NULL)
		ready_write(h.h_connected, h.h_failed);
	t_hold = now_ns() + opts.hold_ms * 1000000;
	while (now_ns() < t_hold) {
		if (timed_out()) {
			timeout = 1;
			goto out;
		}
		hold_poll(&h, t_hold);
	}
	if (opts.echo_check) {
		for (i = 0; i < opts.conns; i++) {
			if (h.h_c[i].hc_state != H_HELD)
				continue;
			h.h_c[i].hc_state = H_ECHO;
			h.h_waiting++;
			hold_send(&h, i);
			if (h.h_c[i].hc_state == H_ECHO)
				hold_io(&h, i);
		}
		while (h.h_waiting > 0) {
			if (timed_out()) {
				timeout = 1;
				goto out;
			}
			hold_poll(&h, UINT64_MAX);
		}
	} else {
		/* a last look for connections closed by the peer */
		while (hold_poll(&h, 0) > 0)
			;
		for (i = 0; i < opts.conns; i++)
			if (h.h_c[i].hc_state == H_HELD) {
				h.h_c[i].hc_state = H_OK;
				h.h_ok++;
			}
	}
out:
	for (i = 0; i < opts.conns; i++)
		if (h.h_c[i].hc_fd != -1)
			close(h.h_c[i].hc_fd);
	free(h.h_c);
	close(h.h_ep);
	failed = h.h_ok != opts.conns;
	rep_u64("conns", opts.conns);
	rep_u64("conns_connected", h.h_connected);
	rep_u64("conns_ok", h.h_ok);
	rep_u64("conns_failed", h.h_failed);
	rep_bool("echo_checked", opts.echo_check);
	rep_dbl("connect_all_s", (double)t_conn / 1e9);
	rep_u64("hold_ms", opts.hold_ms);
	return rep_finish("hold", failed, timeout);
}

/* ---- rate ------------------------------------------------------------- */

struct slot {
	int sl_fd;
	uint32_t sl_gen;
	int sl_connecting;
	uint64_t sl_t0;
	uint64_t sl_seed;
	size_t sl_sent;
	size_t sl_got;
};

struct rate {
	struct slot *r_s;
	int r_ep;
	uint64_t r_started;
	uint64_t r_ok;
	uint64_t r_failed;
	uint64_t r_inflight;
	int r_stopping;
	unsigned char *r_msg;
	struct hist *r_hist;
};

static void rate_start(struct rate *, uint64_t);

static void
rate_end(struct rate *r, uint64_t i, int kind, int err)
{
	struct slot *sl = &r->r_s[i];

	if (opts.linger0 || kind >= 0)
		close_linger0(sl->sl_fd);
	else
		close(sl->sl_fd);
	sl->sl_fd = -1;
	sl->sl_gen++;
	r->r_inflight--;
	if (kind >= 0) {
		r->r_failed++;
		rep_err(kind);
		vlog("conn: %s%s%s", err_names[kind], err ? ": " : "",
		    err ? strerror(err) : "");
	} else {
		r->r_ok++;
		hist_add(r->r_hist, (now_ns() - sl->sl_t0) / 1000);
	}
	if (!r->r_stopping)
		rate_start(r, i);
}

static void
rate_start(struct rate *r, uint64_t i)
{
	struct slot *sl = &r->r_s[i];
	struct epoll_event ev;

	sl->sl_t0 = now_ns();
	sl->sl_seed = stream_seed(r->r_started++);
	sl->sl_sent = sl->sl_got = 0;
	sl->sl_connecting = 1;
	sl->sl_fd = connect_start();
	if (sl->sl_fd == -1) {
		/* counted, not retried at once: refusals would spin */
		r->r_failed++;
		rep_err(connect_err_kind(errno));
		vlog("conn: connect: %s", strerror(errno));
		return;
	}
	r->r_inflight++;
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = i | (uint64_t)sl->sl_gen << 32;
	if (epoll_ctl(r->r_ep, EPOLL_CTL_ADD, sl->sl_fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
}

static void
rate_io(struct rate *r, uint64_t i)
{
	struct slot *sl = &r->r_s[i];
	ssize_t n;
	size_t want, got;
	int err;

	if (sl->sl_connecting) {
		err = connect_result(sl->sl_fd);
		if (err != 0) {
			rate_end(r, i, connect_err_kind(err), err);
			return;
		}
		sl->sl_connecting = 0;
	}
	while (sl->sl_sent < opts.size) {
		want = opts.size - sl->sl_sent;
		if (want > SCRATCH_SIZE)
			want = SCRATCH_SIZE;
		pattern_fill(sl->sl_seed, sl->sl_sent, scratch, want);
		if (opts.corrupt && opts.corrupt_at >= sl->sl_sent &&
		    opts.corrupt_at < sl->sl_sent + want)
			scratch[opts.corrupt_at - sl->sl_sent] ^= 0x20;
		n = write(sl->sl_fd, scratch, want);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n == -1) {
			rate_end(r, i, io_err_kind(errno), errno);
			return;
		}
		sl->sl_sent += (size_t)n;
	}
	for (;;) {
		n = read(sl->sl_fd, scratch, SCRATCH_SIZE);
		if (n > 0) {
			got = sl->sl_got + (size_t)n > opts.size ? 0 :
			    pattern_check(sl->sl_seed, sl->sl_got, scratch,
			    (size_t)n);
			if (got != (size_t)n) {
				rate_end(r, i, ERR_MISMATCH, 0);
				return;
			}
			sl->sl_got += (size_t)n;
			if (sl->sl_got == opts.size) {
				rate_end(r, i, -1, 0);
				return;
			}
			continue;
		}
		if (n == 0) {
			rate_end(r, i, ERR_EOF, 0);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			rate_end(r, i, io_err_kind(errno), errno);
		return;
	}
}

static int
mode_rate(void)
{
	struct epoll_event evs[MAX_EVENTS];
	struct rate r;
	struct slot *sl;
	uint64_t i, t_stop, t_end, now, last_scan = 0, run_ns;
	uint64_t lim = opts.conn_timeout_ms * 1000000;
	uint32_t gen;
	int n, j, timeout = 0, failed;

	memset(&r, 0, sizeof(r));
	r.r_s = calloc(opts.concurrency, sizeof(*r.r_s));
	r.r_ep = epoll_create1(EPOLL_CLOEXEC);
	r.r_hist = hist_new();
	if (r.r_s == NULL || r.r_ep == -1)
		die("setup: %s", strerror(errno));
	t_start = now_ns();
	t_stop = t_start + (uint64_t)(opts.seconds * 1e9);
	for (i = 0; i < opts.concurrency; i++)
		rate_start(&r, i);
	for (;;) {
		now = now_ns();
		if (!r.r_stopping && now >= t_stop)
			r.r_stopping = 1;
		if (r.r_stopping && r.r_inflight == 0)
			break;
		if (timed_out()) {
			timeout = 1;
			break;
		}
		n = epoll_wait(r.r_ep, evs, MAX_EVENTS, wait_ms(r.r_stopping ?
		    UINT64_MAX : t_stop, 100));
		for (j = 0; j < n; j++) {
			i = evs[j].data.u64 & 0xffffffffULL;
			gen = (uint32_t)(evs[j].data.u64 >> 32);
			if (r.r_s[i].sl_fd == -1 || r.r_s[i].sl_gen != gen)
				continue;	/* stale: slot moved on */
			rate_io(&r, i);
		}
		now = now_ns();
		if (now - last_scan < 50000000)
			continue;
		last_scan = now;
		for (i = 0; i < opts.concurrency; i++) {
			sl = &r.r_s[i];
			if (sl->sl_fd == -1) {
				if (!r.r_stopping)
					rate_start(&r, i);
				continue;
			}
			if (now - sl->sl_t0 > lim)
				rate_end(&r, i, sl->sl_connecting ?
				    ERR_CONNECT_TIMEOUT : ERR_IO_TIMEOUT, 0);
		}
	}
	t_end = now_ns();
	for (i = 0; i < opts.concurrency; i++)
		if (r.r_s[i].sl_fd != -1)
			close(r.r_s[i].sl_fd);
	run_ns = (t_end < t_stop ? t_end : t_stop) - t_start;
	if (run_ns == 0)
		run_ns = 1;
	failed = opts.fail_on_error && r.r_failed > 0;
	if (r.r_ok == 0)
		failed = 1;
	rep_u64("concurrency", opts.concurrency);
	rep_u64("size", opts.size);
	rep_u64("sources", opts.nsrc > 0 ? (uint64_t)opts.nsrc : 1);
	rep_u64("conns_ok", r.r_ok);
	rep_u64("conns_failed", r.r_failed);
	rep_dbl("conns_per_s", (double)r.r_ok * 1e9 / (double)run_ns);
	rep_u64("conn_p50_us", hist_pct(r.r_hist, 50));
	rep_u64("conn_p99_us", hist_pct(r.r_hist, 99));
	rep_u64("conn_max_us", r.r_hist->h_max);
	free(r.r_hist);
	free(r.r_s);
	close(r.r_ep);
	return rep_finish("rate", failed, timeout);
}

/* ---- single-connection modes ------------------------------------------ */

/* Connects with the deadline. Returns the non-blocking socket or -1. */
static int
connect_one(void)
{
	struct pollfd pfd;
	int fd, err, n;

	fd = connect_start();
	if (fd == -1) {
		rep_err(connect_err_kind(errno));
		rep_str("error", strerror(errno));
		return -1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		n = poll(&pfd, 1, wait_ms(UINT64_MAX, 1000));
		if (n > 0)
			break;
		if (timed_out()) {
			close(fd);
			errno = ETIMEDOUT;
			return -2;
		}
	}
	err = connect_result(fd);
	if (err != 0) {
		close(fd);
		rep_err(connect_err_kind(err));
		rep_str("error", strerror(err));
		return -1;
	}
	return fd;
}

/* Waits for events on fd until the deadline. Returns 0, or -1 on timeout. */
static int
wait_fd(int fd, short events)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		if (poll(&pfd, 1, wait_ms(UINT64_MAX, 1000)) > 0)
			return 0;
		if (timed_out())
			return -1;
	}
}

/*
 * Sends len pattern bytes of seed and reads the same number back. Returns 0,
 * -1 on failure (reported), -2 on timeout.
 */
static int
echo_once(int fd, uint64_t seed, size_t len)
{
	unsigned char *buf = scratch;
	size_t sent = 0, got = 0, r;
	ssize_t n;

	if (len > SCRATCH_SIZE / 2)
		len = SCRATCH_SIZE / 2;
	pattern_fill(seed, 0, buf, len);
	if (opts.corrupt && opts.corrupt_at < len)
		buf[opts.corrupt_at] ^= 0x20;
	while (got < len) {
		if (sent < len) {
			n = write(fd, buf + sent, len - sent);
			if (n > 0)
				sent += (size_t)n;
			else if (n == -1 && errno != EAGAIN && errno != EINTR) {
				rep_err(io_err_kind(errno));
				rep_str("error", strerror(errno));
				return -1;
			}
		}
		n = read(fd, buf + SCRATCH_SIZE / 2 + got, len - got);
		if (n > 0) {
			r = pattern_check(seed, got, buf + SCRATCH_SIZE / 2 +
			    got, (size_t)n);
			if (r != (size_t)n) {
				rep_err(ERR_MISMATCH);
				rep_i64("mismatch_at", (int64_t)(got + r));
				return -1;
			}
			got += (size_t)n;
			continue;
		}
		if (n == 0) {
			rep_err(ERR_EOF);
			rep_str("error", "closed by the peer");
			return -1;
		}
		if (errno != EAGAIN && errno != EINTR) {
			rep_err(io_err_kind(errno));
			rep_str("error", strerror(errno));
			return -1;
		}
		if (wait_fd(fd, (short)(POLLIN | (sent < len ? POLLOUT : 0))) ==
		    -1)
			return -2;
	}
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct_sorted(const uint64_t *v, uint64_t n, double p)
{
	uint64_t k;

	if (n == 0)
		return 0;
	k = (uint64_t)ceil(p / 100.0 * (double)n);
	if (k == 0)
		k = 1;
	return (double)v[k - 1] / 1000.0;
}

static int
mode_latency(void)
{
	struct timeval tv;
	uint64_t *rtt, i, t0, done = 0;
	double sum = 0;
	int fd, rc = 0;

	rtt = calloc(opts.count ? opts.count : 1, sizeof(*rtt));
	if (rtt == NULL)
		die("out of memory");
	t_start = now_ns();
	fd = connect_one();
	if (fd < 0) {
		free(rtt);
		return rep_finish("latency", 1, fd == -2);
	}
	/* blocking from here: one write and one read per round trip */
	tv.tv_sec = (time_t)opts.timeout;
	tv.tv_usec = (suseconds_t)((opts.timeout - (double)tv.tv_sec) * 1e6);
	if (fcntl(fd, F_SETFL, 0) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		die("socket setup: %s", strerror(errno));
	for (i = 0; i < opts.warmup + opts.count; i++) {
		t0 = now_ns();
		rc = echo_once(fd, stream_seed(i), opts.size);
		if (rc != 0)
			break;
		if (i >= opts.warmup) {
			rtt[done] = now_ns() - t0;
			sum += (double)rtt[done];
			done++;
		}
	}
	close(fd);
	qsort(rtt, done, sizeof(*rtt), cmp_u64);
	rep_u64("count", done);
	rep_u64("size", opts.size);
	rep_dbl("min_us", done ? (double)rtt[0] / 1000.0 : 0);
	rep_dbl("mean_us", done ? sum / (double)done / 1000.0 : 0);
	rep_dbl("p50_us", pct_sorted(rtt, done, 50));
	rep_dbl("p90_us", pct_sorted(rtt, done, 90));
	rep_dbl("p99_us", pct_sorted(rtt, done, 99));
	rep_dbl("p999_us", pct_sorted(rtt, done, 99.9));
	rep_dbl("max_us", done ? (double)rtt[done - 1] / 1000.0 : 0);
	free(rtt);
	return rep_finish("latency", rc != 0, rc == -2);
}

static int
mode_halfclose(void)
{
	struct rxcheck rc;
	struct pattern_sum sum;
	uint64_t seed = stream_seed(0), sent = 0, gen = 0, before = 0;
	size_t tb_off = 0, tb_len = 0, len;
	unsigned char *tb;
	char msg[160];
	int64_t bad_at;
	ssize_t n;
	int fd, k, eof = 0, failed = 0;

	tb = malloc(SCRATCH_SIZE);
	if (tb == NULL)
		die("out of memory");
	t_start = now_ns();
	fd = connect_one();
	if (fd < 0) {
		free(tb);
		return rep_finish("halfclose", 1, fd == -2);
	}
	rx_init(&rc, seed, RX_UNKNOWN);
	pattern_sum_init(&sum);
	/* send everything, reading only when the send side is stuck */
	while (sent < opts.bytes) {
		if (tb_len == 0) {
			len = opts.bytes - gen < SCRATCH_SIZE ?
			    (size_t)(opts.bytes - gen) : SCRATCH_SIZE;
			pattern_fill(seed, gen, tb, len);
			pattern_sum_update(&sum, tb, len);
			if (opts.corrupt && opts.corrupt_at >= gen &&
			    opts.corrupt_at < gen + len)
				tb[opts.corrupt_at - gen] ^= 0x20;
			gen += len;
			tb_off = 0;
			tb_len = len;
		}
		n = write(fd, tb + tb_off, tb_len);
		if (n > 0) {
			tb_off += (size_t)n;
			tb_len -= (size_t)n;
			sent += (uint64_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			snprintf(msg, sizeof(msg), "write: %s",
			    strerror(errno));
			rep_err(io_err_kind(errno));
			failed = 1;
			goto out;
		}
		while ((n = read(fd, scratch, SCRATCH_SIZE)) > 0)
			rx_feed(&rc, scratch, (size_t)n);
		if (n == 0) {
			snprintf(msg, sizeof(msg), "closed by the peer before "
			    "our FIN (%" PRIu64 " bytes sent)", sent);
			rep_err(ERR_EOF);
			failed = 1;
			goto out;
		}
		if (wait_fd(fd, POLLIN | POLLOUT) == -1)
			goto timeout;
	}
	before = rc.rc_n;
	if (shutdown(fd, SHUT_WR) == -1) {
		snprintf(msg, sizeof(msg), "shutdown: %s", strerror(errno));
		rep_err(ERR_IO);
		failed = 1;
		goto out;
	}
	while (!eof) {
		n = read(fd, scratch, SCRATCH_SIZE);
		if (n > 0) {
			rx_feed(&rc, scratch, (size_t)n);
			continue;
		}
		if (n == 0) {
			eof = 1;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			snprintf(msg, sizeof(msg), "read after our FIN: %s",
			    strerror(errno));
			rep_err(io_err_kind(errno));
			failed = 1;
			goto out;
		}
		if (wait_fd(fd, POLLIN) == -1)
			goto timeout;
	}
	k = rx_judge(&rc, sent, pattern_sum_value(&sum), 1, msg, sizeof(msg),
	    &bad_at);
	if (k != 0) {
		rep_err(k);
		if (bad_at >= 0)
			rep_i64("mismatch_at", bad_at);
		failed = 1;
	} else if (opts.bytes > 0 && rc.rc_n == before) {
		snprintf(msg, sizeof(msg), "nothing came back after our FIN");
		rep_err(ERR_EOF);
		failed = 1;
	}
out:
	close(fd);
	free(tb);
	rc.rc_text[strcspn(rc.rc_text, "\r\n")] = '\0';
	rep_u64("bytes_sent", sent);
	rep_u64("bytes_back", rc.rc_n);
	rep_u64("back_before_fin", before);
	rep_u64("back_after_fin", rc.rc_n - before);
	rep_str("reply", rc.rc_kind == RX_PATTERN ? "echo" :
	    rc.rc_kind == RX_TEXT ? rc.rc_text : "none");
	if (failed) {
		rep_str("error", msg);
		fprintf(stderr, "%s: halfclose: %s\n", progname, msg);
	}
	return rep_finish("halfclose", failed, 0);
timeout:
	close(fd);
	free(tb);
	rep_u64("bytes_sent", sent);
	rep_u64("bytes_back", rc.rc_n);
	return rep_finish("halfclose", 1, 1);
}

static int
mode_greet(void)
{
	char line[256];
	size_t got = 0;
	ssize_t n;
	char *nl = NULL;
	int fd, rc = 0, failed = 0;

	t_start = now_ns();
	fd = connect_one();
	if (fd < 0)
		return rep_finish("greet", 1, fd == -2);
	while (nl == NULL && got < sizeof(line) - 1) {
		n = read(fd, line + got, sizeof(line) - 1 - got);
		if (n > 0) {
			got += (size_t)n;
			line[got] = '\0';
			nl = strchr(line, '\n');
			continue;
		}
		if (n == 0) {
			rep_err(ERR_EOF);
			failed = 1;
			break;
		}
		if (errno != EAGAIN && errno != EINTR) {
			rep_err(io_err_kind(errno));
			failed = 1;
			break;
		}
		if (wait_fd(fd, POLLIN) == -1) {
			close(fd);
			return rep_finish("greet", 1, 1);
		}
	}
	line[got] = '\0';
	if (nl != NULL)
		*nl = '\0';
	if (!failed && strcmp(line, opts.expect) != 0) {
		rep_err(ERR_REPLY);
		failed = 1;
	}
	rep_str("banner", line);
	rep_str("expected", opts.expect);
	if (!failed && opts.greet_echo && nl != NULL &&
	    (size_t)(nl + 1 - line) < got) {
		/* bytes after the banner line: the server spoke too much */
		rep_err(ERR_REPLY);
		failed = 1;
	}
	if (!failed && opts.greet_echo) {
		rc = echo_once(fd, stream_seed(0), 64);
		failed = rc != 0;
		rep_bool("echo_ok", rc == 0);
	}
	close(fd);
	return rep_finish("greet", failed, rc == -2);
}

/* ---- main ------------------------------------------------------------- */

static enum mode
parse_mode(const char *s)
{
	static const char *names[] = { "bulk", "hold", "rate", "latency",
	    "halfclose", "greet" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (enum mode)i;
	die("unknown mode \"%s\" (bulk, hold, rate, latency, halfclose, "
	    "greet)", s);
}

/*
 * rate against 127/8 without --bind: rotate over 16 loopback sources.
 * With one source the ports in TIME_WAIT run out within seconds and every
 * connect() then searches the port range under a lock: half the rate and
 * p99 stalls of tens of ms, all in the client.
 */
static void
spread_sources(void)
{
	struct sockaddr_in *dst = (struct sockaddr_in *)&opts.dst, *src;
	int i;

	if (opts.dst.ss_family != AF_INET ||
	    (ntohl(dst->sin_addr.s_addr) >> 24) != 127)
		return;
	for (i = 0; i < 16; i++) {
		src = (struct sockaddr_in *)&opts.src[i];
		memset(src, 0, sizeof(*src));
		src->sin_family = AF_INET;
		src->sin_addr.s_addr = htonl(0x7f000001 + (uint32_t)i);
		opts.src_len[i] = sizeof(*src);
	}
	opts.nsrc = 16;
}

static void
parse_args(int argc, char **argv)
{
	enum {
		O_CONNECT = 256, O_BIND, O_STREAMS, O_BYTES, O_SECONDS, O_DIR,
		O_CONNS, O_HOLD, O_RAMP, O_ECHO_CHECK, O_CONC, O_SIZE,
		O_COUNT, O_WARMUP, O_EXPECT, O_NO_ECHO, O_TIMEOUT,
		O_CONN_TIMEOUT, O_SEED, O_CORRUPT, O_JSON, O_NO_VERIFY,
		O_FAIL_ON_ERROR, O_LINGER0, O_READY_FILE, O_NO_SPREAD,
	};
	static const struct option lo[] = {
		{ "connect", required_argument, NULL, O_CONNECT },
		{ "bind", required_argument, NULL, O_BIND },
		{ "streams", required_argument, NULL, O_STREAMS },
		{ "bytes", required_argument, NULL, O_BYTES },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "direction", required_argument, NULL, O_DIR },
		{ "conns", required_argument, NULL, O_CONNS },
		{ "hold-ms", required_argument, NULL, O_HOLD },
		{ "ramp", required_argument, NULL, O_RAMP },
		{ "echo-check", no_argument, NULL, O_ECHO_CHECK },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "size", required_argument, NULL, O_SIZE },
		{ "count", required_argument, NULL, O_COUNT },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "no-echo", no_argument, NULL, O_NO_ECHO },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "conn-timeout-ms", required_argument, NULL, O_CONN_TIMEOUT },
		{ "seed", required_argument, NULL, O_SEED },
		{ "corrupt-at", required_argument, NULL, O_CORRUPT },
		{ "json", no_argument, NULL, O_JSON },
		{ "no-verify", no_argument, NULL, O_NO_VERIFY },
		{ "fail-on-error", no_argument, NULL, O_FAIL_ON_ERROR },
		{ "linger0", no_argument, NULL, O_LINGER0 },
		{ "ready-file", required_argument, NULL, O_READY_FILE },
		{ "no-spread", no_argument, NULL, O_NO_SPREAD },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, have_seed = 0;

	if (argc < 2)
		usage(stderr);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		usage(stdout);
	opts.mode = parse_mode(argv[1]);
	opts.streams = 1;
	opts.bytes = 16 << 20;
	opts.dir = DIR_BOTH;
	opts.conns = 100;
	opts.ramp = 256;
	opts.concurrency = 16;
	opts.seconds = 5;
	opts.size = 64;
	opts.count = 1000;
	opts.warmup = 100;
	opts.conn_timeout_ms = 10000;
	opts.timeout = 60;
	opts.verify = 1;
	opts.greet_echo = 1;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (ch) {
		case O_CONNECT:
			opts.dst_len = parse_sockaddr(optarg, &opts.dst, 1);
			opts.dst_text = optarg;
			break;
		case O_BIND:
			if (opts.nsrc == MAX_BIND)
				die("at most %d --bind", MAX_BIND);
			opts.src_len[opts.nsrc] = parse_sockaddr(optarg,
			    &opts.src[opts.nsrc], 0);
			if (opts.src[opts.nsrc].ss_family !=
			    opts.src[0].ss_family)
				die("--bind: one address family");
			opts.nsrc++;
			break;
		case O_STREAMS:
			opts.streams = parse_u64("--streams", optarg);
			break;
		case O_BYTES:
			opts.bytes = parse_u64("--bytes", optarg);
			opts.have_bytes = 1;
			break;
		case O_SECONDS:
			opts.seconds = parse_dbl("--seconds", optarg);
			opts.have_seconds = 1;
			break;
		case O_DIR:
			if (strcmp(optarg, "up") == 0)
				opts.dir = DIR_UP;
			else if (strcmp(optarg, "down") == 0)
				opts.dir = DIR_DOWN;
			else if (strcmp(optarg, "both") == 0)
				opts.dir = DIR_BOTH;
			else
				die("--direction: up, down or both");
			break;
		case O_CONNS:
			opts.conns = parse_u64("--conns", optarg);
			break;
		case O_HOLD:
			opts.hold_ms = parse_u64("--hold-ms", optarg);
			break;
		case O_RAMP:
			opts.ramp = parse_u64("--ramp", optarg);
			break;
		case O_ECHO_CHECK:
			opts.echo_check = 1;
			break;
		case O_CONC:
			opts.concurrency = parse_u64("--concurrency", optarg);
			break;
		case O_SIZE:
			opts.size = parse_u64("--size", optarg);
			break;
		case O_COUNT:
			opts.count = parse_u64("--count", optarg);
			break;
		case O_WARMUP:
			opts.warmup = parse_u64("--warmup", optarg);
			break;
		case O_EXPECT:
			opts.expect = optarg;
			break;
		case O_NO_ECHO:
			opts.greet_echo = 0;
			break;
		case O_TIMEOUT:
			opts.timeout = parse_dbl("--timeout", optarg);
			break;
		case O_CONN_TIMEOUT:
			opts.conn_timeout_ms = parse_u64("--conn-timeout-ms",
			    optarg);
			break;
		case O_SEED:
			opts.seed = parse_u64("--seed", optarg);
			have_seed = 1;
			break;
		case O_CORRUPT:
			opts.corrupt_at = parse_u64("--corrupt-at", optarg);
			opts.corrupt = 1;
			break;
		case O_JSON:
			opts.json = 1;
			break;
		case O_NO_VERIFY:
			opts.verify = 0;
			break;
		case O_FAIL_ON_ERROR:
			opts.fail_on_error = 1;
			break;
		case O_LINGER0:
			opts.linger0 = 1;
			break;
		case O_READY_FILE:
			opts.ready_file = optarg;
			break;
		case O_NO_SPREAD:
			opts.no_spread = 1;
			break;
		case 'v':
			opts.verbose = 1;
			break;
		case 'h':
			usage(stdout);
		default:
			usage(stderr);
		}
	}
	if (optind != argc)
		die("unexpected argument \"%s\"", argv[optind]);
	if (opts.dst_len == 0)
		die("--connect ADDR:PORT is required");
	if (opts.nsrc != 0 && opts.src[0].ss_family != opts.dst.ss_family)
		die("--bind and --connect are of different families");
	if (opts.timeout <= 0)
		die("--timeout must be positive");
	if (opts.streams < 1 || opts.streams > 100000)
		die("--streams: 1 to 100000");
	if (opts.conns < 1 || opts.concurrency < 1 || opts.ramp < 1)
		die("--conns, --concurrency and --ramp must be positive");
	if (opts.concurrency > 0xffffffffULL)
		die("--concurrency too large");
	if (opts.mode == MODE_BULK && opts.have_seconds &&
	    opts.have_bytes)
		die("bulk: --bytes or --seconds, not both");
	if ((opts.mode == MODE_RATE || opts.mode == MODE_LATENCY) &&
	    (opts.size < 1 || opts.size > SCRATCH_SIZE / 2))
		die("--size: 1 to %d", SCRATCH_SIZE / 2);
	if (opts.mode == MODE_GREET && opts.expect == NULL)
		die("greet: --expect STRING is required");
	if (opts.mode == MODE_RATE && opts.nsrc == 0 && !opts.no_spread)
		spread_sources();
	if (!have_seed)
		opts.seed = pattern_mix((uint64_t)time(NULL) ^
		    ((uint64_t)getpid() << 32) ^ now_ns());
}

int
main(int argc, char **argv)
{
	parse_args(argc, argv);
	pattern_init();
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)ceil(opts.timeout) + 5);
	t_start = now_ns();
	t_deadline = t_start + (uint64_t)(opts.timeout * 1e9);
	switch (opts.mode) {
	case MODE_BULK:
		return mode_bulk();
	case MODE_HOLD:
		return mode_hold();
	case MODE_RATE:
		return mode_rate();
	case MODE_LATENCY:
		return mode_latency();
	case MODE_HALFCLOSE:
		return mode_halfclose();
	case MODE_GREET:
		return mode_greet();
	}
	return EXIT_USAGE;
}
