/*
 * State files for both daemons: whole-file reads with a size cap, and
 * crash-safe replacement (write a temporary file beside the target, fsync
 * it, rename it over the target, fsync the folder).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

static int state_mkdirs(char *);
static int state_write_all(int, const void *, size_t);
static void state_fsync_dir(const char *);

/* Creates dir and its missing parents with mode 0750; dir is modified
 * while walking and restored before returning. */
static int
state_mkdirs(char *dir)
{
	struct stat st;
	char *p;

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
		return 0;
	}
	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(dir, 0750) == -1 && errno != EEXIST)
		return -1;
	if (stat(dir, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static int
state_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Makes the rename durable. Failure is not reported: the new file is
 * already in place and complete, only its survival of a power cut is in
 * doubt, and the old file is gone either way.
 */
static void
state_fsync_dir(const char *dir)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	(void)fsync(fd);
	close(fd);
}

int
state_write(const char *path, const void *buf, size_t len)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const char *base, *slash;
	size_t dlen;
	int fd, n, saved;

	if (path == NULL || path[0] == '\0' || (buf == NULL && len > 0)) {
		errno = EINVAL;
		return -1;
	}
	slash = strrchr(path, '/');
	if (slash == NULL) {
		base = path;
		snprintf(dir, sizeof(dir), ".");
	} else {
		base = slash + 1;
		dlen = (size_t)(slash - path);
		if (dlen == 0)
			dlen = 1;	/* "/file": the folder is "/" */
		if (dlen >= sizeof(dir)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, path, dlen);
		dir[dlen] = '\0';
	}
	if (base[0] == '\0') {
		errno = EISDIR;
		return -1;
	}
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld", dir, base,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (state_mkdirs(dir) == -1)
		return -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST) {
		/* Left by a crashed run that had our pid (containers). */
		if (unlink(tmp) == -1)
			return -1;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd == -1)
		return -1;
	/* The umask must not widen or narrow what the header promises. */
	if (fchmod(fd, 0600) == -1)
		goto fail_close;
	if (state_write_all(fd, buf, len) == -1)
		goto fail_close;
	if (fsync(fd) == -1)
		goto fail_close;
	if (close(fd) == -1) {
		fd = -1;
		goto fail_unlink;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail_unlink;
	state_fsync_dir(dir);
	return 0;

fail_close:
	saved = errno;
	close(fd);
	errno = saved;
fail_unlink:
	saved = errno;
	unlink(tmp);
	errno = saved;
	return -1;
}

int
state_read(const char *path, char **bufp, size_t *lenp)
{
	struct stat st;
	char *buf, *nbuf;
	size_t cap, len;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail_close;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail_close;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > STATE_MAX_SIZE) {
		errno = EFBIG;
		goto fail_close;
	}
	/* The file may still grow while we read: the cap holds regardless. */
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
	if ((buf = malloc(cap + 1)) == NULL)
		goto fail_close;
	len = 0;
	for (;;) {
		if (len == cap) {
			if (cap > STATE_MAX_SIZE) {
				errno = EFBIG;
				goto fail_free;
			}
			cap = cap * 2 > (size_t)STATE_MAX_SIZE + 1 ?
			    (size_t)STATE_MAX_SIZE + 1 : cap * 2;
			if ((nbuf = realloc(buf, cap + 1)) == NULL)
				goto fail_free;
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > STATE_MAX_SIZE) {
		errno = EFBIG;
		goto fail_free;
	}
	close(fd);
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;

fail_free:
	saved = errno;
	free(buf);
	errno = saved;
fail_close:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
