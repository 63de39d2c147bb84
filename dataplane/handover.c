/*
 * The data plane's hitless upgrade (see handover.h): the message codec,
 * the old process's side (start the new binary, queue the offer, wait for
 * TAKEN, ABORT, an exit or the timeout) and the new process's side
 * (receive and check the offer, answer).
 */
#define LOG_MODULE LOGM_MAIN

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "handover.h"

/* The new process's end of the channel, after the exec. */
#define CHILD_FD 3

static const unsigned char magic[4] = { 'T', 'F', 'H', 'O' };

struct handover {
	struct evloop *loop;
	pid_t pid;
	int fd;                    /* our end; -1 once the upgrade is over */
	bool reaped;               /* the process exited and was waited for */
	uint64_t timeout_ms;
	struct evloop_io io;
	struct evloop_timer timer;
	handover_done_cb *cb;
	void *arg;
};

/* ---- the message -------------------------------------------------------- */

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static bool
is_printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

ssize_t
handover_encode(const struct handover_msg *m, const void *set,
    size_t set_len, void *out, size_t cap)
{
	unsigned char *p = out;
	size_t body = 0, i;
	uint16_t nfds = 0;

	switch (m->hm_type) {
	case HANDOVER_OFFER:
		if (m->hm_nfds < 1 || m->hm_nfds > HANDOVER_MAX_FDS ||
		    set_len > HANDOVER_MAX_SET || (set == NULL && set_len > 0))
			return -1;
		nfds = m->hm_nfds;
		body = set_len;
		break;
	case HANDOVER_TAKEN:
		break;
	case HANDOVER_ABORT:
		body = strnlen(m->hm_reason, HANDOVER_REASON_LEN - 1);
		if (body == 0)
			return -1;
		break;
	default:
		return -1;
	}
	if (cap < HANDOVER_HDR_LEN + body)
		return -1;
	memcpy(p, magic, sizeof(magic));
	p[4] = HANDOVER_VERSION;
	p[5] = (unsigned char)m->hm_type;
	put16(p + 6, nfds);
	put32(p + 8, m->hm_pid);
	put32(p + 12, (uint32_t)body);
	if (m->hm_type == HANDOVER_OFFER && body > 0)
		memcpy(p + HANDOVER_HDR_LEN, set, body);
	for (i = 0; m->hm_type == HANDOVER_ABORT && i < body; i++)
		p[HANDOVER_HDR_LEN + i] = is_printable(
		    (unsigned char)m->hm_reason[i]) ?
		    (unsigned char)m->hm_reason[i] : '?';
	return (ssize_t)(HANDOVER_HDR_LEN + body);
}

int
handover_decode(const void *buf, size_t len, struct handover_msg *out,
    struct proto_active_set *set, char *err, size_t errlen)
{
	const unsigned char *p = buf;
	char perr[200];
	uint32_t body;
	size_t i;

	if (len < HANDOVER_HDR_LEN) {
		snprintf(err, errlen, "short message (%zu bytes)", len);
		return -1;
	}
	if (memcmp(p, magic, sizeof(magic)) != 0) {
		snprintf(err, errlen, "not a handover message");
		return -1;
	}
	if (p[4] != HANDOVER_VERSION) {
		snprintf(err, errlen, "handover version %u (this one speaks "
		    "%u)", p[4], HANDOVER_VERSION);
		return -1;
	}
	if (p[5] >= HANDOVER_TYPE_COUNT) {
		snprintf(err, errlen, "unknown handover message type %u",
		    p[5]);
		return -1;
	}
	body = get32(p + 12);
	if (body != len - HANDOVER_HDR_LEN) {
		snprintf(err, errlen, "body length %u in a message of %zu "
		    "bytes", body, len);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->hm_type = (enum handover_type)p[5];
	out->hm_nfds = get16(p + 6);
	out->hm_pid = get32(p + 8);
	if (out->hm_pid == 0 || out->hm_pid > (uint32_t)INT32_MAX) {
		snprintf(err, errlen, "bad pid %u", out->hm_pid);
		return -1;
	}
	p += HANDOVER_HDR_LEN;
	switch (out->hm_type) {
	case HANDOVER_OFFER:
		if (out->hm_nfds < 1 || out->hm_nfds > HANDOVER_MAX_FDS) {
			snprintf(err, errlen, "offer of %u listening sockets "
			    "(1..%u)", out->hm_nfds, HANDOVER_MAX_FDS);
			return -1;
		}
		if (body > HANDOVER_MAX_SET) {
			snprintf(err, errlen, "active set of %u bytes (at most "
			    "%u)", body, HANDOVER_MAX_SET);
			return -1;
		}
		if (body == 0)
			return 0;
		if (set == NULL) {
			snprintf(err, errlen, "an offer where none is "
			    "expected");
			return -1;
		}
		if (proto_decode_active_set(p, body, set, perr,
		    sizeof(perr)) == -1) {
			snprintf(err, errlen, "active set: %s", perr);
			return -1;
		}
		out->hm_has_set = true;
		return 0;
	case HANDOVER_TAKEN:
	case HANDOVER_ABORT:
		if (out->hm_nfds != 0) {
			snprintf(err, errlen, "%u descriptors announced with a "
			    "reply", out->hm_nfds);
			return -1;
		}
		if (out->hm_type == HANDOVER_TAKEN && body != 0) {
			snprintf(err, errlen, "TAKEN with a body");
			return -1;
		}
		if (out->hm_type == HANDOVER_TAKEN)
			return 0;
		if (body == 0 || body >= HANDOVER_REASON_LEN) {
			snprintf(err, errlen, "ABORT reason of %u bytes", body);
			return -1;
		}
		for (i = 0; i < body; i++) {
			if (!is_printable(p[i])) {
				snprintf(err, errlen, "ABORT reason not "
				    "printable");
				return -1;
			}
			out->hm_reason[i] = (char)p[i];
		}
		out->hm_reason[body] = '\0';
		return 0;
	default:
		break;
	}
	snprintf(err, errlen, "unknown handover message type");
	return -1;
}

/* ---- sending and receiving ---------------------------------------------- */

/* Sends len bytes of buf as one record with nfds descriptors attached. */
static int
send_record(int fd, const void *buf, size_t len, const int *fds,
    unsigned nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * HANDOVER_MAX_FDS)];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf,
	    .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (nfds > HANDOVER_MAX_FDS) {
		errno = EMSGSIZE;
		return -1;
	}
	if (nfds > 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/*
 * Receives one record into buf (cap bytes) without blocking, with the
 * descriptors that came with it in fds (up to max; any beyond are closed).
 * Returns its length, 0 at end of file, -1 with errno (EAGAIN: none yet;
 * EMSGSIZE: the record or its descriptors were cut, which closes them).
 */
static ssize_t
recv_record(int fd, void *buf, size_t cap, int *fds, unsigned max,
    unsigned *nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * HANDOVER_MAX_FDS)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
	struct cmsghdr *c;
	unsigned i, k, got;
	int one, reset = 0;
	ssize_t n;

	*nfds = 0;
	/* A peer that closed with records of ours unread leaves ECONNRESET,
	 * reported (once) before the records it sent: read on past it. */
	do
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n == -1 && (errno == EINTR || (errno == ECONNRESET &&
	    reset++ == 0)));
	if (n == -1)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		got = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (k = 0; k < got; k++) {
			memcpy(&one, CMSG_DATA(c) + k * sizeof(int),
			    sizeof(int));
			if (*nfds < max)
				fds[(*nfds)++] = one;
			else
				close(one);
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

static int
send_msg(int fd, const struct handover_msg *m)
{
	unsigned char buf[HANDOVER_HDR_LEN + HANDOVER_REASON_LEN];
	ssize_t len;

	len = handover_encode(m, NULL, 0, buf, sizeof(buf));
	if (len == -1) {
		errno = EINVAL;
		return -1;
	}
	return send_record(fd, buf, (size_t)len, NULL, 0);
}

int
handover_send_offer(int fd, const int *fds, unsigned nfds, const void *set,
    size_t set_len)
{
	struct handover_msg m = {
		.hm_type = HANDOVER_OFFER,
		.hm_pid = (uint32_t)getpid(),
		.hm_nfds = (uint16_t)nfds,
	};
	unsigned char *buf;
	ssize_t len;
	int rc, saved;

	if (nfds < 1 || nfds > HANDOVER_MAX_FDS || set_len > HANDOVER_MAX_SET) {
		errno = EMSGSIZE;
		return -1;
	}
	buf = malloc(HANDOVER_HDR_LEN + set_len);
	if (buf == NULL)
		return -1;
	len = handover_encode(&m, set, set_len, buf, HANDOVER_HDR_LEN +
	    set_len);
	if (len == -1) {
		free(buf);
		errno = EMSGSIZE;
		return -1;
	}
	rc = send_record(fd, buf, (size_t)len, fds, nfds);
	saved = errno;
	free(buf);
	errno = saved;
	return rc;
}

int
handover_send_taken(int fd)
{
	struct handover_msg m = {
		.hm_type = HANDOVER_TAKEN,
		.hm_pid = (uint32_t)getpid(),
	};

	return send_msg(fd, &m);
}

int
handover_send_abort(int fd, const char *reason)
{
	struct handover_msg m = {
		.hm_type = HANDOVER_ABORT,
		.hm_pid = (uint32_t)getpid(),
	};

	snprintf(m.hm_reason, sizeof(m.hm_reason), "%s",
	    reason[0] != '\0' ? reason : "unknown error");
	return send_msg(fd, &m);
}

/* ---- the old process ---------------------------------------------------- */

static bool
env_has_name(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* environ less WATCHDOG_PID and HANDOVER_ENV, plus fdvar: a new array of
 * borrowed strings, or NULL. */
static char **
child_env(char *fdvar)
{
	extern char **environ;
	size_t n, i, k = 0;
	char **env;

	for (n = 0; environ != NULL && environ[n] != NULL; n++)
		continue;
	env = calloc(n + 2, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (!env_has_name(environ[i], "WATCHDOG_PID") &&
		    !env_has_name(environ[i], HANDOVER_ENV))
			env[k++] = environ[i];
	env[k++] = fdvar;
	env[k] = NULL;
	return env;
}

/* Starts exe with its end of the channel as CHILD_FD, every other
 * descriptor above stderr closed and no signal blocked. */
static int
spawn(const char *exe, char *const *argv, int child_end, pid_t *pid)
{
	char fdvar[sizeof(HANDOVER_ENV) + 16];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	char **env;
	int rc;

	snprintf(fdvar, sizeof(fdvar), "%s=%d", HANDOVER_ENV, CHILD_FD);
	env = child_env(fdvar);
	if (env == NULL)
		return ENOMEM;
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* dup2 to another number clears close-on-exec on the copy only;
	 * child_end is above CHILD_FD (see handover_start). */
	rc = posix_spawn_file_actions_adddup2(&fa, child_end, CHILD_FD);
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa,
		    CHILD_FD + 1);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	if (rc == 0)
		rc = posix_spawn(pid, exe, &fa, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	return rc;
}

static void
finish(struct handover *h, pid_t pid, const char *why)
{
	evloop_timer_stop(h->loop, &h->timer);
	if (h->fd != -1) {
		evloop_io_del(h->loop, &h->io);
		close(h->fd);
		h->fd = -1;
	}
	if (why != NULL && !h->reaped)
		kill(h->pid, SIGKILL);
	/* Last: the callback may free h. */
	h->cb(h, pid, why, h->arg);
}

/* Reads what the new process said, if anything. Returns true when that
 * ended the upgrade (the callback has run: h may be gone). */
static bool
read_outcome(struct handover *h)
{
	unsigned char buf[HANDOVER_HDR_LEN + HANDOVER_REASON_LEN];
	char err[200], why[HANDOVER_REASON_LEN + 64];
	struct handover_msg m;
	int fds[HANDOVER_MAX_FDS];
	unsigned nfds, i;
	ssize_t n;

	n = recv_record(h->fd, buf, sizeof(buf), fds, HANDOVER_MAX_FDS,
	    &nfds);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return false;
	if (n == -1) {
		snprintf(why, sizeof(why), "reading the handover channel: %s",
		    strerror(errno));
	} else if (n == 0) {
		snprintf(why, sizeof(why), "the new process closed the "
		    "handover channel before taking over");
	} else if (nfds > 0) {
		snprintf(why, sizeof(why), "the new process sent descriptors");
	} else if (handover_decode(buf, (size_t)n, &m, NULL, err,
	    sizeof(err)) == -1) {
		snprintf(why, sizeof(why), "bad handover message: %s", err);
	} else if (m.hm_type == HANDOVER_ABORT) {
		snprintf(why, sizeof(why), "%s", m.hm_reason);
	} else if (m.hm_type != HANDOVER_TAKEN) {
		snprintf(why, sizeof(why), "unexpected handover message "
		    "type %d", (int)m.hm_type);
	} else {
		if ((pid_t)m.hm_pid != h->pid)
			log_warnx("upgrade: pid %ld took over for pid %ld, "
			    "which was started", (long)m.hm_pid,
			    (long)h->pid);
		finish(h, (pid_t)m.hm_pid, NULL);
		return true;
	}
	finish(h, h->pid, why);
	return true;
}

static void
channel_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	(void)loop;
	(void)events;
	read_outcome(io->arg);
}

static void
timeout_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct handover *h = t->arg;
	char why[96];

	(void)loop;
	snprintf(why, sizeof(why), "the new process did not take over "
	    "within %llu ms (killed)", (unsigned long long)h->timeout_ms);
	finish(h, h->pid, why);
}

int
handover_start(struct evloop *loop, const struct handover_offer *o,
    handover_done_cb *cb, void *arg, struct handover **out, char *err,
    size_t errlen)
{
	struct handover *h;
	int sv[2], fd, rc, sndbuf = 2 * HANDOVER_MAX_MSG;

	if (o->nfds < 1 || o->nfds > HANDOVER_MAX_FDS ||
	    o->set_len > HANDOVER_MAX_SET) {
		snprintf(err, errlen, "%u listening sockets and a set of %zu "
		    "bytes break the handover limits", o->nfds, o->set_len);
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		goto fail_free;
	}
	/* The new process's end must not sit on CHILD_FD or below: its
	 * dup2 would not clear close-on-exec, or would clobber stdio. */
	if (sv[1] <= CHILD_FD) {
		fd = fcntl(sv[1], F_DUPFD_CLOEXEC, CHILD_FD + 1);
		if (fd == -1) {
			snprintf(err, errlen, "fcntl: %s", strerror(errno));
			goto fail_close;
		}
		close(sv[1]);
		sv[1] = fd;
	}
	/* An offer is one record, charged to our send buffer. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
	    handover_send_offer(sv[0], o->fds, o->nfds, o->set, o->set_len)
	    == -1) {
		snprintf(err, errlen, "sending the listening sockets: %s",
		    strerror(errno));
		goto fail_close;
	}
	rc = spawn(o->exe, o->argv, sv[1], &h->pid);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start %s: %s", o->exe,
		    strerror(rc));
		goto fail_close;
	}
	close(sv[1]);
	h->loop = loop;
	h->fd = sv[0];
	h->cb = cb;
	h->arg = arg;
	h->timeout_ms = o->timeout_ms;
	evloop_timer_init(&h->timer, timeout_cb, h);
	if (evloop_io_add(loop, &h->io, h->fd, EVLOOP_IN, channel_cb, h)
	    == -1) {
		snprintf(err, errlen, "watching the handover channel: %s",
		    strerror(errno));
		kill(h->pid, SIGKILL);
		close(h->fd);
		free(h);
		return -1;
	}
	evloop_timer_start(loop, &h->timer, o->timeout_ms);
	*out = h;
	return 0;

fail_close:
	close(sv[0]);
	close(sv[1]);
fail_free:
	free(h);
	return -1;
}

pid_t
handover_pid(const struct handover *h)
{
	return h->pid;
}

void
handover_child_exited(struct handover *h, pid_t pid, int status)
{
	char why[128];

	if (h == NULL || pid != h->pid)
		return;
	h->reaped = true;
	/* What it said before it went (its reason, or even TAKEN) comes
	 * first, whichever event the loop saw first. */
	if (h->fd == -1 || read_outcome(h))
		return;
	if (WIFEXITED(status))
		snprintf(why, sizeof(why), "the new process exited with "
		    "status %d before taking over", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "the new process was killed by "
		    "signal %d (%s) before taking over", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		return;
	finish(h, h->pid, why);
}

void
handover_free(struct handover *h)
{
	if (h == NULL)
		return;
	if (h->fd != -1) {
		evloop_timer_stop(h->loop, &h->timer);
		evloop_io_del(h->loop, &h->io);
		close(h->fd);
		if (!h->reaped)
			kill(h->pid, SIGTERM);
	}
	free(h);
}

/* ---- the new process ---------------------------------------------------- */

int
handover_channel(int *fd, char *err, size_t errlen)
{
	const char *s = getenv(HANDOVER_ENV);
	int type = 0, n;
	socklen_t len = sizeof(type);
	struct stat st;
	char *end;
	long v;

	if (s == NULL)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535) {
		snprintf(err, errlen, "%s=%s: not a descriptor number",
		    HANDOVER_ENV, s);
		unsetenv(HANDOVER_ENV);
		return -1;
	}
	n = (int)v;
	unsetenv(HANDOVER_ENV);
	if (fstat(n, &st) == -1 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(n, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_SEQPACKET) {
		snprintf(err, errlen, "%s=%d: not a handover channel",
		    HANDOVER_ENV, n);
		return -1;
	}
	if (fcntl(n, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "%s=%d: %s", HANDOVER_ENV, n,
		    strerror(errno));
		return -1;
	}
	*fd = n;
	return 1;
}

int
handover_receive(int fd, int timeout_ms, int fds[HANDOVER_MAX_FDS],
    unsigned *nfds, struct proto_active_set *set, bool *has_set,
    pid_t *old_pid, char *err, size_t errlen)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct handover_msg m;
	unsigned char *buf;
	char derr[256];
	unsigned got = 0, i;
	ssize_t n;
	int rc;

	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc == -1 && errno == EINTR);
	if (rc <= 0) {
		snprintf(err, errlen, "no offer from the old process within "
		    "%d ms%s%s", timeout_ms, rc == -1 ? ": " : "",
		    rc == -1 ? strerror(errno) : "");
		return -1;
	}
	/* One byte more than the largest offer: a longer one is cut. */
	buf = malloc(HANDOVER_MAX_MSG + 1);
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = recv_record(fd, buf, HANDOVER_MAX_MSG + 1, fds, HANDOVER_MAX_FDS,
	    &got);
	if (n <= 0) {
		snprintf(err, errlen, "reading the offer: %s", n == 0 ?
		    "the old process closed the channel" : errno == EMSGSIZE ?
		    "oversized" : strerror(errno));
		goto fail;
	}
	if (handover_decode(buf, (size_t)n, &m, set, derr, sizeof(derr))
	    == -1) {
		snprintf(err, errlen, "bad offer: %s", derr);
		goto fail;
	}
	if (m.hm_type != HANDOVER_OFFER || m.hm_nfds != got) {
		snprintf(err, errlen, "bad offer: type %d announcing %u "
		    "listening sockets, %u attached", (int)m.hm_type,
		    m.hm_nfds, got);
		goto fail;
	}
	free(buf);
	*nfds = got;
	*has_set = m.hm_has_set;
	*old_pid = (pid_t)m.hm_pid;
	return 0;

fail:
	for (i = 0; i < got; i++)
		close(fds[i]);
	free(buf);
	return -1;
}
