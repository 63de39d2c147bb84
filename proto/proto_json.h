/*
 * JSON helpers shared by the codecs in proto/; private to proto/, the one
 * place that includes <jansson.h> for IPC. Getters check presence, JSON
 * type and range, and write "<ctx><key>: <what is wrong>" into err.
 */
#ifndef TCPFWD_PROTO_JSON_H
#define TCPFWD_PROTO_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/*
 * jansson holds integers as long long, so this is the largest counter the
 * wire carries; encoders refuse larger values, decoders cannot see them.
 */
#define PROTO_JSON_INT_MAX ((uint64_t)INT64_MAX)

/* Nesting deeper than this is refused before jansson sees the bytes. */
#define PROTO_MAX_DEPTH 16

void proto_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parses buf as one message: at most PROTO_MAX_MSG bytes, nesting at most
 * PROTO_MAX_DEPTH, no duplicate keys, an object whose "v" is PROTO_VERSION
 * and whose "type" is want (any known type when want is -1). Returns a new
 * reference and the type in *type (may be NULL), or NULL with err.
 */
json_t *proto_parse(const void *buf, size_t len, int want, int *type,
    char *err, size_t errlen);

/* A new object holding "v" and "type" (new reference), NULL when out of
 * memory. */
json_t *proto_new_msg(enum proto_type t);

/* Dumps m compactly; NULL when out of memory or over PROTO_MAX_MSG. */
char *proto_dump(const json_t *m, size_t *len);

/* Setters: 0, or -1 when v > PROTO_JSON_INT_MAX or memory runs out. */
int proto_set_u64(json_t *o, const char *key, uint64_t v);
int proto_set_str(json_t *o, const char *key, const char *s);
int proto_set_bool(json_t *o, const char *key, bool v);
int proto_set_u64_array(json_t *o, const char *key, const uint64_t *v,
    size_t n);
/* "1.2.3.4:80" / "[::1]:80"; -1 for a bad family or port 0. */
int proto_set_addr(json_t *o, const char *key, const struct addr *a);
json_t *proto_addr_json(const struct addr *a);

/* Getters: o is borrowed; ctx prefixes the key in messages ("" at top). */
int proto_get_u64(const json_t *o, const char *ctx, const char *key,
    uint64_t max, uint64_t *out, char *err, size_t errlen);
int proto_get_u32(const json_t *o, const char *ctx, const char *key,
    uint32_t *out, char *err, size_t errlen);
int proto_get_bool(const json_t *o, const char *ctx, const char *key,
    bool *out, char *err, size_t errlen);
/* Copies a string of fewer than size bytes into dst. */
int proto_get_str(const json_t *o, const char *ctx, const char *key,
    char *dst, size_t size, char *err, size_t errlen);
/* Reads an array of exactly n non-negative integers. */
int proto_get_u64_array(const json_t *o, const char *ctx, const char *key,
    uint64_t *dst, size_t n, char *err, size_t errlen);
/* Reads the array under key, of at most max elements; *arr is borrowed. */
int proto_get_array(const json_t *o, const char *ctx, const char *key,
    size_t max, json_t **arr, char *err, size_t errlen);
/* Parses an address string with a port into a zero-filled struct addr. */
int proto_parse_addr(const json_t *v, const char *ctx, struct addr *out,
    char *err, size_t errlen);

/* True for an address an encoder may send: IPv4 or IPv6, port > 0. */
bool proto_addr_sendable(const struct addr *a);

#endif
