/*
 * Socket addresses as plain values: parse and format "1.2.3.4:80",
 * "[2001:db8::1]:8080", bare IPs with a default port, and CIDR prefixes.
 * Used by both daemons, the config loader and proto/.
 */
#ifndef TCPFWD_ADDR_H
#define TCPFWD_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest formatted address: "[" + INET6_ADDRSTRLEN + "]:65535". */
#define ADDR_STRLEN 56

/* family is AF_INET or AF_INET6; ip holds 4 or 16 bytes, network order. */
struct addr {
	uint16_t family;
	uint16_t port; /* host order */
	uint8_t ip[16];
};

/* A CIDR range: the first prefix_len bits of base are fixed. */
struct addr_prefix {
	struct addr base; /* host bits cleared; port is the range's port */
	uint8_t prefix_len;
};

/*
 * Parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port". A missing port takes
 * default_port; default_port 0 means a port is required. A bare IPv6
 * address without brackets is accepted (it cannot carry a port). Returns 0,
 * or -1 with a reason in err ("invalid IPv4 address", "port out of range",
 * ...); out is set only on success.
 */
int addr_parse(const char *s, uint16_t default_port, struct addr *out,
    char *err, size_t errlen);

/*
 * Parses "ip/len" or "ip/len:port" (IPv6 with port: "[ip/len]:port") into a
 * prefix; a missing port takes default_port. Host bits set in the address
 * are an error. Returns 0 or -1 with err.
 */
int addr_prefix_parse(const char *s, uint16_t default_port,
    struct addr_prefix *out, char *err, size_t errlen);

/* Writes "1.2.3.4:80" or "[::1]:80" into buf (ADDR_STRLEN is enough);
 * returns buf. */
char *addr_format(const struct addr *a, char *buf, size_t len);

/* Writes only the IP ("1.2.3.4", "::1"); returns buf. */
char *addr_format_ip(const struct addr *a, char *buf, size_t len);

/* Fills ss; returns the length to pass to connect/bind. */
socklen_t addr_to_sockaddr(const struct addr *a, struct sockaddr_storage *ss);

/* Returns 0, or -1 when the family is neither AF_INET nor AF_INET6. */
int addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
    struct addr *out);

bool addr_equal(const struct addr *a, const struct addr *b);
/* Total order: family, then IP bytes, then port. */
int addr_compare(const struct addr *a, const struct addr *b);
uint64_t addr_hash(const struct addr *a);
bool addr_is_loopback(const struct addr *a);
/* True for 0.0.0.0 and ::. */
bool addr_is_any(const struct addr *a);
/* Address length in bytes for the family: 4 or 16. */
size_t addr_ip_len(const struct addr *a);

/* True when a lies inside p (port ignored). */
bool addr_prefix_contains(const struct addr_prefix *p, const struct addr *a);

#endif
