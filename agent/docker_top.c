/*
 * docker_top: GET /containers/{id}/top, the processes running in a
 * container, read without an exec (the engine lists them itself). Used to
 * see whether a front reloads itself (Mailu's front runs its own
 * certificate watcher in the cert flavor) and whether that watcher is at
 * work (a child of it runs: procwatch.h).
 */
#include <stdlib.h>
#include <string.h>

#include "docker_http.h"

/* A process list is small; a longer answer is not a front's. */
#define TOP_ANSWER_MAX (256 * 1024)

/* A ps number ("123"), or -1: the columns are text, and may be anything. */
static long
top_number(json_t *v)
{
	const char *s = json_string_value(v);
	long n = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 9)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n;
}

/* The column titled name, or -1 (ps -ef names the command CMD, -o args COMMAND). */
static long
top_column(json_t *titles, const char *name, const char *alt)
{
	size_t i;
	json_t *t;
	long col = -1;

	json_array_foreach(titles, i, t) {
		const char *s = json_string_value(t);

		if (s != NULL && (strcmp(s, name) == 0 || (alt != NULL && strcmp(s, alt) == 0)))
			col = (long)i;
	}
	return col;
}

int
docker_parse_top(const char *body, size_t len, const char *needle, enum proc_watch *w,
    struct docker_status *st)
{
	json_t *j, *titles, *procs, *row, *cmd;
	struct proc_row *rows = NULL;
	long col, pid_col, ppid_col;
	size_t k;
	int rc = -1;

	*w = PROC_WATCH_NONE;
	if ((j = docker_parse_json(body, len, JSON_OBJECT, st)) == NULL)
		return -1;
	if (docker_field(j, "Titles", JSON_ARRAY, true, &titles, st) != 0 ||
	    docker_field(j, "Processes", JSON_ARRAY, false, &procs, st) != 0)
		goto out;
	if ((col = top_column(titles, "CMD", "COMMAND")) < 0) {
		docker_fail(st, DOCKER_ERR_BAD_ANSWER, "no CMD column in the process list");
		goto out;
	}
	/* without them a watcher is still seen, only never busy */
	pid_col = top_column(titles, "PID", NULL);
	ppid_col = top_column(titles, "PPID", NULL);
	if ((rows = calloc(json_array_size(procs) + 1, sizeof(*rows))) == NULL) {
		docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
		goto out;
	}
	json_array_foreach(procs, k, row) {
		const char *c;

		if (!json_is_array(row) || (cmd = json_array_get(row, (size_t)col)) == NULL ||
		    (c = json_string_value(cmd)) == NULL) {
			docker_fail(st, DOCKER_ERR_BAD_ANSWER, "process %zu has no command", k);
			goto out;
		}
		rows[k].watcher = strstr(c, needle) != NULL;
		rows[k].pid = pid_col < 0 ? -1 : top_number(json_array_get(row, (size_t)pid_col));
		rows[k].ppid = ppid_col < 0 ? -1 : top_number(json_array_get(row, (size_t)ppid_col));
	}
	*w = proc_watch_state(rows, json_array_size(procs));
	rc = 0;
out:
	free(rows);
	json_decref(j);
	return rc;
}

int
docker_top_watch(struct docker *d, const char *id, const char *needle, enum proc_watch *w,
    struct docker_status *st)
{
	struct sink s = { .max = TOP_ANSWER_MAX };
	char path[128];
	int rc;

	memset(st, 0, sizeof(*st));
	*w = PROC_WATCH_NONE;
	if (!docker_chars(id, HEX, 64, 65))
		return docker_fail(st, DOCKER_ERR_INVALID, "not a container id");
	snprintf(path, sizeof(path), "/containers/%s/top", id);
	rc = docker_call(d, "GET /containers/{id}/top", path, NULL, d->timeout_ms, 200,
	    &s, st) == 0 ? docker_parse_top(s.buf, s.len, needle, w, st) : -1;
	free(s.buf);
	return rc;
}
