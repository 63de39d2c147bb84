/*
 * libFuzzer target for the IP list: iplist_parse() on arbitrary bytes and,
 * when a list parses, a sampler over it with explore and exploit draws and
 * one round plan, checking the promises both headers make.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/iplist.h"
#include "../../controlplane/sampler.h"

#define FUZZ_DRAWS	16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
check_errors(const struct iplist_errors *e)
{
	unsigned i;

	check(e->ie_count >= 1 && e->ie_count <= IPLIST_MAX_ERRORS);
	for (i = 0; i < e->ie_count; i++)
		check(memchr(e->ie_msgs[i], '\0', IPLIST_ERROR_LEN) != NULL);
}

static void
check_list(const struct iplist *l)
{
	size_t i;

	check(l->il_naddrs + l->il_nranges > 0);
	for (i = 1; i < l->il_naddrs; i++)
		check(addr_compare(&l->il_addrs[i - 1], &l->il_addrs[i]) < 0);
	for (i = 0; i < l->il_nranges; i++)
		check(iplist_range_bits(&l->il_ranges[i]) > 0);
	check(iplist_candidates(l) >= l->il_naddrs);
}

static void
check_plan(const struct sampler *s, const struct sampler_tracked *t,
    unsigned n, unsigned max, unsigned budget, const struct sampler_plan *p)
{
	unsigned i, j;

	check(p->sp_nadd <= budget && p->sp_nexploit <= p->sp_nadd);
	for (i = 0; i < p->sp_nevict; i++) {
		check(p->sp_evict[i] < n);
		check(!t[p->sp_evict[i]].st_active);
		check(!t[p->sp_evict[i]].st_explicit);
	}
	for (i = 0; i < p->sp_nadd; i++) {
		check(sampler_contains(s, &p->sp_add[i]));
		for (j = 0; j < n; j++)
			check(!addr_equal(&p->sp_add[i], &t[j].st_addr));
		for (j = 0; j < i; j++)
			check(!addr_equal(&p->sp_add[i], &p->sp_add[j]));
	}
	if (p->sp_nadd > 0)
		check(n - p->sp_nevict + p->sp_nadd <= max);
}

static void
exercise_sampler(const struct iplist *l, const uint8_t *data, size_t size)
{
	struct sampler_tracked t[2 * FUZZ_DRAWS];
	struct sampler_plan p;
	struct sampler *s;
	struct addr a, b;
	unsigned n = 0, i, max, budget;
	uint8_t flags;

	/* Whatever iplist_parse() returns, sampler_new() must take. */
	check(sampler_new(l, (uint64_t)size * 0x9e3779b97f4a7c15ULL, &s) == 0);
	check(sampler_nranges(s) == l->il_nranges);
	for (i = 0; i < l->il_naddrs && n < FUZZ_DRAWS; i++) {
		memset(&t[n], 0, sizeof(t[n]));
		t[n].st_addr = l->il_addrs[i];
		t[n++].st_explicit = true;
	}
	for (i = 0; i < FUZZ_DRAWS; i++) {
		if (sampler_explore(s, &a) == -1) {
			check(l->il_nranges == 0);
			break;
		}
		check(sampler_contains(s, &a));
		if (sampler_exploit(s, &a, &b) == 0) {
			check(sampler_contains(s, &b));
			check(!addr_equal(&a, &b));
			check(memcmp(a.ip, b.ip, addr_ip_len(&a) - 1) == 0);
		}
		flags = size > 0 ? data[i % size] : 0;
		memset(&t[n], 0, sizeof(t[n]));
		t[n].st_addr = a;
		t[n].st_probes = flags & 7;
		t[n].st_scored = (flags & 8) != 0;
		t[n].st_score = (double)(flags >> 4) - 4;
		t[n].st_active = (flags & 0x30) == 0x30;
		/* Draws may repeat; the tracked set never does. */
		for (max = 0; max < n; max++)
			if (addr_equal(&t[max].st_addr, &a))
				break;
		if (max == n)
			n++;
	}
	max = size > 1 ? data[1] % 40 : 8;
	budget = size > 2 ? data[2] % 24 : 4;
	check(sampler_plan(s, t, n, max, budget, &p) == 0);
	check_plan(s, t, n, max, budget, &p);
	sampler_plan_free(&p);
	sampler_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iplist_errors e;
	struct iplist l;
	uint16_t port;

	/* Some inputs run without a default port: every entry needs one. */
	port = size % 5 == 0 ? 0 : 443;
	memset(&l, 0, sizeof(l));
	if (iplist_parse((const char *)data, size, "fuzz", port, &l,
	    &e) == -1) {
		check_errors(&e);
		check(l.il_addrs == NULL && l.il_nranges == 0);
		return 0;
	}
	check_list(&l);
	exercise_sampler(&l, data, size);
	iplist_free(&l);
	return 0;
}
