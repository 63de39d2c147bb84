/*
 * Command line and signal plumbing shared by both daemons (daemon.h).
 */
#include <getopt.h>
#include <signal.h>
#include <sys/signalfd.h>

#include "daemon.h"
#include "version.h"

int
daemon_options(int argc, char **argv, const char *name,
    void (*usage)(FILE *), struct daemon_opts *out)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	out->config = "config.yaml";
	out->check = false;
	while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			out->config = optarg;
			break;
		case 'C':
			out->check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", name, TCPFWD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

int
daemon_signalfd(const int *signals, unsigned n)
{
	sigset_t set;
	unsigned i;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}
