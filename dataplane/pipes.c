/*
 * Per-worker pipe cache for splice(). Not thread-safe: one per worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "pipes.h"

struct pipes {
	size_t size;
	unsigned keep;
	unsigned n;       /* cached */
	unsigned open;    /* cached + borrowed */
	int (*cache)[2];
};

int
pipes_new(size_t pipe_size, unsigned keep, struct pipes **out)
{
	struct pipes *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -1;
	p->cache = calloc(keep ? keep : 1, sizeof(*p->cache));
	if (p->cache == NULL) {
		free(p);
		return -1;
	}
	p->size = pipe_size;
	p->keep = keep;
	*out = p;
	return 0;
}

void
pipes_free(struct pipes *p)
{
	unsigned i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		close(p->cache[i][0]);
		close(p->cache[i][1]);
	}
	free(p->cache);
	free(p);
}

int
pipes_get(struct pipes *p, int fds[2])
{
	int got;

	if (p->n > 0) {
		p->n--;
		fds[0] = p->cache[p->n][0];
		fds[1] = p->cache[p->n][1];
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	/* A bigger pipe moves more per splice; the kernel may grant less. */
	got = fcntl(fds[0], F_SETPIPE_SZ, (int)p->size);
	if (got > 0)
		p->size = (size_t)got;
	p->open++;
	return 0;
}

void
pipes_put(struct pipes *p, int fds[2], size_t used)
{
	if (used == 0 && p->n < p->keep) {
		p->cache[p->n][0] = fds[0];
		p->cache[p->n][1] = fds[1];
		p->n++;
	} else {
		close(fds[0]);
		close(fds[1]);
		p->open--;
	}
	fds[0] = fds[1] = -1;
}

unsigned
pipes_open(const struct pipes *p)
{
	return p->open;
}

size_t
pipes_size(const struct pipes *p)
{
	return p->size;
}
