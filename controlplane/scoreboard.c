/*
 * Scoreboard storage and persistence (see scoreboard.h). Entries live in
 * a dense array for iteration; ids index a slot table (freed ids are
 * reused); an open-addressing hash table maps addresses to ids.
 */
#define LOG_MODULE LOGM_SCORING

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scoreboard.h"

#define HASH_EMPTY 0u
#define HASH_TOMB UINT32_MAX

struct scoreboard {
	struct sb_entry **dense;   /* count entries */
	unsigned count, dense_cap;
	struct sb_entry **slots;   /* by id; NULL = free */
	uint32_t *dense_of;        /* by id: index in dense */
	uint32_t nslots;           /* ids handed out so far */
	uint32_t slots_cap;
	uint32_t *free_ids;
	uint32_t nfree;
	uint32_t *hash;            /* id + 1, HASH_EMPTY or HASH_TOMB */
	uint32_t hash_cap;         /* power of two */
	uint32_t hash_used;        /* live + tombstones */
};

int
scoreboard_new(struct scoreboard **out)
{
	struct scoreboard *sb;

	sb = calloc(1, sizeof(*sb));
	if (sb == NULL)
		return -1;
	sb->hash_cap = 64;
	sb->hash = calloc(sb->hash_cap, sizeof(*sb->hash));
	if (sb->hash == NULL) {
		free(sb);
		return -1;
	}
	*out = sb;
	return 0;
}

void
scoreboard_free(struct scoreboard *sb)
{
	unsigned i;

	if (sb == NULL)
		return;
	for (i = 0; i < sb->count; i++)
		free(sb->dense[i]);
	free(sb->dense);
	free(sb->slots);
	free(sb->dense_of);
	free(sb->free_ids);
	free(sb->hash);
	free(sb);
}

static uint32_t
hash_find(const struct scoreboard *sb, const struct addr *a)
{
	uint32_t mask = sb->hash_cap - 1, i, v;

	for (i = (uint32_t)addr_hash(a) & mask;; i = (i + 1) & mask) {
		v = sb->hash[i];
		if (v == HASH_EMPTY)
			return UINT32_MAX;
		if (v != HASH_TOMB && addr_equal(&sb->slots[v - 1]->addr, a))
			return i;
	}
}

static void
hash_insert(uint32_t *table, uint32_t cap, const struct addr *a, uint32_t id)
{
	uint32_t mask = cap - 1, i;

	for (i = (uint32_t)addr_hash(a) & mask;
	    table[i] != HASH_EMPTY && table[i] != HASH_TOMB;
	    i = (i + 1) & mask)
		;
	table[i] = id + 1;
}

/* Rebuilds the table at a size that keeps it under half full. */
static int
hash_rebuild(struct scoreboard *sb)
{
	uint32_t cap = 64, *table;
	unsigned i;

	while (cap < (sb->count + 1) * 2)
		cap *= 2;
	table = calloc(cap, sizeof(*table));
	if (table == NULL)
		return -1;
	for (i = 0; i < sb->count; i++)
		hash_insert(table, cap, &sb->dense[i]->addr, sb->dense[i]->id);
	free(sb->hash);
	sb->hash = table;
	sb->hash_cap = cap;
	sb->hash_used = sb->count;
	return 0;
}

struct sb_entry *
scoreboard_find(const struct scoreboard *sb, const struct addr *a)
{
	uint32_t i = hash_find(sb, a);

	return i == UINT32_MAX ? NULL : sb->slots[sb->hash[i] - 1];
}

struct sb_entry *
scoreboard_by_id(const struct scoreboard *sb, uint32_t id)
{
	return id < sb->nslots ? sb->slots[id] : NULL;
}

static int
grow(void **p, size_t elem, unsigned *cap, unsigned need)
{
	unsigned n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, (size_t)n * elem);
	if (q == NULL)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

static int
alloc_id(struct scoreboard *sb, uint32_t *id)
{
	struct sb_entry **slots;
	uint32_t cap, *u;

	if (sb->nfree > 0) {
		*id = sb->free_ids[--sb->nfree];
		return 0;
	}
	if (sb->nslots == sb->slots_cap) {
		cap = sb->slots_cap ? sb->slots_cap * 2 : 16;
		/* Each array may grow alone; the capacity moves only when
		 * all three did. */
		if ((slots = realloc(sb->slots, cap * sizeof(*slots))) == NULL)
			return -1;
		sb->slots = slots;
		memset(slots + sb->slots_cap, 0,
		    (cap - sb->slots_cap) * sizeof(*slots));
		if ((u = realloc(sb->dense_of, cap * sizeof(*u))) == NULL)
			return -1;
		sb->dense_of = u;
		if ((u = realloc(sb->free_ids, cap * sizeof(*u))) == NULL)
			return -1;
		sb->free_ids = u;
		sb->slots_cap = cap;
	}
	*id = sb->nslots++;
	return 0;
}

struct sb_entry *
scoreboard_add(struct scoreboard *sb, const struct addr *a, uint64_t now_ms)
{
	struct sb_entry *e;
	uint32_t id;

	if ((e = scoreboard_find(sb, a)) != NULL)
		return e;
	if ((sb->hash_used + 1) * 2 > sb->hash_cap && hash_rebuild(sb) == -1)
		return NULL;
	if (grow((void **)&sb->dense, sizeof(*sb->dense), &sb->dense_cap,
	    sb->count + 1) == -1)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	if (alloc_id(sb, &id) == -1) {
		free(e);
		return NULL;
	}
	e->addr = *a;
	addr_format(a, e->name, sizeof(e->name));
	e->id = id;
	e->added_ms = now_ms;
	e->last_outcome = -1;
	score_init(&e->score);
	sb->slots[id] = e;
	sb->dense_of[id] = sb->count;
	sb->dense[sb->count++] = e;
	hash_insert(sb->hash, sb->hash_cap, a, id);
	sb->hash_used++;
	return e;
}

void
scoreboard_remove(struct scoreboard *sb, struct sb_entry *e)
{
	uint32_t hi = hash_find(sb, &e->addr), di = sb->dense_of[e->id];
	struct sb_entry *last;

	if (hi != UINT32_MAX)
		sb->hash[hi] = HASH_TOMB;
	last = sb->dense[--sb->count];
	sb->dense[di] = last;
	sb->dense_of[last->id] = di;
	sb->slots[e->id] = NULL;
	sb->free_ids[sb->nfree++] = e->id;
	free(e);
}

unsigned
scoreboard_count(const struct scoreboard *sb)
{
	return sb->count;
}

struct sb_entry *
scoreboard_at(const struct scoreboard *sb, unsigned i)
{
	return i < sb->count ? sb->dense[i] : NULL;
}

size_t
scoreboard_memsize(const struct scoreboard *sb)
{
	return sizeof(*sb) + (size_t)sb->count * sizeof(struct sb_entry) +
	    (size_t)sb->dense_cap * sizeof(*sb->dense) +
	    (size_t)sb->nslots * (sizeof(*sb->slots) + 2 * sizeof(uint32_t)) +
	    (size_t)sb->hash_cap * sizeof(*sb->hash);
}

enum sb_state
sb_entry_state(const struct sb_entry *e)
{
	if (e->disabled)
		return SB_DISABLED;
	if (e->active)
		return SB_ACTIVE;
	if (e->live.connections > 0)
		return SB_DRAINING;
	return SB_CANDIDATE;
}

const char *
sb_state_name(enum sb_state s)
{
	switch (s) {
	case SB_ACTIVE:
		return "active";
	case SB_DISABLED:
		return "disabled";
	case SB_DRAINING:
		return "draining";
	default:
		return "candidate";
	}
}

/* ---- persistence --------------------------------------------------------- */

/* A score_state field on disk: name, offset, kind. */
enum field_kind { F_U64 = 0, F_U32, F_DOUBLE, F_BOOL };

static const struct {
	const char *name;
	size_t off;
	enum field_kind kind;
} score_fields[] = {
#define F(n, k) { #n, offsetof(struct score_state, n), k }
	F(probes, F_U64),
	F(successes, F_U64),
	F(failures, F_U64),
	F(passive_reports, F_U64),
	F(passive_ok, F_U64),
	F(passive_failed, F_U64),
	F(latency_ewma_ms, F_DOUBLE),
	F(jitter_ewma_ms, F_DOUBLE),
	F(success_ewma, F_DOUBLE),
	F(latency_init, F_BOOL),
	F(jitter_init, F_BOOL),
	F(success_init, F_BOOL),
	F(consecutive_failures, F_U32),
	F(consecutive_successes, F_U32),
	F(passive_consecutive_failures, F_U32),
	F(penalty, F_DOUBLE),
	F(bonus, F_DOUBLE),
#undef F
};

static json_t *
score_to_json(const struct score_state *st)
{
	const char *base = (const char *)st;
	json_t *o = json_object();
	unsigned i;

	if (o == NULL)
		return NULL;
	for (i = 0; i < sizeof(score_fields) / sizeof(score_fields[0]); i++) {
		const void *p = base + score_fields[i].off;
		json_t *v;

		switch (score_fields[i].kind) {
		case F_U64:
			v = json_integer((json_int_t)(*(const uint64_t *)p &
			    INT64_MAX));
			break;
		case F_U32:
			v = json_integer(*(const uint32_t *)p);
			break;
		case F_DOUBLE:
			v = json_real(isfinite(*(const double *)p) ?
			    *(const double *)p : 0.0);
			break;
		default:
			v = json_boolean(*(const bool *)p);
			break;
		}
		if (json_object_set_new(o, score_fields[i].name, v) == -1) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* Fills st from o; every field must be present with its type. */
static int
score_from_json(const json_t *o, struct score_state *st)
{
	char *base = (char *)st;
	unsigned i;

	score_init(st);
	if (!json_is_object(o))
		return -1;
	for (i = 0; i < sizeof(score_fields) / sizeof(score_fields[0]); i++) {
		const json_t *v = json_object_get(o, score_fields[i].name);
		void *p = base + score_fields[i].off;
		json_int_t n;
		double d;

		/* Added after the first release: absent means 0. */
		if (v == NULL && strcmp(score_fields[i].name,
		    "passive_consecutive_failures") == 0)
			continue;
		switch (score_fields[i].kind) {
		case F_U64:
		case F_U32:
			if (!json_is_integer(v) ||
			    (n = json_integer_value(v)) < 0)
				return -1;
			if (score_fields[i].kind == F_U32) {
				if ((uint64_t)n > UINT32_MAX)
					return -1;
				*(uint32_t *)p = (uint32_t)n;
			} else {
				*(uint64_t *)p = (uint64_t)n;
			}
			break;
		case F_DOUBLE:
			if (!json_is_number(v))
				return -1;
			d = json_number_value(v);
			if (!isfinite(d) || d < 0)
				return -1;
			*(double *)p = d;
			break;
		default:
			if (!json_is_boolean(v))
				return -1;
			*(bool *)p = json_is_true(v);
			break;
		}
	}
	if (st->success_ewma > 1.0)
		return -1;
	return 0;
}

char *
scoreboard_encode(const struct scoreboard *sb, const struct sb_saved_set *set,
    uint64_t now_unix_ms, size_t *len)
{
	json_t *root, *arr, *members, *jset, *be, *score;
	char name[ADDR_STRLEN], *out = NULL;
	unsigned i;

	root = json_object();
	arr = json_array();
	members = json_array();
	jset = json_object();
	if (root == NULL || arr == NULL || members == NULL || jset == NULL)
		goto done;
	for (i = 0; i < set->n; i++)
		json_array_append_new(members, json_string(
		    addr_format(&set->members[i], name, sizeof(name))));
	json_object_set_new(jset, "instance", json_string(set->instance));
	json_object_set_new(jset, "generation",
	    json_integer((json_int_t)(set->generation & INT64_MAX)));
	json_object_set_new(jset, "changed_at_ms",
	    json_integer((json_int_t)(set->changed_at_ms & INT64_MAX)));
	json_object_set_new(jset, "reason", json_string(set->reason));
	json_object_set(jset, "backends", members);
	for (i = 0; i < sb->count; i++) {
		const struct sb_entry *e = sb->dense[i];

		score = score_to_json(&e->score);
		be = json_object();
		if (score == NULL || be == NULL) {
			json_decref(score);
			json_decref(be);
			goto done;
		}
		json_object_set_new(be, "addr", json_string(e->name));
		json_object_set_new(be, "disabled", json_boolean(e->disabled));
		json_object_set_new(be, "score", score);
		json_array_append_new(arr, be);
	}
	json_object_set_new(root, "v", json_integer(1));
	json_object_set_new(root, "saved_at_ms",
	    json_integer((json_int_t)(now_unix_ms & INT64_MAX)));
	json_object_set(root, "set", jset);
	json_object_set(root, "backends", arr);
	out = json_dumps(root, JSON_COMPACT);
	if (out != NULL)
		*len = strlen(out);
done:
	json_decref(members);
	json_decref(jset);
	json_decref(arr);
	json_decref(root);
	return out;
}

static int
decode_set(const json_t *j, struct sb_saved_set *set, char *err,
    size_t errlen)
{
	const json_t *members = json_object_get(j, "backends");
	const json_t *v;
	const char *s;
	char why[128];
	size_t i;

	memset(set, 0, sizeof(*set));
	if (!json_is_object(j) || !json_is_array(members) ||
	    json_array_size(members) > PROTO_MAX_SET) {
		snprintf(err, errlen, "\"set\" must be an object with a "
		    "\"backends\" array of at most %u", PROTO_MAX_SET);
		return -1;
	}
	s = json_string_value(json_object_get(j, "instance"));
	if (s != NULL && proto_id_valid(s))
		snprintf(set->instance, sizeof(set->instance), "%s", s);
	v = json_object_get(j, "generation");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		set->generation = (uint64_t)json_integer_value(v);
	v = json_object_get(j, "changed_at_ms");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		set->changed_at_ms = (uint64_t)json_integer_value(v);
	s = json_string_value(json_object_get(j, "reason"));
	if (s != NULL)
		snprintf(set->reason, sizeof(set->reason), "%s", s);
	json_array_foreach(members, i, v) {
		s = json_string_value(v);
		if (s == NULL || addr_parse(s, 0, &set->members[set->n], why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "set member %zu: %s", i,
			    s == NULL ? "not a string" : why);
			return -1;
		}
		set->n++;
	}
	return 0;
}

int
scoreboard_decode(struct scoreboard *sb, const char *buf, size_t len,
    bool (*keep)(void *arg, const struct addr *a), void *arg,
    struct sb_saved_set *set, unsigned *skipped, uint64_t now_ms,
    char *err, size_t errlen)
{
	const json_t *arr, *be;
	struct sb_entry *e;
	struct score_state st;
	struct addr a;
	json_error_t jerr;
	json_t *root;
	const char *s;
	char why[128];
	size_t i;
	int rc = -1;

	*skipped = 0;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "line %d: %s", jerr.line, jerr.text);
		return -1;
	}
	arr = json_object_get(root, "backends");
	if (!json_is_object(root) ||
	    json_integer_value(json_object_get(root, "v")) != 1 ||
	    !json_is_array(arr)) {
		snprintf(err, errlen, "not a version 1 scoreboard");
		goto done;
	}
	if (decode_set(json_object_get(root, "set"), set, err, errlen) == -1)
		goto done;
	json_array_foreach(arr, i, be) {
		s = json_string_value(json_object_get(be, "addr"));
		if (s == NULL || addr_parse(s, 0, &a, why, sizeof(why)) == -1 ||
		    score_from_json(json_object_get(be, "score"), &st) == -1 ||
		    !json_is_boolean(json_object_get(be, "disabled"))) {
			(*skipped)++;
			continue;
		}
		if (!keep(arg, &a))
			continue;
		e = scoreboard_add(sb, &a, now_ms);
		if (e == NULL) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		e->score = st;
		e->disabled = json_is_true(json_object_get(be, "disabled"));
	}
	rc = 0;
done:
	json_decref(root);
	return rc;
}
