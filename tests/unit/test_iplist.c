/*
 * Unit tests of controlplane/iplist.c: every accepted entry form, comments
 * and line endings, default ports, merging of duplicates, every rejection
 * with its exact message and line number, error collection, file loading,
 * and range sizes that never depend on how big a range is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/iplist.h"

#define HINT \
	"(expected e.g. 1.2.3.4, 1.2.3.4:80, [2001:db8::1]:80, 10.0.0.0/24)"

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tfwd-iplist-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
parse(const char *text, uint16_t port, struct iplist *l,
    struct iplist_errors *e)
{
	return iplist_parse(text, strlen(text), "t.txt", port, l, e);
}

static const char *
fmt(const struct addr *a)
{
	static char buf[4][ADDR_STRLEN];
	static unsigned n;

	return addr_format(a, buf[n++ % 4], ADDR_STRLEN);
}

static const char *
fmt_range(const struct addr_prefix *p)
{
	static char buf[4][ADDR_STRLEN + 8];
	static unsigned n;
	char ip[ADDR_STRLEN];
	char *b = buf[n++ % 4];

	snprintf(b, ADDR_STRLEN + 8, "%s/%u:%u",
	    addr_format_ip(&p->base, ip, sizeof(ip)),
	    (unsigned)p->prefix_len, (unsigned)p->base.port);
	return b;
}

static void
test_accepts_every_form(void **state)
{
	static const char text[] =
	    "1.2.3.4\n"
	    "1.2.3.5:8080\n"
	    "2001:db8::1\n"
	    "[2001:db8::2]:8080\n"
	    "10.0.0.0/24\n"
	    "2606:4700::/32\n"
	    "10.1.0.0/24:8080\n"
	    "[2606:4800::/32]:8443\n";
	struct iplist_errors e;
	struct iplist l;

	(void)state;
	assert_int_equal(parse(text, 443, &l, &e), 0);
	assert_int_equal(e.ie_count, 0);
	assert_int_equal(iplist_naddrs(&l), 4);
	assert_int_equal(iplist_nranges(&l), 4);
	/* Sorted: IPv4 before IPv6, then by address. */
	assert_string_equal(fmt(&l.il_addrs[0]), "1.2.3.4:443");
	assert_string_equal(fmt(&l.il_addrs[1]), "1.2.3.5:8080");
	assert_string_equal(fmt(&l.il_addrs[2]), "[2001:db8::1]:443");
	assert_string_equal(fmt(&l.il_addrs[3]), "[2001:db8::2]:8080");
	/* Ranges by family, then port, then network. */
	assert_string_equal(fmt_range(&l.il_ranges[0]), "10.0.0.0/24:443");
	assert_string_equal(fmt_range(&l.il_ranges[1]), "10.1.0.0/24:8080");
	assert_string_equal(fmt_range(&l.il_ranges[2]),
	    "2606:4700::/32:443");
	assert_string_equal(fmt_range(&l.il_ranges[3]),
	    "2606:4800::/32:8443");
	iplist_free(&l);
	assert_null(l.il_addrs);
	assert_int_equal(l.il_naddrs, 0);
	iplist_free(&l);
	iplist_free(NULL);
}

static void
test_default_port(void **state)
{
	struct iplist_errors e;
	struct iplist l;

	(void)state;
	assert_int_equal(parse("1.2.3.4\n[::1]:7\n10.0.0.0/30\n", 8443, &l,
	    &e), 0);
	assert_string_equal(fmt(&l.il_addrs[0]), "1.2.3.4:8443");
	assert_string_equal(fmt(&l.il_addrs[1]), "[::1]:7");
	assert_int_equal(l.il_ranges[0].base.port, 8443);
	iplist_free(&l);

	/* Default port 0: every entry must carry its own. */
	assert_int_equal(parse("1.2.3.4:1\n1.2.3.5\n10.0.0.0/24\n", 0, &l,
	    &e), -1);
	assert_int_equal(e.ie_count, 2);
	assert_string_equal(e.ie_msgs[0],
	    "t.txt:2: \"1.2.3.5\": missing port " HINT);
	assert_string_equal(e.ie_msgs[1],
	    "t.txt:3: \"10.0.0.0/24\": missing port " HINT);
}

static void
test_comments_blank_crlf(void **state)
{
	static const char text[] =
	    "# backends\r\n"
	    "\r\n"
	    "   \t  \n"
	    "  1.2.3.4  \r\n"
	    "\t1.2.3.5:81\t# trailing comment\r\n"
	    "   # indented comment\n"
	    "10.0.0.0/24 #no space needed after the hash\n"
	    "[2001:db8::2]:8080\t\t#\n"
	    "2001:db8::3";	/* last line without a newline */
	struct iplist_errors e;
	struct iplist l;

	(void)state;
	assert_int_equal(parse(text, 80, &l, &e), 0);
	assert_int_equal(l.il_naddrs, 4);
	assert_int_equal(l.il_nranges, 1);
	assert_string_equal(fmt(&l.il_addrs[0]), "1.2.3.4:80");
	assert_string_equal(fmt(&l.il_addrs[1]), "1.2.3.5:81");
	assert_string_equal(fmt(&l.il_addrs[2]), "[2001:db8::2]:8080");
	assert_string_equal(fmt(&l.il_addrs[3]), "[2001:db8::3]:80");
	iplist_free(&l);
}

static void
test_dedupe(void **state)
{
	static const char text[] =
	    "1.2.3.4\n"
	    "1.2.3.4:80\n"		/* same as the default */
	    "1.2.3.4:81\n"		/* another port: another backend */
	    "1.2.3.4\n"
	    "[2001:db8::1]:80\n"
	    "2001:db8:0::1\n"
	    "10.0.0.0/24\n"
	    "10.0.0.0/24:80\n"
	    "10.0.0.5\n"		/* explicit, inside a range: kept */
	    "10.0.0.128/25\n"		/* inside 10.0.0.0/24, same port */
	    "10.0.0.0/16\n"		/* holds both of the above */
	    "10.0.1.0/24:81\n"		/* other port: a range of its own */
	    "10.0.0.7/32\n"		/* a /32 is a single address */
	    "10.0.0.7\n"
	    "2001:db8::1/128\n";
	struct iplist_errors e;
	struct iplist l;

	(void)state;
	assert_int_equal(parse(text, 80, &l, &e), 0);
	assert_int_equal(l.il_naddrs, 5);
	assert_string_equal(fmt(&l.il_addrs[0]), "1.2.3.4:80");
	assert_string_equal(fmt(&l.il_addrs[1]), "1.2.3.4:81");
	assert_string_equal(fmt(&l.il_addrs[2]), "10.0.0.5:80");
	assert_string_equal(fmt(&l.il_addrs[3]), "10.0.0.7:80");
	assert_string_equal(fmt(&l.il_addrs[4]), "[2001:db8::1]:80");
	assert_int_equal(l.il_nranges, 2);
	assert_string_equal(fmt_range(&l.il_ranges[0]), "10.0.0.0/16:80");
	assert_string_equal(fmt_range(&l.il_ranges[1]), "10.0.1.0/24:81");
	assert_int_equal(iplist_candidates(&l), 5 + 65534 + 254);
	iplist_free(&l);
}

struct bad_case {
	const char *line;
	const char *msg;	/* after "t.txt:2: " */
};

static void
test_rejections(void **state)
{
	static const struct bad_case cases[] = {
		{ "1.2.3.256", "\"1.2.3.256\": invalid IPv4 address " HINT },
		{ "1.2.3", "\"1.2.3\": invalid IPv4 address " HINT },
		{ "example.com", "\"example.com\": not an IP address " HINT },
		{ "1.2.3.4:0", "\"1.2.3.4:0\": port must be 1 to 65535 "
		  HINT },
		{ "1.2.3.4:65536", "\"1.2.3.4:65536\": port must be 1 to "
		  "65535 " HINT },
		{ "[2001:db8::1]:99999999999999999999", "\"[2001:db8::1]:"
		  "99999999999999999999\": port must be 1 to 65535 " HINT },
		{ "1.2.3.4:", "\"1.2.3.4:\": missing port after \":\" "
		  HINT },
		{ "1.2.3.4:80x", "\"1.2.3.4:80x\": port must be digits "
		  HINT },
		{ "1.2.3.4 foo", "\"1.2.3.4 foo\": unexpected text after "
		  "the entry " HINT },
		{ "1.2.3.4 5.6.7.8 # two", "\"1.2.3.4 5.6.7.8\": unexpected "
		  "text after the entry " HINT },
		{ "1.2.3.4#x", "\"1.2.3.4#x\": not an IP address " HINT },
		{ "1.2.3.4x", "\"1.2.3.4x\": not an IP address " HINT },
		{ "2001:db8::g", "\"2001:db8::g\": invalid IPv6 address "
		  HINT },
		{ "fe80::1%eth0", "\"fe80::1%eth0\": invalid IPv6 address "
		  HINT },
		{ "10.0.0.0/", "\"10.0.0.0/\": missing prefix length after "
		  "\"/\" " HINT },
		{ "10.0.0.0/x", "\"10.0.0.0/x\": prefix length must be "
		  "digits " HINT },
		{ "10.0.0.0/-1", "\"10.0.0.0/-1\": prefix length must be "
		  "digits " HINT },
		{ "10.0.0.0/33", "\"10.0.0.0/33\": prefix length must be 0 "
		  "to 32 " HINT },
		{ "2001:db8::/129", "\"2001:db8::/129\": prefix length must "
		  "be 0 to 128 " HINT },
		{ "10.0.0.1/24", "\"10.0.0.1/24\": host bits set (network "
		  "is 10.0.0.0/24)" },
		{ "10.0.0.1/24:8080", "\"10.0.0.1/24:8080\": host bits set "
		  "(network is 10.0.0.0/24)" },
		{ "2606:4700::1/32", "\"2606:4700::1/32\": host bits set "
		  "(network is 2606:4700::/32)" },
		{ "[2001:db8::1]", "\"[2001:db8::1]\": brackets without a "
		  "port " HINT },
		{ "[2606:4700::/32]", "\"[2606:4700::/32]\": brackets without "
		  "a port " HINT },
		{ "[2001:db8::1]:", "\"[2001:db8::1]:\": missing port after "
		  "\":\" " HINT },
		{ "[2001:db8::1", "\"[2001:db8::1\": missing \"]\" " HINT },
		{ "[1.2.3.4]:80", "\"[1.2.3.4]:80\": brackets are only for "
		  "IPv6 addresses " HINT },
		{ "2606:4700::/32:443", "\"2606:4700::/32:443\": an IPv6 "
		  "range with a port needs brackets: [ipv6/len]:port " HINT },
		{ "0.0.0.0", "\"0.0.0.0\": the unspecified address is not a "
		  "backend" },
		{ "::", "\"::\": the unspecified address is not a backend" },
		{ "0.0.0.0/32", "\"0.0.0.0/32\": the unspecified address is "
		  "not a backend" },
		{ "224.0.0.1", "\"224.0.0.1\": a multicast address is not a "
		  "backend" },
		{ "[ff02::1]:80", "\"[ff02::1]:80\": a multicast address is "
		  "not a backend" },
		{ "1.2.\x01.4", "\"1.2.?.4\": not an IP address " HINT },
	};
	struct iplist_errors e;
	struct iplist l;
	char text[512], want[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "1.1.1.1\n%s\n3.3.3.3\n",
		    cases[i].line);
		snprintf(want, sizeof(want), "t.txt:2: %s", cases[i].msg);
		memset(&l, 0x5a, sizeof(l));
		if (parse(text, 80, &l, &e) != -1)
			fail_msg("accepted \"%s\"", cases[i].line);
		assert_int_equal(e.ie_count, 1);
		assert_int_equal(e.ie_dropped, 0);
		assert_string_equal(e.ie_msgs[0], want);
		/* out is untouched on failure */
		assert_int_equal(l.il_naddrs, 0x5a5a5a5a5a5a5a5aULL);
	}
}

static void
test_multiple_errors(void **state)
{
	static const char text[] =
	    "# three bad lines among good ones\n"
	    "1.2.3.4\n"
	    "1.2.3.256\n"
	    "\n"
	    "10.0.0.1/24\n"
	    "5.6.7.8:80\n"
	    "[2001:db8::1]\n";
	struct iplist_errors e;
	struct iplist l;
	char big[64 * 1024];
	size_t n = 0;
	int i;

	(void)state;
	assert_int_equal(parse(text, 80, &l, &e), -1);
	assert_int_equal(e.ie_count, 3);
	assert_int_equal(e.ie_dropped, 0);
	assert_string_equal(e.ie_msgs[0],
	    "t.txt:3: \"1.2.3.256\": invalid IPv4 address " HINT);
	assert_string_equal(e.ie_msgs[1], "t.txt:5: \"10.0.0.1/24\": host "
	    "bits set (network is 10.0.0.0/24)");
	assert_string_equal(e.ie_msgs[2], "t.txt:7: \"[2001:db8::1]\": "
	    "brackets without a port " HINT);

	/* Past the cap the rest is counted, not kept. */
	for (i = 1; i <= 100; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "bad%d\n", i);
	assert_int_equal(parse(big, 80, &l, &e), -1);
	assert_int_equal(e.ie_count, IPLIST_MAX_ERRORS);
	assert_int_equal(e.ie_dropped, 100 - IPLIST_MAX_ERRORS);
	assert_string_equal(e.ie_msgs[0],
	    "t.txt:1: \"bad1\": not an IP address " HINT);
	assert_string_equal(e.ie_msgs[IPLIST_MAX_ERRORS - 1],
	    "t.txt:20: \"bad20\": not an IP address " HINT);

	/* errs may be NULL: the result is the same. */
	assert_int_equal(parse(text, 80, &l, NULL), -1);
}

static void
test_empty(void **state)
{
	static const char *texts[] = {
		"", "\n", "\r\n\r\n", "# only a comment\n", "  \t\n# x\n\n",
	};
	struct iplist_errors e;
	struct iplist l;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(parse(texts[i], 80, &l, &e), -1);
		assert_int_equal(e.ie_count, 1);
		assert_string_equal(e.ie_msgs[0],
		    "t.txt: no backends listed " HINT);
	}
	/* A NULL text of length 0 is an empty list too. */
	assert_int_equal(iplist_parse(NULL, 0, NULL, 80, &l, &e), -1);
	assert_string_equal(e.ie_msgs[0],
	    "<input>: no backends listed " HINT);
}

static void
test_line_limits(void **state)
{
	struct iplist_errors e;
	struct iplist l;
	char text[1024];
	size_t n;

	(void)state;
	/* Exactly IPLIST_MAX_LINE characters (a CR is not counted). */
	n = (size_t)snprintf(text, sizeof(text), "1.2.3.4 #");
	memset(text + n, 'x', IPLIST_MAX_LINE - n);
	memcpy(text + IPLIST_MAX_LINE, "\r\n", 3);
	assert_int_equal(parse(text, 80, &l, &e), 0);
	iplist_free(&l);

	memcpy(text + IPLIST_MAX_LINE, "x\n1.2.3.5\n", 11);
	assert_int_equal(parse(text, 80, &l, &e), -1);
	assert_int_equal(e.ie_count, 1);
	assert_string_equal(e.ie_msgs[0],
	    "t.txt:1: line too long (257 characters, at most 256)");

	/* A NUL byte inside the text is an error on its line. */
	memcpy(text, "1.2.3.4\n1.2\0.3.4\n", 17);
	assert_int_equal(iplist_parse(text, 17, "t.txt", 80, &l, &e), -1);
	assert_int_equal(e.ie_count, 1);
	assert_string_equal(e.ie_msgs[0], "t.txt:2: NUL byte in the line");
}

static void
test_memory_independent_of_range_size(void **state)
{
	struct iplist_errors e;
	struct iplist big, small;

	(void)state;
	assert_int_equal(parse("10.0.0.0/8\n2606:4700::/32\n", 80, &big, &e),
	    0);
	assert_int_equal(parse("10.0.0.0/24\n2606:4700::/120\n", 80, &small,
	    &e), 0);
	assert_int_equal(iplist_nranges(&big), 2);
	assert_int_equal(iplist_naddrs(&big), 0);
	assert_int_equal(iplist_nranges(&small), 2);
	assert_int_equal(big.il_nranges * sizeof(*big.il_ranges),
	    small.il_nranges * sizeof(*small.il_ranges));

	assert_int_equal(iplist_range_bits(&big.il_ranges[0]), 24);
	assert_int_equal(iplist_range_bits(&big.il_ranges[1]), 96);
	assert_true(iplist_range_size(&big.il_ranges[0]) == 16777214.0);
	assert_true(iplist_range_size(&big.il_ranges[1]) == ldexp(1, 96));
	assert_true(iplist_candidates(&big) == UINT64_MAX);

	assert_int_equal(iplist_range_bits(&small.il_ranges[0]), 8);
	assert_true(iplist_range_size(&small.il_ranges[0]) == 254.0);
	assert_true(iplist_range_size(&small.il_ranges[1]) == 256.0);
	assert_int_equal(iplist_candidates(&small), 510);
	iplist_free(&big);
	iplist_free(&small);
}

static void
test_range_sizes(void **state)
{
	static const struct {
		const char *text;
		unsigned bits;
		double size;
	} cases[] = {
		{ "10.0.0.0/30", 2, 2 },	/* network and broadcast out */
		{ "10.0.0.0/31", 1, 2 },	/* RFC 3021: both usable */
		{ "0.0.0.0/0", 32, 4294967294.0 },
		{ "2001:db8::/127", 1, 2 },
		{ "2001:db8::/126", 2, 4 },	/* IPv6 has no broadcast */
		{ "::/0", 128, 3.402823669209385e38 },
	};
	struct iplist_errors e;
	struct iplist l;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].text, 80, &l, &e), 0);
		assert_int_equal(l.il_nranges, 1);
		assert_int_equal(iplist_range_bits(&l.il_ranges[0]),
		    cases[i].bits);
		assert_true(iplist_range_size(&l.il_ranges[0]) ==
		    cases[i].size);
		iplist_free(&l);
	}
	/* Saturation just past 2^64 and exact sums below it. */
	assert_int_equal(parse("::/64\n1.2.3.4\n", 80, &l, &e), 0);
	assert_true(iplist_candidates(&l) == UINT64_MAX);
	iplist_free(&l);
	assert_int_equal(parse("::/65\n::8000:0:0:0:0/65\n", 80, &l, &e), 0);
	assert_true(iplist_candidates(&l) == UINT64_MAX);
	iplist_free(&l);
	assert_int_equal(parse("::/66\n1.2.3.4\n", 80, &l, &e), 0);
	assert_true(iplist_candidates(&l) == ((uint64_t)1 << 62) + 1);
	iplist_free(&l);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
test_load(void **state)
{
	struct iplist_errors e;
	struct iplist l;
	char path[128], want[256];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/ip_list.txt", tmpdir);
	write_file(path, "1.2.3.4\n10.0.0.0/24:8080\n");
	assert_int_equal(iplist_load(path, 80, &l, &e), 0);
	assert_int_equal(l.il_naddrs, 1);
	assert_int_equal(l.il_nranges, 1);
	iplist_free(&l);

	/* Errors carry the path given. */
	write_file(path, "1.2.3.4\nnope\n");
	assert_int_equal(iplist_load(path, 80, &l, &e), -1);
	snprintf(want, sizeof(want), "%s:2: \"nope\": not an IP address "
	    HINT, path);
	assert_string_equal(e.ie_msgs[0], want);

	snprintf(path, sizeof(path), "%s/missing.txt", tmpdir);
	assert_int_equal(iplist_load(path, 80, &l, &e), -1);
	assert_int_equal(e.ie_count, 1);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or "
	    "directory", path);
	assert_string_equal(e.ie_msgs[0], want);

	assert_int_equal(iplist_load(tmpdir, 80, &l, &e), -1);
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory",
	    tmpdir);
	assert_string_equal(e.ie_msgs[0], want);

	/* One byte over the limit; sparse, so it costs no disk. */
	snprintf(path, sizeof(path), "%s/huge.txt", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)IPLIST_MAX_FILE_SIZE + 1), 0);
	close(fd);
	assert_int_equal(iplist_load(path, 80, &l, &e), -1);
	snprintf(want, sizeof(want), "%s: file too large (more than 64 MiB)",
	    path);
	assert_string_equal(e.ie_msgs[0], want);

	/* Not a regular file: read to the end all the same. */
	assert_int_equal(iplist_load("/dev/null", 80, &l, &e), -1);
	assert_string_equal(e.ie_msgs[0],
	    "/dev/null: no backends listed " HINT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_every_form),
		cmocka_unit_test(test_default_port),
		cmocka_unit_test(test_comments_blank_crlf),
		cmocka_unit_test(test_dedupe),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_multiple_errors),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_memory_independent_of_range_size),
		cmocka_unit_test(test_range_sizes),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
