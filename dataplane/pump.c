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

#define COPY_CHUNK 65536

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

static enum pump_status
finish(struct pump *p, int dst, struct pipes *pipes)
{
	pump_release(p, pipes);
	/* ENOTCONN: the destination is gone already; nothing left to tell. */
	shutdown(dst, SHUT_WR);
	p->flags |= PUMP_DST_SHUT;
	return PUMP_DONE;
}

/*
 * No pipe to be had (descriptors exhausted): copy without holding bytes.
 * Peek, send what the destination takes, then consume exactly that much.
 */
static enum pump_status
copy_run(struct pump *p, int src, int dst, struct pipes *pipes,
    size_t budget, uint64_t *moved)
{
	static _Thread_local char buf[COPY_CHUNK];
	size_t done = 0;
	ssize_t n, w;

	while (done < budget) {
		n = recv(src, buf, sizeof(buf), MSG_PEEK);
		if (n == 0) {
			p->flags |= PUMP_SRC_EOF;
			return finish(p, dst, pipes);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? PUMP_WAIT : PUMP_ERR_SRC;
		}
		w = send(dst, buf, (size_t)n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? PUMP_WAIT : PUMP_ERR_DST;
		}
		/* Consume what was sent; it is already in our buffer. */
		if (recv(src, buf, (size_t)w, 0) != w)
			return PUMP_ERR_SRC;
		done += (size_t)w;
		*moved += (uint64_t)w;
	}
	return PUMP_MORE;
}

enum pump_status
pump_run(struct pump *p, int src, int dst, struct pipes *pipes, size_t budget,
    uint64_t *moved)
{
	size_t done = 0;
	ssize_t n;

	if (p->flags & PUMP_DST_SHUT)
		return PUMP_DONE;
	for (;;) {
		while (p->in_pipe > 0) {
			n = splice(p->pipe[0], NULL, dst, NULL, p->in_pipe,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return errno == EAGAIN ? PUMP_WAIT :
				    PUMP_ERR_DST;
			}
			p->in_pipe -= (uint32_t)n;
			done += (size_t)n;
			*moved += (uint64_t)n;
		}
		if (p->flags & PUMP_SRC_EOF)
			return finish(p, dst, pipes);
		if (done >= budget) {
			pump_release(p, pipes);
			return PUMP_MORE;
		}
		if (p->pipe[0] == -1 && pipes_get(pipes, p->pipe) == -1)
			return copy_run(p, src, dst, pipes, budget - done,
			    moved);
		n = splice(src, NULL, p->pipe[1], NULL, pipes_size(pipes),
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			p->in_pipe = (uint32_t)n;
		} else if (n == 0) {
			p->flags |= PUMP_SRC_EOF;
		} else if (errno == EAGAIN) {
			/* Nothing to read: an idle direction holds no pipe. */
			pump_release(p, pipes);
			return PUMP_WAIT;
		} else if (errno != EINTR) {
			return PUMP_ERR_SRC;
		}
	}
}
