/*
 * tfwd-backend: the backend server of the integration tests and of the
 * benchmark (modes echo, sink, source, verify, greet), with knobs to be slow
 * or to die mid-stream. Test tool only: one edge-triggered epoll loop per
 * thread, SO_REUSEPORT listeners when threaded, no per-connection buffer
 * while a connection is idle.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"

#define MAX_LISTEN	16
#define MAX_THREADS	64
#define SCRATCH_SIZE	(256 * 1024)
#define OB_HIGH		(4 * 1024 * 1024) /* most delayed bytes held */
#define TURN_BYTES	(1024 * 1024)	/* per connection per turn */
#define MAX_EVENTS	256
#define TAG_WAKE	1
#define TAG_LISTEN	16	/* data.u64 TAG_LISTEN + i is listener i */
#define CMD_MAX		80

enum mode {
	MODE_ECHO = 0,
	MODE_SINK,
	MODE_SOURCE,
	MODE_VERIFY,
	MODE_GREET,
};

struct listen_addr {
	struct sockaddr_storage la_ss;
	socklen_t la_len;
	uint16_t la_port;
	char la_text[80];
};

struct options {
	struct listen_addr listen[MAX_LISTEN];
	int nlisten;
	enum mode mode;
	uint64_t delay_ms;
	uint64_t accept_delay_ms;
	uint64_t close_after;	/* 0 = never */
	uint64_t rst_after;	/* 0 = never */
	uint64_t idle_close_ms;	/* 0 = never */
	uint64_t corrupt_at;
	int corrupt;
	uint64_t seed;
	int threads;
	int backlog;
	int verbose;
	const char *stats_file;
	const char *pidfile;
};

struct stats {
	atomic_uint_fast64_t st_accepted;
	atomic_uint_fast64_t st_active;
	atomic_uint_fast64_t st_max_active;
	atomic_uint_fast64_t st_closed;
	atomic_uint_fast64_t st_bytes_in;
	atomic_uint_fast64_t st_bytes_out;
	atomic_uint_fast64_t st_resets;
	atomic_uint_fast64_t st_errors;
	atomic_uint_fast64_t st_limit_closes;
	atomic_uint_fast64_t st_idle_closes;
	atomic_uint_fast64_t st_verify_ok;
	atomic_uint_fast64_t st_verify_bad;
};

struct listener {
	int l_fd;
	uint16_t l_port;
	int l_wanted;		/* accept again once past l_next_ok */
	uint64_t l_next_ok;
};

struct chunk {
	struct chunk *ch_next;
	struct conn *ch_conn;
	uint64_t ch_due;
	size_t ch_len;
	unsigned char ch_data[];
};

struct conn {
	int c_fd;
	int c_refs;
	struct worker *c_w;
	uint16_t c_lport;
	unsigned c_closed:1, c_rd_eof:1, c_in_ready:1, c_replied:1,
	    c_src_go:1, c_src_done:1, c_bad:1, c_discard:1;
	uint64_t c_rx;		/* bytes received */
	uint64_t c_tx;		/* bytes written */
	uint64_t c_queued;	/* bytes given to conn_send: output offset */
	unsigned char *c_ob;	/* unsent output, NULL when empty */
	size_t c_ob_off, c_ob_len, c_ob_cap;
	uint64_t c_delayed;	/* bytes waiting in the delay queue */
	uint64_t c_last_ms;
	struct conn *c_lru_prev, *c_lru_next;
	struct conn *c_ready_next;
	struct conn *c_dead_next;
	/* sink and verify */
	struct pattern_sum c_sum;
	uint64_t c_vseed;
	unsigned char c_vhead[8];
	uint64_t c_bad_at;
	/* source */
	char c_cmd[CMD_MAX];
	size_t c_cmd_len;
	uint64_t c_src_n;
	uint64_t c_src_seed;
};

struct worker {
	int w_id;
	int w_ep;
	int w_wake;
	pthread_t w_thr;
	struct listener w_ls[MAX_LISTEN];
	int w_nls;
	unsigned char *w_scratch;
	uint64_t w_now;
	struct conn *w_ready;
	struct conn *w_dead;
	struct chunk *w_dq_head, *w_dq_tail;
	struct conn w_lru;	/* sentinel of the idle list */
	int w_emfile_logged;
};

static struct options opts;
static struct stats stats;
static atomic_int stopping;
static const char *progname = "tfwd-backend";

static void usage(FILE *) __attribute__((noreturn));
static void die(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));
static void warnmsg(const char *, ...) __attribute__((format(printf, 1, 2)));
static void conn_io(struct conn *);
static void conn_close(struct conn *, int, int);
static void conn_limit(struct conn *);
static int conn_flush(struct conn *);

static void
usage(FILE *f)
{
	fprintf(f,
"usage: tfwd-backend --listen ADDR:PORT [--listen ...]\n"
"           --mode echo|sink|source|verify|greet [options]\n"
"  --delay-ms N           wait N ms before each echo write (slow backend)\n"
"  --accept-delay-ms N    wait N ms before each accept (backlog fills)\n"
"  --close-after-bytes N  after N bytes send a FIN, drop all input\n"
"  --rst-after-bytes N    reset (RST) a connection after N bytes\n"
"                         (bytes received; bytes sent in source mode)\n"
"  --idle-close-ms N      close connections idle for N ms\n"
"  --threads N            N loops, one SO_REUSEPORT socket each (1)\n"
"  --backlog N            listen backlog (4096)\n"
"  --seed S               source seed when the client gives none (1)\n"
"  --corrupt-at N         flip byte N of what echo/greet/source sends\n"
"  --stats-file F         write counters to F on SIGUSR1 and at exit\n"
"  --pidfile F            write the pid to F\n"
"  -v, --verbose          log every connection's end on stderr\n"
"modes:\n"
"  echo    echo everything; after the client's FIN finish, then FIN\n"
"  sink    discard; after the client's FIN reply\n"
"          \"COUNT <bytes> SUM <16 hex digits>\\n\" and close\n"
"  source  read \"SEND <n> [<seed>]\\n\", send n pattern bytes, then FIN\n"
"  verify  check the pattern; after the client's FIN reply \"OK <n>\\n\"\n"
"          or \"BAD at <offset>\\n\" and close\n"
"  greet   send \"HELLO <port>\\n\" on accept, then echo\n");
	exit(f == stderr ? 2 : 0);
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
	exit(2);
}

static void
warnmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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
	if (errno != 0 || *end != '\0')
		die("%s: not a number: \"%s\"", opt, s);
	return v;
}

static void
parse_addr(const char *s, struct listen_addr *la)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&la->la_ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&la->la_ss;
	char host[64];
	const char *colon, *h;
	size_t hl;
	uint64_t port;

	memset(la, 0, sizeof(*la));
	if (s[0] == '[') {
		colon = strstr(s, "]:");
		if (colon == NULL)
			die("bad address \"%s\" (expected [v6]:port)", s);
		h = s + 1;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			die("bad address \"%s\" (expected ip:port)", s);
		h = s;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		die("bad address \"%s\"", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	port = parse_u64("port", colon + 1);
	if (port > 65535)
		die("bad port in \"%s\"", s);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		la->la_len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		la->la_len = sizeof(*sin6);
	} else
		die("bad address \"%s\" (numeric IPv4 or IPv6 only)", s);
	la->la_port = (uint16_t)port;
}

static void
format_addr(struct listen_addr *la)
{
	char host[INET6_ADDRSTRLEN];

	if (la->la_ss.ss_family == AF_INET) {
		inet_ntop(AF_INET,
		    &((struct sockaddr_in *)&la->la_ss)->sin_addr, host,
		    sizeof(host));
		snprintf(la->la_text, sizeof(la->la_text), "%s:%u", host,
		    la->la_port);
	} else {
		inet_ntop(AF_INET6,
		    &((struct sockaddr_in6 *)&la->la_ss)->sin6_addr, host,
		    sizeof(host));
		snprintf(la->la_text, sizeof(la->la_text), "[%s]:%u", host,
		    la->la_port);
	}
}

static void
set_port(struct listen_addr *la, uint16_t port)
{
	la->la_port = port;
	if (la->la_ss.ss_family == AF_INET)
		((struct sockaddr_in *)&la->la_ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&la->la_ss)->sin6_port = htons(port);
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			warnmsg("setrlimit(NOFILE): %s", strerror(errno));
	}
}

static void
stat_add(atomic_uint_fast64_t *a, uint64_t v)
{
	atomic_fetch_add_explicit(a, v, memory_order_relaxed);
}

static uint64_t
stat_get(atomic_uint_fast64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

/* ---- connections ------------------------------------------------------ */

static void
lru_unlink(struct conn *c)
{
	if (c->c_lru_next == NULL)
		return;
	c->c_lru_prev->c_lru_next = c->c_lru_next;
	c->c_lru_next->c_lru_prev = c->c_lru_prev;
	c->c_lru_next = c->c_lru_prev = NULL;
}

/*
 * Every open connection is on its worker's list, least recently active
 * first when --idle-close-ms is set (else in accept order).
 */
static void
lru_link(struct conn *c)
{
	struct conn *head = &c->c_w->w_lru;

	c->c_last_ms = c->c_w->w_now;
	c->c_lru_prev = head->c_lru_prev;
	c->c_lru_next = head;
	head->c_lru_prev->c_lru_next = c;
	head->c_lru_prev = c;
}

static void
lru_touch(struct conn *c)
{
	if (opts.idle_close_ms == 0)
		return;
	lru_unlink(c);
	lru_link(c);
}

static void
conn_unref(struct conn *c)
{
	if (--c->c_refs > 0)
		return;
	/* freed after the current batch of events: they may name it */
	c->c_dead_next = c->c_w->w_dead;
	c->c_w->w_dead = c;
}

static void
ready_push(struct conn *c)
{
	if (c->c_in_ready || c->c_closed)
		return;
	c->c_in_ready = 1;
	c->c_refs++;
	c->c_ready_next = c->c_w->w_ready;
	c->c_w->w_ready = c;
}

/*
 * Closes the connection once. how: 0 normal close, 1 reset (SO_LINGER 0).
 * err is the errno that ended it, 0 for none.
 */
static void
conn_close(struct conn *c, int how, int err)
{
	struct linger lg = { 1, 0 };

	if (c->c_closed)
		return;
	c->c_closed = 1;
	if (how == 1)
		setsockopt(c->c_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->c_fd);
	c->c_fd = -1;
	lru_unlink(c);
	free(c->c_ob);
	c->c_ob = NULL;
	c->c_ob_len = c->c_ob_off = c->c_ob_cap = 0;
	if (err == ECONNRESET || err == EPIPE)
		stat_add(&stats.st_resets, 1);
	else if (err != 0)
		stat_add(&stats.st_errors, 1);
	atomic_fetch_sub_explicit(&stats.st_active, 1, memory_order_relaxed);
	stat_add(&stats.st_closed, 1);
	if (opts.verbose)
		warnmsg("conn port %u closed: rx %" PRIu64 " tx %" PRIu64
		    "%s%s", c->c_lport, c->c_rx, c->c_tx,
		    how == 1 ? " (reset)" : "",
		    err != 0 ? strerror(err) : "");
	conn_unref(c);
}

/*
 * The connection reached --close-after-bytes or --rst-after-bytes. A reset
 * is immediate. A close sends what is pending and a FIN, then discards
 * input until the peer closes: closing at once with unread input would make
 * the kernel send a reset instead.
 */
static void
conn_limit(struct conn *c)
{
	stat_add(&stats.st_limit_closes, 1);
	if (opts.rst_after != 0) {
		conn_close(c, 1, 0);
		return;
	}
	(void)conn_flush(c);
	free(c->c_ob);
	c->c_ob = NULL;
	c->c_ob_len = c->c_ob_off = c->c_ob_cap = 0;
	shutdown(c->c_fd, SHUT_WR);
	c->c_discard = 1;
	conn_io(c);
}

/* Writes out c_ob. Returns 0, or -1 with errno set on a socket error. */
static int
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->c_ob_len > 0) {
		n = write(c->c_fd, c->c_ob + c->c_ob_off, c->c_ob_len);
		if (n > 0) {
			c->c_ob_off += (size_t)n;
			c->c_ob_len -= (size_t)n;
			c->c_tx += (uint64_t)n;
			stat_add(&stats.st_bytes_out, (uint64_t)n);
			lru_touch(c);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		return -1;
	}
	free(c->c_ob);
	c->c_ob = NULL;
	c->c_ob_off = c->c_ob_cap = 0;
	return 0;
}

/*
 * Sends buf (which may be altered for --corrupt-at), keeping what the
 * socket does not take. Returns 0, or -1 with errno set.
 */
static int
conn_send(struct conn *c, unsigned char *buf, size_t len)
{
	ssize_t n;
	size_t need;
	unsigned char *nb;

	if (opts.corrupt && opts.corrupt_at >= c->c_queued &&
	    opts.corrupt_at < c->c_queued + len)
		buf[opts.corrupt_at - c->c_queued] ^= 0x20;
	c->c_queued += len;
	while (c->c_ob_len == 0 && len > 0) {
		n = write(c->c_fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			c->c_tx += (uint64_t)n;
			stat_add(&stats.st_bytes_out, (uint64_t)n);
			lru_touch(c);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		return -1;
	}
	if (len == 0)
		return 0;
	need = c->c_ob_off + c->c_ob_len + len;
	if (need > c->c_ob_cap) {
		if (c->c_ob_off > 0) {
			memmove(c->c_ob, c->c_ob + c->c_ob_off, c->c_ob_len);
			c->c_ob_off = 0;
			need = c->c_ob_len + len;
		}
		if (need > c->c_ob_cap) {
			nb = realloc(c->c_ob, need);
			if (nb == NULL) {
				errno = ENOMEM;
				return -1;
			}
			c->c_ob = nb;
			c->c_ob_cap = need;
		}
	}
	memcpy(c->c_ob + c->c_ob_off + c->c_ob_len, buf, len);
	c->c_ob_len += len;
	return 0;
}

static int
delay_enqueue(struct conn *c, const unsigned char *buf, size_t len)
{
	struct worker *w = c->c_w;
	struct chunk *ch;

	ch = malloc(sizeof(*ch) + len);
	if (ch == NULL) {
		errno = ENOMEM;
		return -1;
	}
	ch->ch_next = NULL;
	ch->ch_conn = c;
	ch->ch_due = w->w_now + opts.delay_ms;
	ch->ch_len = len;
	memcpy(ch->ch_data, buf, len);
	c->c_refs++;
	c->c_delayed += len;
	if (w->w_dq_tail != NULL)
		w->w_dq_tail->ch_next = ch;
	else
		w->w_dq_head = ch;
	w->w_dq_tail = ch;
	return 0;
}

static void
delay_run(struct worker *w)
{
	struct chunk *ch;
	struct conn *c;

	while ((ch = w->w_dq_head) != NULL && ch->ch_due <= w->w_now) {
		w->w_dq_head = ch->ch_next;
		if (w->w_dq_head == NULL)
			w->w_dq_tail = NULL;
		c = ch->ch_conn;
		if (!c->c_closed) {
			c->c_delayed -= ch->ch_len;
			if (conn_send(c, ch->ch_data, ch->ch_len) == -1)
				conn_close(c, 0, errno);
			else
				conn_io(c);
		}
		conn_unref(c);
		free(ch);
	}
}

static void
verify_feed(struct conn *c, const unsigned char *buf, size_t len)
{
	uint64_t off = c->c_rx - len;	/* stream offset of buf[0] */
	size_t n, r;

	if (c->c_bad)
		return;
	if (off < 8) {
		n = 8 - off < len ? 8 - off : len;
		memcpy(c->c_vhead + off, buf, n);
		if (off + n < 8)
			return;
		memcpy(&c->c_vseed, c->c_vhead, 8);
		c->c_vseed = pattern_le64(c->c_vseed);
		buf += n;
		len -= n;
		off += n;
	}
	r = pattern_check(c->c_vseed, off, buf, len);
	if (r != len) {
		c->c_bad = 1;
		c->c_bad_at = off + r;
	}
}

/* Parses "SEND <n> [<seed>]". Returns 0 or -1. */
static int
source_parse(struct conn *c)
{
	char *p, *end;
	unsigned long long v;

	if (strncmp(c->c_cmd, "SEND ", 5) != 0)
		return -1;
	p = c->c_cmd + 5;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno != 0 || end == p)
		return -1;
	c->c_src_n = v;
	c->c_src_seed = opts.seed;
	p = end;
	while (*p == ' ')
		p++;
	if (*p != '\0' && *p != '\r') {
		v = strtoull(p, &end, 0);
		if (errno != 0 || end == p)
			return -1;
		c->c_src_seed = v;
	}
	return 0;
}

/* Returns 1 when the connection was closed. */
static int
source_cmd(struct conn *c, const unsigned char *buf, size_t len)
{
	const unsigned char *nl;
	size_t n;

	nl = memchr(buf, '\n', len);
	n = nl != NULL ? (size_t)(nl - buf) : len;
	if (c->c_cmd_len + n >= CMD_MAX) {
		warnmsg("source: command line too long");
		conn_close(c, 0, 0);
		return 1;
	}
	memcpy(c->c_cmd + c->c_cmd_len, buf, n);
	c->c_cmd_len += n;
	c->c_cmd[c->c_cmd_len] = '\0';
	if (nl == NULL)
		return 0;
	if (source_parse(c) == -1) {
		warnmsg("source: bad command \"%s\"", c->c_cmd);
		conn_close(c, 0, 0);
		return 1;
	}
	c->c_src_go = 1;
	return 0;
}

/*
 * Sends pattern bytes up to the request, the budget or a full socket.
 * Returns 1 when the connection was closed, else 0.
 */
static int
source_send(struct conn *c, size_t *budget)
{
	unsigned char *buf = c->c_w->w_scratch;
	uint64_t left, lim = opts.close_after ? opts.close_after :
	    opts.rst_after;
	size_t len;
	ssize_t n;

	while (c->c_tx < c->c_src_n) {
		if (*budget == 0) {
			ready_push(c);
			return 0;
		}
		left = c->c_src_n - c->c_tx;
		if (lim != 0 && lim - c->c_tx < left)
			left = lim - c->c_tx;
		len = left < SCRATCH_SIZE ? (size_t)left : SCRATCH_SIZE;
		if (len > *budget)
			len = *budget;
		pattern_fill(c->c_src_seed, c->c_tx, buf, len);
		if (opts.corrupt && opts.corrupt_at >= c->c_tx &&
		    opts.corrupt_at < c->c_tx + len)
			buf[opts.corrupt_at - c->c_tx] ^= 0x20;
		n = write(c->c_fd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			conn_close(c, 0, errno);
			return 1;
		}
		c->c_tx += (uint64_t)n;
		*budget -= (size_t)n;
		stat_add(&stats.st_bytes_out, (uint64_t)n);
		lru_touch(c);
		if (lim != 0 && c->c_tx >= lim) {
			conn_limit(c);
			return 1;
		}
	}
	if (!c->c_src_done) {
		c->c_src_done = 1;
		shutdown(c->c_fd, SHUT_WR);
	}
	return 0;
}

/* Handles bytes read. Returns 1 when the connection was closed. */
static int
conn_data(struct conn *c, unsigned char *buf, size_t len)
{
	switch (opts.mode) {
	case MODE_ECHO:
	case MODE_GREET:
		if (opts.delay_ms > 0) {
			if (delay_enqueue(c, buf, len) == -1) {
				conn_close(c, 0, errno);
				return 1;
			}
		} else if (conn_send(c, buf, len) == -1) {
			conn_close(c, 0, errno);
			return 1;
		}
		break;
	case MODE_SINK:
		pattern_sum_update(&c->c_sum, buf, len);
		break;
	case MODE_VERIFY:
		verify_feed(c, buf, len);
		break;
	case MODE_SOURCE:
		if (!c->c_src_go)
			return source_cmd(c, buf, len);
		break;
	}
	return 0;
}

/* Called when nothing more can be done for now; ends what is done. */
static void
conn_finish(struct conn *c)
{
	char line[96];
	int n;

	if (c->c_closed || !c->c_rd_eof)
		return;
	switch (opts.mode) {
	case MODE_ECHO:
	case MODE_GREET:
		if (c->c_ob_len == 0 && c->c_delayed == 0) {
			shutdown(c->c_fd, SHUT_WR);
			conn_close(c, 0, 0);
		}
		break;
	case MODE_SINK:
	case MODE_VERIFY:
		if (!c->c_replied) {
			c->c_replied = 1;
			if (opts.mode == MODE_SINK)
				n = snprintf(line, sizeof(line),
				    "COUNT %" PRIu64 " SUM %016" PRIx64 "\n",
				    c->c_rx, pattern_sum_value(&c->c_sum));
			else if (c->c_bad) {
				n = snprintf(line, sizeof(line),
				    "BAD at %" PRIu64 "\n", c->c_bad_at);
				stat_add(&stats.st_verify_bad, 1);
			} else {
				n = snprintf(line, sizeof(line), "OK %" PRIu64
				    "\n", c->c_rx);
				stat_add(&stats.st_verify_ok, 1);
			}
			if (conn_send(c, (unsigned char *)line, (size_t)n) ==
			    -1) {
				conn_close(c, 0, errno);
				return;
			}
		}
		if (c->c_ob_len == 0) {
			shutdown(c->c_fd, SHUT_WR);
			conn_close(c, 0, 0);
		}
		break;
	case MODE_SOURCE:
		if (!c->c_src_go || c->c_src_done)
			conn_close(c, 0, 0);
		break;
	}
}

/* Reads and drops input until the peer closes, then closes. */
static void
conn_drain(struct conn *c)
{
	ssize_t n;

	for (;;) {
		n = read(c->c_fd, c->c_w->w_scratch, SCRATCH_SIZE);
		if (n > 0) {
			stat_add(&stats.st_bytes_in, (uint64_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		conn_close(c, 0, n == 0 ? 0 : errno);
		return;
	}
}

static void
conn_io(struct conn *c)
{
	struct worker *w = c->c_w;
	uint64_t lim = opts.close_after ? opts.close_after : opts.rst_after;
	size_t budget = TURN_BYTES, want;
	ssize_t n;

	if (c->c_closed)
		return;
	if (c->c_discard) {
		conn_drain(c);
		return;
	}
	if (conn_flush(c) == -1) {
		conn_close(c, 0, errno);
		return;
	}
	if (opts.mode == MODE_SOURCE && c->c_src_go && !c->c_src_done &&
	    source_send(c, &budget) == 1)
		return;
	/*
	 * Backpressure: read no more while output is stuck, except for what
	 * the delay queue must hold.
	 */
	while (!c->c_rd_eof && (opts.delay_ms > 0 ?
	    c->c_ob_len + c->c_delayed < OB_HIGH : c->c_ob_len == 0)) {
		if (budget == 0) {
			ready_push(c);
			return;
		}
		want = SCRATCH_SIZE;
		if (lim != 0 && opts.mode != MODE_SOURCE &&
		    lim - c->c_rx < want)
			want = (size_t)(lim - c->c_rx);
		n = read(c->c_fd, w->w_scratch, want);
		if (n > 0) {
			c->c_rx += (uint64_t)n;
			budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
			stat_add(&stats.st_bytes_in, (uint64_t)n);
			lru_touch(c);
			if (conn_data(c, w->w_scratch, (size_t)n) == 1)
				return;
			if (lim != 0 && opts.mode != MODE_SOURCE &&
			    c->c_rx >= lim) {
				conn_limit(c);
				return;
			}
			if (opts.mode == MODE_SOURCE && c->c_src_go &&
			    !c->c_src_done && source_send(c, &budget) == 1)
				return;
			continue;
		}
		if (n == 0) {
			c->c_rd_eof = 1;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		conn_close(c, 0, errno);
		return;
	}
	conn_finish(c);
}

static void
conn_new(struct worker *w, struct listener *l, int fd)
{
	struct epoll_event ev;
	struct conn *c;
	uint64_t act, max;
	char banner[32];
	int one = 1, n;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		stat_add(&stats.st_errors, 1);
		return;
	}
	c->c_fd = fd;
	c->c_refs = 1;
	c->c_w = w;
	c->c_lport = l->l_port;
	pattern_sum_init(&c->c_sum);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	stat_add(&stats.st_accepted, 1);
	act = atomic_fetch_add_explicit(&stats.st_active, 1,
	    memory_order_relaxed) + 1;
	max = stat_get(&stats.st_max_active);
	while (act > max && !atomic_compare_exchange_weak(
	    &stats.st_max_active, &max, act))
		;
	lru_link(c);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(w->w_ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		conn_close(c, 0, errno);
		return;
	}
	if (opts.mode == MODE_GREET) {
		n = snprintf(banner, sizeof(banner), "HELLO %u\n", l->l_port);
		if (conn_send(c, (unsigned char *)banner, (size_t)n) == -1)
			conn_close(c, 0, errno);
	}
}

static void
listener_accept(struct worker *w, struct listener *l)
{
	int fd;

	for (;;) {
		if (w->w_now < l->l_next_ok) {
			l->l_wanted = 1;
			return;
		}
		fd = accept4(l->l_fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
				l->l_wanted = 0;
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				if (!w->w_emfile_logged)
					warnmsg("accept: %s (backing off)",
					    strerror(errno));
				w->w_emfile_logged = 1;
				stat_add(&stats.st_errors, 1);
				l->l_next_ok = w->w_now + 100;
				l->l_wanted = 1;
				return;
			default:
				warnmsg("accept: %s", strerror(errno));
				l->l_next_ok = w->w_now + 100;
				l->l_wanted = 1;
				return;
			}
		}
		conn_new(w, l, fd);
		if (opts.accept_delay_ms > 0) {
			l->l_next_ok = w->w_now + opts.accept_delay_ms;
			l->l_wanted = 1;
			return;
		}
	}
}

/* Milliseconds epoll_wait may sleep: until the next timer, at most 1 s. */
static int
next_timeout(struct worker *w)
{
	uint64_t t = w->w_now + 1000;
	int i;

	if (w->w_ready != NULL)
		return 0;
	if (w->w_dq_head != NULL && w->w_dq_head->ch_due < t)
		t = w->w_dq_head->ch_due;
	if (opts.idle_close_ms > 0 && w->w_lru.c_lru_next != &w->w_lru &&
	    w->w_lru.c_lru_next->c_last_ms + opts.idle_close_ms < t)
		t = w->w_lru.c_lru_next->c_last_ms + opts.idle_close_ms;
	for (i = 0; i < w->w_nls; i++)
		if (w->w_ls[i].l_wanted && w->w_ls[i].l_next_ok < t)
			t = w->w_ls[i].l_next_ok;
	return t <= w->w_now ? 0 : (int)(t - w->w_now);
}

static void
timers_run(struct worker *w)
{
	struct conn *c;
	int i;

	delay_run(w);
	while (opts.idle_close_ms > 0 &&
	    (c = w->w_lru.c_lru_next) != &w->w_lru &&
	    c->c_last_ms + opts.idle_close_ms <= w->w_now) {
		stat_add(&stats.st_idle_closes, 1);
		conn_close(c, 0, 0);
	}
	for (i = 0; i < w->w_nls; i++)
		if (w->w_ls[i].l_wanted && w->w_ls[i].l_next_ok <= w->w_now)
			listener_accept(w, &w->w_ls[i]);
}

static void
dead_reap(struct worker *w)
{
	struct conn *c;

	while ((c = w->w_dead) != NULL) {
		w->w_dead = c->c_dead_next;
		free(c);
	}
}

/* At exit: closes what is open and frees everything the worker holds. */
static void
worker_free(struct worker *w)
{
	struct chunk *ch;
	struct conn *c;
	int i;

	while ((c = w->w_ready) != NULL) {
		w->w_ready = c->c_ready_next;
		conn_unref(c);
	}
	while ((c = w->w_lru.c_lru_next) != &w->w_lru)
		conn_close(c, 0, 0);
	while ((ch = w->w_dq_head) != NULL) {
		w->w_dq_head = ch->ch_next;
		conn_unref(ch->ch_conn);
		free(ch);
	}
	w->w_dq_tail = NULL;
	dead_reap(w);
	for (i = 0; i < w->w_nls; i++)
		close(w->w_ls[i].l_fd);
	close(w->w_ep);
	close(w->w_wake);
	free(w->w_scratch);
	w->w_scratch = NULL;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[MAX_EVENTS];
	struct conn *c, *list;
	uint64_t tag, junk;
	int i, n;

	while (!atomic_load(&stopping)) {
		w->w_now = now_ms();
		n = epoll_wait(w->w_ep, evs, MAX_EVENTS, next_timeout(w));
		if (n == -1 && errno != EINTR) {
			warnmsg("epoll_wait: %s", strerror(errno));
			break;
		}
		w->w_now = now_ms();
		for (i = 0; i < n; i++) {
			tag = evs[i].data.u64;
			if (tag == TAG_WAKE) {
				while (read(w->w_wake, &junk, sizeof(junk)) > 0)
					;
			} else if (tag >= TAG_LISTEN &&
			    tag < TAG_LISTEN + MAX_LISTEN) {
				listener_accept(w, &w->w_ls[tag - TAG_LISTEN]);
			} else
				conn_io(evs[i].data.ptr);
		}
		list = w->w_ready;
		w->w_ready = NULL;
		while ((c = list) != NULL) {
			list = c->c_ready_next;
			c->c_in_ready = 0;
			conn_io(c);
			conn_unref(c);
		}
		timers_run(w);
		dead_reap(w);
	}
	worker_free(w);
	return NULL;
}

/* ---- startup, signals, stats ------------------------------------------ */

static int
listen_socket(struct listen_addr *la, int reuseport)
{
	int fd, one = 1;

	fd = socket(la->la_ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (la->la_ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		die("SO_REUSEPORT: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&la->la_ss, la->la_len) == -1)
		die("bind %s: %s", la->la_text, strerror(errno));
	return fd;
}

/*
 * With several threads every thread gets its own SO_REUSEPORT socket. A
 * plain bind first makes sure no other process already holds the port
 * (SO_REUSEPORT would silently share it) and resolves port 0.
 */
static void
listeners_open(struct worker *ws)
{
	struct listen_addr *la;
	struct sockaddr_storage ss;
	socklen_t sl;
	int i, t, fd;

	for (i = 0; i < opts.nlisten; i++) {
		la = &opts.listen[i];
		format_addr(la);
		fd = listen_socket(la, 0);
		sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
			die("getsockname: %s", strerror(errno));
		set_port(la, ntohs(ss.ss_family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port));
		format_addr(la);
		if (opts.threads > 1) {
			close(fd);
			fd = -1;
		}
		for (t = 0; t < opts.threads; t++) {
			if (fd == -1)
				fd = listen_socket(la, 1);
			if (listen(fd, opts.backlog) == -1)
				die("listen %s: %s", la->la_text,
				    strerror(errno));
			ws[t].w_ls[i].l_fd = fd;
			ws[t].w_ls[i].l_port = la->la_port;
			fd = -1;
		}
	}
}

static void
worker_init(struct worker *w, int id)
{
	struct epoll_event ev;
	int i;

	w->w_id = id;
	w->w_nls = opts.nlisten;
	w->w_lru.c_lru_next = w->w_lru.c_lru_prev = &w->w_lru;
	w->w_scratch = malloc(SCRATCH_SIZE);
	w->w_ep = epoll_create1(EPOLL_CLOEXEC);
	w->w_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->w_scratch == NULL || w->w_ep == -1 || w->w_wake == -1)
		die("worker setup: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.u64 = TAG_WAKE;
	if (epoll_ctl(w->w_ep, EPOLL_CTL_ADD, w->w_wake, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	for (i = 0; i < w->w_nls; i++) {
		ev.events = EPOLLIN | EPOLLET;
		ev.data.u64 = TAG_LISTEN + (uint64_t)i;
		if (epoll_ctl(w->w_ep, EPOLL_CTL_ADD, w->w_ls[i].l_fd,
		    &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
	}
}

static void
write_file(const char *path, const char *text)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		warnmsg("path too long: %s", path);
		return;
	}
	f = fopen(tmp, "w");
	if (f == NULL) {
		warnmsg("%s: %s", tmp, strerror(errno));
		return;
	}
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, path) == -1)
		warnmsg("%s: %s", path, strerror(errno));
}

static void
stats_write(void)
{
	char buf[1024];

	if (opts.stats_file == NULL)
		return;
	snprintf(buf, sizeof(buf),
	    "accepted=%" PRIu64 "\nactive=%" PRIu64 "\nmax_active=%" PRIu64
	    "\nclosed=%" PRIu64 "\nbytes_in=%" PRIu64 "\nbytes_out=%" PRIu64
	    "\nresets=%" PRIu64 "\nerrors=%" PRIu64 "\nlimit_closes=%" PRIu64
	    "\nidle_closes=%" PRIu64 "\nverify_ok=%" PRIu64
	    "\nverify_bad=%" PRIu64 "\n",
	    stat_get(&stats.st_accepted), stat_get(&stats.st_active),
	    stat_get(&stats.st_max_active), stat_get(&stats.st_closed),
	    stat_get(&stats.st_bytes_in), stat_get(&stats.st_bytes_out),
	    stat_get(&stats.st_resets), stat_get(&stats.st_errors),
	    stat_get(&stats.st_limit_closes), stat_get(&stats.st_idle_closes),
	    stat_get(&stats.st_verify_ok), stat_get(&stats.st_verify_bad));
	write_file(opts.stats_file, buf);
}

static enum mode
parse_mode(const char *s)
{
	static const struct {
		const char *name;
		enum mode mode;
	} modes[] = {
		{ "echo", MODE_ECHO },
		{ "sink", MODE_SINK },
		{ "source", MODE_SOURCE },
		{ "verify", MODE_VERIFY },
		{ "greet", MODE_GREET },
	};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(s, modes[i].name) == 0)
			return modes[i].mode;
	die("unknown mode \"%s\"", s);
}

static void
parse_args(int argc, char **argv)
{
	enum {
		O_LISTEN = 256, O_MODE, O_DELAY, O_ACCEPT_DELAY, O_CLOSE_AFTER,
		O_RST_AFTER, O_IDLE, O_THREADS, O_BACKLOG, O_SEED, O_CORRUPT,
		O_STATS, O_PIDFILE,
	};
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "mode", required_argument, NULL, O_MODE },
		{ "delay-ms", required_argument, NULL, O_DELAY },
		{ "accept-delay-ms", required_argument, NULL, O_ACCEPT_DELAY },
		{ "close-after-bytes", required_argument, NULL, O_CLOSE_AFTER },
		{ "rst-after-bytes", required_argument, NULL, O_RST_AFTER },
		{ "idle-close-ms", required_argument, NULL, O_IDLE },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "backlog", required_argument, NULL, O_BACKLOG },
		{ "seed", required_argument, NULL, O_SEED },
		{ "corrupt-at", required_argument, NULL, O_CORRUPT },
		{ "stats-file", required_argument, NULL, O_STATS },
		{ "pidfile", required_argument, NULL, O_PIDFILE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, have_mode = 0;
	uint64_t v;

	opts.threads = 1;
	opts.backlog = 4096;
	opts.seed = 1;
	while ((ch = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (ch) {
		case O_LISTEN:
			if (opts.nlisten == MAX_LISTEN)
				die("at most %d --listen", MAX_LISTEN);
			parse_addr(optarg, &opts.listen[opts.nlisten++]);
			break;
		case O_MODE:
			opts.mode = parse_mode(optarg);
			have_mode = 1;
			break;
		case O_DELAY:
			opts.delay_ms = parse_u64("--delay-ms", optarg);
			break;
		case O_ACCEPT_DELAY:
			opts.accept_delay_ms = parse_u64("--accept-delay-ms",
			    optarg);
			break;
		case O_CLOSE_AFTER:
			opts.close_after = parse_u64("--close-after-bytes",
			    optarg);
			break;
		case O_RST_AFTER:
			opts.rst_after = parse_u64("--rst-after-bytes", optarg);
			break;
		case O_IDLE:
			opts.idle_close_ms = parse_u64("--idle-close-ms",
			    optarg);
			break;
		case O_THREADS:
			v = parse_u64("--threads", optarg);
			if (v < 1 || v > MAX_THREADS)
				die("--threads: 1 to %d", MAX_THREADS);
			opts.threads = (int)v;
			break;
		case O_BACKLOG:
			v = parse_u64("--backlog", optarg);
			if (v < 1 || v > 65535)
				die("--backlog: 1 to 65535");
			opts.backlog = (int)v;
			break;
		case O_SEED:
			opts.seed = parse_u64("--seed", optarg);
			break;
		case O_CORRUPT:
			opts.corrupt_at = parse_u64("--corrupt-at", optarg);
			opts.corrupt = 1;
			break;
		case O_STATS:
			opts.stats_file = optarg;
			break;
		case O_PIDFILE:
			opts.pidfile = optarg;
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
	if (opts.nlisten == 0 || !have_mode)
		usage(stderr);
	if (opts.close_after != 0 && opts.rst_after != 0)
		die("--close-after-bytes and --rst-after-bytes exclude each "
		    "other");
}

int
main(int argc, char **argv)
{
	static struct worker ws[MAX_THREADS];
	static const char *mode_names[] = { "echo", "sink", "source",
	    "verify", "greet" };
	sigset_t set;
	char buf[64];
	int i, sig, err;

	parse_args(argc, argv);
	pattern_init();
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	listeners_open(ws);
	for (i = 0; i < opts.threads; i++)
		worker_init(&ws[i], i);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < opts.threads; i++) {
		err = pthread_create(&ws[i].w_thr, NULL, worker_main, &ws[i]);
		if (err != 0)
			die("pthread_create: %s", strerror(err));
	}
	if (opts.pidfile != NULL) {
		snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
		write_file(opts.pidfile, buf);
	}
	stats_write();
	for (i = 0; i < opts.nlisten; i++)
		printf("tfwd-backend: %s listening on %s (threads %d)\n",
		    mode_names[opts.mode], opts.listen[i].la_text,
		    opts.threads);
	fflush(stdout);

	for (;;) {
		sig = sigwaitinfo(&set, NULL);
		if (sig == SIGUSR1) {
			stats_write();
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	atomic_store(&stopping, 1);
	for (i = 0; i < opts.threads; i++) {
		uint64_t one = 1;

		if (write(ws[i].w_wake, &one, sizeof(one)) == -1)
			warnmsg("wake: %s", strerror(errno));
	}
	for (i = 0; i < opts.threads; i++)
		pthread_join(ws[i].w_thr, NULL);
	stats_write();
	if (opts.pidfile != NULL)
		unlink(opts.pidfile);
	return 0;
}
