/*
 * docker_top: GET /containers/{id}/top, the processes running in a
 * container, read without an exec (the engine lists them itself). Used to
 * see whether a front reloads itself: Mailu's front runs its own
 * certificate watcher in the cert flavor.
 */
#include <stdlib.h>
#include <string.h>

#include "docker_http.h"

/* A process list is small; a longer answer is not a front's. */
#define TOP_ANSWER_MAX (256 * 1024)

int
docker_parse_top(const char *body, size_t len, const char *needle, bool *found,
    struct docker_status *st)
{
	json_t *j, *titles, *procs, *row, *cmd;
	size_t col = 0, i, k;
	bool have_col = false;
	int rc = -1;

	*found = false;
	if ((j = docker_parse_json(body, len, JSON_OBJECT, st)) == NULL)
		return -1;
	if (docker_field(j, "Titles", JSON_ARRAY, true, &titles, st) != 0 ||
	    docker_field(j, "Processes", JSON_ARRAY, false, &procs, st) != 0)
		goto out;
	/* ps names the column CMD (-ef) or COMMAND (-o args ...) */
	json_array_foreach(titles, i, row) {
		const char *t = json_string_value(row);

		if (t != NULL && (strcmp(t, "CMD") == 0 || strcmp(t, "COMMAND") == 0)) {
			col = i;
			have_col = true;
		}
	}
	if (!have_col) {
		docker_fail(st, DOCKER_ERR_BAD_ANSWER, "no CMD column in the process list");
		goto out;
	}
	json_array_foreach(procs, k, row) {
		const char *c;

		if (!json_is_array(row) || (cmd = json_array_get(row, col)) == NULL ||
		    (c = json_string_value(cmd)) == NULL) {
			docker_fail(st, DOCKER_ERR_BAD_ANSWER, "process %zu has no command", k);
			goto out;
		}
		if (strstr(c, needle) != NULL)
			*found = true;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int
docker_top_has(struct docker *d, const char *id, const char *needle, bool *found,
    struct docker_status *st)
{
	struct sink s = { .max = TOP_ANSWER_MAX };
	char path[128];
	int rc;

	memset(st, 0, sizeof(*st));
	*found = false;
	if (!docker_chars(id, HEX, 64, 65))
		return docker_fail(st, DOCKER_ERR_INVALID, "not a container id");
	snprintf(path, sizeof(path), "/containers/%s/top", id);
	rc = docker_call(d, "GET /containers/{id}/top", path, NULL, d->timeout_ms, 200,
	    &s, st) == 0 ? docker_parse_top(s.buf, s.len, needle, found, st) : -1;
	free(s.buf);
	return rc;
}
