/*
 * The byte pump, for both directions of every session (see pump.h).
 * SIGPIPE must be ignored by the process: splice() cannot take
 * MSG_NOSIGNAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pipes.h"
#include "pump.h"

/* Reads at most this much by copy; a read that fills it turns the
 * direction to splice. The pipe (>= 64 KiB) always holds one copy read. */
#define COPY_MAX 16384

static _Thread_local char scratch[COPY_MAX];

void
pump_init(struct pump *p)
{
	p->pipe[0] = p->pipe[1] = -1;
	p->in_pipe = 0;
	p->flags = 0;
}

void
pump_release(struct pump *p, struct pipes *pipes)
{
	if (p->pipe[0] != -1)
		pipes_put(pipes, p->pipe, p->in_pipe);
	p->in_pipe = 0;
}

/* A write to the destination failed with errno (not EINTR): it is full
 * (wait for it to drain) or broken. */
static enum pump_status
dst_failed(struct pump *p)
{
	if (errno != EAGAIN)
		return PUMP_ERR_DST;
	p->flags |= PUMP_BLOCKED;
	return PUMP_WAIT;
}

/* Empties the pipe into dst. Returns PUMP_MORE when it is empty. */
static enum pump_status
flush(struct pump *p, int dst, size_t *done, uint64_t *moved)
{
	ssize_t n;

	while (p->in_pipe > 0) {
		n = splice(p->pipe[0], NULL, dst, NULL, p->in_pipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return dst_failed(p);
		}
		p->in_pipe -= (uint32_t)n;
		*done += (size_t)n;
		*moved += (uint64_t)n;
	}
	return PUMP_MORE;
}

/*
 * No pipe to be had (descriptors exhausted): copy without holding bytes.
 * Peek, send what the destination takes, then consume exactly that much.
 */
static enum pump_status
peek_copy(struct pump *p, int src, int dst, size_t budget, uint64_t *moved)
{
	size_t done = 0;
	ssize_t n, w;

	while (done < budget) {
		n = recv(src, scratch, sizeof(scratch), MSG_PEEK);
		if (n == 0) {
			p->flags |= PUMP_SRC_EOF;
			return PUMP_DONE;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? PUMP_WAIT : PUMP_ERR_SRC;
		}
		w = send(dst, scratch, (size_t)n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return dst_failed(p);
		}
		if (recv(src, scratch, (size_t)w, 0) != w)
			return PUMP_ERR_SRC;
		done += (size_t)w;
		*moved += (uint64_t)w;
	}
	return PUMP_MORE;
}

/* One copy read: recv, send, and park what dst did not take in the pipe.
 * Returns bytes read (0 at EOF, -1 with errno). A TCP recv() shorter than
 * asked has emptied the receive queue: the caller may stop there. */
static ssize_t
copy_once(struct pump *p, int src, int dst, size_t *done, uint64_t *moved)
{
	ssize_t n, w;

	n = recv(src, scratch, sizeof(scratch), 0);
	if (n <= 0)
		return n;
	w = send(dst, scratch, (size_t)n, MSG_NOSIGNAL);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -2;
		w = 0;
	}
	*done += (size_t)w;
	*moved += (uint64_t)w;
	if (w < n) {
		/* The pipe is empty and larger than one read: all of it fits. */
		if (write(p->pipe[1], scratch + w, (size_t)(n - w)) != n - w) {
			errno = EIO;
			return -2;
		}
		p->in_pipe = (uint32_t)(n - w);
	}
	if (n == (ssize_t)sizeof(scratch))
		p->flags |= PUMP_BULK;
	return n;
}

enum pump_status
pump_run(struct pump *p, int src, int dst, struct pipes *pipes, size_t budget,
    uint64_t *moved)
{
	enum pump_status st;
	size_t done = 0, want;
	ssize_t n;

	p->flags &= ~PUMP_BLOCKED;
	for (;;) {
		if ((st = flush(p, dst, &done, moved)) != PUMP_MORE)
			return st;
		if (p->flags & PUMP_SRC_EOF) {
			pump_release(p, pipes);
			return PUMP_DONE;
		}
		if (done >= budget) {
			pump_release(p, pipes);
			return PUMP_MORE;
		}
		if (p->pipe[0] == -1 && pipes_get(pipes, p->pipe) == -1)
			return peek_copy(p, src, dst, budget - done, moved);
		if (p->flags & PUMP_BULK) {
			/* A short splice proves nothing: it also stops when
			 * the pipe runs out of slots (one per fragment), so
			 * bulk reads go on until EAGAIN. */
			want = 0;
			n = splice(src, NULL, p->pipe[1], NULL, pipes_size(pipes),
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				p->in_pipe = (uint32_t)n;
				if (n < COPY_MAX)
					p->flags &= ~PUMP_BULK;
			}
		} else {
			want = COPY_MAX;
			n = copy_once(p, src, dst, &done, moved);
			if (n == -2)
				return PUMP_ERR_DST;
		}
		if (n == 0) {
			p->flags |= PUMP_SRC_EOF;
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return PUMP_ERR_SRC;
			pump_release(p, pipes);
			return PUMP_WAIT;
		}
		/* want 0: bulk, no short-read stop. */
		if ((size_t)n < want && !(p->flags & PUMP_SRC_HUP)) {
			/* Drained for now: the next bytes bring a new event. */
			if ((st = flush(p, dst, &done, moved)) != PUMP_MORE)
				return st;
			pump_release(p, pipes);
			return PUMP_WAIT;
		}
	}
}
