/*
 * The status page served at GET / of the admin listener: the bytes of
 * controlplane/status_page.html, embedded at build time (the Makefile
 * turns the file into a C array), so the binary needs no file at run time.
 */
#ifndef TCPFWD_CP_STATUS_PAGE_H
#define TCPFWD_CP_STATUS_PAGE_H

#include <stddef.h>

/* The page, NUL-terminated; status_page_html_len bytes without the NUL. */
extern const unsigned char status_page_html[];
extern const size_t status_page_html_len;

#endif
