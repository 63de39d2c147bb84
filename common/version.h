/*
 * The version both daemons and tcpfwdctl print; the Makefile passes it in.
 */
#ifndef TCPFWD_VERSION_H
#define TCPFWD_VERSION_H

#ifndef TCPFWD_VERSION
#define TCPFWD_VERSION "0.0.0-unknown"
#endif

#endif
