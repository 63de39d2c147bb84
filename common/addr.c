/*
 * Socket addresses as plain values: strict parsing of "ip", "ip:port",
 * "[v6]:port" and CIDR prefixes, formatting, sockaddr conversion and
 * ordering. Used by both daemons, the config loader and proto/.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* Longest text either parser looks at: "[" v6 "/128]:65535" and a margin. */
#define ADDR_TEXT_MAX 64

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

static bool
has_space(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
			return true;
	return false;
}

static bool
only_digits_and_dots(const char *s)
{
	for (; *s != '\0'; s++)
		if ((*s < '0' || *s > '9') && *s != '.')
			return false;
	return true;
}

/*
 * The checks every form shares: not empty, not absurdly long, no
 * whitespace anywhere. Copies s into buf so it can be cut in place.
 */
static int
copy_text(const char *s, char *buf, size_t buflen, char *err, size_t errlen)
{
	size_t len;

	if (s == NULL || *s == '\0') {
		set_err(err, errlen, "empty address");
		return -1;
	}
	len = strlen(s);
	if (len >= buflen) {
		set_err(err, errlen, "address too long");
		return -1;
	}
	if (has_space(s)) {
		set_err(err, errlen, "unexpected whitespace");
		return -1;
	}
	memcpy(buf, s, len + 1);
	return 0;
}

/* Digits only, 1..65535. An empty string is a missing port. */
static int
parse_port(const char *s, uint16_t *port, char *err, size_t errlen)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0') {
		set_err(err, errlen, "missing port after \":\"");
		return -1;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			set_err(err, errlen, "port must be digits");
			return -1;
		}
		if (v <= 65535)
			v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > 65535) {
		set_err(err, errlen, "port must be 1 to 65535");
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

static int
parse_ip4(const char *s, struct addr *a, char *err, size_t errlen)
{
	if (inet_pton(AF_INET, s, a->ip) != 1) {
		if (only_digits_and_dots(s))
			set_err(err, errlen, "invalid IPv4 address");
		else
			set_err(err, errlen, "not an IP address");
		return -1;
	}
	a->family = AF_INET;
	return 0;
}

static int
parse_ip6(const char *s, struct addr *a, char *err, size_t errlen)
{
	if (inet_pton(AF_INET6, s, a->ip) != 1) {
		set_err(err, errlen, "invalid IPv6 address");
		return -1;
	}
	a->family = AF_INET6;
	return 0;
}

/* The port part after an address: "" (default) or ":port". */
static int
parse_port_suffix(const char *s, uint16_t default_port, uint16_t *port,
    char *err, size_t errlen)
{
	if (*s == '\0') {
		if (default_port == 0) {
			set_err(err, errlen, "missing port");
			return -1;
		}
		*port = default_port;
		return 0;
	}
	if (*s != ':') {
		set_err(err, errlen, "unexpected text after \"]\"");
		return -1;
	}
	return parse_port(s + 1, port, err, errlen);
}

/*
 * Splits "[inner]rest": returns a pointer to rest and cuts buf at "]".
 * buf starts with "[".
 */
static char *
split_brackets(char *buf, char *err, size_t errlen)
{
	char *close;

	close = strchr(buf, ']');
	if (close == NULL) {
		set_err(err, errlen, "missing \"]\"");
		return NULL;
	}
	*close = '\0';
	return close + 1;
}

int
addr_parse(const char *s, uint16_t default_port, struct addr *out,
    char *err, size_t errlen)
{
	char buf[ADDR_TEXT_MAX];
	struct addr a;
	char *rest, *colon;

	if (copy_text(s, buf, sizeof(buf), err, errlen) == -1)
		return -1;
	memset(&a, 0, sizeof(a));

	if (buf[0] == '[') {
		if ((rest = split_brackets(buf, err, errlen)) == NULL)
			return -1;
		if (strchr(buf + 1, ':') == NULL) {
			set_err(err, errlen,
			    "brackets are only for IPv6 addresses");
			return -1;
		}
		if (parse_ip6(buf + 1, &a, err, errlen) == -1)
			return -1;
		if (parse_port_suffix(rest, default_port, &a.port, err,
		    errlen) == -1)
			return -1;
		*out = a;
		return 0;
	}

	colon = strchr(buf, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		/* Two colons or more: a bare IPv6 address, no port. */
		if (parse_ip6(buf, &a, err, errlen) == -1)
			return -1;
		if (parse_port_suffix("", default_port, &a.port, err,
		    errlen) == -1)
			return -1;
		*out = a;
		return 0;
	}

	if (colon != NULL)
		*colon = '\0';
	if (parse_ip4(buf, &a, err, errlen) == -1)
		return -1;
	if (colon != NULL) {
		if (parse_port(colon + 1, &a.port, err, errlen) == -1)
			return -1;
	} else if (parse_port_suffix("", default_port, &a.port, err,
	    errlen) == -1)
		return -1;
	*out = a;
	return 0;
}

/* "len" after the slash: digits, at most the family's bit count. */
static int
parse_prefix_len(const char *s, unsigned maxlen, uint8_t *len, char *err,
    size_t errlen)
{
	unsigned v = 0;
	const char *p;
	char msg[64];

	if (*s == '\0') {
		set_err(err, errlen, "missing prefix length after \"/\"");
		return -1;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			set_err(err, errlen,
			    "prefix length must be digits");
			return -1;
		}
		if (v <= 128)
			v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > maxlen) {
		snprintf(msg, sizeof(msg),
		    "prefix length must be 0 to %u", maxlen);
		set_err(err, errlen, msg);
		return -1;
	}
	*len = (uint8_t)v;
	return 0;
}

/* Clears host bits of a into net; true when any was set. */
static bool
mask_host_bits(const struct addr *a, uint8_t prefix_len, struct addr *net)
{
	size_t i, n = addr_ip_len(a);
	unsigned bits;
	uint8_t mask;
	bool changed = false;

	*net = *a;
	for (i = 0; i < n; i++) {
		bits = prefix_len > i * 8 ? prefix_len - (unsigned)(i * 8) : 0;
		mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		if ((net->ip[i] & ~mask) != 0)
			changed = true;
		net->ip[i] &= mask;
	}
	return changed;
}

static int
finish_prefix(struct addr *a, const char *lentext, struct addr_prefix *out,
    char *err, size_t errlen)
{
	struct addr net;
	uint8_t len;
	char ip[INET6_ADDRSTRLEN], msg[128];

	if (parse_prefix_len(lentext, a->family == AF_INET ? 32 : 128, &len,
	    err, errlen) == -1)
		return -1;
	if (mask_host_bits(a, len, &net)) {
		snprintf(msg, sizeof(msg), "host bits set (network is %s/%u)",
		    addr_format_ip(&net, ip, sizeof(ip)), (unsigned)len);
		set_err(err, errlen, msg);
		return -1;
	}
	out->base = net;
	out->prefix_len = len;
	return 0;
}

int
addr_prefix_parse(const char *s, uint16_t default_port,
    struct addr_prefix *out, char *err, size_t errlen)
{
	char buf[ADDR_TEXT_MAX];
	struct addr a;
	char *rest, *slash, *colon;

	if (copy_text(s, buf, sizeof(buf), err, errlen) == -1)
		return -1;
	memset(&a, 0, sizeof(a));

	if (buf[0] == '[') {
		if ((rest = split_brackets(buf, err, errlen)) == NULL)
			return -1;
		if ((slash = strchr(buf + 1, '/')) == NULL) {
			set_err(err, errlen,
			    "missing \"/len\" inside the brackets");
			return -1;
		}
		*slash = '\0';
		if (strchr(buf + 1, ':') == NULL) {
			set_err(err, errlen,
			    "brackets are only for IPv6 addresses");
			return -1;
		}
		if (parse_ip6(buf + 1, &a, err, errlen) == -1)
			return -1;
		if (parse_port_suffix(rest, default_port, &a.port, err,
		    errlen) == -1)
			return -1;
		return finish_prefix(&a, slash + 1, out, err, errlen);
	}

	if ((slash = strchr(buf, '/')) == NULL) {
		set_err(err, errlen, "missing prefix length \"/len\"");
		return -1;
	}
	*slash = '\0';
	if (strchr(buf, ':') != NULL) {
		if (parse_ip6(buf, &a, err, errlen) == -1)
			return -1;
		if (strchr(slash + 1, ':') != NULL) {
			set_err(err, errlen, "an IPv6 range with a port needs "
			    "brackets: [ipv6/len]:port");
			return -1;
		}
		if (parse_port_suffix("", default_port, &a.port, err,
		    errlen) == -1)
			return -1;
		return finish_prefix(&a, slash + 1, out, err, errlen);
	}
	if (parse_ip4(buf, &a, err, errlen) == -1)
		return -1;
	if ((colon = strchr(slash + 1, ':')) != NULL) {
		*colon = '\0';
		if (parse_port(colon + 1, &a.port, err, errlen) == -1)
			return -1;
	} else if (parse_port_suffix("", default_port, &a.port, err,
	    errlen) == -1)
		return -1;
	return finish_prefix(&a, slash + 1, out, err, errlen);
}

char *
addr_format_ip(const struct addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (len == 0)
		return buf;
	if ((a->family != AF_INET && a->family != AF_INET6) ||
	    inet_ntop(a->family, a->ip, ip, sizeof(ip)) == NULL)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s", ip);
	return buf;
}

char *
addr_format(const struct addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (len == 0)
		return buf;
	addr_format_ip(a, ip, sizeof(ip));
	if (a->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, (unsigned)a->port);
	else
		snprintf(buf, len, "%s:%u", ip, (unsigned)a->port);
	return buf;
}

socklen_t
addr_to_sockaddr(const struct addr *a, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	memset(ss, 0, sizeof(*ss));
	switch (a->family) {
	case AF_INET:
		sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->ip, 4);
		return sizeof(*sin);
	case AF_INET6:
		sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, a->ip, 16);
		return sizeof(*sin6);
	default:
		return 0;
	}
}

int
addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
    struct addr *out)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
		return -1;
	switch (sa->sa_family) {
	case AF_INET:
		if (len < (socklen_t)sizeof(*sin))
			return -1;
		sin = (const struct sockaddr_in *)(const void *)sa;
		a.family = AF_INET;
		a.port = ntohs(sin->sin_port);
		memcpy(a.ip, &sin->sin_addr, 4);
		break;
	case AF_INET6:
		if (len < (socklen_t)sizeof(*sin6))
			return -1;
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		a.family = AF_INET6;
		a.port = ntohs(sin6->sin6_port);
		memcpy(a.ip, &sin6->sin6_addr, 16);
		break;
	default:
		return -1;
	}
	*out = a;
	return 0;
}

size_t
addr_ip_len(const struct addr *a)
{
	switch (a->family) {
	case AF_INET:
		return 4;
	case AF_INET6:
		return 16;
	default:
		return 0;
	}
}

bool
addr_equal(const struct addr *a, const struct addr *b)
{
	return a->family == b->family && a->port == b->port &&
	    memcmp(a->ip, b->ip, addr_ip_len(a)) == 0;
}

int
addr_compare(const struct addr *a, const struct addr *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if ((c = memcmp(a->ip, b->ip, addr_ip_len(a))) != 0)
		return c < 0 ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}

/* FNV-1a over the bytes addr_equal() compares, then a final mix. */
uint64_t
addr_hash(const struct addr *a)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i, n = addr_ip_len(a);

	h = (h ^ (uint8_t)a->family) * 0x100000001b3ULL;
	for (i = 0; i < n; i++)
		h = (h ^ a->ip[i]) * 0x100000001b3ULL;
	h = (h ^ (uint8_t)(a->port >> 8)) * 0x100000001b3ULL;
	h = (h ^ (uint8_t)a->port) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static bool
is_v4_mapped(const struct addr *a)
{
	static const uint8_t prefix[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	return a->family == AF_INET6 && memcmp(a->ip, prefix, 12) == 0;
}

bool
addr_is_loopback(const struct addr *a)
{
	static const uint8_t v6_loopback[16] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
	};

	if (a->family == AF_INET)
		return a->ip[0] == 127;
	if (is_v4_mapped(a))
		return a->ip[12] == 127;
	if (a->family == AF_INET6)
		return memcmp(a->ip, v6_loopback, 16) == 0;
	return false;
}

bool
addr_is_any(const struct addr *a)
{
	static const uint8_t zero[16];
	size_t n = addr_ip_len(a);

	return n > 0 && memcmp(a->ip, zero, n) == 0;
}

bool
addr_prefix_contains(const struct addr_prefix *p, const struct addr *a)
{
	struct addr net;

	if (a->family != p->base.family)
		return false;
	mask_host_bits(a, p->prefix_len, &net);
	return memcmp(net.ip, p->base.ip, addr_ip_len(a)) == 0;
}
