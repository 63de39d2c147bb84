/*
 * Non-blocking connects and socket options for the data plane.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/evloop.h"
#include "dial.h"

void
dial_sockopts(int fd, uint64_t keepalive_ms, bool full)
{
	int one = 1, idle, intvl = 10, cnt = 3;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (keepalive_ms == 0)
		return;
	idle = keepalive_ms < 1000 ? 1 : (int)(keepalive_ms / 1000);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	if (!full)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

int
dial_result(int fd, uint32_t events)
{
	/* A writable socket without an error flag has connected. */
	if (!(events & EVLOOP_HUP))
		return 0;
	return dial_finish(fd);
}

int
dial_start(const struct addr *a, uint64_t keepalive_ms, bool *connected)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(a, &ss);
	int fd, saved;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_TCP);
	if (fd == -1)
		return -1;
	dial_sockopts(fd, keepalive_ms, false);
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		*connected = true;
		return fd;
	}
	if (errno == EINPROGRESS) {
		*connected = false;
		return fd;
	}
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
dial_finish(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

bool
dial_alive(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char c;
	ssize_t n;

	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return false;
	if (n < 0)
		return errno == EAGAIN;
	/* The backend spoke first: alive unless a FIN followed the bytes. */
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return false;
	return ti.tcpi_state == TCP_ESTABLISHED;
}
