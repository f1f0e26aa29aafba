/* status: tmp file + rename, so a reader never sees half a status. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install.h"
#include "log.h"
#include "status.h"

#define STATUS_MAX (64 * 1024)
#define STATUS_TMP ".status.json.tmp"

/*
 * Written beside its target and renamed over it, relative to the state
 * dir opened without following links: a symlink planted at either name
 * is replaced, never written through. On failure errno says why.
 */
int
status_write(const char *state_dir, json_t *status)
{
	char when[32], *text;
	size_t len, off = 0;
	int sfd, fd = -1, rc = -1, e = 0;

	log_format_time(when);
	json_object_set_new(status, "time", json_string(when));
	if ((text = json_dumps(status, JSON_COMPACT)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	len = strlen(text);
	sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		e = errno;
		goto out;
	}
	(void)unlinkat(sfd, STATUS_TMP, 0);
	fd = openat(sfd, STATUS_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd < 0 || fchmod(fd, 0644) != 0) {
		e = errno;
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			goto out;
		}
		off += (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		e = errno;
		goto out;
	}
	fd = -1;
	if (renameat(sfd, STATUS_TMP, sfd, INSTALL_STATUS) != 0) {
		e = errno;
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0 && sfd >= 0)
		(void)unlinkat(sfd, STATUS_TMP, 0);
	if (sfd >= 0)
		close(sfd);
	free(text);
	errno = e;
	return rc;
}

int
status_read(const char *state_dir, bool *healthy, char *why, size_t whylen)
{
	char path[PATH_MAX], buf[STATUS_MAX + 1];
	json_error_t jerr;
	json_t *st, *h, *reason;
	ssize_t n;
	int fd;

	*healthy = false;
	snprintf(path, sizeof(path), "%s/status.json", state_dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "no status file (agent not started yet?)");
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || n > STATUS_MAX) {
		snprintf(why, whylen, "status file unreadable or too large");
		return -1;
	}
	buf[n] = '\0';
	st = json_loads(buf, 0, &jerr);
	if (st == NULL || !json_is_object(st) ||
	    !json_is_boolean(h = json_object_get(st, "healthy"))) {
		json_decref(st);
		snprintf(why, whylen, "status file is not valid");
		return -1;
	}
	*healthy = json_is_true(h);
	reason = json_object_get(st, "reason");
	snprintf(why, whylen, "%s", json_is_string(reason) ?
	    json_string_value(reason) : (*healthy ? "healthy" : "unhealthy"));
	json_decref(st);
	return 0;
}
