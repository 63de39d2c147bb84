/*
 * The channel between the planes over nng's bus0: the control plane
 * listens, each data plane dials and redials. Bytes only; proto/ knows
 * what they mean. The one file of the daemons that includes <nng/...>.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/bus0/bus.h>
#include <nng/transport/ipc/ipc.h>

#include "ipc.h"

#define IPC_RECONN_MIN_MS 100
#define IPC_RECONN_MAX_MS 1000
#define IPC_SOCK_MODE 0600
#define IPC_DIR_MODE 0750
#define IPC_QUEUE_LEN 16	/* messages buffered per socket direction */
#define IPC_GONE_LEN 64		/* recent REM_POSTs of uncounted pipes */

struct ipc {
	nng_socket i_sock;
	nng_listener i_listener;
	nng_dialer i_dialer;
	int i_recv_fd;		/* owned by nng */
	int i_peer_efd;		/* wakes on connects and losses; ours */
	atomic_uint i_peers;
	atomic_uint i_connects;	/* since the last ipc_peer_events() */
	atomic_uint i_losses;	/* since the last ipc_peer_losses() */
	char *i_url;		/* "ipc://" listeners only: the file to watch */

	/*
	 * Pipes that reached ADD_POST, so the count follows this list and
	 * not the raw events, which nng 1.5.2 does not pair: REM_POST also
	 * runs for pipes refused before ADD_POST (a peer of another
	 * protocol), and for a pipe that dies at once (garbage after a
	 * good handshake) the reaper's REM_POST may run before ADD_POST.
	 * i_gone remembers the last REM_POSTs that matched nothing, so such
	 * a late ADD_POST is not counted. Touched under i_lock only.
	 */
	pthread_mutex_t i_lock;
	uint32_t *i_pipes;
	size_t i_npipes;
	size_t i_cap;
	uint32_t i_gone[IPC_GONE_LEN];
	size_t i_gone_next;
};

static int ipc_open(size_t, struct ipc **, char *, size_t);
static void ipc_pipe_cb(nng_pipe, nng_pipe_ev, void *);
static void ipc_pipe_added(struct ipc *, uint32_t);
static void ipc_pipe_removed(struct ipc *, uint32_t);
static int ipc_prepare_path(const char *, char *, size_t);
static int ipc_mkdirs(char *);

/* Counts one peer event and wakes the owner's loop. */
static void
ipc_pipe_event(struct ipc *c, atomic_uint *count)
{
	uint64_t one = 1;

	atomic_fetch_add(count, 1);
	/* Fails only when the counter is saturated: it is readable then. */
	(void)!write(c->i_peer_efd, &one, sizeof(one));
}

static void
ipc_pipe_added(struct ipc *c, uint32_t id)
{
	uint32_t *np;
	size_t ncap, i;

	pthread_mutex_lock(&c->i_lock);
	for (i = 0; i < IPC_GONE_LEN; i++) {
		if (c->i_gone[i] == id) {
			c->i_gone[i] = 0;
			pthread_mutex_unlock(&c->i_lock);
			return;
		}
	}
	if (c->i_npipes == c->i_cap) {
		ncap = c->i_cap == 0 ? 8 : c->i_cap * 2;
		np = realloc(c->i_pipes, ncap * sizeof(*np));
		if (np == NULL) {
			/* Uncounted but working; the event still fires. */
			pthread_mutex_unlock(&c->i_lock);
			goto notify;
		}
		c->i_pipes = np;
		c->i_cap = ncap;
	}
	c->i_pipes[c->i_npipes++] = id;
	atomic_store(&c->i_peers, (unsigned)c->i_npipes);
	pthread_mutex_unlock(&c->i_lock);
notify:
	ipc_pipe_event(c, &c->i_connects);
}

static void
ipc_pipe_removed(struct ipc *c, uint32_t id)
{
	bool counted;
	size_t i;

	pthread_mutex_lock(&c->i_lock);
	for (i = 0; i < c->i_npipes; i++) {
		if (c->i_pipes[i] == id)
			break;
	}
	counted = i < c->i_npipes;
	if (counted) {
		c->i_pipes[i] = c->i_pipes[--c->i_npipes];
		atomic_store(&c->i_peers, (unsigned)c->i_npipes);
	} else {
		c->i_gone[c->i_gone_next] = id;
		c->i_gone_next = (c->i_gone_next + 1) % IPC_GONE_LEN;
	}
	pthread_mutex_unlock(&c->i_lock);
	if (counted)
		ipc_pipe_event(c, &c->i_losses);
}

static void
ipc_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc *c = arg;
	int saved = errno;

	if (ev == NNG_PIPE_EV_ADD_POST)
		ipc_pipe_added(c, nng_pipe_id(p));
	else if (ev == NNG_PIPE_EV_REM_POST)
		ipc_pipe_removed(c, nng_pipe_id(p));
	errno = saved;
}

/* A bus0 socket with the size cap and the pipe callbacks; no endpoint. */
static int
ipc_open(size_t max_msg, struct ipc **out, char *err, size_t errlen)
{
	struct ipc *c;
	int rv;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	atomic_init(&c->i_peers, 0);
	if ((rv = pthread_mutex_init(&c->i_lock, NULL)) != 0) {
		snprintf(err, errlen, "mutex: %s", strerror(rv));
		goto fail_free;
	}
	c->i_peer_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->i_peer_efd == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail_mutex;
	}
	if ((rv = nng_bus0_open(&c->i_sock)) != 0) {
		snprintf(err, errlen, "nng_bus0_open: %s", nng_strerror(rv));
		goto fail_efd;
	}
	/*
	 * Before any endpoint exists, so every pipe inherits the cap. The
	 * send buffer matters: nng 1.5.2's bus0 hands each message to a
	 * distributor through the socket's write queue, whose default length
	 * is 0, so a non-blocking send fails with EAGAIN whenever the
	 * distributor has not yet picked up the previous message.
	 */
	if ((rv = nng_socket_set_size(c->i_sock, NNG_OPT_RECVMAXSZ,
	    max_msg)) != 0 ||
	    (rv = nng_socket_set_int(c->i_sock, NNG_OPT_SENDBUF,
	    IPC_QUEUE_LEN)) != 0 ||
	    (rv = nng_socket_set_int(c->i_sock, NNG_OPT_RECVBUF,
	    IPC_QUEUE_LEN)) != 0 ||
	    (rv = nng_pipe_notify(c->i_sock, NNG_PIPE_EV_ADD_POST,
	    ipc_pipe_cb, c)) != 0 ||
	    (rv = nng_pipe_notify(c->i_sock, NNG_PIPE_EV_REM_POST,
	    ipc_pipe_cb, c)) != 0 ||
	    (rv = nng_socket_get_int(c->i_sock, NNG_OPT_RECVFD,
	    &c->i_recv_fd)) != 0) {
		snprintf(err, errlen, "nng socket setup: %s",
		    nng_strerror(rv));
		goto fail_sock;
	}
	*out = c;
	return 0;

fail_sock:
	nng_close(c->i_sock);
fail_efd:
	close(c->i_peer_efd);
fail_mutex:
	pthread_mutex_destroy(&c->i_lock);
fail_free:
	free(c);
	return -1;
}

/* mkdir -p with IPC_DIR_MODE; dir is modified while walking, then
 * restored. */
static int
ipc_mkdirs(char *dir)
{
	char *p;

	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, IPC_DIR_MODE) == -1 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(dir, IPC_DIR_MODE) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * For "ipc://PATH": creates PATH's missing folder. A socket file left by a
 * dead listener is removed by nng itself (it connects first and unlinks
 * only on ECONNREFUSED), so a live listener is never stolen from.
 */
static int
ipc_prepare_path(const char *url, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *path, *slash;
	size_t n;

	if (!ipc_url_is_unix(url))
		return 0;
	path = url + 6;
	if (strlen(path) >= sizeof(dir)) {
		snprintf(err, errlen, "%s: socket path longer than %zu bytes",
		    url, sizeof(dir) - 1);
		return -1;
	}
	if ((slash = strrchr(path, '/')) == NULL || slash == path)
		return 0;
	n = (size_t)(slash - path);
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (ipc_mkdirs(dir) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Creates and starts c's listener on url; remembers the socket file. */
static int
ipc_listener_start(struct ipc *c, const char *url, char *err, size_t errlen)
{
	int rv;

	if (ipc_prepare_path(url, err, errlen) == -1)
		return -1;
	if ((rv = nng_listener_create(&c->i_listener, c->i_sock, url)) != 0) {
		snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
		return -1;
	}
	if (ipc_url_is_unix(url) &&
	    (rv = nng_listener_set_int(c->i_listener, NNG_OPT_IPC_PERMISSIONS,
	    IPC_SOCK_MODE)) != 0) {
		snprintf(err, errlen, "%s: permissions: %s", url,
		    nng_strerror(rv));
		goto fail;
	}
	if ((rv = nng_listener_start(c->i_listener, 0)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", url,
		    nng_strerror(rv));
		goto fail;
	}
	return 0;

fail:
	nng_listener_close(c->i_listener);
	c->i_listener = (nng_listener)NNG_LISTENER_INITIALIZER;
	return -1;
}

int
ipc_listen(const char *url, size_t max_msg, struct ipc **out, char *err,
    size_t errlen)
{
	struct ipc *c;

	if (ipc_open(max_msg, &c, err, errlen) == -1)
		return -1;
	if (ipc_url_is_unix(url) &&
	    (c->i_url = strdup(url)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail_close;
	}
	if (ipc_listener_start(c, url, err, errlen) == -1)
		goto fail_close;
	*out = c;
	return 0;

fail_close:
	ipc_close(c);
	return -1;
}

int
ipc_relisten_if_gone(struct ipc *c, char *err, size_t errlen)
{
	struct stat st;

	if (c->i_url == NULL)
		return 0;
	if (stat(c->i_url + 6, &st) == 0) {
		/* Ours, or someone else's file we must not take. */
		return 0;
	}
	if (errno != ENOENT && errno != ENOTDIR) {
		snprintf(err, errlen, "%s: %s", c->i_url + 6, strerror(errno));
		return -1;
	}
	/*
	 * Pipes already made live on without the file; only new peers need
	 * it. The old listener's close may unlink the path: none exists.
	 */
	nng_listener_close(c->i_listener);
	c->i_listener = (nng_listener)NNG_LISTENER_INITIALIZER;
	if (ipc_listener_start(c, c->i_url, err, errlen) == -1)
		return -1;
	return 1;
}

int
ipc_dial(const char *url, size_t max_msg, struct ipc **out, char *err,
    size_t errlen)
{
	struct ipc *c;
	int rv;

	if (ipc_open(max_msg, &c, err, errlen) == -1)
		return -1;
	if ((rv = nng_dialer_create(&c->i_dialer, c->i_sock, url)) != 0) {
		snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
		goto fail_close;
	}
	if ((rv = nng_dialer_set_ms(c->i_dialer, NNG_OPT_RECONNMINT,
	    IPC_RECONN_MIN_MS)) != 0 ||
	    (rv = nng_dialer_set_ms(c->i_dialer, NNG_OPT_RECONNMAXT,
	    IPC_RECONN_MAX_MS)) != 0) {
		snprintf(err, errlen, "%s: reconnect times: %s", url,
		    nng_strerror(rv));
		goto fail_close;
	}
	/* Non-blocking: nobody need listen yet; nng keeps redialling. */
	if ((rv = nng_dialer_start(c->i_dialer, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(err, errlen, "cannot dial %s: %s", url,
		    nng_strerror(rv));
		goto fail_close;
	}
	*out = c;
	return 0;

fail_close:
	ipc_close(c);
	return -1;
}

int
ipc_recv_fd(struct ipc *c)
{
	return c->i_recv_fd;
}

int
ipc_peer_fd(struct ipc *c)
{
	return c->i_peer_efd;
}

unsigned
ipc_peer_events(struct ipc *c)
{
	uint64_t n;
	int saved = errno;

	/*
	 * Drained first: an event after this read wakes the loop again.
	 * EAGAIN only means that nothing happened since the last call.
	 */
	(void)!read(c->i_peer_efd, &n, sizeof(n));
	errno = saved;
	return atomic_exchange(&c->i_connects, 0);
}

unsigned
ipc_peer_losses(struct ipc *c)
{
	return atomic_exchange(&c->i_losses, 0);
}

unsigned
ipc_peers(struct ipc *c)
{
	return atomic_load(&c->i_peers);
}

int
ipc_send(struct ipc *c, const void *buf, size_t len)
{
	int rv;

	/* bus0 accepts a send with no peer and drops it: say so. */
	if (atomic_load(&c->i_peers) == 0)
		return -1;
	/* nng_send() takes a non-const pointer but only reads it. */
	rv = nng_send(c->i_sock, (void *)(uintptr_t)buf, len,
	    NNG_FLAG_NONBLOCK);
	return rv == 0 ? 0 : -1;
}

int
ipc_recv(struct ipc *c, void **buf, size_t *len)
{
	void *p = NULL;
	size_t n = 0;
	int rv;

	rv = nng_recv(c->i_sock, &p, &n, NNG_FLAG_ALLOC | NNG_FLAG_NONBLOCK);
	if (rv == NNG_EAGAIN)
		return 0;
	if (rv != 0)
		return -1;
	*buf = p;
	*len = n;
	return 1;
}

void
ipc_free(void *buf, size_t len)
{
	if (buf != NULL)
		nng_free(buf, len);
}

bool
ipc_url_is_unix(const char *url)
{
	return strncmp(url, "ipc://", 6) == 0;
}

long long
ipc_dial_attempts(struct ipc *c)
{
	static const char *const outcomes[] = { "connect", "refused",
	    "canceled", "other", "timeout", "proto", "auth", "oom",
	    "reject" };
	nng_stat *all, *d, *st;
	long long n = 0;
	size_t i;

	if (nng_dialer_id(c->i_dialer) <= 0 || nng_stats_get(&all) != 0)
		return -1;
	if ((d = nng_stat_find_dialer(all, c->i_dialer)) == NULL) {
		nng_stats_free(all);
		return -1;
	}
	for (i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
		st = nng_stat_find(d, outcomes[i]);
		if (st != NULL && nng_stat_type(st) == NNG_STAT_COUNTER)
			n += (long long)nng_stat_value(st);
	}
	nng_stats_free(all);
	return n;
}

uint64_t
ipc_stall_ms(const char *url)
{
	return ipc_url_is_unix(url) ? IPC_STALL_MS : IPC_STALL_TCP_MS;
}

void
ipc_watch_reset(struct ipc_watch *w)
{
	w->attempts = -1;
	w->since_ms = 0;
}

bool
ipc_watch_stalled(struct ipc_watch *w, unsigned peers, long long attempts,
    uint64_t now_ms, uint64_t stall_ms)
{
	if (peers > 0 || attempts < 0) {
		ipc_watch_reset(w);
		return false;
	}
	if (attempts != w->attempts) {
		w->attempts = attempts;
		w->since_ms = now_ms;
		return false;
	}
	return now_ms - w->since_ms >= stall_ms;
}

/* ipc_close_within()'s hand-off to its closing thread. */
struct ipc_closer {
	pthread_mutex_t	 ic_lock;
	pthread_cond_t	 ic_cv;
	struct ipc	*ic_ipc;
	bool		 ic_done;
	bool		 ic_abandoned;	/* the caller gave up: free it here */
};

static void *
ipc_closer_main(void *arg)
{
	struct ipc_closer *k = arg;
	bool abandoned;

	ipc_close(k->ic_ipc);
	pthread_mutex_lock(&k->ic_lock);
	k->ic_done = true;
	abandoned = k->ic_abandoned;
	pthread_cond_signal(&k->ic_cv);
	pthread_mutex_unlock(&k->ic_lock);
	if (abandoned)
		free(k);
	return NULL;
}

bool
ipc_close_within(struct ipc *c, unsigned timeout_ms)
{
	static const struct ipc_closer init = {
		.ic_lock = PTHREAD_MUTEX_INITIALIZER,
		.ic_cv = PTHREAD_COND_INITIALIZER,
	};
	struct ipc_closer *k;
	struct timespec until;
	pthread_t t;
	bool done;

	if (c == NULL)
		return true;
	if ((k = malloc(sizeof(*k))) == NULL)
		goto inline_close;
	*k = init;
	k->ic_ipc = c;
	if (pthread_create(&t, NULL, ipc_closer_main, k) != 0) {
		free(k);
		goto inline_close;
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&k->ic_lock);
	while (!k->ic_done && pthread_cond_clockwait(&k->ic_cv, &k->ic_lock,
	    CLOCK_MONOTONIC, &until) == 0)
		;
	done = k->ic_done;
	k->ic_abandoned = !done;
	pthread_mutex_unlock(&k->ic_lock);
	if (!done) {
		pthread_detach(t);
		return false;
	}
	pthread_join(t, NULL);
	free(k);
	return true;

inline_close:
	/* No thread to spare: close as ipc_close() does, unbounded. */
	ipc_close(c);
	return true;
}

void
ipc_close(struct ipc *c)
{
	if (c == NULL)
		return;
	/* Returns once every pipe is gone and its callbacks have run. */
	nng_close(c->i_sock);
	close(c->i_peer_efd);
	pthread_mutex_destroy(&c->i_lock);
	free(c->i_pipes);
	free(c->i_url);
	free(c);
}
