/* status: tmp file + rename, so a reader never sees half a status. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "status.h"

#define STATUS_MAX (64 * 1024)

int
status_write(const char *state_dir, json_t *status)
{
	char path[PATH_MAX], tmp[PATH_MAX], when[32];
	int rc = -1;

	log_format_time(when);
	json_object_set_new(status, "time", json_string(when));
	if (snprintf(path, sizeof(path), "%s/status.json", state_dir) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.status.json.tmp", state_dir) >= (int)sizeof(tmp))
		return -1;
	unlink(tmp);
	if (json_dump_file(status, tmp, JSON_COMPACT) == 0 && chmod(tmp, 0644) == 0 &&
	    rename(tmp, path) == 0)
		rc = 0;
	else
		unlink(tmp);
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
