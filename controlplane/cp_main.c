/*
 * tcpfwd-controlplane: options, start-up order, signals, reload, the
 * channel to the data planes, and the timers that drive probing,
 * evaluation and the heartbeat. Never touches client traffic.
 */
#define LOG_MODULE LOGM_MAIN

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "../common/daemon.h"
#include "../common/ipc.h"
#include "../common/log.h"
#include "../common/notify.h"
#include "../common/state.h"
#include "../common/version.h"
#include "admin.h"
#include "cp.h"
#include "probe.h"
#include "rounds.h"
#include "sampler.h"
#include "selection.h"

/* How long a starting control plane listens for the set the data planes
 * serve: a data plane redials within IPC_RECONN_MAX_MS (1 s) and reports
 * as soon as it is connected, so 2.5 s leaves room for a slow start. */
#define LEARN_MS 2500
#define HEARTBEAT_MS 1000

struct cp_main {
	struct cp cp;
	struct evloop_io ipc_io;
	struct evloop_io peer_io;
	struct evloop_io sig_io;
	struct evloop_timer learn_timer;
	struct evloop_timer eval_timer;
	struct evloop_timer heartbeat_timer;
	struct evloop_timer watchdog_timer; /* systemd WatchdogSec= pings */
	uint64_t watchdog_ms;               /* ping period; 0: no watchdog */
	bool stopping;
};

uint64_t
cp_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: tcpfwd-controlplane [-c PATH] [--check] [-h] [-V]\n"
	    "  -c, --config PATH  configuration file (default ./config.yaml)\n"
	    "      --check        validate the configuration and the IP list, "
	    "then exit\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      print the version\n"
	    "Signals: TERM/INT save the scores and stop, HUP reloads the IP "
	    "list and the scoring and selector settings.\n");
}

/* Reads the bearer token (first line, trimmed). Returns 0 or -1 with err. */
static int
read_token(const char *path, char *token, size_t size, char *err,
    size_t errlen)
{
	char *buf;
	size_t len, i;

	token[0] = '\0';
	if (path[0] == '\0')
		return 0;
	if (state_read(path, &buf, &len) == -1) {
		snprintf(err, errlen, "admin.token_file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < len && buf[i] != '\n' && buf[i] != '\r'; i++)
		;
	while (i > 0 && isspace((unsigned char)buf[i - 1]))
		i--;
	if (i == 0 || i >= size) {
		snprintf(err, errlen, "admin.token_file %s: %s", path,
		    i == 0 ? "empty" : "token too long");
		free(buf);
		return -1;
	}
	memcpy(token, buf, i);
	token[i] = '\0';
	free(buf);
	return 0;
}

static int
load_list(const struct config *cfg, struct iplist *out, bool print)
{
	struct iplist_errors errs;
	unsigned i;

	if (iplist_load(cfg->remotes.provider.file.path,
	    cfg->remotes.default_remote_port, out, &errs) == 0)
		return 0;
	for (i = 0; i < errs.ie_count && i < IPLIST_MAX_ERRORS; i++) {
		if (print)
			fprintf(stderr, "%s\n", errs.ie_msgs[i]);
		else
			log_warnx("%s", errs.ie_msgs[i]);
	}
	if (errs.ie_dropped > 0) {
		if (print)
			fprintf(stderr, "(%u more errors)\n", errs.ie_dropped);
		else
			log_warnx("(%u more errors)", errs.ie_dropped);
	}
	return -1;
}

static int
new_sampler(const struct iplist *list, struct sampler **out)
{
	*out = NULL;
	if (list->il_nranges == 0)
		return 0;
	return sampler_new(list, evloop_clock_us() ^ ((uint64_t)getpid() << 32),
	    out);
}

/* ---- operator actions ---------------------------------------------------- */

int
cp_disable(struct cp *cp, struct sb_entry *e, char *err, size_t errlen)
{
	unsigned i, others = 0;
	struct sb_entry *m;

	if (e->disabled)
		return 0;
	if (e->active) {
		/* The last serving backend cannot go: an empty set cuts
		 * every client. */
		for (i = 0; i < cp->set.sel.n; i++) {
			m = scoreboard_by_id(cp->sb, cp->set.sel.ids[i]);
			if (m != NULL && m != e && !m->disabled)
				others++;
		}
		if (others == 0) {
			snprintf(err, errlen, "%s is the last backend of the "
			    "active set; enable another one first", e->name);
			return -1;
		}
	}
	e->disabled = true;
	log_info("%s disabled by the operator", e->name);
	selection_evaluate(cp, true);
	selection_save(cp);
	return 0;
}

int
cp_enable(struct cp *cp, struct sb_entry *e, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	if (!e->disabled)
		return 0;
	e->disabled = false;
	log_info("%s enabled by the operator", e->name);
	selection_evaluate(cp, true);
	selection_save(cp);
	return 0;
}

int
cp_reload(struct cp *cp, char *err, size_t errlen)
{
	struct config_errors errs;
	struct config *cfg;
	struct iplist list;
	struct sampler *sampler;
	char token[sizeof(cp->token)], lerr[256], name[ADDR_STRLEN];
	unsigned i;

	cfg = malloc(sizeof(*cfg));
	if (cfg == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (config_load(cp->cfg.path, cfg, &errs) == -1) {
		for (i = 0; i < errs.count && i < 32; i++)
			log_warnx("%s", errs.msg[i]);
		snprintf(err, errlen, "%s", errs.count > 0 ? errs.msg[0] :
		    "configuration error");
		goto fail_free_cfg;
	}
	if (load_list(cfg, &list, false) == -1) {
		snprintf(err, errlen, "%s has errors (see the log)",
		    cfg->remotes.provider.file.path);
		goto fail_free_cfg;
	}
	if (new_sampler(&list, &sampler) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail_free_list;
	}
	if (read_token(cfg->admin.token_file, token, sizeof(token), err,
	    errlen) == -1)
		goto fail_free_sampler;
	/* The listener keeps its address until a restart: a reload must not
	 * leave a non-loopback admin API without a token. */
	if (token[0] == '\0' && !addr_is_loopback(&cp->cfg.admin.listen_addr)) {
		snprintf(err, errlen, "admin.token_file: required while the "
		    "admin API listens on %s (not loopback; a new "
		    "admin.listen_addr takes effect at the next restart)",
		    addr_format(&cp->cfg.admin.listen_addr, name,
		    sizeof(name)));
		goto fail_free_sampler;
	}
	if (log_init(cfg->logging.level, cfg->logging.format,
	    cfg->logging.output, lerr, sizeof(lerr)) == -1) {
		snprintf(err, errlen, "%s", lerr);
		goto fail_free_sampler;
	}
	if (strcmp(cfg->ipc.url, cp->cfg.ipc.url) != 0 ||
	    !addr_equal(&cfg->admin.listen_addr, &cp->cfg.admin.listen_addr) ||
	    !addr_equal(&cfg->metrics.listen_addr,
	    &cp->cfg.metrics.listen_addr) ||
	    strcmp(cfg->controlplane.state_file,
	    cp->cfg.controlplane.state_file) != 0)
		log_warnx("reload: ipc.url, admin/metrics listen addresses and "
		    "controlplane.state_file take effect at the next restart");
	/* What reload applies: the list, scoring, selector, probing,
	 * logging, metrics options and the token. */
	cp->cfg.remotes = cfg->remotes;
	cp->cfg.logging = cfg->logging;
	cp->cfg.metrics.enabled = cfg->metrics.enabled;
	cp->cfg.metrics.max_backend_series = cfg->metrics.max_backend_series;
	memcpy(cp->token, token, sizeof(token));
	iplist_free(&cp->list);
	cp->list = list;
	sampler_free(cp->sampler);
	cp->sampler = sampler;
	free(cfg);
	rounds_sync_list(cp);
	for (i = 0; i < scoreboard_count(cp->sb); i++)
		score_compute(&scoreboard_at(cp->sb, i)->score,
		    &cp->cfg.remotes.scoring);
	cp->stats.reloads++;
	log_info("reloaded %s: %zu addresses and %zu ranges listed",
	    cp->cfg.path, list.il_naddrs, list.il_nranges);
	selection_evaluate(cp, true);
	rounds_prune(cp);
	return 0;

fail_free_sampler:
	sampler_free(sampler);
fail_free_list:
	iplist_free(&list);
fail_free_cfg:
	free(cfg);
	cp->stats.reload_errors++;
	log_warnx("reload failed, keeping the running configuration: %s", err);
	return -1;
}

/* ---- events --------------------------------------------------------------- */

static void
count_dropped(struct cp *cp, const char *why)
{
	cp->stats.ipc_dropped++;
	if ((cp->stats.ipc_dropped & (cp->stats.ipc_dropped - 1)) == 0)
		log_warnx("dropped a bad message from a data plane (%s); %llu "
		    "dropped so far", why,
		    (unsigned long long)cp->stats.ipc_dropped);
}

static bool
serving_one_failing(const struct cp *cp)
{
	const struct sb_entry *e;
	unsigned i;

	for (i = 0; i < cp->set.sel.n; i++) {
		e = scoreboard_by_id(cp->sb, cp->set.sel.ids[i]);
		if (e != NULL && rounds_failing(cp, e))
			return true;
	}
	return false;
}

static void
handle_message(struct cp *cp, const void *buf, size_t len)
{
	char err[256];
	int type;

	type = proto_peek_type(buf, len, err, sizeof(err));
	if (type != PROTO_REPORT) {
		count_dropped(cp, type == -1 ? err : "unexpected type");
		return;
	}
	if (proto_decode_report(buf, len, cp->report, err, sizeof(err)) == -1) {
		count_dropped(cp, err);
		return;
	}
	dataplanes_fold(cp->dps, cp->report, evloop_now(cp->loop), cp->sb,
	    &cp->cfg.remotes.scoring, cp->phase == CP_LEARNING);
	selection_report(cp, cp->report);
	/* Real dials failing on a serving backend replace it now. */
	if (cp->phase == CP_RUNNING && serving_one_failing(cp))
		selection_evaluate(cp, true);
}

static void
ipc_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct cp *cp = io->arg;
	void *buf;
	size_t len;
	int i;

	(void)events;
	for (i = 0; i < 64; i++) {
		if (ipc_recv(cp->ipc, &buf, &len) <= 0)
			return;
		handle_message(cp, buf, len);
		ipc_free(buf, len);
	}
	evloop_set_pending(loop);
}

static void
peer_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct cp *cp = io->arg;
	unsigned connects, losses;

	(void)loop;
	(void)events;
	connects = ipc_peer_events(cp->ipc);
	losses = ipc_peer_losses(cp->ipc);
	if (losses > 0)
		log_info("%u data plane connection%s closed, %u connected",
		    losses, losses > 1 ? "s" : "", ipc_peers(cp->ipc));
	if (connects > 0)
		selection_push(cp);
}

static void
learn_cb(struct evloop *loop, struct evloop_timer *t)
{
	(void)loop;
	selection_learning_over(t->arg);
}

static void
eval_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct cp *cp = t->arg;

	selection_evaluate(cp, false);
	evloop_timer_start(loop, t,
	    cp->cfg.remotes.selector.evaluation_interval_ms);
}

/* ---- systemd notifications (common/notify) ------------------------------ */

/* STATUS= for systemctl status: phase, set generation, data planes. */
static void
notify_cp_status(const struct cp *cp)
{
	static const char *const phases[] = {
		[CP_LEARNING] = "learning the data planes' set",
		[CP_PROBING] = "initial probe round",
		[CP_RUNNING] = "running",
	};

	notify_status("%s; active set generation %llu, %u backends%s; "
	    "%u data planes; %u backends tracked",
	    (unsigned)cp->phase < sizeof(phases) / sizeof(phases[0]) ?
	    phases[cp->phase] : "?", (unsigned long long)cp->set.generation,
	    cp->set.sel.n, cp->set.degraded ? " (degraded)" : "",
	    dataplanes_count(cp->dps), scoreboard_count(cp->sb));
}

static void
heartbeat_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct cp *cp = t->arg;
	char err[256];

	switch (ipc_relisten_if_gone(cp->ipc, err, sizeof(err))) {
	case 1:
		log_warnx("ipc: %s was removed: listening again",
		    cp->cfg.ipc.url);
		break;
	case -1:
		log_warnx("ipc: the socket was removed and listening again "
		    "failed: %s (retrying)", err);
		break;
	}
	if (dataplanes_expire(cp->dps, evloop_now(loop), cp->sb) > 0 &&
	    cp->phase != CP_LEARNING)
		selection_evaluate(cp, true);
	selection_push(cp);
	notify_cp_status(cp);
	evloop_timer_start(loop, t, HEARTBEAT_MS);
}

/* WATCHDOG=1 from the loop itself: when the loop hangs, the pings stop
 * and systemd restarts the service. */
static void
watchdog_cb(struct evloop *loop, struct evloop_timer *t)
{
	struct cp_main *m = t->arg;

	notify_watchdog();
	evloop_timer_start(loop, t, m->watchdog_ms);
}

static void
hook(struct evloop *loop, void *arg)
{
	(void)loop;
	admin_process(arg);
}

static void
signal_cb(struct evloop *loop, struct evloop_io *io, uint32_t events)
{
	struct cp_main *m = io->arg;
	struct signalfd_siginfo si;
	char err[256];

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			log_info("SIGHUP: reloading");
			notify_reloading();
			log_reopen();
			cp_reload(&m->cp, err, sizeof(err));
			notify_ready();
			notify_cp_status(&m->cp);
			break;
		case SIGTERM:
		case SIGINT:
			log_info("stopping");
			notify_stopping();
			notify_status("stopping: saving the scores");
			m->stopping = true;
			evloop_stop(loop);
			return;
		}
	}
}

static int
setup_signals(struct cp_main *m)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	int fd;

	fd = daemon_signalfd(sigs, sizeof(sigs) / sizeof(sigs[0]));
	if (fd == -1)
		return -1;
	return evloop_io_add(m->cp.loop, &m->sig_io, fd, EVLOOP_IN, signal_cb,
	    m);
}

static int
check_only(const struct config *cfg)
{
	struct iplist list;
	char token[256], err[256];
	int rc = 0;

	if (load_list(cfg, &list, true) == -1)
		rc = 1;
	else
		iplist_free(&list);
	if (read_token(cfg->admin.token_file, token, sizeof(token), err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		rc = 1;
	}
	if (rc == 0)
		printf("%s: configuration OK\n", cfg->path);
	return rc;
}

int
main(int argc, char **argv)
{
	struct daemon_opts o;
	struct config_errors errs;
	struct cp_main *m;
	struct cp *cp;
	char err[256];
	int ch;

	if ((ch = daemon_options(argc, argv, "tcpfwd-controlplane", usage, &o))
	    != -1)
		return ch;
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->cp.report = malloc(sizeof(*m->cp.report)))
	    == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	cp = &m->cp;
	if (config_load(o.config, &cp->cfg, &errs) == -1) {
		config_errors_print(&errs);
		free(cp->report);
		free(m);
		return 1;
	}
	if (o.check) {
		ch = check_only(&cp->cfg);
		free(cp->report);
		free(m);
		return ch;
	}

	log_set_ident("controlplane");
	if (log_init(cp->cfg.logging.level, cp->cfg.logging.format,
	    cp->cfg.logging.output, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (load_list(&cp->cfg, &cp->list, false) == -1)
		fatalx("%s has errors", cp->cfg.remotes.provider.file.path);
	if (read_token(cp->cfg.admin.token_file, cp->token, sizeof(cp->token),
	    err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (evloop_new(&cp->loop) == -1 || scoreboard_new(&cp->sb) == -1 ||
	    dataplanes_new(&cp->dps) == -1 ||
	    new_sampler(&cp->list, &cp->sampler) == -1 ||
	    prober_new(cp->loop, cp->cfg.remotes.probing.initial.max_concurrency,
	    &cp->prober) == -1)
		fatal("start-up");
	if (setup_signals(m) == -1)
		fatal("signals");
	cp->start_ms = evloop_now(cp->loop);
	cp->start_unix_ms = cp_unix_ms();
	selection_init(cp);
	selection_restore(cp);

	if (ipc_listen(cp->cfg.ipc.url, PROTO_MAX_MSG, &cp->ipc, err,
	    sizeof(err)) == -1)
		fatalx("ipc: %s", err);
	dataplanes_set_local(cp->dps, ipc_url_is_unix(cp->cfg.ipc.url));
	if (evloop_io_add(cp->loop, &m->ipc_io, ipc_recv_fd(cp->ipc),
	    EVLOOP_IN, ipc_cb, cp) == -1 ||
	    evloop_io_add(cp->loop, &m->peer_io, ipc_peer_fd(cp->ipc),
	    EVLOOP_IN, peer_cb, cp) == -1)
		fatal("ipc events");
	if (admin_start(cp, err, sizeof(err)) == -1)
		fatalx("admin: %s", err);
	evloop_set_hook(cp->loop, hook, cp);

	cp->phase = CP_LEARNING;
	evloop_timer_init(&m->learn_timer, learn_cb, cp);
	evloop_timer_init(&m->eval_timer, eval_cb, cp);
	evloop_timer_init(&m->heartbeat_timer, heartbeat_cb, cp);
	evloop_timer_start(cp->loop, &m->learn_timer, LEARN_MS);
	evloop_timer_start(cp->loop, &m->eval_timer,
	    cp->cfg.remotes.selector.evaluation_interval_ms);
	evloop_timer_start(cp->loop, &m->heartbeat_timer, HEARTBEAT_MS);
	/* systemd: ready once the admin API listens and IPC is up; the
	 * watchdog pinged at half its interval. */
	m->watchdog_ms = notify_watchdog_interval_ms();
	if (m->watchdog_ms > 0) {
		m->watchdog_ms = m->watchdog_ms > 1 ? m->watchdog_ms / 2 : 1;
		evloop_timer_init(&m->watchdog_timer, watchdog_cb, m);
		evloop_timer_start(cp->loop, &m->watchdog_timer,
		    m->watchdog_ms);
		notify_watchdog();
	}
	notify_ready();
	notify_cp_status(cp);
	log_info("tcpfwd-controlplane %s: instance %s, %zu addresses and %zu "
	    "ranges listed, data planes at %s", TCPFWD_VERSION,
	    cp->set.instance, cp->list.il_naddrs, cp->list.il_nranges,
	    cp->cfg.ipc.url);
	rounds_start(cp);

	if (evloop_run(cp->loop) == -1)
		log_warn("main loop failed");

	selection_save(cp);
	admin_stop(cp);
	prober_free(cp->prober);
	rounds_stop(cp);
	if (!ipc_close_within(cp->ipc, IPC_CLOSE_MS))
		log_warnx("the data-plane channel did not close within %u ms "
		    "(nng): exiting without waiting for it", IPC_CLOSE_MS);
	sampler_free(cp->sampler);
	iplist_free(&cp->list);
	dataplanes_free(cp->dps);
	scoreboard_free(cp->sb);
	close(m->sig_io.fd);
	evloop_free(cp->loop);
	free(cp->report);
	free(m);
	log_info("stopped");
	return 0;
}
