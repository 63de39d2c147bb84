/*
 * The service manager's notification protocol (sd_notify(3)): READY,
 * RELOADING, STOPPING, STATUS, WATCHDOG and MAINPID lines sent as one
 * datagram to $NOTIFY_SOCKET. Used by both daemons' main loops.
 *
 * Spoken directly rather than through libsystemd: the protocol is one
 * datagram on an AF_UNIX socket, which systemd documents as stable and
 * meant to be reimplemented; linking libsystemd would add a build package
 * (libsystemd-dev) and a run-time library to both daemons for one small
 * function, and dlopen() would add a failure mode at start-up instead.
 *
 * Every call is a no-op when NOTIFY_SOCKET is unset (not under systemd,
 * or Type= is not notify). Nothing here blocks: the datagram is sent with
 * MSG_DONTWAIT, so a service manager that does not read cannot stall a
 * loop. The void calls ignore failures (logged at debug): a service must
 * run the same whether or not anyone listens.
 */
#ifndef TCPFWD_NOTIFY_H
#define TCPFWD_NOTIFY_H

#include <stdint.h>
#include <sys/types.h>

/* Longest datagram sent; a longer STATUS= text is cut. */
#define NOTIFY_MSG_MAX 1024

/*
 * Sends msg (newline-separated VAR=value assignments) to $NOTIFY_SOCKET:
 * an absolute path, or "@name" for the abstract namespace. Returns 0 when
 * sent or when NOTIFY_SOCKET is unset or empty, -1 with errno otherwise
 * (EAFNOSUPPORT for an address of another kind, ENAMETOOLONG, EAGAIN when
 * the receiver's queue is full, the sendto(2) error). Never blocks.
 */
int notify_send(const char *msg);

/* "READY=1": start-up is over, or a reload finished. */
void notify_ready(void);

/* "RELOADING=1" with "MONOTONIC_USEC=<now>", which systemd 253+ wants for
 * Type=notify-reload and older versions ignore. Follow with
 * notify_ready() when the reload is over, whether it worked or not. */
void notify_reloading(void);

/* "STOPPING=1": shutdown has begun. */
void notify_stopping(void);

/* "STATUS=<text>", shown by systemctl status. Newlines in the text
 * become spaces (they would start another assignment); longer than
 * NOTIFY_MSG_MAX it is cut. */
void notify_status(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* "WATCHDOG=1": the main loop is alive. Call it from the loop itself, so
 * that a hung loop stops sending. */
void notify_watchdog(void);

/*
 * The watchdog interval systemd expects pings within, in milliseconds,
 * from $WATCHDOG_USEC; 0 when the watchdog is off, the variable is not a
 * positive number, or $WATCHDOG_PID is set and names another process.
 * Ping at half of it. A process that takes over as the main PID (see
 * notify_mainpid()) inherits the old one's WATCHDOG_PID: its parent should
 * set WATCHDOG_PID to the child's PID between fork and exec.
 */
uint64_t notify_watchdog_interval_ms(void);

/* "MAINPID=<pid>": another process is now the service's main process
 * (hitless upgrade). systemd accepts it from a process other than the
 * main one only with NotifyAccess=all. */
void notify_mainpid(pid_t pid);

#endif
