/*
 * The candidate list (remotes.provider.file.path): parses ip_list.txt into
 * single addresses and CIDR ranges. A range stays a range (one struct
 * addr_prefix), so a /8 or an IPv6 /32 costs what a /24 costs. The
 * control plane's sampler draws candidates from the ranges; both daemons'
 * --check validate the list.
 */
#ifndef TCPFWD_IPLIST_H
#define TCPFWD_IPLIST_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Largest file iplist_load() reads. */
#define IPLIST_MAX_FILE_SIZE	(64u << 20)
/* Longest line, without its line ending. */
#define IPLIST_MAX_LINE		256
/* Errors kept word for word; any further ones are only counted. */
#define IPLIST_MAX_ERRORS	20
/* Room for one message: path, line number, the entry and the hint. */
#define IPLIST_ERROR_LEN	512

/*
 * A parsed list, a plain value. Both arrays are sorted and free of
 * duplicates: il_addrs by addr_compare(); il_ranges by family, then port,
 * then network address, and no range lies inside another range with the
 * same port (such a range adds no candidate and is dropped). A single
 * address inside a listed range is still listed in il_addrs. A /32 or
 * /128 entry is a single address, never a range.
 */
struct iplist {
	struct addr		*il_addrs;
	size_t			 il_naddrs;
	struct addr_prefix	*il_ranges;
	size_t			 il_nranges;
};

/*
 * What was wrong with a list: up to IPLIST_MAX_ERRORS messages such as
 * "ip_list.txt:3: \"1.2.3.256\": invalid IPv4 address (expected e.g.
 * 1.2.3.4, 1.2.3.4:80, [2001:db8::1]:80, 10.0.0.0/24)", in line order;
 * ie_dropped counts the errors beyond those.
 */
struct iplist_errors {
	unsigned	ie_count;
	unsigned	ie_dropped;
	char		ie_msgs[IPLIST_MAX_ERRORS][IPLIST_ERROR_LEN];
};

/*
 * Parses len bytes of text (NUL bytes inside are errors, no terminator is
 * needed); name is the file name errors start with ("<input>" when NULL).
 * One entry a line: "1.2.3.4", "1.2.3.4:8080", "2001:db8::1",
 * "[2001:db8::2]:8080", "10.0.0.0/24", "10.0.0.0/24:8080",
 * "2606:4700::/32", "[2606:4700::/32]:8443". "#" starts a comment at the
 * start of a line or after whitespace; blank lines, surrounding whitespace
 * and CRLF endings are fine. Entries without a port take default_port (0:
 * every entry must carry one). Refused: anything addr_parse() or
 * addr_prefix_parse() refuses, CIDR host bits set, brackets without a port,
 * text after the entry, the unspecified and multicast addresses, lines
 * over IPLIST_MAX_LINE, and a text without any entry ("no backends
 * listed"). Every bad line is reported, not only the first.
 *
 * Returns 0 with *out filled (the caller frees it with iplist_free()), or
 * -1 with the reasons in errs (cleared first; may be NULL) and *out
 * untouched. Also -1, with one message, when memory runs out.
 */
int iplist_parse(const char *text, size_t len, const char *name,
    uint16_t default_port, struct iplist *out, struct iplist_errors *errs);

/*
 * Reads path (at most IPLIST_MAX_FILE_SIZE bytes) and parses it as
 * iplist_parse() does, with path as the name. An unreadable or oversized
 * file is one error ("ip_list.txt: cannot read: No such file or
 * directory"). Returns 0 or -1 as iplist_parse() does.
 */
int iplist_load(const char *path, uint16_t default_port, struct iplist *out,
    struct iplist_errors *errs);

/* Frees the arrays and zeroes *l; accepts NULL and a zeroed list. */
void iplist_free(struct iplist *l);

/* Number of single addresses (il_naddrs). */
size_t iplist_naddrs(const struct iplist *l);

/* Number of ranges (il_nranges). */
size_t iplist_nranges(const struct iplist *l);

/* Host bits of a range: log2 of its address count (8 for a v4 /24, 96
 * for a v6 /32). */
unsigned iplist_range_bits(const struct addr_prefix *p);

/*
 * Candidates a range holds: its address count, less the network and
 * broadcast addresses for IPv4 ranges shorter than /31. A double: exact up
 * to 2^53, never overflows (2^96 for a v6 /32).
 */
double iplist_range_size(const struct addr_prefix *p);

/* Single addresses plus every range's candidates, saturating at
 * UINT64_MAX. */
uint64_t iplist_candidates(const struct iplist *l);

#endif
