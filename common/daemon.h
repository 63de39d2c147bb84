/*
 * What both daemons do the same way before their own work starts: the
 * command line (-c/--config PATH, --check, -h/--help, -V/--version) and
 * signals delivered through a signalfd to the main loop.
 */
#ifndef TCPFWD_DAEMON_H
#define TCPFWD_DAEMON_H

#include <stdbool.h>
#include <stdio.h>

struct daemon_opts {
	const char *config;  /* default "config.yaml" */
	bool check;
};

/*
 * Parses argv. Returns -1 when the daemon should go on with *out filled,
 * else the status to exit with: 0 after --help (usage printed to stdout) or
 * --version ("<name> <version>"), 2 on a usage error (usage to stderr).
 */
int daemon_options(int argc, char **argv, const char *name,
    void (*usage)(FILE *), struct daemon_opts *out);

/*
 * Ignores SIGPIPE (splice() and nng writes must not kill the process),
 * blocks the n given signals and returns a non-blocking signalfd that
 * reads them, or -1 with errno.
 */
int daemon_signalfd(const int *signals, unsigned n);

#endif
