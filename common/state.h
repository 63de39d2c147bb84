/*
 * State files: whole-file reads and crash-safe writes (temporary file in the
 * same folder, fsync, rename, fsync of the folder). Knows bytes, not JSON.
 * Used by the data plane (last active set) and the control plane (scores).
 */
#ifndef TCPFWD_STATE_H
#define TCPFWD_STATE_H

#include <stddef.h>

/* Largest state file either daemon reads. */
#define STATE_MAX_SIZE (64u << 20)

/*
 * Replaces path with buf atomically, creating missing parent folders with
 * mode 0750; the file gets mode 0600. On any failure (disk full included)
 * the old file stays as it was, the temporary file is removed and -1 is
 * returned with errno set.
 */
int state_write(const char *path, const void *buf, size_t len);

/*
 * Reads the whole file into a new NUL-terminated buffer the caller frees.
 * Returns 0, or -1 with errno (ENOENT when missing, EFBIG beyond
 * STATE_MAX_SIZE); *buf and *len are set only on success.
 */
int state_read(const char *path, char **buf, size_t *len);

#endif
