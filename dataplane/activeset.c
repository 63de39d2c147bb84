/*
 * Active-set snapshots and the main thread's backend registry.
 */
#include <stdlib.h>
#include <string.h>

#include "activeset.h"

static struct backend *
registry_find(struct backend_registry *reg, const struct addr *a)
{
	unsigned i;

	for (i = 0; i < reg->n; i++)
		if (addr_equal(&reg->items[i]->addr, a))
			return reg->items[i];
	return NULL;
}

static int
registry_add(struct backend_registry *reg, struct backend *be)
{
	struct backend **items;
	unsigned cap;

	if (reg->n == reg->cap) {
		cap = reg->cap ? reg->cap * 2 : 16;
		items = realloc(reg->items, cap * sizeof(*items));
		if (items == NULL)
			return -1;
		reg->items = items;
		reg->cap = cap;
	}
	reg->items[reg->n++] = be;
	return 0;
}

struct activeset *
activeset_from_proto(const struct proto_active_set *m,
    struct backend_registry *reg)
{
	struct activeset *set;
	struct backend *be;
	unsigned i;

	set = calloc(1, sizeof(*set) + m->n_backends * sizeof(set->backends[0]));
	if (set == NULL)
		return NULL;
	atomic_init(&set->refs, 1);
	memcpy(set->instance, m->instance, sizeof(set->instance));
	set->generation = m->generation;
	set->changed_at_ms = m->changed_at_ms;
	memcpy(set->reason, m->reason, sizeof(set->reason));
	for (i = 0; i < m->n_backends; i++) {
		be = registry_find(reg, &m->backends[i]);
		if (be == NULL) {
			be = backend_new(&m->backends[i]);
			if (be == NULL)
				goto fail_unref;
			if (registry_add(reg, be) == -1) {
				backend_unref(be);
				goto fail_unref;
			}
		}
		backend_ref(be);
		set->backends[set->n++] = be;
	}
	return set;

fail_unref:
	/* Backends just added stay in the registry; the next update drops
	 * them since they are in no set and hold no connection. */
	activeset_unref(set);
	return NULL;
}

void
activeset_to_proto(const struct activeset *set, struct proto_active_set *m)
{
	unsigned i;

	memset(m, 0, sizeof(*m));
	memcpy(m->instance, set->instance, sizeof(m->instance));
	m->generation = set->generation;
	m->changed_at_ms = set->changed_at_ms;
	memcpy(m->reason, set->reason, sizeof(m->reason));
	m->n_backends = set->n;
	for (i = 0; i < set->n; i++)
		m->backends[i] = set->backends[i]->addr;
}

void
activeset_ref(struct activeset *set)
{
	atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
}

void
activeset_unref(struct activeset *set)
{
	unsigned i;

	if (set == NULL)
		return;
	if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < set->n; i++)
		backend_unref(set->backends[i]);
	free(set);
}

static bool
set_has(const struct activeset *set, const struct backend *be)
{
	unsigned i;

	for (i = 0; i < set->n; i++)
		if (set->backends[i] == be)
			return true;
	return false;
}

void
registry_update(struct backend_registry *reg, const struct activeset *set)
{
	struct backend *be;
	unsigned i, keep = 0;

	for (i = 0; i < reg->n; i++) {
		be = reg->items[i];
		atomic_store(&be->in_set, set != NULL && set_has(set, be));
		/* Workers' pools hold no counted connection: conns is enough. */
		if (atomic_load(&be->in_set) || counter_get(&be->conns) > 0 ||
		    counter_get(&be->pool_idle) > 0) {
			reg->items[keep++] = be;
			continue;
		}
		backend_unref(be);
	}
	reg->n = keep;
}

void
registry_free(struct backend_registry *reg)
{
	unsigned i;

	for (i = 0; i < reg->n; i++)
		backend_unref(reg->items[i]);
	free(reg->items);
	reg->items = NULL;
	reg->n = reg->cap = 0;
}

bool
activeset_is_newer(const struct activeset *cur,
    const struct proto_active_set *m)
{
	if (cur == NULL)
		return true;
	if (strcmp(cur->instance, m->instance) != 0)
		return true;
	return m->generation > cur->generation;
}
