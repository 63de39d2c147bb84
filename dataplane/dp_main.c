/*
 * tcpfwd-dataplane: options, start-up order, signals, and the main
 * thread's loop, which holds the channel to the control plane, applies new
 * active sets, writes the state file, sends a report every second, talks
 * to systemd (common/notify) and drives hitless upgrades (dp_upgrade.c).
 * The workers do all the forwarding.
 */
#define LOG_MODULE LOGM_MAIN

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/daemon.h"
#include "../common/evloop.h"
#include "../common/ipc.h"
#include "../common/iplist.h"
#include "../common/log.h"
#include "../common/notify.h"
#include "../common/state.h"
#include "../common/version.h"
#include "../proto/proto.h"
#include "activeset.h"
#include "backend.h"
#include "dp.h"
#include "handover.h"
#include "listener.h"
#include "report.h"
#include "worker.h"

#define REPORT_MS 1000
#define DRAIN_CHECK_MS 100
/* A worker whose sweep timer has not fired for this long is hung: the
 * watchdog pings stop. */
#define WORKER_STALL_MS 2000

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: tcpfwd-dataplane [-c PATH] [--check] [-h] [-V]\n"
	    "  -c, --config PATH  configuration file (default ./config.yaml)\n"
	    "      --check        validate the configuration and the state "
	    "file, then exit\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      print the version\n"
	    "Signals:\n"
	    "  TERM, INT  stop accepting, let open connections finish for up "
	    "to\n"
	    "             pools.common.drain_timeout, exit (twice: exit now)\n"
	    "  HUP        reload the logging and pool settings\n"
	    "  USR2       hitless upgrade or restart (systemctl reload): start "
	    "the\n"
	    "             binary on disk with the same arguments and hand it "
	    "the\n"
	    "             listening sockets and the active set; once it "
	    "serves,\n"
	    "             this process stops accepting, drains as on TERM and "
	    "exits;\n"
	    "             if it fails within %d s, this one keeps serving\n",
	    HANDOVER_TIMEOUT_MS / 1000);
}

static void
settings_from_config(const struct config *cfg, struct dp_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->pools = cfg->pools;
	s->limits = cfg->limits;
	s->keepalive_ms = cfg->server.keepalive_ms;
	s->max_connections = cfg->dataplane.max_connections;
	s->pipe_size = (size_t)cfg->dataplane.pipe_size;
}

unsigned
dp_worker_count(const struct config *cfg)
{
	long n = cfg->dataplane.workers;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > DP_MAX_WORKERS ? DP_MAX_WORKERS : (unsigned)n;
}

static void
log_set_change(const struct activeset *set, const char *source)
{
	char list[1024];
	size_t off = 0;
	unsigned i;

	list[0] = '\0';
	for (i = 0; i < set->n && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
		    i ? ", " : "", set->backends[i]->name);
	log_info("serving active set %s/%llu from %s (%u backends: %s)%s%s",
	    set->instance, (unsigned long long)set->generation, source,
	    set->n, set->n ? list : "none", set->reason[0] ? ": " : "",
	    set->reason);
}

int
dp_apply_set(struct dp *dp, const struct proto_active_set *m, bool persist,
    const char *source)
{
	struct activeset *set;
	char *buf;
	size_t len;

	set = activeset_from_proto(m, &dp->registry);
	if (set == NULL) {
		log_warnx("out of memory applying active set %llu",
		    (unsigned long long)m->generation);
		return -1;
	}
	registry_update(&dp->registry, set);
	if (dp->workers != NULL)
		workers_publish_set(dp->workers, set);
	activeset_unref(dp->set);
	dp->set = set;
	log_set_change(set, source);
	/* Kept encoded: the state file and an upgrade's offer. */
	buf = proto_encode_active_set(m, &len);
	if (buf == NULL)
		log_warnx("cannot encode active set %llu",
		    (unsigned long long)m->generation);
	free(dp->set_buf);
	dp->set_buf = buf;
	dp->set_len = buf != NULL ? len : 0;
	if (persist && (buf == NULL || state_write(
	    dp->cfg.dataplane.state_file, buf, len) == -1))
		log_warn("cannot write state file %s",
		    dp->cfg.dataplane.state_file);
	return 0;
}

void
dp_load_state(struct dp *dp)
{
	const char *path = dp->cfg.dataplane.state_file;
	char err[256], *buf;
	size_t len;

	if (state_read(path, &buf, &len) == -1) {
		if (errno == ENOENT)
			log_info("no state file %s: waiting for the control "
			    "plane", path);
		else
			log_warn("cannot read state file %s", path);
		return;
	}
	if (proto_decode_active_set(buf, len, dp->msg, err, sizeof(err))
	    == -1)
		log_warnx("ignoring state file %s: %s", path, err);
	else
		dp_apply_set(dp, dp->msg, false, "the state file");
	free(buf);
}

static void
count_dropped(struct dp *dp, const char *why)
{
	dp->ipc_dropped++;
	/* One line per power of two: a flood cannot flood the log. */
	if ((dp->ipc_dropped & (dp->ipc_dropped - 1)) == 0)
		log_warnx("dropped a bad message from the control plane (%s); "
		    "%llu dropped so far", why,
		    (unsigned long long)dp->ipc_dropped);
}

static void
handle_message(struct dp *dp, const void *buf, size_t len)
{
	char err[256];
	int type;

	type = proto_peek_type(buf, len, err, sizeof(err));
	if (type != PROTO_ACTIVE_SET) {
		count_dropped(dp, type == -1 ? err : "unexpected type");
		return;
	}
	if (proto_decode_active_set(buf, len, dp->msg, err, sizeof(err))
	    == -1) {
		count_dropped(dp, err);
		return;
	}
	if (!activeset_is_newer(dp->set, dp->msg))
		return;
	dp_apply_set(dp, dp->msg, true, "the control plane");
}

/* ---- systemd (common/notify) -------------------------------------------- */

void
dp_notify_status(struct dp *dp)
{
	unsigned conns = workers_sessions(dp->workers);

	if (dp->handed_over)
		return;
	if (dp->stopping)
		notify_status("stopping: draining %u connections", conns);
	else if (dp->set == NULL)
		notify_status("no active set yet (waiting for the control "
		    "plane), %u connections", conns);
	else
		notify_status("serving generation %llu, %u connections, %u "
		    "backends%s", (unsigned long long)dp->set->generation,
		    conns, dp->set->n, dp->upgrade != NULL ?
		    "; upgrading" : "");
}

/* WATCHDOG=1 from the main loop, and only while every worker's loop runs
 * too: a hung main loop sends nothing, a hung worker withholds it. */
static void
watchdog_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct dp *dp = t->arg;
	uint64_t now = evloop_now(loop);
	unsigned stuck = 0;

	if (workers_progressed(dp->workers, &stuck)) {
		dp->workers_ok_ms = now;
		if (dp->watchdog_held)
			log_info("watchdog: every worker runs again");
		dp->watchdog_held = false;
	}
	if (now - dp->workers_ok_ms <= WORKER_STALL_MS) {
		notify_watchdog();
	} else if (!dp->watchdog_held) {
		dp->watchdog_held = true;
		log_warnx("watchdog: worker %u has not run for %llu ms; "
		    "withholding the watchdog ping", stuck,
		    (unsigned long long)(now - dp->workers_ok_ms));
	}
	evloop_timer_start(loop, t, dp->watchdog_ms);
}

static void
watchdog_start(struct dp *dp)
{
	dp->watchdog_ms = notify_watchdog_interval_ms();
	if (dp->watchdog_ms == 0)
		return;
	dp->watchdog_ms = dp->watchdog_ms > 1 ? dp->watchdog_ms / 2 : 1;
	dp->workers_ok_ms = evloop_now(dp->loop);
	evloop_timer_init(&dp->watchdog_timer, watchdog_cb, dp);
	evloop_timer_start(dp->loop, &dp->watchdog_timer, dp->watchdog_ms);
	notify_watchdog();
}

static void
send_report(struct dp *dp)
{
	struct report_source src = {
		.dp_id = dp->dp_id,
		.start_ms = dp->start_ms,
		.workers = dp->workers,
		.registry = &dp->registry,
		.serving = dp->set,
		.ipc_dropped = dp->ipc_dropped,
	};
	char *buf;
	size_t len;

	registry_update(&dp->registry, dp->set);
	report_build(dp->report, &src, evloop_now(dp->loop));
	dp_notify_status(dp);
	buf = proto_encode_report(dp->report, &len);
	if (buf == NULL) {
		log_warnx("cannot encode a report");
		return;
	}
	/* No peer yet is normal: the next report goes when one is there. */
	ipc_send(dp->ipc, buf, len);
	free(buf);
}

static void ipc_cb(struct evloop *, struct evloop_io *, uint32_t);
static void peer_cb(struct evloop *, struct evloop_io *, uint32_t);

/* Watches channel c's descriptors in the main loop. */
static int
channel_watch(struct dp *dp, struct ipc *c)
{
	if (evloop_io_add(dp->loop, &dp->ipc_io, ipc_recv_fd(c), EVLOOP_IN,
	    ipc_cb, dp) == -1)
		return -1;
	if (evloop_io_add(dp->loop, &dp->peer_io, ipc_peer_fd(c), EVLOOP_IN,
	    peer_cb, dp) == -1) {
		evloop_io_del(dp->loop, &dp->ipc_io);
		return -1;
	}
	dp->ipc = c;
	ipc_watch_reset(&dp->ipc_watch);
	return 0;
}

/*
 * nng 1.5.2's dialer can stop redialling after a lost connection (every
 * nng thread idle, no attempt made: see common/ipc.h), which would leave
 * this data plane on its last set for good. A channel with no control
 * plane and no attempt for ipc_stall_ms() is replaced by a new one; the old
 * one is closed in the background, where nng may keep it (a thread and a
 * few KiB) if its close hangs too. The statistics are read only while
 * there is no control plane.
 */
static void
channel_check(struct dp *dp)
{
	struct ipc *old = dp->ipc, *c;
	uint64_t stall_ms = ipc_stall_ms(dp->cfg.ipc.url);
	unsigned peers = ipc_peers(old);
	char err[256];

	if (!ipc_watch_stalled(&dp->ipc_watch, peers,
	    peers > 0 ? -1 : ipc_dial_attempts(old), evloop_now(dp->loop),
	    stall_ms))
		return;
	log_warnx("the channel to the control plane at %s has not redialled "
	    "for %llu ms (nng): dialling on a new one", dp->cfg.ipc.url,
	    (unsigned long long)stall_ms);
	if (ipc_dial(dp->cfg.ipc.url, PROTO_MAX_MSG, &c, err,
	    sizeof(err)) == -1) {
		log_warnx("ipc: %s; trying again in %llu ms", err,
		    (unsigned long long)stall_ms);
		ipc_watch_reset(&dp->ipc_watch);
		return;
	}
	evloop_io_del(dp->loop, &dp->ipc_io);
	evloop_io_del(dp->loop, &dp->peer_io);
	if (channel_watch(dp, c) == -1)
		fatal("ipc events");
	(void)ipc_close_within(old, 0);
}

static void
report_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct dp *dp = t->arg;

	send_report(dp);
	channel_check(dp);
	evloop_timer_start(loop, t, REPORT_MS);
}

static void
ipc_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct dp *dp = io->arg;
	void *buf;
	size_t len;
	int i, rc;

	(void)loop;
	(void)events;
	/* Bounded: a flooding peer cannot starve signals and reports. */
	for (i = 0; i < 64; i++) {
		rc = ipc_recv(dp->ipc, &buf, &len);
		if (rc <= 0)
			break;
		handle_message(dp, buf, len);
		ipc_free(buf, len);
	}
	if (i == 64)
		evloop_set_pending(dp->loop);
}

static void
peer_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct dp *dp = io->arg;
	unsigned connects, losses;

	(void)loop;
	(void)events;
	connects = ipc_peer_events(dp->ipc);
	losses = ipc_peer_losses(dp->ipc);
	if (losses > 0)
		log_warnx("lost the connection to the control plane at %s%s: "
		    "serving the last active set, redialling",
		    dp->cfg.ipc.url, losses > 1 ? " (more than once)" : "");
	if (connects > 0) {
		log_info("connected to the control plane at %s",
		    dp->cfg.ipc.url);
		send_report(dp);
	}
}

static void
reload(struct dp *dp)
{
	struct config_errors errs;
	struct config *cfg;
	struct dp_settings s;
	char err[256];
	unsigned i;

	cfg = malloc(sizeof(*cfg));
	if (cfg == NULL) {
		log_warnx("reload: out of memory");
		return;
	}
	if (config_load(dp->cfg.path, cfg, &errs) == -1) {
		log_warnx("reload: %s has errors, keeping the running "
		    "configuration", dp->cfg.path);
		for (i = 0; i < errs.count && i < 32; i++)
			log_warnx("%s", errs.msg[i]);
		free(cfg);
		return;
	}
	if (log_init(cfg->logging.level, cfg->logging.format,
	    cfg->logging.output, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the running configuration",
		    err);
		free(cfg);
		return;
	}
	if (!addr_equal(&cfg->server.listen_addr,
	    &dp->cfg.server.listen_addr) ||
	    cfg->dataplane.workers != dp->cfg.dataplane.workers ||
	    strcmp(cfg->ipc.url, dp->cfg.ipc.url) != 0)
		log_warnx("reload: server.listen_addr, dataplane.workers and "
		    "ipc.url take effect at the next restart");
	/* Kept as they are until restart. */
	cfg->server = dp->cfg.server;
	cfg->dataplane.workers = dp->cfg.dataplane.workers;
	memcpy(cfg->ipc.url, dp->cfg.ipc.url, sizeof(cfg->ipc.url));
	dp->cfg = *cfg;
	free(cfg);
	settings_from_config(&dp->cfg, &s);
	workers_publish_settings(dp->workers, &s);
	log_info("reloaded %s", dp->cfg.path);
}

static void
drain_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct dp *dp = t->arg;
	unsigned left = workers_sessions(dp->workers);

	if (left == 0) {
		log_info("all connections finished");
		evloop_stop(loop);
		return;
	}
	if (evloop_now(loop) >= dp->stop_deadline_ms) {
		log_info("drain timeout: closing %u connections", left);
		evloop_stop(loop);
		return;
	}
	evloop_timer_start(loop, t, DRAIN_CHECK_MS);
}

void
dp_begin_drain(struct dp *dp)
{
	dp->stopping = true;
	dp->stop_deadline_ms = evloop_now(dp->loop) +
	    dp->cfg.pools.common.drain_timeout_ms;
	workers_stop_accepting(dp->workers);
	/* The workers close their copies: the fds are no longer ours. */
	dp->nlisten = 0;
	evloop_timer_start(dp->loop, &dp->drain_timer, 0);
}

static void
signal_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct dp *dp = io->arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			log_info("SIGHUP: reloading");
			if (!dp->handed_over)
				notify_reloading();
			log_reopen();
			reload(dp);
			if (!dp->handed_over && dp->upgrade == NULL)
				notify_ready();
			dp_notify_status(dp);
			break;
		case SIGUSR2:
			dp_upgrade_start(dp);
			break;
		case SIGCHLD:
			dp_upgrade_reap(dp);
			break;
		case SIGTERM:
		case SIGINT:
			if (dp->stop_signalled) {
				log_info("second signal: stopping now");
				evloop_stop(loop);
				return;
			}
			dp->stop_signalled = true;
			if (dp->handed_over) {
				/* systemctl stop signals every process of
				 * the unit: keep draining. */
				log_info("stop signal: already draining for "
				    "pid %ld (again: stop now)",
				    (long)dp->successor);
				break;
			}
			if (dp->upgrade != NULL) {
				log_info("stopping: cancelling the upgrade to "
				    "pid %ld", (long)handover_pid(dp->upgrade));
				handover_free(dp->upgrade);
				dp->upgrade = NULL;
			}
			notify_stopping();
			log_info("stopping: no new connections, draining %u "
			    "for up to %llu ms", workers_sessions(dp->workers),
			    (unsigned long long)
			    dp->cfg.pools.common.drain_timeout_ms);
			dp_begin_drain(dp);
			dp_notify_status(dp);
			break;
		}
	}
}

static int
setup_signals(struct dp *dp)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR2,
		SIGCHLD };
	int fd;

	fd = daemon_signalfd(sigs, sizeof(sigs) / sizeof(sigs[0]));
	if (fd == -1)
		return -1;
	return evloop_io_add(dp->loop, &dp->sig_io, fd, EVLOOP_IN, signal_cb,
	    dp);
}

static int
check_only(struct dp *dp)
{
	const char *path = dp->cfg.dataplane.state_file;
	struct iplist_errors lerrs;
	struct iplist list;
	char err[256], *buf;
	unsigned i;
	size_t len;
	int rc = 0;

	/* The list is the control plane's, but one --check should find every
	 * mistake in what the two daemons share. */
	if (iplist_load(dp->cfg.remotes.provider.file.path,
	    dp->cfg.remotes.default_remote_port, &list, &lerrs) == 0) {
		iplist_free(&list);
	} else {
		for (i = 0; i < lerrs.ie_count && i < IPLIST_MAX_ERRORS; i++)
			fprintf(stderr, "%s\n", lerrs.ie_msgs[i]);
		if (lerrs.ie_dropped > 0)
			fprintf(stderr, "(%u more errors)\n", lerrs.ie_dropped);
		rc = 1;
	}

	if (state_read(path, &buf, &len) == 0) {
		if (proto_decode_active_set(buf, len, dp->msg, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", path, err);
			rc = 1;
		}
		free(buf);
	} else if (errno != ENOENT) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		rc = 1;
	}
	if (rc == 0)
		printf("%s: configuration OK\n", dp->cfg.path);
	return rc;
}

int
dp_open_listeners(struct dp *dp, unsigned n, char *err, size_t errlen)
{
	unsigned first = dp->nlisten;
	int fd;

	while (dp->nlisten < n) {
		fd = listener_open(&dp->cfg.server.listen_addr,
		    dp->cfg.server.backlog, dp->cfg.server.keepalive_ms, err,
		    errlen);
		if (fd == -1) {
			while (dp->nlisten > first)
				close(dp->listen_fds[--dp->nlisten]);
			return -1;
		}
		dp->listen_fds[dp->nlisten++] = fd;
	}
	return 0;
}

static void
dp_free(struct dp *dp)
{
	free(dp->set_buf);
	free(dp->report);
	free(dp->msg);
	free(dp);
}

int
main(int argc, char **argv)
{
	struct daemon_opts o;
	struct config_errors errs;
	struct dp_settings settings;
	int ch, chan = -1, nw;
	char err[512], name[ADDR_STRLEN];
	unsigned n;
	struct dp *dp;
	struct ipc *ipc;

	if ((ch = daemon_options(argc, argv, "tcpfwd-dataplane", usage, &o))
	    != -1)
		return ch;
	/* Started by a running data plane's SIGUSR2? */
	if (!o.check && handover_channel(&chan, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	dp = calloc(1, sizeof(*dp));
	if (dp == NULL || (dp->report = malloc(sizeof(*dp->report))) == NULL ||
	    (dp->msg = malloc(sizeof(*dp->msg))) == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	if (config_load(o.config, &dp->cfg, &errs) == -1) {
		config_errors_print(&errs);
		if (chan != -1) {
			snprintf(err, sizeof(err), "%s%s", errs.count > 0 ?
			    errs.msg[0] : "configuration errors",
			    errs.count > 1 ? " (and more)" : "");
			handover_send_abort(chan, err);
		}
		dp_free(dp);
		return 1;
	}
	if (o.check) {
		ch = check_only(dp);
		dp_free(dp);
		return ch;
	}

	log_set_ident("dataplane");
	if (log_init(dp->cfg.logging.level, dp->cfg.logging.format,
	    dp->cfg.logging.output, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		if (chan != -1)
			handover_send_abort(chan, err);
		dp_free(dp);
		return 1;
	}
	if (evloop_new(&dp->loop) == -1)
		fatal("event loop");
	if (setup_signals(dp) == -1)
		fatal("signals");
	dp_upgrade_remember_exe(dp, argv);
	proto_new_id(dp->dp_id);
	dp->start_ms = evloop_clock_ms();

	if (chan != -1) {
		nw = dp_upgrade_take_over(dp, chan);
		if (nw == -1) {
			close(chan);
			close(dp->sig_io.fd);
			evloop_free(dp->loop);
			activeset_unref(dp->set);
			registry_free(&dp->registry);
			dp_free(dp);
			return 1;
		}
		n = (unsigned)nw;
	} else {
		n = dp_worker_count(&dp->cfg);
		if (dp_open_listeners(dp, n, err, sizeof(err)) == -1)
			fatalx("%s", err);
		dp_load_state(dp);
	}
	settings_from_config(&dp->cfg, &settings);
	if (workers_start(n, dp->listen_fds, &settings, dp->set,
	    &dp->workers, err, sizeof(err)) == -1)
		fatalx("cannot start workers: %s", err);
	if (ipc_dial(dp->cfg.ipc.url, PROTO_MAX_MSG, &ipc, err,
	    sizeof(err)) == -1)
		fatalx("ipc: %s", err);
	if (channel_watch(dp, ipc) == -1)
		fatal("ipc events");
	evloop_timer_init(&dp->report_timer, report_cb, dp);
	evloop_timer_init(&dp->drain_timer, drain_cb, dp);
	evloop_timer_start(dp->loop, &dp->report_timer, REPORT_MS);

	log_info("tcpfwd-dataplane %s listening on %s with %u worker%s, "
	    "control plane at %s", TCPFWD_VERSION,
	    addr_format(&dp->cfg.server.listen_addr, name, sizeof(name)), n,
	    n == 1 ? "" : "s", dp->cfg.ipc.url);
	/* systemd: ready now that the workers listen with the set we have.
	 * After an upgrade we are the main process from here on, and say
	 * so before the old process may exit. */
	watchdog_start(dp);
	if (chan != -1) {
		snprintf(err, sizeof(err), "MAINPID=%ld\nREADY=1",
		    (long)getpid());
		if (notify_send(err) == -1)
			log_debug("notify: %s", strerror(errno));
		if (handover_send_taken(chan) == -1)
			log_warn("cannot tell the old process that we took "
			    "over");
		else
			log_info("took over: serving");
		close(chan);
	} else {
		notify_ready();
	}
	dp_notify_status(dp);
	if (evloop_run(dp->loop) == -1)
		log_warn("main loop failed");

	handover_free(dp->upgrade);
	workers_free(dp->workers);
	if (!ipc_close_within(dp->ipc, IPC_CLOSE_MS))
		log_warnx("the control-plane channel did not close within "
		    "%u ms (nng): exiting without waiting for it", IPC_CLOSE_MS);
	activeset_unref(dp->set);
	registry_free(&dp->registry);
	close(dp->sig_io.fd);
	evloop_free(dp->loop);
	dp_free(dp);
	log_info("stopped");
	return 0;
}
