/*
 * SIGUSR2, the hitless upgrade, as the data plane's main thread runs it
 * (the mechanism is handover.c). The old process starts the binary on
 * disk, keeps serving until the new one has taken over, then stops
 * accepting and drains; if the new one fails, nothing changes. The new
 * process adopts the listeners and the set before its workers start.
 */
#define LOG_MODULE LOGM_MAIN

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/notify.h"
#include "dp.h"
#include "handover.h"
#include "listener.h"
#include "worker.h"

/* ---- the old process ---------------------------------------------------- */

static void
upgrade_done(struct handover *h, pid_t pid, const char *why, void *arg)
{
	struct dp *dp = arg;
	uint64_t ms = evloop_now(dp->loop) - dp->upgrade_ms;
	unsigned conns;

	handover_free(h);
	dp->upgrade = NULL;
	if (why != NULL) {
		log_warnx("upgrade failed after %llu ms: %s; pid %ld keeps "
		    "serving", (unsigned long long)ms, why, (long)getpid());
		notify_ready();
		dp_notify_status(dp);
		return;
	}
	conns = workers_sessions(dp->workers);
	/* Also sent by the new process; from the main process it is
	 * accepted whatever NotifyAccess= says. */
	notify_mainpid(pid);
	dp->successor = pid;
	dp->handed_over = true;
	if (dp->watchdog_ms > 0)
		evloop_timer_stop(dp->loop, &dp->watchdog_timer);
	dp_begin_drain(dp);
	log_info("upgrade: pid %ld took over %llu ms after SIGUSR2; stopped "
	    "accepting, draining %u connections for up to %llu ms",
	    (long)pid, (unsigned long long)ms, conns,
	    (unsigned long long)dp->cfg.pools.common.drain_timeout_ms);
}

void
dp_upgrade_start(struct dp *dp)
{
	struct handover_offer o = {
		.exe = dp->exe,
		.argv = dp->argv,
		.fds = dp->listen_fds,
		.nfds = dp->nlisten,
		.set = dp->set_buf,
		.set_len = dp->set_len,
		.timeout_ms = HANDOVER_TIMEOUT_MS,
	};
	char err[PATH_MAX + 128];

	if (dp->stopping) {
		log_warnx("SIGUSR2 ignored: this process is %s",
		    dp->handed_over ? "handing over to its successor" :
		    "stopping");
		return;
	}
	if (dp->upgrade != NULL) {
		log_warnx("SIGUSR2 ignored: the upgrade to pid %ld is in "
		    "progress", (long)handover_pid(dp->upgrade));
		return;
	}
	dp->upgrade_ms = evloop_now(dp->loop);
	notify_reloading();
	if (dp->exe[0] == '\0') {
		log_warnx("upgrade failed: the path of this binary is "
		    "unknown; pid %ld keeps serving", (long)getpid());
		notify_ready();
		return;
	}
	if (o.set_len > HANDOVER_MAX_SET) {
		log_warnx("upgrade: the active set (%zu bytes) is too large to "
		    "hand over; the new process reads the state file",
		    o.set_len);
		o.set = NULL;
		o.set_len = 0;
	}
	if (handover_start(dp->loop, &o, upgrade_done, dp, &dp->upgrade, err,
	    sizeof(err)) == -1) {
		log_warnx("upgrade failed: %s; pid %ld keeps serving", err,
		    (long)getpid());
		notify_ready();
		return;
	}
	log_info("SIGUSR2: upgrading: started %s as pid %ld with %u "
	    "listening sockets and %s", dp->exe,
	    (long)handover_pid(dp->upgrade), dp->nlisten,
	    o.set_len > 0 ? "the active set" : "no active set");
	dp_notify_status(dp);
}

void
dp_upgrade_reap(struct dp *dp)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		/* (It may take over on its last breath: then it is the
		 * successor below.) */
		if (dp->upgrade != NULL && pid == handover_pid(dp->upgrade))
			handover_child_exited(dp->upgrade, pid, status);
		if (pid != dp->successor)
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_info("pid %ld, which took over from this process, "
			    "exited", (long)pid);
		else
			log_warnx("pid %ld, which took over from this process, "
			    "exited with %s %d", (long)pid, WIFEXITED(status) ?
			    "status" : "signal", WIFEXITED(status) ?
			    WEXITSTATUS(status) : WTERMSIG(status));
	}
}

/* The path is the one we were started as when it is absolute (systemd's
 * ExecStart=; a symlink a package flips to a new version keeps working),
 * else /proc/self/exe. Either names the new binary after a package
 * upgrade replaced the file. */
void
dp_upgrade_remember_exe(struct dp *dp, char **argv)
{
	ssize_t n;

	dp->argv = argv;
	if (argv[0] != NULL && argv[0][0] == '/' &&
	    strlen(argv[0]) < sizeof(dp->exe) && access(argv[0], X_OK) == 0) {
		snprintf(dp->exe, sizeof(dp->exe), "%s", argv[0]);
		return;
	}
	n = readlink("/proc/self/exe", dp->exe, sizeof(dp->exe) - 1);
	if (n <= 0 || dp->exe[0] != '/') {
		log_warn("cannot resolve /proc/self/exe: SIGUSR2 upgrades "
		    "will fail");
		dp->exe[0] = '\0';
		return;
	}
	dp->exe[n] = '\0';
}

/* ---- the new process ---------------------------------------------------- */

/* Tells the old process why we cannot take over; logs it; returns -1. */
static int
refuse(int chan, const char *why)
{
	log_warnx("cannot take over: %s", why);
	if (handover_send_abort(chan, why) == -1)
		log_warn("cannot tell the old process");
	return -1;
}

/* Keeps every inherited listener (closing one would drop the clients
 * queued on it) and opens more when dataplane.workers asks for more. */
int
dp_upgrade_take_over(struct dp *dp, int chan)
{
	unsigned i, want, inherited;
	char err[512];
	bool has_set;
	pid_t old_pid;

	if (handover_receive(chan, HANDOVER_TIMEOUT_MS / 2, dp->listen_fds,
	    &dp->nlisten, dp->msg, &has_set, &old_pid, err, sizeof(err))
	    == -1)
		return refuse(chan, err);
	inherited = dp->nlisten;
	for (i = 0; i < inherited; i++)
		if (listener_adopt(dp->listen_fds[i],
		    &dp->cfg.server.listen_addr, dp->cfg.server.backlog,
		    dp->cfg.server.keepalive_ms, err, sizeof(err)) == -1)
			break;
	want = dp_worker_count(&dp->cfg);
	if (i < inherited || dp_open_listeners(dp, want, err, sizeof(err))
	    == -1) {
		while (dp->nlisten > 0)
			close(dp->listen_fds[--dp->nlisten]);
		return refuse(chan, err);
	}
	if (want < inherited)
		log_info("taking over from pid %ld: %u listening sockets "
		    "inherited; dataplane.workers asks for %u, running %u "
		    "(closing a listener would drop the clients queued on "
		    "it)", (long)old_pid, inherited, want, inherited);
	else if (want > inherited)
		log_info("taking over from pid %ld: %u listening sockets "
		    "inherited, %u more opened for dataplane.workers %u",
		    (long)old_pid, inherited, want - inherited, want);
	else
		log_info("taking over from pid %ld: %u listening sockets "
		    "inherited", (long)old_pid, inherited);
	if (has_set) {
		dp_apply_set(dp, dp->msg, true, "the old process");
	} else {
		log_info("the old process had no active set");
		dp_load_state(dp);
	}
	return (int)dp->nlisten;
}
