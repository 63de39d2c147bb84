/*
 * The deterministic byte stream that tfwd-backend and tfwd-client send and
 * check, and the checksum the sink backend reports. Test tools only.
 *
 * A stream is a sequence of 64-bit little-endian words. Word 0 is the
 * stream's seed itself, so a receiver learns the seed from the first 8
 * bytes; word k >= 1 is splitmix64's finaliser applied to
 * seed + k * 0x9e3779b97f4a7c15. Byte i of the stream is byte (i % 8) of
 * word (i / 8). Any lost, duplicated, reordered or altered byte therefore
 * shows as a mismatch at (or very near) its offset, and two streams with
 * different seeds never agree. Generation and checking cost a few cycles
 * per 8 bytes (several GB/s on one core).
 *
 * The sink checksum of a stream of n bytes is the 64-bit sum over words k
 * (the last partial word padded with zero bytes) of
 * pattern_mix(w_k + (k + 1) * 0xd1b54a32d192ed03); it does not depend on
 * how the stream was cut into reads.
 */
#ifndef TFWD_PATTERN_H
#define TFWD_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PATTERN_GOLDEN 0x9e3779b97f4a7c15ULL
#define PATTERN_SUMK 0xd1b54a32d192ed03ULL

struct pattern_sum {
	uint64_t ps_n;		/* bytes folded so far */
	uint64_t ps_h;		/* sum over complete words */
	uint8_t ps_part[8];	/* bytes of the incomplete word */
};

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

/* Word k of the stream with this seed, in host order. */
static inline uint64_t
pattern_word(uint64_t seed, uint64_t k)
{
	if (k == 0)
		return seed;
	return pattern_mix(seed + k * PATTERN_GOLDEN);
}

/* Writes bytes [off, off + len) of the stream into buf. */
static inline void
pattern_fill(uint64_t seed, uint64_t off, void *buf, size_t len)
{
	unsigned char *p = buf;
	uint64_t k = off / 8, w, x;
	size_t skip = off % 8, n;

	if (len == 0)
		return;
	if (skip != 0) {
		w = pattern_le64(pattern_word(seed, k));
		n = 8 - skip < len ? 8 - skip : len;
		memcpy(p, (unsigned char *)&w + skip, n);
		p += n;
		len -= n;
		k++;
	}
	if (k == 0 && len >= 8) {
		w = pattern_le64(seed);
		memcpy(p, &w, 8);
		p += 8;
		len -= 8;
		k++;
	}
	x = seed + k * PATTERN_GOLDEN;
	while (len >= 8) {
		w = pattern_le64(pattern_mix(x));
		memcpy(p, &w, 8);
		x += PATTERN_GOLDEN;
		p += 8;
		len -= 8;
		k++;
	}
	if (len > 0) {
		w = pattern_le64(pattern_word(seed, k));
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
	uint64_t k = off / 8, w, x, got;
	size_t skip = off % 8, n, i, done = 0;

	if (len == 0)
		return 0;
	if (skip != 0 || k == 0) {
		w = pattern_le64(pattern_word(seed, k));
		memcpy(want, &w, 8);
		n = 8 - skip < len ? 8 - skip : len;
		for (i = 0; i < n; i++)
			if (p[i] != want[skip + i])
				return i;
		done = n;
		k++;
	}
	x = seed + k * PATTERN_GOLDEN;
	while (len - done >= 8) {
		w = pattern_le64(pattern_mix(x));
		memcpy(&got, p + done, 8);
		if (got != w)
			break;
		x += PATTERN_GOLDEN;
		done += 8;
		k++;
	}
	if (done < len) {
		w = pattern_le64(pattern_word(seed, k));
		memcpy(want, &w, 8);
		n = len - done < 8 ? len - done : 8;
		for (i = 0; i < n; i++)
			if (p[done + i] != want[i])
				return done + i;
		/* the mismatch was in a word whose compared part is equal */
		return len;
	}
	return len;
}

static inline void
pattern_sum_init(struct pattern_sum *s)
{
	memset(s, 0, sizeof(*s));
}

static inline uint64_t
pattern_sum_word(uint64_t w, uint64_t k)
{
	return pattern_mix(w + (k + 1) * PATTERN_SUMK);
}

/* Folds len more bytes of the stream into s. */
static inline void
pattern_sum_update(struct pattern_sum *s, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t have = s->ps_n % 8, n;
	uint64_t k, w, h;

	if (have != 0) {
		n = 8 - have < len ? 8 - have : len;
		memcpy(s->ps_part + have, p, n);
		s->ps_n += n;
		p += n;
		len -= n;
		if (s->ps_n % 8 != 0)
			return;
		memcpy(&w, s->ps_part, 8);
		s->ps_h += pattern_sum_word(pattern_le64(w), s->ps_n / 8 - 1);
	}
	k = s->ps_n / 8;
	h = s->ps_h;
	while (len >= 8) {
		memcpy(&w, p, 8);
		h += pattern_sum_word(pattern_le64(w), k);
		k++;
		p += 8;
		len -= 8;
		s->ps_n += 8;
	}
	s->ps_h = h;
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
	uint64_t w = 0;

	if (have == 0)
		return s->ps_h;
	memcpy(&w, s->ps_part, have);
	return s->ps_h + pattern_sum_word(pattern_le64(w), s->ps_n / 8);
}

#endif
