/*
 * The candidate list parser: ip_list.txt into sorted, duplicate-free
 * single addresses and CIDR ranges kept as ranges. Every bad line is
 * collected with its line number. Control plane only.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iplist.h"

#define IPLIST_HINT \
	"(expected e.g. 1.2.3.4, 1.2.3.4:80, [2001:db8::1]:80, 10.0.0.0/24)"

/* What the parser accumulates; copied into a struct iplist on success. */
struct parse {
	const char		*p_name;
	uint16_t		 p_port;
	struct iplist_errors	*p_errs;
	unsigned		 p_nerrors;
	struct addr		*p_addrs;
	size_t			 p_naddrs;
	size_t			 p_addrcap;
	struct addr_prefix	*p_ranges;
	size_t			 p_nranges;
	size_t			 p_rangecap;
};

static void	parse_error(struct parse *, unsigned, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * Records one error as "name:line: message" ("name: message" for line 0).
 * Past IPLIST_MAX_ERRORS only the count grows.
 */
static void
parse_error(struct parse *ps, unsigned line, const char *fmt, ...)
{
	struct iplist_errors *errs = ps->p_errs;
	char *msg;
	size_t len, n;
	va_list ap;
	int w;

	ps->p_nerrors++;
	if (errs == NULL)
		return;
	if (errs->ie_count >= IPLIST_MAX_ERRORS) {
		errs->ie_dropped++;
		return;
	}
	msg = errs->ie_msgs[errs->ie_count++];
	len = sizeof(errs->ie_msgs[0]);
	if (line > 0)
		w = snprintf(msg, len, "%s:%u: ", ps->p_name, line);
	else
		w = snprintf(msg, len, "%s: ", ps->p_name);
	n = w < 0 ? 0 : (size_t)w;
	if (n >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(msg + n, len - n, fmt, ap);
	va_end(ap);
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Copies n bytes of s for quoting in a message, control bytes as '?'. */
static void
printable(const char *s, size_t n, char *buf, size_t buflen)
{
	size_t i;

	if (buflen == 0)
		return;
	if (n >= buflen)
		n = buflen - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	buf[n] = '\0';
}

static bool
is_multicast(const struct addr *a)
{
	if (a->family == AF_INET)
		return a->ip[0] >= 224 && a->ip[0] <= 239;
	return a->ip[0] == 0xff;
}

static int
push_addr(struct parse *ps, const struct addr *a)
{
	struct addr *na;
	size_t cap;

	if (ps->p_naddrs == ps->p_addrcap) {
		cap = ps->p_addrcap == 0 ? 64 : ps->p_addrcap * 2;
		na = reallocarray(ps->p_addrs, cap, sizeof(*na));
		if (na == NULL)
			return -1;
		ps->p_addrs = na;
		ps->p_addrcap = cap;
	}
	ps->p_addrs[ps->p_naddrs++] = *a;
	return 0;
}

static int
push_range(struct parse *ps, const struct addr_prefix *p)
{
	struct addr_prefix *np;
	size_t cap;

	if (ps->p_nranges == ps->p_rangecap) {
		cap = ps->p_rangecap == 0 ? 16 : ps->p_rangecap * 2;
		np = reallocarray(ps->p_ranges, cap, sizeof(*np));
		if (np == NULL)
			return -1;
		ps->p_ranges = np;
		ps->p_rangecap = cap;
	}
	ps->p_ranges[ps->p_nranges++] = *p;
	return 0;
}

/* "[...]" with nothing after the bracket: brackets exist for a port. */
static bool
brackets_without_port(const char *tok)
{
	const char *close;

	if (tok[0] != '[')
		return false;
	close = strchr(tok, ']');
	return close != NULL && close[1] == '\0';
}

/* A single address, from "ip[:port]" or a full-length prefix. */
static int
add_single(struct parse *ps, unsigned line, const char *shown,
    const struct addr *a)
{
	if (addr_is_any(a)) {
		parse_error(ps, line, "\"%s\": the unspecified address is "
		    "not a backend", shown);
		return 0;
	}
	if (is_multicast(a)) {
		parse_error(ps, line, "\"%s\": a multicast address is not "
		    "a backend", shown);
		return 0;
	}
	return push_addr(ps, a);
}

/*
 * One entry, already cut from its line. Returns -1 only when memory runs
 * out; a bad entry is recorded and the parse goes on.
 */
static int
parse_entry(struct parse *ps, unsigned line, const char *tok)
{
	struct addr_prefix p;
	struct addr a;
	char err[128], shown[IPLIST_MAX_LINE + 1];
	unsigned full;

	/* Messages quote the entry; control bytes must not reach a tty. */
	printable(tok, strlen(tok), shown, sizeof(shown));
	if (strchr(tok, '/') != NULL) {
		if (addr_prefix_parse(tok, ps->p_port, &p, err,
		    sizeof(err)) == -1) {
			/* addr.c already names the network it meant. */
			if (strncmp(err, "host bits set", 13) == 0)
				parse_error(ps, line, "\"%s\": %s", shown,
				    err);
			else
				parse_error(ps, line, "\"%s\": %s "
				    IPLIST_HINT, shown, err);
			return 0;
		}
		if (brackets_without_port(tok)) {
			parse_error(ps, line, "\"%s\": brackets without a "
			    "port " IPLIST_HINT, shown);
			return 0;
		}
		full = p.base.family == AF_INET ? 32 : 128;
		if (p.prefix_len == full)
			return add_single(ps, line, shown, &p.base);
		return push_range(ps, &p);
	}
	if (addr_parse(tok, ps->p_port, &a, err, sizeof(err)) == -1) {
		parse_error(ps, line, "\"%s\": %s " IPLIST_HINT, shown, err);
		return 0;
	}
	if (brackets_without_port(tok)) {
		parse_error(ps, line, "\"%s\": brackets without a port "
		    IPLIST_HINT, shown);
		return 0;
	}
	return add_single(ps, line, shown, &a);
}

/* One line without its "\n". Returns -1 only when memory runs out. */
static int
parse_line(struct parse *ps, unsigned line, const char *s, size_t len)
{
	char tok[IPLIST_MAX_LINE + 1], shown[IPLIST_MAX_LINE + 1];
	size_t i, start, tokend, end;

	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len > IPLIST_MAX_LINE) {
		parse_error(ps, line, "line too long (%zu characters, at "
		    "most %d)", len, IPLIST_MAX_LINE);
		return 0;
	}
	if (memchr(s, '\0', len) != NULL) {
		parse_error(ps, line, "NUL byte in the line");
		return 0;
	}
	for (i = 0; i < len && is_space(s[i]); i++)
		;
	if (i == len || s[i] == '#')
		return 0;
	start = i;
	while (i < len && !is_space(s[i]))
		i++;
	tokend = i;

	/* The entry ends where a comment (after whitespace) begins. */
	for (end = tokend; end < len; end++)
		if (s[end] == '#' && is_space(s[end - 1]))
			break;
	while (end > tokend && is_space(s[end - 1]))
		end--;

	memcpy(tok, s + start, tokend - start);
	tok[tokend - start] = '\0';
	if (end > tokend) {
		printable(s + start, end - start, shown, sizeof(shown));
		parse_error(ps, line, "\"%s\": unexpected text after the "
		    "entry " IPLIST_HINT, shown);
		return 0;
	}
	return parse_entry(ps, line, tok);
}

static int
addr_cmp(const void *a, const void *b)
{
	return addr_compare(a, b);
}

/*
 * Ranges by family, port, network address, then shorter prefix first: a
 * range that lies inside another with the same port then follows it.
 */
static int
range_cmp(const void *pa, const void *pb)
{
	const struct addr_prefix *a = pa, *b = pb;
	int c;

	if (a->base.family != b->base.family)
		return a->base.family < b->base.family ? -1 : 1;
	if (a->base.port != b->base.port)
		return a->base.port < b->base.port ? -1 : 1;
	if ((c = memcmp(a->base.ip, b->base.ip, addr_ip_len(&a->base))) != 0)
		return c < 0 ? -1 : 1;
	if (a->prefix_len != b->prefix_len)
		return a->prefix_len < b->prefix_len ? -1 : 1;
	return 0;
}

/* Sorts both arrays, drops duplicates and nested ranges. */
static void
normalize(struct parse *ps)
{
	struct addr_prefix *r = ps->p_ranges, *last;
	struct addr *a = ps->p_addrs;
	size_t i, n;

	if (ps->p_naddrs > 1) {
		qsort(a, ps->p_naddrs, sizeof(*a), addr_cmp);
		for (i = 1, n = 1; i < ps->p_naddrs; i++)
			if (addr_compare(&a[n - 1], &a[i]) != 0)
				a[n++] = a[i];
		ps->p_naddrs = n;
	}
	if (ps->p_nranges > 1) {
		qsort(r, ps->p_nranges, sizeof(*r), range_cmp);
		for (i = 1, n = 1; i < ps->p_nranges; i++) {
			last = &r[n - 1];
			/*
			 * CIDR ranges nest or are disjoint; in this order a
			 * nested one comes right after its container (or
			 * after another range nested in it, already dropped).
			 */
			if (last->base.family == r[i].base.family &&
			    last->base.port == r[i].base.port &&
			    addr_prefix_contains(last, &r[i].base))
				continue;
			r[n++] = r[i];
		}
		ps->p_nranges = n;
	}
}

/* Gives back the spare capacity; keeps the larger block if that fails. */
static void *
shrink(void *p, size_t n, size_t size)
{
	void *np;

	if (n == 0) {
		free(p);
		return NULL;
	}
	np = reallocarray(p, n, size);
	return np != NULL ? np : p;
}

int
iplist_parse(const char *text, size_t len, const char *name,
    uint16_t default_port, struct iplist *out, struct iplist_errors *errs)
{
	struct parse ps;
	const char *s, *nl, *end;
	unsigned line = 0;

	memset(&ps, 0, sizeof(ps));
	ps.p_name = name != NULL ? name : "<input>";
	ps.p_port = default_port;
	ps.p_errs = errs;
	if (errs != NULL) {
		errs->ie_count = 0;
		errs->ie_dropped = 0;
	}

	s = text;
	end = text + len;
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL)
			nl = end;
		line++;
		if (parse_line(&ps, line, s, (size_t)(nl - s)) == -1) {
			parse_error(&ps, 0, "out of memory");
			goto fail_free;
		}
		s = nl + 1;
	}
	if (ps.p_nerrors > 0)
		goto fail_free;
	if (ps.p_naddrs == 0 && ps.p_nranges == 0) {
		parse_error(&ps, 0, "no backends listed " IPLIST_HINT);
		goto fail_free;
	}

	normalize(&ps);
	out->il_addrs = shrink(ps.p_addrs, ps.p_naddrs, sizeof(struct addr));
	out->il_naddrs = ps.p_naddrs;
	out->il_ranges = shrink(ps.p_ranges, ps.p_nranges,
	    sizeof(struct addr_prefix));
	out->il_nranges = ps.p_nranges;
	return 0;

fail_free:
	free(ps.p_addrs);
	free(ps.p_ranges);
	return -1;
}

/*
 * Reads the whole file into a new buffer. Returns 0, or -1 with a reason
 * in why.
 */
static int
read_file(const char *path, char **bufp, size_t *lenp, char *why,
    size_t whylen)
{
	struct stat st;
	char *buf, *nbuf;
	size_t len = 0, cap;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whylen, "cannot read: %s", strerror(errno));
		goto fail_close;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "cannot read: %s", strerror(EISDIR));
		goto fail_close;
	}
	if (S_ISREG(st.st_mode) && st.st_size > IPLIST_MAX_FILE_SIZE)
		goto fail_too_large;
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
	if ((buf = malloc(cap)) == NULL) {
		snprintf(why, whylen, "cannot read: %s", strerror(ENOMEM));
		goto fail_close;
	}
	for (;;) {
		if (len == cap) {
			if (cap > IPLIST_MAX_FILE_SIZE)
				goto fail_free_too_large;
			cap *= 2;
			if (cap > (size_t)IPLIST_MAX_FILE_SIZE + 1)
				cap = (size_t)IPLIST_MAX_FILE_SIZE + 1;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				snprintf(why, whylen, "cannot read: %s",
				    strerror(ENOMEM));
				goto fail_free;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whylen, "cannot read: %s",
			    strerror(errno));
			goto fail_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > IPLIST_MAX_FILE_SIZE)
		goto fail_free_too_large;
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;

fail_free_too_large:
	free(buf);
fail_too_large:
	snprintf(why, whylen, "file too large (more than %u MiB)",
	    IPLIST_MAX_FILE_SIZE >> 20);
	close(fd);
	return -1;
fail_free:
	free(buf);
fail_close:
	close(fd);
	return -1;
}

int
iplist_load(const char *path, uint16_t default_port, struct iplist *out,
    struct iplist_errors *errs)
{
	struct parse ps;
	char why[128], *buf;
	size_t len;
	int rc;

	if (read_file(path, &buf, &len, why, sizeof(why)) == -1) {
		memset(&ps, 0, sizeof(ps));
		ps.p_name = path;
		ps.p_errs = errs;
		if (errs != NULL) {
			errs->ie_count = 0;
			errs->ie_dropped = 0;
		}
		parse_error(&ps, 0, "%s", why);
		return -1;
	}
	rc = iplist_parse(buf, len, path, default_port, out, errs);
	free(buf);
	return rc;
}

void
iplist_free(struct iplist *l)
{
	if (l == NULL)
		return;
	free(l->il_addrs);
	free(l->il_ranges);
	memset(l, 0, sizeof(*l));
}

size_t
iplist_naddrs(const struct iplist *l)
{
	return l->il_naddrs;
}

size_t
iplist_nranges(const struct iplist *l)
{
	return l->il_nranges;
}

unsigned
iplist_range_bits(const struct addr_prefix *p)
{
	unsigned full = p->base.family == AF_INET ? 32 : 128;

	return p->prefix_len >= full ? 0 : full - p->prefix_len;
}

double
iplist_range_size(const struct addr_prefix *p)
{
	unsigned bits = iplist_range_bits(p);
	double n = ldexp(1.0, (int)bits);

	if (p->base.family == AF_INET && bits >= 2)
		n -= 2;
	return n;
}

uint64_t
iplist_candidates(const struct iplist *l)
{
	uint64_t total = l->il_naddrs, n;
	unsigned bits;
	size_t i;

	for (i = 0; i < l->il_nranges; i++) {
		bits = iplist_range_bits(&l->il_ranges[i]);
		if (bits >= 64)
			return UINT64_MAX;
		n = (uint64_t)1 << bits;
		if (l->il_ranges[i].base.family == AF_INET && bits >= 2)
			n -= 2;
		if (total > UINT64_MAX - n)
			return UINT64_MAX;
		total += n;
	}
	return total;
}
