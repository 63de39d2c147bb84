/*
 * Hitless restart and upgrade of the data plane (SIGUSR2). The running
 * process starts the binary on disk and hands it, over an AF_UNIX
 * SOCK_SEQPACKET socketpair, its listening sockets (SCM_RIGHTS) and the
 * active set it serves; the new process starts its workers on them and
 * says when it has taken over; only then does the old one stop accepting
 * and drain. Both sides live here with the small message they exchange;
 * dp_main drives them.
 */
#ifndef TCPFWD_DP_HANDOVER_H
#define TCPFWD_DP_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/evloop.h"
#include "../proto/proto.h"

/* Names the new process's end of the channel (a descriptor number). */
#define HANDOVER_ENV "TCPFWD_HANDOVER_FD"
#define HANDOVER_VERSION 1
#define HANDOVER_HDR_LEN 16
#define HANDOVER_MAX_FDS 64               /* listening sockets, one offer */
#define HANDOVER_MAX_SET (64u << 10)      /* encoded active set, one offer */
#define HANDOVER_MAX_MSG (HANDOVER_HDR_LEN + HANDOVER_MAX_SET)
#define HANDOVER_REASON_LEN 256           /* ABORT text, with its NUL */
#define HANDOVER_TIMEOUT_MS 10000         /* to take over, from the start */

/*
 * One message per SOCK_SEQPACKET record; integers big-endian:
 *
 *	offset size
 *	 0     4    magic "TFHO"
 *	 4     1    version, HANDOVER_VERSION
 *	 5     1    type, enum handover_type
 *	 6     2    descriptors attached with SCM_RIGHTS: OFFER 1..64, else 0
 *	 8     4    pid of the sender
 *	12     4    length of the body, exactly the rest of the record
 *	16     ...  body: OFFER the active set as proto_encode_active_set()
 *	            writes it (empty: no set; at most HANDOVER_MAX_SET);
 *	            TAKEN nothing; ABORT the reason, 1..255 printable ASCII
 */
enum handover_type {
	HANDOVER_OFFER = 0,  /* old -> new: the listeners and the set */
	HANDOVER_TAKEN,      /* new -> old: serving now; stop accepting */
	HANDOVER_ABORT,      /* new -> old: cannot take over, and why */
	HANDOVER_TYPE_COUNT
};

/* A message, decoded or to encode. */
struct handover_msg {
	enum handover_type hm_type;
	uint32_t hm_pid;
	uint16_t hm_nfds;                      /* OFFER */
	bool hm_has_set;                       /* OFFER: a set came with it */
	char hm_reason[HANDOVER_REASON_LEN];   /* ABORT */
};

/*
 * Writes m into out (cap bytes); for an OFFER the body is set_len bytes
 * of set, for an ABORT m->hm_reason (cut at 255 bytes, anything not
 * printable ASCII becomes '?'). Returns the length, or -1 when m breaks a
 * limit or out is too small.
 */
ssize_t handover_encode(const struct handover_msg *m, const void *set,
    size_t set_len, void *out, size_t cap);

/*
 * Decodes one record: magic, version, type, lengths and every field are
 * checked; an OFFER's set is decoded into *set with
 * proto_decode_active_set() (*set untouched without one). Returns 0, or
 * -1 with the reason in err (*out and *set then to be discarded).
 */
int handover_decode(const void *buf, size_t len, struct handover_msg *out,
    struct proto_active_set *set, char *err, size_t errlen);

/* ---- the old process ---------------------------------------------------- */

struct handover;

/* What to start and what to hand it. The caller keeps the descriptors. */
struct handover_offer {
	const char *exe;        /* absolute path of the binary to start */
	char *const *argv;      /* its arguments, argv[0] included */
	const int *fds;         /* listening sockets, 1..HANDOVER_MAX_FDS */
	unsigned nfds;
	const void *set;        /* the encoded active set, or NULL */
	size_t set_len;
	uint64_t timeout_ms;    /* to take over; then it is killed */
};

/*
 * Called once per upgrade with the pid that took over and why == NULL, or
 * with why (the new process refused, crashed, timed out or misbehaved; it
 * has been sent SIGKILL unless it exited already). The callback may call
 * handover_free(h).
 */
typedef void handover_done_cb(struct handover *h, pid_t pid, const char *why,
    void *arg);

/*
 * Starts o->exe with o->argv and this environment, less WATCHDOG_PID (the
 * new process pings for itself once it is the main process) and plus
 * HANDOVER_ENV, which names its end of the channel; every other
 * descriptor is closed in the new process. Queues the offer on the
 * channel before the exec, and watches the channel and the timeout in
 * loop. Returns 0 with *out, or -1 with the reason in err (nothing left
 * running, the exec's error included).
 */
int handover_start(struct evloop *loop, const struct handover_offer *o,
    handover_done_cb *cb, void *arg, struct handover **out, char *err,
    size_t errlen);

/* The pid started. */
pid_t handover_pid(const struct handover *h);

/* Tells h that pid exited with a waitpid(2) status (the caller reaps
 * every child): before taking over, that fails the upgrade, with the
 * reason the process sent if it sent one. May run the callback. */
void handover_child_exited(struct handover *h, pid_t pid, int status);

/* Frees h. An upgrade still in progress is cancelled: its process is sent
 * SIGTERM, so that it lets go of whatever it accepted. Accepts NULL. */
void handover_free(struct handover *h);

/* ---- the new process ---------------------------------------------------- */

/*
 * Reads HANDOVER_ENV and removes it from the environment. Returns 1 with
 * the channel in *fd (made close-on-exec), 0 when the variable is absent
 * (an ordinary start), -1 with the reason in err when it names no usable
 * socket.
 */
int handover_channel(int *fd, char *err, size_t errlen);

/*
 * Waits up to timeout_ms for the offer on the channel and checks it: fds
 * receives the listening sockets (close-on-exec; the caller owns them),
 * *nfds their number, *set the active set when *has_set, *old_pid the
 * sender. Returns 0, or -1 with the reason in err (nothing to close then).
 */
int handover_receive(int fd, int timeout_ms, int fds[HANDOVER_MAX_FDS],
    unsigned *nfds, struct proto_active_set *set, bool *has_set,
    pid_t *old_pid, char *err, size_t errlen);

/* Sends an OFFER of nfds descriptors and set_len bytes of set (0: none)
 * on fd. Returns 0, or -1 with errno (EMSGSIZE when a limit is broken). */
int handover_send_offer(int fd, const int *fds, unsigned nfds,
    const void *set, size_t set_len);

/* Tells the old process we serve now. Returns 0, or -1 with errno. */
int handover_send_taken(int fd);

/* Tells the old process why we cannot take over. Returns 0 or -1. */
int handover_send_abort(int fd, const char *reason);

#endif
