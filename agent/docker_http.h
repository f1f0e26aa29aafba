/*
 * docker_http: the Engine API client's transport, as docker.c uses it.
 * Private to the docker module: only agent/docker*.c include it; every
 * other module goes through docker.h. It holds struct docker, one request
 * and where its answer goes (struct sink), and the helpers that check an
 * answer's JSON and fill in a struct docker_status.
 */
#ifndef MCA_DOCKER_HTTP_H
#define MCA_DOCKER_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include "docker.h"

/* Ids are lowercase hex; names and host names are built from ALNUM. */
#define HEX		"0123456789abcdef"
#define ALNUM		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* One engine: docker_open's host, one libcurl handle, the version in use. */
struct docker {
	CURL *curl;			/* reset and set up again for each request */
	bool global;			/* we hold a curl_global_init reference */
	char *socket_path;		/* unix socket, or NULL for tcp */
	char base[300];			/* "http://localhost" or "http://host:port" */
	long timeout_ms;		/* one request */
	char version[12];		/* negotiated, "" until the first request */
	char errbuf[CURL_ERROR_SIZE];	/* libcurl's words for the last failure */
};

/* Where one answer's body goes: a bounded buffer, or the demultiplexer. */
struct sink {
	CURL *curl;			/* the handle, asked for the status and type */
	bool want_stream;		/* a 200 stream answer goes to fn */
	int mode;			/* 0 undecided, 1 buffer, 2 stream */
	char *buf;			/* the body, NUL-terminated; the caller frees it */
	size_t len, cap, max;		/* max: the body cap, 0 for DOCKER_MAX_ANSWER */
	struct docker_demux dm;		/* stream answers; the caller inits it */
	void (*fn)(void *, int, const unsigned char *, size_t);	/* each payload piece */
	void *arg;			/* fn's first argument */
	bool stop;			/* set by fn: read enough */
	/* why the write callback made libcurl stop, if it did */
	enum { SINK_OK, SINK_TOO_LARGE, SINK_BAD_STREAM, SINK_NOMEM, SINK_STOPPED } why;
};

/*
 * Sets st->error to e and st->detail to the formatted text, sanitized
 * (log_clean) and cut to fit; returns -1, for `return docker_fail(...)`.
 */
int docker_fail(struct docker_status *st, enum docker_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* min <= strlen(s) < max, every character from set. */
bool docker_chars(const char *s, const char *set, size_t min, size_t max);
/* strlen(s) < max, every character printable ASCII (0x20..0x7e). */
bool docker_printable(const char *s, size_t max);

/*
 * One request for path, endpoint naming it in st ("GET /version"): a POST
 * of the JSON body, or a GET when body is NULL, after the API version is
 * negotiated (GET /version, once per struct docker). The answer goes to s
 * (zeroed by the caller but for max, want_stream, fn, arg and dm): a body
 * into s->buf (s->len bytes, NUL-terminated; NULL if empty) up to s->max
 * bytes (0: DOCKER_MAX_ANSWER); with want_stream, a 200 stream answer
 * through the demultiplexer s->dm to s->fn instead. Returns 0 when the
 * status is want, else -1 with st filled in (the code from the status, the
 * detail from the body's {"message"}: docker_parse_error). The caller
 * frees s->buf.
 */
int docker_call(struct docker *d, const char *endpoint, const char *path,
    const char *body, long timeout_ms, long want, struct sink *s,
    struct docker_status *st);

/*
 * An answer's body (len bytes) as JSON of type t, a new reference, or NULL
 * with st filled in; refused before jansson builds it when it may hold
 * more than DOCKER_MAX_VALUES values (jsonbound.h).
 */
json_t *docker_parse_json(const char *buf, size_t len, json_type t,
    struct docker_status *st);
/*
 * Member key of o, checked to be of type t (JSON_TRUE: any boolean).
 * Absent or null: *out NULL, an error only when required. 0 or -1.
 */
int docker_field(json_t *o, const char *key, json_type t, bool required,
    json_t **out, struct docker_status *st);
/*
 * Copies string v into dst: min..size-1 characters from set (NULL:
 * printable ASCII), no NUL inside; else -1 naming key in st->detail.
 */
int docker_copy_field(char *dst, size_t size, json_t *v, const char *set,
    size_t min, const char *key, struct docker_status *st);

/*
 * POST /containers/{id}/exec: argv (no shell) with stdout and stderr
 * attached, stdin too when asked; the new exec's id into eid. 0, or -1
 * with st filled in.
 */
int docker_exec_create(struct docker *d, const char *id, char *const argv[],
    bool attach_stdin, char eid[65], struct docker_status *st);

#endif
