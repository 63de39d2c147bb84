/*
 * The channel between the planes, over nng's bus0 protocol: the control
 * plane listens, every data plane dials and redials forever. Messages are
 * opaque bytes here (proto/ knows them). Every socket caps message size
 * with NNG_OPT_RECVMAXSZ; sends never block (bus0 drops when a peer's queue
 * is full, which the protocol tolerates: every message is a full state).
 */
#ifndef TCPFWD_IPC_H
#define TCPFWD_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipc;

/*
 * Listens on url ("ipc:///path" or "tcp://host:port"). For ipc:// the
 * socket file gets mode 0600 and a missing parent folder is created with
 * mode 0750. Returns 0, or -1 with a reason in err.
 */
int ipc_listen(const char *url, size_t max_msg, struct ipc **out, char *err,
    size_t errlen);

/*
 * For an "ipc://" listener whose socket file is gone (an rm, a tmpfiles
 * clean-up): listens again, so new peers can connect; connected peers
 * never noticed. Returns 1 when it listened again, 0 when nothing was
 * needed, -1 with a reason in err (call again later). A file of another
 * kind in the path's place is left alone.
 */
int ipc_relisten_if_gone(struct ipc *c, char *err, size_t errlen);

/* Dials url in the background, redialling with backoff (100 ms .. 1 s) for
 * as long as the channel is open. Returns 0, or -1 when url is invalid. */
int ipc_dial(const char *url, size_t max_msg, struct ipc **out, char *err,
    size_t errlen);

/* Becomes readable when a message can be received (for epoll). */
int ipc_recv_fd(struct ipc *c);

/*
 * Becomes readable each time a peer connects or goes away;
 * ipc_peer_events() clears it and returns how many peers connected since
 * the last call, ipc_peer_losses() (called after it) how many of the
 * counted peers went away since its last call.
 */
int ipc_peer_fd(struct ipc *c);
unsigned ipc_peer_events(struct ipc *c);
unsigned ipc_peer_losses(struct ipc *c);

/* Number of peers connected now. */
unsigned ipc_peers(struct ipc *c);

/* Queues buf to every connected peer without blocking. Returns 0, or -1
 * when nothing could be queued (no peer, or all queues full). */
int ipc_send(struct ipc *c, const void *buf, size_t len);

/*
 * Receives one message without blocking. Returns 1 with a new buffer in
 * *buf (free it with ipc_free()), 0 when nothing is waiting, -1 on error.
 */
int ipc_recv(struct ipc *c, void **buf, size_t *len);
void ipc_free(void *buf, size_t len);

/* An "ipc://PATH" URL: a unix socket on this host (not tcp://). */
bool ipc_url_is_unix(const char *url);

/* Closes the channel; accepts NULL. */
void ipc_close(struct ipc *c);

/*
 * ipc_close() for a daemon on its way out: returns true once the channel
 * is closed, false when nng did not finish within timeout_ms. nng 1.5.2
 * can wait forever on a pipe whose receive it never completes (the
 * reaper stuck stopping the bus0 pipe's receive, seen when a data plane
 * exits while the control plane sends to it); the channel is then left
 * as it is, for the process exit to take. Use it only right before
 * exiting: the closing thread may outlive the call.
 */
bool ipc_close_within(struct ipc *c, unsigned timeout_ms);

/* How long the daemons give ipc_close_within() at exit. */
#define IPC_CLOSE_MS 1000

/*
 * Connection attempts a dialing channel has finished so far, whatever
 * their outcome (nng's dialer statistics: connected, refused, timed out,
 * ...), or -1 when they cannot be read. A channel with no peer must keep
 * attempting: nng redials every IPC_RECONN_MAX_MS at most.
 */
long long ipc_dial_attempts(struct ipc *c);

/*
 * Whether a dialing channel has stopped redialling. nng 1.5.2's dialer
 * sometimes makes no attempt at all after a lost connection (seen in
 * t_27 under ASan, every nng thread idle); such a channel never
 * reconnects and must be replaced. Fed once in a while with the channel's
 * peers and attempts: true once the channel has had no peer and no new
 * attempt for stall_ms.
 */
struct ipc_watch {
	long long attempts;	/* as last seen; -1 = not watching */
	uint64_t since_ms;	/* when they last changed */
};

void ipc_watch_reset(struct ipc_watch *w);
bool ipc_watch_stalled(struct ipc_watch *w, unsigned peers,
    long long attempts, uint64_t now_ms, uint64_t stall_ms);

/*
 * How long the data plane lets its channel sit still before replacing it.
 * A connect to a unix socket ends at once (connected or refused), so an
 * ipc:// dialer attempts every IPC_RECONN_MAX_MS at most. A tcp:// connect
 * to a host that drops SYNs takes the kernel's whole retry time (127 s
 * with the default tcp_syn_retries of 6) to fail: a longer wait, so that
 * such a dialer, busy and not stalled, is left alone.
 */
#define IPC_STALL_MS 5000
#define IPC_STALL_TCP_MS 150000

/* The stall period for a channel to url. */
uint64_t ipc_stall_ms(const char *url);

#endif
