/*
 * fsutil: the low-level file steps install and store share (fsutil.h).
 * Nothing here follows a link or writes into a file that was there
 * before: a name is unlinked and created afresh with O_EXCL|O_NOFOLLOW.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

/* The errno behind the last failure (install_last_errno), 0 for none. */
static _Thread_local int last_errno;

int
fsutil_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	last_errno = errno;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int
fsutil_last_errno(void)
{
	return last_errno;
}

bool
fsutil_is_hex(const char *s, size_t len)
{
	return strlen(s) == len && strspn(s, FSUTIL_HEXDIGITS) == len;
}

bool
fsutil_exists(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int
write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fsutil_write_new_at(int dfd, const char *name, const unsigned char *buf,
    size_t len, mode_t mode, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int fd, rc = -1;

	/* Invariant 5: key bytes go only to a file nobody else may read. */
	if ((mode & 077) != 0 && memmem(buf, len, "PRIVATE KEY", 11) != NULL) {
		errno = 0;
		return fsutil_fail(err, errlen, "refusing to write %s: it holds a "
		    "private key block and would be readable by others", name);
	}
	(void)unlinkat(dfd, name, 0);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd < 0)
		return fsutil_fail(err, errlen, "create %s: %s", name,
		    strerror(errno));
	/* The umask can only have taken bits away; set exactly what we mean. */
	if (fchmod(fd, mode) != 0 || ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchown(fd, uid, gid) != 0) || write_all(fd, buf, len) != 0 ||
	    fsync(fd) != 0)
		fsutil_fail(err, errlen, "write %s: %s", name, strerror(errno));
	else
		rc = 0;
	if (close(fd) != 0 && rc == 0)
		rc = fsutil_fail(err, errlen, "close %s: %s", name, strerror(errno));
	if (rc != 0)
		(void)unlinkat(dfd, name, 0);
	return rc;
}

int
fsutil_sync_dir(int dfd, const char *what, char *err, size_t errlen)
{
	if (fsync(dfd) != 0)
		return fsutil_fail(err, errlen, "fsync %s: %s", what, strerror(errno));
	return 0;
}

int
fsutil_rm_flat(int pfd, const char *name)
{
	struct dirent *e;
	DIR *d;
	int fd, rc = 0;

	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
		/* a link (or file) in a directory's place: the entry goes, never its target */
		return unlinkat(pfd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    unlinkat(fd, e->d_name, 0) != 0)
			rc = -1;
	}
	closedir(d);
	if (unlinkat(pfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		rc = -1;
	return rc;
}
