/*
 * The deterministic byte stream that tfwd-backend and tfwd-client send and
 * check, and the checksum the sink backend reports. Test tools only: call
 * pattern_init() once, before any thread starts, then use the rest.
 *
 * A stream is a sequence of 64-bit little-endian words w_k; byte i of the
 * stream is byte (i % 8) of w_(i / 8). Word 0 is the stream's seed itself,
 * so a receiver learns the seed from the first 8 bytes. Word k >= 1 is
 *
 *	T[k % 32768] ^ key(seed, k / 32768)
 *
 * where T[j] = mix(j * 0x9e3779b97f4a7c15 + 1) is a fixed 256 KiB table,
 * key(s, b) = mix(s + (b + 1) * 0x9e3779b97f4a7c15) changes every 256 KiB
 * block, and mix() is splitmix64's finaliser (pattern_mix). Inside a block
 * the words are the table's (pseudo-random, all different), so any lost,
 * duplicated, reordered or altered byte shows as a mismatch at or very near
 * its offset; whole blocks differ by their key, so a shift or swap by a
 * multiple of the table is caught too, and so is data from another stream
 * (another seed). Generating or checking is one load and one xor per 8
 * bytes: well above 10 GB/s on one core.
 *
 * The sink checksum of an n-byte stream: with the last partial word padded
 * with zero bytes, a = sum of w_k and b = sum of a_k (the running sums,
 * Fletcher-style, mod 2^64); the value is mix(a ^ mix(b + n)). It does not
 * depend on how the stream was cut into reads.
 */
#ifndef TFWD_PATTERN_H
#define TFWD_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PATTERN_GOLDEN		0x9e3779b97f4a7c15ULL
#define PATTERN_TABLE_SHIFT	15
#define PATTERN_TABLE_WORDS	(1U << PATTERN_TABLE_SHIFT)
#define PATTERN_TABLE_MASK	(PATTERN_TABLE_WORDS - 1)

struct pattern_sum {
	uint64_t ps_n;		/* bytes folded so far */
	uint64_t ps_a;		/* sum of the complete words */
	uint64_t ps_b;		/* sum of the running sums */
	uint8_t ps_part[8];	/* bytes of the incomplete word */
};

/* The table T, little-endian bytes; filled by pattern_init(). */
static uint64_t pattern_table[PATTERN_TABLE_WORDS];

static inline uint64_t
pattern_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static inline uint64_t
pattern_le64(uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(v);
#else
	return v;
#endif
}

/* Fills the table. Call once before anything else here. */
static inline void
pattern_init(void)
{
	uint32_t j;

	for (j = 0; j < PATTERN_TABLE_WORDS; j++)
		pattern_table[j] = pattern_le64(pattern_mix(j *
		    PATTERN_GOLDEN + 1));
}

/* The key of block b (words b * 32768 ... ), little-endian. */
static inline uint64_t
pattern_key(uint64_t seed, uint64_t b)
{
	return pattern_le64(pattern_mix(seed + (b + 1) * PATTERN_GOLDEN));
}

/* Word k of the stream with this seed, as little-endian bytes. */
static inline uint64_t
pattern_word(uint64_t seed, uint64_t k)
{
	if (k == 0)
		return pattern_le64(seed);
	return pattern_table[k & PATTERN_TABLE_MASK] ^
	    pattern_key(seed, k >> PATTERN_TABLE_SHIFT);
}

/* Writes bytes [off, off + len) of the stream into buf. */
static inline void
pattern_fill(uint64_t seed, uint64_t off, void *buf, size_t len)
{
	unsigned char *p = buf;
	uint64_t k = off / 8, w, key;
	size_t skip = off % 8, n, run, i, j;

	if (len == 0)
		return;
	if (skip != 0 || k == 0) {
		w = pattern_word(seed, k);
		n = 8 - skip < len ? 8 - skip : len;
		memcpy(p, (unsigned char *)&w + skip, n);
		p += n;
		len -= n;
		k++;
	}
	while (len >= 8) {
		/* whole words up to the end of this block */
		j = (size_t)(k & PATTERN_TABLE_MASK);
		run = PATTERN_TABLE_WORDS - j;
		if (run > len / 8)
			run = len / 8;
		key = pattern_key(seed, k >> PATTERN_TABLE_SHIFT);
		for (i = 0; i < run; i++) {
			w = pattern_table[j + i] ^ key;
			memcpy(p + i * 8, &w, 8);
		}
		p += run * 8;
		len -= run * 8;
		k += run;
	}
	if (len > 0) {
		w = pattern_word(seed, k);
		memcpy(p, &w, len);
	}
}

/*
 * Checks buf against bytes [off, off + len) of the stream. Returns len when
 * every byte matches, else the index in buf of the first byte that differs.
 */
static inline size_t
pattern_check(uint64_t seed, uint64_t off, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	unsigned char want[8];
	uint64_t k = off / 8, w, key, got;
	size_t skip = off % 8, n, i, j, run, done = 0;

	if (len == 0)
		return 0;
	if (skip != 0 || k == 0) {
		w = pattern_word(seed, k);
		memcpy(want, &w, 8);
		n = 8 - skip < len ? 8 - skip : len;
		for (i = 0; i < n; i++)
			if (p[i] != want[skip + i])
				return i;
		done = n;
		k++;
	}
	while (len - done >= 8) {
		j = (size_t)(k & PATTERN_TABLE_MASK);
		run = PATTERN_TABLE_WORDS - j;
		if (run > (len - done) / 8)
			run = (len - done) / 8;
		key = pattern_key(seed, k >> PATTERN_TABLE_SHIFT);
		for (i = 0; i < run; i++) {
			memcpy(&got, p + done + i * 8, 8);
			if (got != (pattern_table[j + i] ^ key))
				break;
		}
		done += i * 8;
		k += i;
		if (i < run)
			break;
	}
	if (done < len) {
		w = pattern_word(seed, k);
		memcpy(want, &w, 8);
		n = len - done < 8 ? len - done : 8;
		for (i = 0; i < n; i++)
			if (p[done + i] != want[i])
				return done + i;
	}
	return len;
}

static inline void
pattern_sum_init(struct pattern_sum *s)
{
	memset(s, 0, sizeof(*s));
}

/* Folds len more bytes of the stream into s. */
static inline void
pattern_sum_update(struct pattern_sum *s, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t have = s->ps_n % 8, n;
	uint64_t w, a, b;

	if (have != 0) {
		n = 8 - have < len ? 8 - have : len;
		memcpy(s->ps_part + have, p, n);
		s->ps_n += n;
		p += n;
		len -= n;
		if (s->ps_n % 8 != 0)
			return;
		memcpy(&w, s->ps_part, 8);
		s->ps_a += pattern_le64(w);
		s->ps_b += s->ps_a;
	}
	a = s->ps_a;
	b = s->ps_b;
	s->ps_n += len - len % 8;
	while (len >= 8) {
		memcpy(&w, p, 8);
		a += pattern_le64(w);
		b += a;
		p += 8;
		len -= 8;
	}
	s->ps_a = a;
	s->ps_b = b;
	if (len > 0) {
		memcpy(s->ps_part, p, len);
		s->ps_n += len;
	}
}

/* The checksum of everything folded so far. */
static inline uint64_t
pattern_sum_value(const struct pattern_sum *s)
{
	size_t have = s->ps_n % 8;
	uint64_t w = 0, a = s->ps_a, b = s->ps_b;

	if (have != 0) {
		memcpy(&w, s->ps_part, have);
		a += pattern_le64(w);
		b += a;
	}
	return pattern_mix(a ^ pattern_mix(b + s->ps_n));
}

#endif
