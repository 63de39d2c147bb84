/*
 * sd_notify(3) without libsystemd (see notify.h for why): one datagram on
 * a fresh non-blocking AF_UNIX socket per message. Both daemons use it.
 */
#define LOG_MODULE LOGM_MAIN

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

/* Fills sa and salen from $NOTIFY_SOCKET's value. Returns 0, or -1 with
 * errno. */
static int
notify_addr(const char *path, struct sockaddr_un *sa, socklen_t *salen)
{
	size_t len = strlen(path);

	if (path[0] != '/' && path[0] != '@') {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (len < 2 || len > sizeof(sa->sun_path) - (path[0] == '/')) {
		errno = len < 2 ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len);
	if (path[0] == '@') {
		/* Abstract: a leading NUL, and the length is exact (no NUL
		 * at the end counts as part of the name). */
		sa->sun_path[0] = '\0';
		*salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    len);
	} else
		*salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    len + 1);
	return 0;
}

int
notify_send(const char *msg)
{
	struct sockaddr_un sa;
	socklen_t salen;
	const char *path;
	ssize_t n;
	int fd, saved;

	path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0')
		return 0;
	if (notify_addr(path, &sa, &salen) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	n = sendto(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, salen);
	saved = errno;
	close(fd);
	if (n == -1) {
		errno = saved;
		return -1;
	}
	return 0;
}

/* Sends msg and logs a failure at debug: nobody listening is normal. */
static void
send_quiet(const char *msg)
{
	int len;

	if (notify_send(msg) == 0)
		return;
	len = (int)strcspn(msg, "\n");
	log_at(LOGL_DEBUG, true, "notify %.*s to %s", len, msg,
	    getenv("NOTIFY_SOCKET"));
}

void
notify_ready(void)
{
	send_quiet("READY=1");
}

void
notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	send_quiet(msg);
}

void
notify_stopping(void)
{
	send_quiet("STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	static const char prefix[] = "STATUS=";
	char msg[NOTIFY_MSG_MAX];
	va_list ap;
	char *p;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return; /* spare the formatting */
	memcpy(msg, prefix, sizeof(prefix) - 1);
	va_start(ap, fmt);
	vsnprintf(msg + sizeof(prefix) - 1, sizeof(msg) - sizeof(prefix) + 1,
	    fmt, ap);
	va_end(ap);
	for (p = msg; (p = strchr(p, '\n')) != NULL; p++)
		*p = ' ';
	send_quiet(msg);
}

void
notify_watchdog(void)
{
	send_quiet("WATCHDOG=1");
}

uint64_t
notify_watchdog_interval_ms(void)
{
	const char *s;
	char *end;
	unsigned long long usec, pid;

	s = getenv("WATCHDOG_USEC");
	if (s == NULL || s[0] < '0' || s[0] > '9')
		return 0;
	errno = 0;
	usec = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || usec == 0)
		return 0;
	s = getenv("WATCHDOG_PID");
	if (s != NULL && s[0] != '\0') {
		if (s[0] < '0' || s[0] > '9')
			return 0;
		errno = 0;
		pid = strtoull(s, &end, 10);
		if (errno != 0 || *end != '\0' ||
		    pid != (unsigned long long)getpid())
			return 0;
	}
	return usec < 1000 ? 1 : usec / 1000;
}

void
notify_mainpid(pid_t pid)
{
	char msg[32];

	snprintf(msg, sizeof(msg), "MAINPID=%ld", (long)pid);
	send_quiet(msg);
}
