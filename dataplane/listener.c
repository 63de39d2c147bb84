/*
 * Listening sockets and the accept loop. Out of descriptors, accept stops
 * watching the socket for a while (10 ms doubling to 1 s) instead of
 * spinning on a connection it cannot take; the client waits in the
 * backlog and is served once descriptors free up. A client needs two
 * descriptors, so one is held spare and given up to each client just
 * before it dials its backend: a client taken is never dropped for want of
 * a descriptor, and the shortage shows at accept time.
 */
#define LOG_MODULE LOGM_WORKER

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"
#include "dial.h"
#include "listener.h"
#include "session.h"
#include "worker.h"

#define ACCEPT_BATCH 64
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000

int
listener_open(const struct addr *a, uint32_t backlog, uint64_t keepalive_ms,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(a, &ss);
	char name[ADDR_STRLEN];
	int fd, one = 1;

	addr_format(a, name, sizeof(name));
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "setsockopt: %s", strerror(errno));
		goto fail_close;
	}
	dial_sockopts(fd, keepalive_ms, true);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1) {
		snprintf(err, errlen, "cannot bind %s: %s", name,
		    strerror(errno));
		goto fail_close;
	}
	if (listen(fd, (int)backlog) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", name,
		    strerror(errno));
		goto fail_close;
	}
	return fd;

fail_close:
	close(fd);
	return -1;
}

int
listener_adopt(int fd, const struct addr *a, uint32_t backlog,
    uint64_t keepalive_ms, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), olen;
	char want[ADDR_STRLEN], got[ADDR_STRLEN];
	int type = 0, proto = 0, listening = 0, flags;
	struct addr bound;

	olen = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1 ||
	    (olen = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_PROTOCOL,
	    &proto, &olen)) == -1 ||
	    (olen = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN,
	    &listening, &olen)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(err, errlen, "inherited descriptor %d: %s", fd,
		    strerror(errno));
		return -1;
	}
	if (type != SOCK_STREAM || proto != IPPROTO_TCP || !listening ||
	    addr_from_sockaddr((struct sockaddr *)&ss, len, &bound) == -1) {
		snprintf(err, errlen, "inherited descriptor %d is not a "
		    "listening TCP socket", fd);
		return -1;
	}
	addr_format(a, want, sizeof(want));
	if (!addr_equal(&bound, a)) {
		snprintf(err, errlen, "server.listen_addr is %s but the "
		    "running process listens on %s: moving the port needs a "
		    "restart", want, addr_format(&bound, got, sizeof(got)));
		return -1;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    listen(fd, (int)backlog) == -1) {
		snprintf(err, errlen, "inherited listener on %s: %s", want,
		    strerror(errno));
		return -1;
	}
	dial_sockopts(fd, keepalive_ms, true);
	return 0;
}

static void
resume_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct listener *l = t->arg;

	if (l->fd != -1)
		evloop_io_mod(loop, &l->io, EVLOOP_IN);
}

static void
back_off(struct listener *l, int err)
{
	l->backoff_ms = l->backoff_ms == 0 ? BACKOFF_MIN_MS :
	    l->backoff_ms * 2;
	if (l->backoff_ms > BACKOFF_MAX_MS)
		l->backoff_ms = BACKOFF_MAX_MS;
	if (l->backoff_ms == BACKOFF_MIN_MS || l->backoff_ms == BACKOFF_MAX_MS)
		log_warnx("accept: %s; pausing accepts for %u ms",
		    strerror(err), l->backoff_ms);
	evloop_io_mod(l->w->loop, &l->io, 0);
	evloop_timer_start(l->w->loop, &l->backoff_timer, l->backoff_ms);
}

static void
accept_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct listener *l = io->arg;
	struct sockaddr_storage peer;
	socklen_t plen;
	int i, fd;

	(void)loop;
	(void)events;
	for (i = 0; i < ACCEPT_BATCH && l->fd != -1; i++) {
		if (l->spare == -1 && (l->spare = open("/dev/null",
		    O_RDONLY | O_CLOEXEC)) == -1) {
			worker_count_error(l->w, PROTO_ERR_ACCEPT);
			back_off(l, errno);
			return;
		}
		plen = sizeof(peer);
		fd = accept4(l->fd, (struct sockaddr *)&peer, &plen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			default:
				worker_count_error(l->w, PROTO_ERR_ACCEPT);
				back_off(l, errno);
				return;
			}
		}
		l->backoff_ms = 0;
		close(l->spare);
		l->spare = -1;
		session_accept(l->w, fd, (struct sockaddr *)&peer, plen);
		/*
		 * The backend's socket (if it needed one) is open by now: take
		 * the spare back at once, so that a worker between batches
		 * always holds it and its descriptor count is exact. When
		 * that fails, the next round tries again and backs off.
		 */
		l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
}

int
listener_start(struct listener *l, struct worker *w, int fd)
{
	l->w = w;
	l->fd = fd;
	l->backoff_ms = 0;
	/* -1 is fine: accept_cb takes it again before the first client. */
	l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	evloop_timer_init(&l->backoff_timer, resume_cb, l);
	if (evloop_io_add(w->loop, &l->io, fd, EVLOOP_IN, accept_cb, l) == -1) {
		if (l->spare != -1)
			close(l->spare);
		l->spare = -1;
		l->fd = -1;
		return -1;
	}
	return 0;
}

void
listener_close(struct listener *l)
{
	int fd = l->fd;

	if (fd == -1)
		return;
	evloop_timer_stop(l->w->loop, &l->backoff_timer);
	evloop_io_del(l->w->loop, &l->io);
	close(fd);
	l->fd = -1;
	if (l->spare != -1)
		close(l->spare);
	l->spare = -1;
}

void
listener_starved(struct listener *l, int err)
{
	if (l->fd == -1 || l->io.events == 0)
		return; /* closed, or already backing off */
	worker_count_error(l->w, PROTO_ERR_ACCEPT);
	back_off(l, err);
}
