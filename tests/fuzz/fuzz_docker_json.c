/*
 * fuzz_docker_json: the Docker Engine API answers (agent/docker.c; the
 * version and error bodies agent/docker_http.c), parsed by the
 * docker_parse_* functions the calls run on the engine's body. The first
 * byte picks the answer (low 3 bits: version, container list, container
 * inspect, exec create, exec inspect, error body; bit 3: list limited to
 * compose project "mailu"; the rest is the body). Checks what
 * the agent relies on afterwards: the error codes, NUL-terminated bounded
 * strings, ids of 64 hex digits, names Docker allows, a sorted list, an
 * exit code of 0..255 and a negotiated version from 1.24 up to the
 * engine's own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "docker.h"

#define HEX "0123456789abcdef"
#define NAME "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

static void
check_status(int rc, const struct docker_status *st)
{
	check_str(st->detail, sizeof(st->detail));
	if (st->error >= DOCKER_ERR__MAX)
		abort();
	if (rc < 0 && (st->error == DOCKER_OK || st->detail[0] == '\0'))
		abort();
	/* the detail is for one log line: printable ASCII only */
	for (const char *p = st->detail; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
}

static void
check_container(const struct docker_container *c)
{
	check_str(c->id, sizeof(c->id));
	check_str(c->name, sizeof(c->name));
	check_str(c->address, sizeof(c->address));
	check_str(c->project, sizeof(c->project));
	check_str(c->service, sizeof(c->service));
	if (strlen(c->id) != 64 || strspn(c->id, HEX) != 64)
		abort();
	if (c->name[0] == '\0' || strspn(c->name, NAME) != strlen(c->name))
		abort();
	if (strspn(c->address, HEX "ABCDEF.:") != strlen(c->address))
		abort();
}

/* "M.m" as M * 1000 + m, or -1. */
static long
api(const char *s)
{
	char *end;
	long major = strtol(s, &end, 10), minor;

	if (end == s || *end != '.' || end[1] < '0' || end[1] > '9')
		return -1;
	minor = strtol(end + 1, &end, 10);
	return *end == '\0' && minor <= 999 ? major * 1000 + minor : -1;
}

/* The version to use: at least 1.24, at most the engine's own. */
static void
check_version(const char *version, const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "ApiVersion"));
	long use = api(version), engine = e != NULL ? api(e) : -1;

	if (use < 1024 || engine < 0 || use > engine)
		abort();
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct docker_status st;
	struct docker_container *list = NULL, c;
	const char *body = (const char *)data + 1;
	size_t len = size - 1, n = 0;
	char version[12], eid[65], host[256];
	int rc, code = -1;
	long pid = 0;

	if (size < 1)
		return 0;
	memset(&st, 0, sizeof(st));
	switch (data[0] & 7) {
	case 0:
		memset(version, 0, sizeof(version));
		rc = docker_parse_version(body, len, version, &st);
		check_status(rc, &st);
		if (rc == 0)
			check_version(version, body, len);
		if (rc != 0 && version[0] != '\0')
			abort();
		break;
	case 1:
		rc = docker_parse_list(body, len, "com.docker.compose.service=front",
		    data[0] & 8 ? "mailu" : NULL, &list, &n, &st);
		check_status(rc, &st);
		if (rc != 0 && (list != NULL || n != 0))
			abort();
		for (size_t i = 0; i < n; i++) {
			check_container(&list[i]);
			if (strcmp(list[i].service, "front") != 0 ||
			    ((data[0] & 8) && strcmp(list[i].project, "mailu") != 0) ||
			    (i > 0 && strcmp(list[i - 1].name, list[i].name) > 0))
				abort();
		}
		free(list);
		break;
	case 2:
		rc = docker_parse_inspect(body, len, &c, host, sizeof(host), &st);
		check_status(rc, &st);
		if (rc == 0) {
			check_container(&c);
			check_str(host, sizeof(host));
		}
		break;
	case 3:
		rc = docker_parse_exec_create(body, len, eid, &st);
		check_status(rc, &st);
		if (rc == 0 && (strlen(eid) != 64 || strspn(eid, HEX) != 64))
			abort();
		break;
	case 4:
		rc = docker_parse_exec_inspect(body, len, &code, &pid, &st);
		check_status(rc, &st);
		if (rc < -1 || rc > 1 || (rc == 0 && (code < 0 || code > 255)) ||
		    (rc >= 0 && (pid < 0 || pid >= 1L << 30)))
			abort();
		break;
	default:
		docker_parse_error(len > 0 ? body : NULL, len, 400 + (data[0] >> 3), &st);
		check_status(-1, &st);
		break;
	}
	return 0;
}
