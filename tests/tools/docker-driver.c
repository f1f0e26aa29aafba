/*
 * docker-driver: drives the Engine API client (agent/docker.c and
 * docker_http.c) against a real engine for
 * tests/integration/08-docker-api.sh. One command, one JSON line on
 * stdout. DOCKER_HOST as the agent reads it.
 *
 *   docker-driver [-t REQUEST_MS] version
 *   docker-driver [-t REQUEST_MS] find SELECTOR [PROJECT]
 *   docker-driver [-t REQUEST_MS] self
 *   docker-driver [-t REQUEST_MS] exec CONTAINER TIMEOUT_MS ARG...
 *   docker-driver [-t REQUEST_MS] bench CONTAINER N TIMEOUT_MS ARG...
 *   docker-driver [-t REQUEST_MS] logs CONTAINER SINCE MAX_BYTES
 *
 * Exit: 0 ok, 1 the call failed (see "error"), 2 bad DOCKER_HOST, 64 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "docker.h"

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
usage(void)
{
	fprintf(stderr, "usage: docker-driver [-t ms] version | find SEL [PROJECT] | self |"
	    " exec ID TIMEOUT_MS ARG... | bench ID N TIMEOUT_MS ARG... |"
	    " logs ID SINCE MAX_BYTES\n");
	return 64;
}

static long
number(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *end == '\0' && end != s && v >= 0 ? v : -1;
}

static json_t *
container(const struct docker_container *c)
{
	return json_pack("{s:s, s:s, s:b, s:s, s:s, s:s}", "id", c->id, "name", c->name,
	    "running", c->running, "address", c->address, "project", c->project,
	    "service", c->service);
}

static void
on_line(void *arg, int stream, const char *line, size_t len)
{
	json_array_append_new(arg, json_pack("{s:i, s:s%, s:i}", "stream", stream,
	    "line", line, len, "len", (int)len));
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	const char *host = getenv("DOCKER_HOST");
	struct docker_container *list = NULL, self;
	struct docker_exec_result res;
	struct docker_status st;
	struct docker *d;
	json_t *out, *arr;
	long tmo = 10000, t0, n;
	int rc = -1, ai = 1;
	char *text;

	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		if ((tmo = number(argv[2])) <= 0)
			return usage();
		ai = 3;
	}
	if (ai >= argc)
		return usage();
	if ((d = docker_open(host != NULL ? host : "unix:///var/run/docker.sock",
	    tmo)) == NULL) {
		printf("{\"ok\":false,\"error\":\"bad_host\"}\n");
		return 2;
	}
	out = json_object();
	memset(&st, 0, sizeof(st));
	t0 = now_ms();
	if (strcmp(argv[ai], "version") == 0 && argc == ai + 1) {
		size_t cnt = 0;

		/* any call negotiates; a name nobody uses keeps it cheap */
		rc = docker_find(d, "mca-driver-no-such-container", NULL, &list, &cnt, &st);
		if (rc != 0 && st.error == DOCKER_ERR_NOT_FOUND)
			rc = 0;
	} else if (strcmp(argv[ai], "find") == 0 && (argc == ai + 2 || argc == ai + 3)) {
		size_t cnt = 0;

		rc = docker_find(d, argv[ai + 1], argc == ai + 3 ? argv[ai + 2] : NULL,
		    &list, &cnt, &st);
		arr = json_array();
		for (size_t i = 0; rc == 0 && i < cnt; i++)
			json_array_append_new(arr, container(&list[i]));
		json_object_set_new(out, "containers", arr);
	} else if (strcmp(argv[ai], "self") == 0 && argc == ai + 1) {
		if ((rc = docker_self(d, &self, &st)) == 0)
			json_object_set_new(out, "container", container(&self));
	} else if (strcmp(argv[ai], "exec") == 0 && argc >= ai + 4) {
		if ((n = number(argv[ai + 2])) < 0)
			goto bad;
		rc = docker_exec(d, argv[ai + 1], argv + ai + 3, n, &res, &st);
		json_object_set_new(out, "exit_code", json_integer(res.exit_code));
		json_object_set_new(out, "output", json_string(res.output));
		json_object_set_new(out, "output_total", json_integer((json_int_t)res.output_total));
		json_object_set_new(out, "exec_ms", json_integer(res.ms));
	} else if (strcmp(argv[ai], "bench") == 0 && argc >= ai + 5) {
		long runs = number(argv[ai + 2]), to = number(argv[ai + 3]), ms[1000];
		json_t *codes = json_array();

		if (runs < 1 || runs > 1000 || to < 0) {
			json_decref(codes);
			goto bad;
		}
		arr = json_array();
		for (long i = 0; i < runs; i++) {
			if ((rc = docker_exec(d, argv[ai + 1], argv + ai + 4, to, &res, &st)) != 0)
				break;
			ms[i] = res.ms;
			json_array_append_new(arr, json_integer(res.ms));
			json_array_append_new(codes, json_integer(res.exit_code));
		}
		if (rc == 0) {
			qsort(ms, (size_t)runs, sizeof(ms[0]), cmp_long);
			json_object_set_new(out, "median_ms", json_integer(runs % 2 ? ms[runs / 2] :
			    (ms[runs / 2 - 1] + ms[runs / 2]) / 2));
		}
		json_object_set_new(out, "ms_each", arr);
		json_object_set_new(out, "exit_codes", codes);
	} else if (strcmp(argv[ai], "logs") == 0 && argc == ai + 4) {
		long since = number(argv[ai + 2]), max = number(argv[ai + 3]);

		if (since < 0 || max < 0)
			goto bad;
		arr = json_array();
		rc = docker_logs_since(d, argv[ai + 1], (time_t)since, (size_t)max, on_line,
		    arr, &st);
		json_object_set_new(out, "lines", arr);
	} else
		goto bad;
	json_object_set_new(out, "ok", json_boolean(rc == 0));
	json_object_set_new(out, "error", json_string(docker_error_names[st.error]));
	json_object_set_new(out, "http_status", json_integer(st.http_status));
	json_object_set_new(out, "detail", json_string(st.detail));
	json_object_set_new(out, "endpoint", json_string(st.endpoint));
	json_object_set_new(out, "api_version", json_string(docker_api_version(d)));
	json_object_set_new(out, "ms", json_integer(now_ms() - t0));
	if ((text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS)) != NULL)
		printf("%s\n", text);
	free(text);
	free(list);
	json_decref(out);
	docker_close(&d);
	return rc == 0 ? 0 : 1;
bad:
	json_decref(out);
	docker_close(&d);
	return usage();
}
