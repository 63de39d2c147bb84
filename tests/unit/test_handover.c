/*
 * dataplane/handover: the upgrade message round-trips (offer with and
 * without a set, taken, abort) and every malformed record is refused; the
 * largest active set proto can encode fits an offer; listening sockets
 * cross a real socketpair with SCM_RIGHTS and arrive usable and
 * close-on-exec, and a wrong descriptor count leaks nothing; the channel
 * variable is checked; listener_adopt() accepts only a listening TCP
 * socket on the configured address; the old side reports an exec error,
 * a new process that exits, and one that never answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/addr.h"
#include "../../common/evloop.h"
#include "../../dataplane/handover.h"
#include "../../dataplane/listener.h"

static struct proto_active_set set_in, set_out;

static struct addr
parse(const char *s)
{
	char err[128];
	struct addr a;

	assert_int_equal(addr_parse(s, 80, &a, err, sizeof(err)), 0);
	return a;
}

/* A set of n backends (IPv6 when v6), encoded by proto. */
static char *
encoded_set(unsigned n, bool v6, size_t *len)
{
	char name[80];
	unsigned i;
	char *buf;

	memset(&set_in, 0, sizeof(set_in));
	snprintf(set_in.instance, sizeof(set_in.instance), "%s",
	    "abcdefghijklmnopqrstuvwxyz012345");
	set_in.generation = UINT64_MAX / 3;
	set_in.changed_at_ms = 1700000000000ull;
	memset(set_in.reason, '"', sizeof(set_in.reason) - 1);
	set_in.n_backends = n;
	for (i = 0; i < n; i++) {
		if (v6)
			snprintf(name, sizeof(name), "[ffff:ffff:ffff:ffff:"
			    "ffff:ffff:ffff:%x]:65535", i + 1);
		else
			snprintf(name, sizeof(name), "10.0.%u.%u:8080", i / 256,
			    i % 256);
		set_in.backends[i] = parse(name);
	}
	buf = proto_encode_active_set(&set_in, len);
	assert_non_null(buf);
	return buf;
}

static unsigned
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* ---- the codec ---------------------------------------------------------- */

static void
test_roundtrip_replies(void **state)
{
	struct handover_msg m = { .hm_type = HANDOVER_TAKEN, .hm_pid = 42 };
	unsigned char buf[512];
	struct handover_msg out;
	char err[256];
	ssize_t len;

	(void)state;
	len = handover_encode(&m, NULL, 0, buf, sizeof(buf));
	assert_int_equal(len, HANDOVER_HDR_LEN);
	assert_memory_equal(buf, "TFHO\x01\x01\x00\x00\x00\x00\x00\x2a"
	    "\x00\x00\x00\x00", HANDOVER_HDR_LEN);
	assert_int_equal(handover_decode(buf, (size_t)len, &out, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(out.hm_type, HANDOVER_TAKEN);
	assert_int_equal(out.hm_pid, 42);

	m.hm_type = HANDOVER_ABORT;
	snprintf(m.hm_reason, sizeof(m.hm_reason), "config.yaml:3:1: bad\tkey");
	len = handover_encode(&m, NULL, 0, buf, sizeof(buf));
	assert_int_equal(len, HANDOVER_HDR_LEN + strlen(m.hm_reason));
	assert_int_equal(handover_decode(buf, (size_t)len, &out, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(out.hm_type, HANDOVER_ABORT);
	/* the tab is not printable: replaced */
	assert_string_equal(out.hm_reason, "config.yaml:3:1: bad?key");

	/* a reason at the limit is cut to 255 bytes */
	memset(m.hm_reason, 'x', sizeof(m.hm_reason) - 1);
	m.hm_reason[sizeof(m.hm_reason) - 1] = '\0';
	len = handover_encode(&m, NULL, 0, buf, sizeof(buf));
	assert_int_equal(len, HANDOVER_HDR_LEN + HANDOVER_REASON_LEN - 1);
	assert_int_equal(handover_decode(buf, (size_t)len, &out, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(strlen(out.hm_reason), HANDOVER_REASON_LEN - 1);
}

static void
test_roundtrip_offer(void **state)
{
	struct handover_msg m = { .hm_type = HANDOVER_OFFER, .hm_pid = 7,
	    .hm_nfds = 3 };
	struct handover_msg out;
	unsigned char *buf;
	char err[256], *set;
	size_t set_len;
	ssize_t len;

	(void)state;
	/* The largest set proto encodes fits an offer. */
	set = encoded_set(PROTO_MAX_SET, true, &set_len);
	assert_true(set_len <= HANDOVER_MAX_SET);
	buf = malloc(HANDOVER_MAX_MSG);
	assert_non_null(buf);
	len = handover_encode(&m, set, set_len, buf, HANDOVER_MAX_MSG);
	assert_int_equal(len, HANDOVER_HDR_LEN + set_len);
	memset(&set_out, 0, sizeof(set_out));
	assert_int_equal(handover_decode(buf, (size_t)len, &out, &set_out,
	    err, sizeof(err)), 0);
	assert_int_equal(out.hm_type, HANDOVER_OFFER);
	assert_int_equal(out.hm_nfds, 3);
	assert_true(out.hm_has_set);
	assert_int_equal(set_out.generation, set_in.generation);
	assert_int_equal(set_out.n_backends, PROTO_MAX_SET);
	assert_true(addr_equal(&set_out.backends[PROTO_MAX_SET - 1],
	    &set_in.backends[PROTO_MAX_SET - 1]));
	free(set);

	/* no set */
	len = handover_encode(&m, NULL, 0, buf, HANDOVER_MAX_MSG);
	assert_int_equal(len, HANDOVER_HDR_LEN);
	assert_int_equal(handover_decode(buf, (size_t)len, &out, &set_out,
	    err, sizeof(err)), 0);
	assert_false(out.hm_has_set);
	free(buf);
}

static void
test_encode_refuses(void **state)
{
	struct handover_msg m = { .hm_type = HANDOVER_OFFER, .hm_pid = 7 };
	unsigned char buf[64];
	static unsigned char big[HANDOVER_MAX_SET + 1];

	(void)state;
	assert_int_equal(handover_encode(&m, NULL, 0, buf, sizeof(buf)), -1);
	m.hm_nfds = HANDOVER_MAX_FDS + 1;
	assert_int_equal(handover_encode(&m, NULL, 0, buf, sizeof(buf)), -1);
	m.hm_nfds = 1;
	assert_int_equal(handover_encode(&m, big, sizeof(big), buf,
	    sizeof(buf)), -1);
	assert_int_equal(handover_encode(&m, "{}", 2, buf, HANDOVER_HDR_LEN),
	    -1);
	m.hm_type = HANDOVER_ABORT;
	m.hm_nfds = 0;
	assert_int_equal(handover_encode(&m, NULL, 0, buf, sizeof(buf)), -1);
	m.hm_type = HANDOVER_TYPE_COUNT;
	assert_int_equal(handover_encode(&m, NULL, 0, buf, sizeof(buf)), -1);
}

/* Decodes buf with one byte at off set to v: must be refused. */
static void
refuse_with(const unsigned char *good, size_t len, size_t off,
    unsigned char v, bool with_set)
{
	unsigned char buf[HANDOVER_HDR_LEN + 512];
	struct handover_msg out;
	char err[256];

	assert_true(len <= sizeof(buf));
	memcpy(buf, good, len);
	if (off < len)
		buf[off] = v;
	err[0] = '\0';
	assert_int_equal(handover_decode(buf, len, &out, with_set ?
	    &set_out : NULL, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
}

static void
test_decode_refuses(void **state)
{
	struct handover_msg m = { .hm_type = HANDOVER_TAKEN, .hm_pid = 9 };
	unsigned char taken[HANDOVER_HDR_LEN + 8], offer[HANDOVER_HDR_LEN + 8],
	    abort_[HANDOVER_HDR_LEN + 8];
	struct handover_msg out;
	char err[256];
	ssize_t tl, ol, al;

	(void)state;
	tl = handover_encode(&m, NULL, 0, taken, sizeof(taken));
	m.hm_type = HANDOVER_ABORT;
	snprintf(m.hm_reason, sizeof(m.hm_reason), "nope");
	al = handover_encode(&m, NULL, 0, abort_, sizeof(abort_));
	m.hm_type = HANDOVER_OFFER;
	m.hm_nfds = 2;
	ol = handover_encode(&m, "{\"v\":1}", 7, offer, sizeof(offer));
	assert_true(tl > 0 && al > 0 && ol > 0);

	refuse_with(taken, HANDOVER_HDR_LEN - 1, 99, 0, false); /* short */
	refuse_with(taken, (size_t)tl, 0, 'X', false);          /* magic */
	refuse_with(taken, (size_t)tl, 4, 2, false);            /* version */
	refuse_with(taken, (size_t)tl, 4, 0, false);
	refuse_with(taken, (size_t)tl, 5, HANDOVER_TYPE_COUNT, false);
	refuse_with(taken, (size_t)tl, 5, 0xff, false);
	refuse_with(taken, (size_t)tl, 7, 1, false);    /* fds with a reply */
	refuse_with(taken, (size_t)tl, 15, 1, false);   /* body length */
	refuse_with(taken, (size_t)tl, 11, 0, false);   /* pid 0 */
	refuse_with(taken, (size_t)tl, 8, 0x80, false); /* pid > INT32_MAX */
	/* a TAKEN with a body */
	refuse_with(abort_, (size_t)al, 5, HANDOVER_TAKEN, false);
	/* an ABORT without a reason, or with a control character */
	refuse_with(taken, (size_t)tl, 5, HANDOVER_ABORT, false);
	refuse_with(abort_, (size_t)al, HANDOVER_HDR_LEN + 1, '\n', false);
	refuse_with(abort_, (size_t)al, HANDOVER_HDR_LEN + 1, 0x80, false);
	/* offers: no descriptors, too many, a set where none is expected,
	 * a set proto refuses */
	refuse_with(offer, (size_t)ol, 7, 0, true);
	refuse_with(offer, (size_t)ol, 7, HANDOVER_MAX_FDS + 1, true);
	refuse_with(offer, (size_t)ol, 99, 0, false);
	refuse_with(offer, (size_t)ol, 99, 0, true);
	/* the unedited records decode */
	assert_int_equal(handover_decode(taken, (size_t)tl, &out, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(handover_decode(abort_, (size_t)al, &out, NULL, err,
	    sizeof(err)), 0);
}

/* ---- descriptors over a socketpair -------------------------------------- */

static int
listening_socket(struct addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char err[256];
	int fd;

	/* port 0: any free one (addr_parse wants a real port) */
	*a = parse("127.0.0.1:1");
	a->port = 0;
	fd = listener_open(a, 16, 0, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss, len, a),
	    0);
	return fd;
}

static void
test_offer_over_socketpair(void **state)
{
	int sv[2], lfd[2], got[HANDOVER_MAX_FDS], c;
	struct addr a[2], other;
	unsigned nfds, base;
	char err[256], *set;
	size_t set_len;
	bool has_set;
	pid_t pid;

	(void)state;
	base = open_fds();
	lfd[0] = listening_socket(&a[0]);
	lfd[1] = listening_socket(&a[1]);
	set = encoded_set(3, false, &set_len);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	assert_int_equal(handover_send_offer(sv[0], lfd, 2, set, set_len), 0);
	assert_int_equal(handover_receive(sv[1], 1000, got, &nfds, &set_out,
	    &has_set, &pid, err, sizeof(err)), 0);
	assert_int_equal(nfds, 2);
	assert_true(has_set);
	assert_int_equal(set_out.n_backends, 3);
	assert_int_equal(pid, getpid());
	/* the same sockets: adoptable on their address only */
	assert_int_equal(listener_adopt(got[0], &a[0], 32, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(listener_adopt(got[1], &a[1], 32, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(listener_adopt(got[0], &a[1], 32, 0, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "moving the port needs a restart"));
	assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	/* a client queued on the original is accepted from the copy */
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_storage ss;
		socklen_t len = addr_to_sockaddr(&a[0], &ss);

		assert_int_equal(connect(c, (struct sockaddr *)&ss, len), 0);
	}
	close(lfd[0]);
	usleep(10000);
	{
		int fd = accept4(got[0], NULL, NULL, SOCK_CLOEXEC);

		assert_true(fd >= 0);
		close(fd);
	}
	close(c);
	/* not a listening socket */
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	other = parse("127.0.0.1:1");
	assert_int_equal(listener_adopt(c, &other, 32, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "not a listening TCP socket"));
	close(c);
	close(got[0]);
	close(got[1]);
	close(lfd[1]);
	close(sv[0]);
	close(sv[1]);
	free(set);
	assert_int_equal(open_fds(), base);
}

/* A record announcing 2 descriptors with 1 attached, and nothing at all:
 * refused, and the one that came is closed. */
static void
test_receive_refuses(void **state)
{
	struct handover_msg m = { .hm_type = HANDOVER_OFFER, .hm_pid = 5,
	    .hm_nfds = 2 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	unsigned char rec[HANDOVER_HDR_LEN];
	struct iovec iov = { .iov_base = rec, .iov_len = sizeof(rec) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
	int sv[2], lfd, got[HANDOVER_MAX_FDS];
	struct cmsghdr *c;
	unsigned nfds, base;
	struct addr a;
	char err[256];
	bool has_set;
	pid_t pid;

	(void)state;
	base = open_fds();
	lfd = listening_socket(&a);
	assert_int_equal(handover_encode(&m, NULL, 0, rec, sizeof(rec)),
	    HANDOVER_HDR_LEN);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	memset(&cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &lfd, sizeof(int));
	assert_int_equal(sendmsg(sv[0], &mh, 0), sizeof(rec));
	assert_int_equal(handover_receive(sv[1], 1000, got, &nfds, &set_out,
	    &has_set, &pid, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "2 listening sockets, 1 attached"));
	/* nothing comes: a timeout */
	assert_int_equal(handover_receive(sv[1], 50, got, &nfds, &set_out,
	    &has_set, &pid, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "within 50 ms"));
	/* the peer went away */
	close(sv[0]);
	assert_int_equal(handover_receive(sv[1], 1000, got, &nfds, &set_out,
	    &has_set, &pid, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "closed the channel"));
	close(sv[1]);
	close(lfd);
	assert_int_equal(open_fds(), base);
}

static void
test_channel_variable(void **state)
{
	int fd = -1, p[2], sv[2];
	char err[256], num[16];

	(void)state;
	unsetenv(HANDOVER_ENV);
	assert_int_equal(handover_channel(&fd, err, sizeof(err)), 0);
	setenv(HANDOVER_ENV, "3x", 1);
	assert_int_equal(handover_channel(&fd, err, sizeof(err)), -1);
	assert_null(getenv(HANDOVER_ENV));
	assert_int_equal(pipe(p), 0);
	snprintf(num, sizeof(num), "%d", p[0]);
	setenv(HANDOVER_ENV, num, 1);
	assert_int_equal(handover_channel(&fd, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a handover channel"));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	snprintf(num, sizeof(num), "%d", sv[1]);
	setenv(HANDOVER_ENV, num, 1);
	assert_int_equal(handover_channel(&fd, err, sizeof(err)), 1);
	assert_int_equal(fd, sv[1]);
	assert_null(getenv(HANDOVER_ENV));
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* ---- the old side ------------------------------------------------------- */

struct outcome {
	bool done;
	char why[512];
	pid_t pid;
};

static void
done_cb(struct handover *h, pid_t pid, const char *why, void *arg)
{
	struct outcome *o = arg;

	o->done = true;
	o->pid = pid;
	snprintf(o->why, sizeof(o->why), "%s", why != NULL ? why : "");
	handover_free(h);
}

static void
stop_cb(struct evloop *loop, struct evloop_timer *t)
{
	(void)t;
	evloop_stop(loop);
}

static void
poll_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct outcome *o = t->arg;

	if (o->done)
		evloop_stop(loop);
	else
		evloop_timer_start(loop, t, 5);
}

/* Starts argv as the "new process" and runs the loop until the outcome. */
static void
run_upgrade(char *const *argv, uint64_t timeout_ms, struct outcome *o,
    int *rc, char *err, size_t errlen)
{
	struct evloop_timer guard, poll;
	struct handover_offer off = {
		.exe = argv[0], .argv = argv, .nfds = 1,
		.timeout_ms = timeout_ms,
	};
	struct evloop *loop;
	struct handover *h;
	struct addr a;
	int lfd, status;

	memset(o, 0, sizeof(*o));
	lfd = listening_socket(&a);
	off.fds = &lfd;
	assert_int_equal(evloop_new(&loop), 0);
	*rc = handover_start(loop, &off, done_cb, o, &h, err, errlen);
	if (*rc == 0) {
		evloop_timer_init(&guard, stop_cb, NULL);
		evloop_timer_init(&poll, poll_cb, o);
		evloop_timer_start(loop, &guard, 5000);
		evloop_timer_start(loop, &poll, 5);
		evloop_run(loop);
		assert_true(o->done);
		assert_int_equal(waitpid(o->pid, &status, 0), o->pid);
	}
	evloop_free(loop);
	close(lfd);
}

static void
test_old_side(void **state)
{
	char *missing[] = { "/nonexistent/tcpfwd-dataplane", NULL };
	char *quits[] = { "/bin/sh", "-c", "exit 3", NULL };
	char *sleeps[] = { "/bin/sleep", "5", NULL };
	char err[512];
	struct outcome o;
	unsigned base;
	int rc;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	base = open_fds();
	run_upgrade(missing, 1000, &o, &rc, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "cannot start /nonexistent/"));
	assert_non_null(strstr(err, "No such file"));

	run_upgrade(quits, 5000, &o, &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_non_null(strstr(o.why, "closed the handover channel"));

	run_upgrade(sleeps, 100, &o, &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_non_null(strstr(o.why, "did not take over within 100 ms"));
	assert_int_equal(open_fds(), base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_replies),
		cmocka_unit_test(test_roundtrip_offer),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_offer_over_socketpair),
		cmocka_unit_test(test_receive_refuses),
		cmocka_unit_test(test_channel_variable),
		cmocka_unit_test(test_old_side),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
