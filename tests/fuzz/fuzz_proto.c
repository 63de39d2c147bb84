/*
 * libFuzzer target for proto/: any bytes go to proto_peek_type() and both
 * decoders. A message that decodes must encode again, and that encoding
 * must decode to the same struct (decoders zero-fill, so memcmp is exact).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Large (the report is ~240 KB): static, not on the stack. */
static struct proto_active_set set1, set2;
static struct proto_report rep1, rep2;

static void
fuzz_set(const uint8_t *data, size_t size)
{
	char err[256];
	size_t len;
	char *buf;

	if (proto_decode_active_set(data, size, &set1, err, sizeof(err)) != 0)
		return;
	if ((buf = proto_encode_active_set(&set1, &len)) == NULL) {
		fprintf(stderr, "decoded active set does not encode\n");
		abort();
	}
	if (proto_peek_type(buf, len, err, sizeof(err)) != PROTO_ACTIVE_SET ||
	    proto_decode_active_set(buf, len, &set2, err, sizeof(err)) != 0) {
		fprintf(stderr, "re-encoded active set refused: %s\n", err);
		abort();
	}
	if (memcmp(&set1, &set2, sizeof(set1)) != 0) {
		fprintf(stderr, "active set changed in a round trip\n");
		abort();
	}
	free(buf);
}

static void
fuzz_report(const uint8_t *data, size_t size)
{
	char err[256];
	size_t len;
	char *buf;

	if (proto_decode_report(data, size, &rep1, err, sizeof(err)) != 0)
		return;
	if ((buf = proto_encode_report(&rep1, &len)) == NULL) {
		fprintf(stderr, "decoded report does not encode\n");
		abort();
	}
	if (proto_peek_type(buf, len, err, sizeof(err)) != PROTO_REPORT ||
	    proto_decode_report(buf, len, &rep2, err, sizeof(err)) != 0) {
		fprintf(stderr, "re-encoded report refused: %s\n", err);
		abort();
	}
	if (memcmp(&rep1, &rep2, sizeof(rep1)) != 0) {
		fprintf(stderr, "report changed in a round trip\n");
		abort();
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	(void)proto_peek_type(data, size, err, sizeof(err));
	fuzz_set(data, size);
	fuzz_report(data, size);
	return 0;
}
