/*
 * tfwd-cp: a stand-in control plane for the data plane's integration
 * tests. It listens on the IPC url like the real one, broadcasts an
 * active set when a data plane connects, on every change and as a
 * heartbeat, and writes every report it receives as one JSON line. Test
 * tool only: no probing, no scoring, one poll loop.
 *
 *	tfwd-cp --url URL [--set ADDR,ADDR,...] [--set-file FILE]
 *	    [--generation N] [--instance ID] [--heartbeat-ms MS]
 *	    [--reports FILE] [--control FIFO_OR_FILE]
 *
 * Without --set or --set-file no set is sent (reports are still read).
 * SIGHUP re-reads --set-file (one address a line, '#' comments) and bumps
 * the generation. --control is read line by line while running (a FIFO,
 * or a regular file that is appended to):
 *
 *	set [ADDR,ADDR,...]	new set (empty without addresses), generation+1
 *	generation N		same set under generation N
 *	reason TEXT		reason of the next sets
 *	raw TEXT		send TEXT as is (malformed-message tests)
 *	pause | resume		stop or restart every broadcast
 *	quit			exit as on SIGTERM
 *
 * Messages that do not decode as reports are counted and described on
 * stderr. SIGTERM and SIGINT exit 0 after a summary line on stderr.
 */
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/addr.h"
#include "../../common/ipc.h"
#include "../../proto/proto.h"

#define CTL_LINE_MAX 65536
#define FILE_POLL_MS 100	/* how often a regular control file is read */

struct cp {
	const char *url;
	const char *set_file;
	const char *reports_path;
	const char *control_path;
	uint64_t heartbeat_ms;
	bool have_set;
	bool paused;
	bool quit;
	struct proto_active_set set;
	struct ipc *ipc;
	FILE *reports;
	int sig_fd;
	int ctl_fd;
	bool ctl_is_fifo;
	char ctl_buf[CTL_LINE_MAX];
	size_t ctl_len;
	uint64_t n_reports;
	uint64_t n_bad;
	uint64_t n_sent;
};

static void usage(void) __attribute__((noreturn));
static int parse_u64(const char *, uint64_t *);
static int set_add(struct proto_active_set *, const char *);
static int parse_set_list(const char *, struct proto_active_set *);
static int read_set_file(const char *, struct proto_active_set *);
static int64_t now_ms(void);
static void set_changed(struct cp *, const char *);
static void broadcast(struct cp *);
static void send_raw(struct cp *, const char *);
static void drain_messages(struct cp *);
static void handle_signals(struct cp *);
static void control_line(struct cp *, char *);
static void read_control(struct cp *);

static void
usage(void)
{
	fprintf(stderr, "usage: tfwd-cp --url URL [--set ADDR,ADDR,...] "
	    "[--set-file FILE]\n"
	    "\t[--generation N] [--instance ID] [--heartbeat-ms MS]\n"
	    "\t[--reports FILE] [--control FIFO_OR_FILE]\n");
	exit(2);
}

static int
parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Adds one address to s, refusing duplicates and overflow. */
static int
set_add(struct proto_active_set *s, const char *text)
{
	char err[128];
	struct addr a;
	uint32_t i;

	if (addr_parse(text, 0, &a, err, sizeof(err)) == -1) {
		fprintf(stderr, "tfwd-cp: \"%s\": %s\n", text, err);
		return -1;
	}
	for (i = 0; i < s->n_backends; i++) {
		if (addr_equal(&s->backends[i], &a)) {
			fprintf(stderr, "tfwd-cp: duplicate %s\n", text);
			return -1;
		}
	}
	if (s->n_backends == PROTO_MAX_SET) {
		fprintf(stderr, "tfwd-cp: more than %d backends\n",
		    PROTO_MAX_SET);
		return -1;
	}
	s->backends[s->n_backends++] = a;
	return 0;
}

/* "a,b,c" (blanks around items allowed) into s->backends. */
static int
parse_set_list(const char *list, struct proto_active_set *s)
{
	char item[ADDR_STRLEN + 16];
	const char *p = list;
	size_t n;

	s->n_backends = 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n >= sizeof(item)) {
			fprintf(stderr, "tfwd-cp: address too long\n");
			return -1;
		}
		if (n > 0) {
			memcpy(item, p, n);
			item[n] = '\0';
			if (set_add(s, item) == -1)
				return -1;
		}
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return 0;
}

static int
read_set_file(const char *path, struct proto_active_set *s)
{
	char line[512], *p, *end;
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "tfwd-cp: %s: %s\n", path, strerror(errno));
		return -1;
	}
	s->n_backends = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		p = line + strspn(line, " \t\r\n");
		end = p + strlen(p);
		while (end > p && strchr(" \t\r\n", end[-1]) != NULL)
			*--end = '\0';
		if (*p == '\0')
			continue;
		if (set_add(s, p) == -1) {
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

static void
broadcast(struct cp *cp)
{
	size_t len;
	char *buf;

	if (!cp->have_set || cp->paused)
		return;
	if ((buf = proto_encode_active_set(&cp->set, &len)) == NULL) {
		fprintf(stderr, "tfwd-cp: cannot encode the set\n");
		return;
	}
	if (ipc_send(cp->ipc, buf, len) == 0)
		cp->n_sent++;
	free(buf);
}

static void
set_changed(struct cp *cp, const char *why)
{
	cp->set.changed_at_ms = (uint64_t)time(NULL) * 1000;
	cp->have_set = true;
	fprintf(stderr, "tfwd-cp: set generation %" PRIu64 ", %u backends "
	    "(%s)\n", cp->set.generation, cp->set.n_backends, why);
	broadcast(cp);
}

static void
send_raw(struct cp *cp, const char *text)
{
	if (ipc_send(cp->ipc, text, strlen(text)) == 0)
		cp->n_sent++;
}

/* Every waiting message: reports become lines, the rest is counted. */
static void
drain_messages(struct cp *cp)
{
	static struct proto_report rep;
	char err[256];
	size_t len, i;
	char *p;
	void *buf;
	int r;

	while ((r = ipc_recv(cp->ipc, &buf, &len)) == 1) {
		if (proto_decode_report(buf, len, &rep, err,
		    sizeof(err)) == -1) {
			cp->n_bad++;
			fprintf(stderr, "tfwd-cp: undecodable message #%"
			    PRIu64 " (%zu bytes): %s\n", cp->n_bad, len, err);
			ipc_free(buf, len);
			continue;
		}
		/* JSON whitespace only: strings cannot hold raw newlines. */
		p = buf;
		for (i = 0; i < len; i++) {
			if (p[i] == '\n' || p[i] == '\r')
				p[i] = ' ';
		}
		cp->n_reports++;
		fwrite(buf, 1, len, cp->reports);
		fputc('\n', cp->reports);
		fflush(cp->reports);
		ipc_free(buf, len);
	}
	if (r == -1)
		fprintf(stderr, "tfwd-cp: receive failed\n");
}

static void
handle_signals(struct cp *cp)
{
	struct signalfd_siginfo si;
	struct proto_active_set *next;

	while (read(cp->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGHUP) {
			cp->quit = true;
			continue;
		}
		if (cp->set_file == NULL) {
			broadcast(cp);
			continue;
		}
		if ((next = malloc(sizeof(*next))) == NULL)
			continue;
		*next = cp->set;
		if (read_set_file(cp->set_file, next) == 0) {
			next->generation = cp->set.generation + 1;
			cp->set = *next;
			set_changed(cp, "SIGHUP");
		} else
			fprintf(stderr, "tfwd-cp: keeping the current set\n");
		free(next);
	}
}

static void
control_line(struct cp *cp, char *line)
{
	struct proto_active_set *next;
	uint64_t v;
	char *arg;

	arg = line + strcspn(line, " ");
	if (*arg == ' ')
		*arg++ = '\0';
	if (strcmp(line, "set") == 0) {
		if ((next = malloc(sizeof(*next))) == NULL)
			return;
		*next = cp->set;
		if (parse_set_list(arg, next) == 0) {
			next->generation = cp->set.generation + 1;
			cp->set = *next;
			set_changed(cp, "control");
		}
		free(next);
	} else if (strcmp(line, "generation") == 0) {
		if (parse_u64(arg, &v) == -1 || v == 0) {
			fprintf(stderr, "tfwd-cp: bad generation \"%s\"\n",
			    arg);
			return;
		}
		cp->set.generation = v;
		set_changed(cp, "control");
	} else if (strcmp(line, "reason") == 0)
		snprintf(cp->set.reason, sizeof(cp->set.reason), "%s", arg);
	else if (strcmp(line, "raw") == 0)
		send_raw(cp, arg);
	else if (strcmp(line, "pause") == 0)
		cp->paused = true;
	else if (strcmp(line, "resume") == 0) {
		cp->paused = false;
		broadcast(cp);
	} else if (strcmp(line, "quit") == 0)
		cp->quit = true;
	else if (line[0] != '\0')
		fprintf(stderr, "tfwd-cp: unknown control command \"%s\"\n",
		    line);
}

static void
read_control(struct cp *cp)
{
	char *nl;
	ssize_t n;
	size_t used;

	for (;;) {
		if (cp->ctl_len == sizeof(cp->ctl_buf) - 1) {
			fprintf(stderr, "tfwd-cp: control line too long\n");
			cp->ctl_len = 0;
		}
		n = read(cp->ctl_fd, cp->ctl_buf + cp->ctl_len,
		    sizeof(cp->ctl_buf) - 1 - cp->ctl_len);
		if (n <= 0)
			break;
		cp->ctl_len += (size_t)n;
		cp->ctl_buf[cp->ctl_len] = '\0';
		while ((nl = strchr(cp->ctl_buf, '\n')) != NULL) {
			*nl = '\0';
			if (nl > cp->ctl_buf && nl[-1] == '\r')
				nl[-1] = '\0';
			control_line(cp, cp->ctl_buf);
			used = (size_t)(nl + 1 - cp->ctl_buf);
			memmove(cp->ctl_buf, nl + 1, cp->ctl_len - used + 1);
			cp->ctl_len -= used;
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "set", required_argument, NULL, 's' },
		{ "set-file", required_argument, NULL, 'f' },
		{ "generation", required_argument, NULL, 'g' },
		{ "instance", required_argument, NULL, 'i' },
		{ "heartbeat-ms", required_argument, NULL, 'b' },
		{ "reports", required_argument, NULL, 'r' },
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct cp cp;
	struct pollfd pfd[4];
	const char *set_list = NULL;
	char err[256];
	struct stat st;
	sigset_t mask;
	int64_t next_beat, next_file, now, wait;
	int ch, nfd, rc = 1;

	cp.heartbeat_ms = 1000;
	cp.set.generation = 1;
	cp.ctl_fd = -1;
	cp.sig_fd = -1;
	snprintf(cp.set.reason, sizeof(cp.set.reason), "tfwd-cp");
	proto_new_id(cp.set.instance);
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			cp.url = optarg;
			break;
		case 's':
			set_list = optarg;
			break;
		case 'f':
			cp.set_file = optarg;
			break;
		case 'g':
			if (parse_u64(optarg, &cp.set.generation) == -1 ||
			    cp.set.generation == 0)
				usage();
			break;
		case 'i':
			if (!proto_id_valid(optarg)) {
				fprintf(stderr, "tfwd-cp: bad instance id\n");
				return 2;
			}
			snprintf(cp.set.instance, sizeof(cp.set.instance),
			    "%s", optarg);
			break;
		case 'b':
			if (parse_u64(optarg, &cp.heartbeat_ms) == -1 ||
			    cp.heartbeat_ms == 0)
				usage();
			break;
		case 'r':
			cp.reports_path = optarg;
			break;
		case 'c':
			cp.control_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (cp.url == NULL || optind != argc)
		usage();
	if (set_list != NULL) {
		if (parse_set_list(set_list, &cp.set) == -1)
			return 2;
		cp.have_set = true;
	} else if (cp.set_file != NULL) {
		if (read_set_file(cp.set_file, &cp.set) == -1)
			return 2;
		cp.have_set = true;
	}
	cp.set.changed_at_ms = (uint64_t)time(NULL) * 1000;

	if (cp.reports_path == NULL)
		cp.reports = stdout;
	else if ((cp.reports = fopen(cp.reports_path, "ae")) == NULL) {
		fprintf(stderr, "tfwd-cp: %s: %s\n", cp.reports_path,
		    strerror(errno));
		return 1;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	cp.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (cp.sig_fd == -1) {
		fprintf(stderr, "tfwd-cp: signalfd: %s\n", strerror(errno));
		goto fail_reports;
	}
	if (cp.control_path != NULL) {
		/* O_RDWR keeps a FIFO open (no EOF) between writers. */
		cp.ctl_fd = open(cp.control_path,
		    O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (cp.ctl_fd == -1 || fstat(cp.ctl_fd, &st) == -1) {
			fprintf(stderr, "tfwd-cp: %s: %s\n", cp.control_path,
			    strerror(errno));
			goto fail_sigfd;
		}
		cp.ctl_is_fifo = S_ISFIFO(st.st_mode);
	}
	if (ipc_listen(cp.url, PROTO_MAX_MSG, &cp.ipc, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "tfwd-cp: %s\n", err);
		goto fail_ctl;
	}
	fprintf(stderr, "tfwd-cp: listening on %s, instance %s, %s\n",
	    cp.url, cp.set.instance, cp.have_set ? "set ready" : "no set");
	if (cp.have_set)
		fprintf(stderr, "tfwd-cp: set generation %" PRIu64 ", %u "
		    "backends (start)\n", cp.set.generation,
		    cp.set.n_backends);

	next_beat = now_ms() + (int64_t)cp.heartbeat_ms;
	next_file = now_ms();
	while (!cp.quit) {
		nfd = 0;
		pfd[nfd++] = (struct pollfd){ ipc_recv_fd(cp.ipc), POLLIN, 0 };
		pfd[nfd++] = (struct pollfd){ ipc_peer_fd(cp.ipc), POLLIN, 0 };
		pfd[nfd++] = (struct pollfd){ cp.sig_fd, POLLIN, 0 };
		if (cp.ctl_fd != -1 && cp.ctl_is_fifo)
			pfd[nfd++] = (struct pollfd){ cp.ctl_fd, POLLIN, 0 };
		now = now_ms();
		wait = next_beat - now;
		if (cp.ctl_fd != -1 && !cp.ctl_is_fifo &&
		    next_file - now < wait)
			wait = next_file - now;
		if (wait < 0)
			wait = 0;
		if (poll(pfd, (nfds_t)nfd, (int)wait) == -1 &&
		    errno != EINTR) {
			fprintf(stderr, "tfwd-cp: poll: %s\n",
			    strerror(errno));
			break;
		}
		handle_signals(&cp);
		if (ipc_peer_events(cp.ipc) > 0) {
			fprintf(stderr, "tfwd-cp: peer connected (%u now)\n",
			    ipc_peers(cp.ipc));
			broadcast(&cp);
		}
		drain_messages(&cp);
		now = now_ms();
		if (cp.ctl_fd != -1 && (cp.ctl_is_fifo || now >= next_file)) {
			read_control(&cp);
			next_file = now + FILE_POLL_MS;
		}
		if (now >= next_beat) {
			broadcast(&cp);
			next_beat = now + (int64_t)cp.heartbeat_ms;
		}
	}
	fprintf(stderr, "tfwd-cp: exiting: %" PRIu64 " reports, %" PRIu64
	    " undecodable, %" PRIu64 " sent\n", cp.n_reports, cp.n_bad,
	    cp.n_sent);
	rc = 0;

	if (!ipc_close_within(cp.ipc, IPC_CLOSE_MS))
		fprintf(stderr, "tfwd-cp: the channel did not close within "
		    "%u ms (nng): exiting without it\n", IPC_CLOSE_MS);
fail_ctl:
	if (cp.ctl_fd != -1)
		close(cp.ctl_fd);
fail_sigfd:
	close(cp.sig_fd);
fail_reports:
	if (cp.reports != stdout)
		fclose(cp.reports);
	return rc;
}
