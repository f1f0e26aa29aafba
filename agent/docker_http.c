/*
 * docker_http: the transport of the Engine API client (docker.c makes the
 * calls). One libcurl easy handle per struct docker, so requests share a
 * keep-alive connection. The engine is trusted with the front, not with
 * our memory: every answer is bounded while it arrives (a cap per call;
 * streams through the frame demultiplexer), its status mapped to a stable
 * code, its JSON's values counted before jansson builds it, and the API
 * version is negotiated before the first call.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "docker.h"
#include "docker_http.h"
#include "jsonbound.h"
#include "log.h"

#define API_NEWEST	1041	/* 1.41: the shapes below were written against it */
#define API_OLDEST	1024	/* 1.24: list "State", exec inspect "ExitCode" */
#define CONNECT_MS	5000L

const char *const docker_error_names[DOCKER_ERR__MAX] = {
	"ok", "connect_failed", "http_status", "not_found", "not_running",
	"denied", "bad_answer", "timeout", "api_too_old", "invalid_request",
};

static void
set_detail(struct docker_status *st, const char *src, size_t n)
{
	size_t len = 0;

	log_clean(st->detail, sizeof(st->detail), &len, src, n, false);
}

int
docker_fail(struct docker_status *st, enum docker_error e, const char *fmt, ...)
{
	char tmp[sizeof(st->detail)] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	st->error = e;
	set_detail(st, tmp, strlen(tmp));
	return -1;
}

/* min <= strlen(s) < max, every character from set. */
bool
docker_chars(const char *s, const char *set, size_t min, size_t max)
{
	size_t n = strlen(s);

	return n >= min && n < max && strspn(s, set) == n;
}

bool
docker_printable(const char *s, size_t max)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return n < max;
}

/* "HOST:PORT" (HOST a name, IPv4 or [IPv6]) to "http://HOST:PORT". */
static int
parse_tcp(const char *hp, char *base, size_t size)
{
	const char *colon = strrchr(hp, ':');
	size_t hlen = colon == NULL ? 0 : (size_t)(colon - hp);
	char *end;
	long port;

	if (hlen == 0 || colon[1] < '0' || colon[1] > '9')
		return -1;
	if (hp[0] == '[' ? hlen < 3 || hp[hlen - 1] != ']' ||
	    strspn(hp + 1, HEX "ABCDEF:.") != hlen - 2 :
	    strspn(hp, ALNUM ".-") != hlen)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if ((*end != '\0' && strcmp(end, "/") != 0) || port < 1 || port > 65535)
		return -1;
	return snprintf(base, size, "http://%.*s:%ld", (int)hlen, hp, port) <
	    (int)size ? 0 : -1;
}

struct docker *
docker_open(const char *host, long request_timeout_ms)
{
	struct docker *d = NULL, *ret = NULL;

	if (host == NULL || request_timeout_ms <= 0 ||
	    (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->timeout_ms = request_timeout_ms;
	if (strncmp(host, "unix://", 7) == 0) {
		/* sun_path holds 108 bytes with the NUL */
		if (host[7] != '/' || !docker_printable(host + 7, 108) ||
		    (d->socket_path = strdup(host + 7)) == NULL)
			goto out;
		snprintf(d->base, sizeof(d->base), "http://localhost");
	} else if (strncmp(host, "tcp://", 6) != 0 ||
	    parse_tcp(host + 6, d->base, sizeof(d->base)) != 0)
		goto out;
	/* Reference-counted, and thread-safe since libcurl 7.84. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto out;
	d->global = true;
	if ((d->curl = curl_easy_init()) == NULL)
		goto out;
	ret = d;
	d = NULL;
out:
	docker_close(&d);
	return ret;
}

void
docker_close(struct docker **dp)
{
	struct docker *d;

	if (dp == NULL || (d = *dp) == NULL)
		return;
	if (d->curl != NULL)
		curl_easy_cleanup(d->curl);
	if (d->global)
		curl_global_cleanup();
	free(d->socket_path);
	free(d);
	*dp = NULL;
}

const char *
docker_api_version(const struct docker *d)
{
	return d->version;
}

void
docker_demux_init(struct docker_demux *dm, uint32_t max_frame)
{
	memset(dm, 0, sizeof(*dm));
	dm->max_frame = max_frame;
}

int
docker_demux_feed(struct docker_demux *dm, const unsigned char *buf, size_t len,
    void (*fn)(void *arg, int stream, const unsigned char *p, size_t n), void *arg)
{
	const unsigned char *h = dm->hdr;
	uint32_t size;
	size_t n;

	if (dm->broken)
		return -1;
	while (len > 0) {
		if (dm->left > 0) {
			n = len < dm->left ? len : dm->left;
			if (fn != NULL)
				fn(arg, dm->stream, buf, n);
			dm->left -= (uint32_t)n;
		} else {
			/* A header may come a byte at a time: all eight first. */
			n = sizeof(dm->hdr) - dm->hdr_have;
			n = n < len ? n : len;
			memcpy(dm->hdr + dm->hdr_have, buf, n);
			dm->hdr_have += n;
			if (dm->hdr_have == sizeof(dm->hdr)) {
				dm->hdr_have = 0;
				size = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
				    (uint32_t)h[6] << 8 | (uint32_t)h[7];
				if (h[0] > 2 || h[1] != 0 || h[2] != 0 || h[3] != 0 ||
				    size > dm->max_frame) {
					dm->broken = 1;
					return -1;
				}
				dm->stream = h[0];
				dm->left = size;
			}
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * A 200 answer in one of the engine's stream types (1.41 / 1.42+ names),
 * or with none: logs before 1.42 come without a Content-Type.
 */
static bool
is_stream_answer(CURL *c)
{
	char *ct = NULL;
	long code = 0;

	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
	    code != 200 || curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK)
		return false;
	return ct == NULL ||
	    strncmp(ct, "application/vnd.docker.raw-stream", 33) == 0 ||
	    strncmp(ct, "application/vnd.docker.multiplexed-stream", 41) == 0;
}

static size_t
sink_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb, cap;
	char *nb;

	if (s->mode == 0)
		s->mode = s->want_stream && is_stream_answer(s->curl) ? 2 : 1;
	/* Returning short makes libcurl abort the transfer. */
	if (s->mode == 2) {
		if (docker_demux_feed(&s->dm, (const unsigned char *)p, n,
		    s->fn, s->arg) != 0)
			s->why = SINK_BAD_STREAM;
		else if (s->stop)
			s->why = SINK_STOPPED;
		return s->why == SINK_OK ? n : 0;
	}
	if (n > s->max - s->len) {
		s->why = SINK_TOO_LARGE;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		for (cap = s->cap ? s->cap : 16384; cap < s->len + n + 1; cap *= 2)
			;
		if ((nb = realloc(s->buf, cap)) == NULL) {
			s->why = SINK_NOMEM;
			return 0;
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

/* Why a unix socket refuses us (EACCES, ENOENT...): 0 if it connects now. */
static int
unix_connect_errno(const char *path)
{
	struct sockaddr_un sa;
	int fd, e = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		e = errno;
	close(fd);
	return e;
}

/* Maps a failed transfer to a code: never connected, too slow, or a bad answer. */
static int
transfer_failed(struct docker *d, CURLcode rc, struct sink *s,
    struct docker_status *st)
{
	const char *msg = d->errbuf[0] != '\0' ? d->errbuf : curl_easy_strerror(rc);
	curl_off_t pre = 0;

	curl_easy_getinfo(d->curl, CURLINFO_PRETRANSFER_TIME_T, &pre);
	if (rc == CURLE_FILESIZE_EXCEEDED ||
	    (rc == CURLE_WRITE_ERROR && s->why == SINK_TOO_LARGE))
		return docker_fail(st, DOCKER_ERR_BAD_ANSWER,
		    "answer larger than %zu bytes", s->max);
	if (rc == CURLE_WRITE_ERROR)
		return s->why == SINK_NOMEM ?
		    docker_fail(st, DOCKER_ERR_INVALID, "out of memory") :
		    docker_fail(st, DOCKER_ERR_BAD_ANSWER, "malformed stream frame");
	/* No pretransfer time: the connection itself never came up. */
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return docker_fail(st, pre > 0 ? DOCKER_ERR_TIMEOUT : DOCKER_ERR_CONNECT,
		    "%s", msg);
	if (rc == CURLE_COULDNT_CONNECT && d->socket_path != NULL) {
		int e = unix_connect_errno(d->socket_path);

		/* libcurl names neither the socket nor the cause */
		if (e != 0)
			return docker_fail(st, DOCKER_ERR_CONNECT, "connect %s: %s%s",
			    d->socket_path, strerror(e), e == EACCES ?
			    " (the agent's uid needs the socket's group: "
			    "--group-add or compose user: UID:GID)" : "");
	}
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	    rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR)
		return docker_fail(st, DOCKER_ERR_CONNECT, "%s", msg);
	return docker_fail(st, DOCKER_ERR_BAD_ANSWER, "%s", msg);
}

/*
 * One request: a POST of the JSON body, or a GET when body is NULL.
 * Returns 0 when an answer was read to its end (whatever its status, in
 * *code), -1 with st filled in otherwise.
 */
static int
http(struct docker *d, const char *endpoint, const char *path,
    const char *body, long timeout_ms, struct sink *s, long *code,
    struct docker_status *st)
{
	struct curl_slist *hdrs;
	CURL *c = d->curl;
	char url[4096];
	CURLcode rc;
	int ret = -1;

	snprintf(st->endpoint, sizeof(st->endpoint), "%s", endpoint);
	st->http_status = *code = 0;
	/* "/version" itself is the one unversioned path. */
	if (snprintf(url, sizeof(url), "%s%s%s%s", d->base, d->version[0] ? "/v" : "",
	    d->version, path) >= (int)sizeof(url))
		return docker_fail(st, DOCKER_ERR_INVALID, "request path too long");
	/* "Expect:" off: no 100-continue round trip for a small body. */
	if ((hdrs = curl_slist_append(NULL, "Expect:")) == NULL || (body != NULL &&
	    curl_slist_append(hdrs, "Content-Type: application/json") == NULL)) {
		docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
		goto out;
	}
	s->curl = c;
	s->max = s->max > 0 ? s->max : DOCKER_MAX_ANSWER;
	/* Reset keeps live connections; every option is set again below. */
	curl_easy_reset(c);
	d->errbuf[0] = '\0';
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, d->errbuf) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout_ms < CONNECT_MS ? timeout_ms : CONNECT_MS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "mailu-cert-agent") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, s) != CURLE_OK ||
	    (d->socket_path != NULL && curl_easy_setopt(c,
	    CURLOPT_UNIX_SOCKET_PATH, d->socket_path) != CURLE_OK) ||
	    (!s->want_stream && curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)s->max) != CURLE_OK) ||
	    (body != NULL && (curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) != CURLE_OK))) {
		docker_fail(st, DOCKER_ERR_INVALID, "libcurl refused an option");
		goto out;
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	st->http_status = *code;
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && s->why == SINK_STOPPED)) {
		transfer_failed(d, rc, s, st);
		goto out;
	}
	/* A stream answer with no payload never reached sink_write. */
	if (s->want_stream && *code == 200 && s->mode != 2) {
		if (s->mode == 1 || !is_stream_answer(c)) {
			docker_fail(st, DOCKER_ERR_BAD_ANSWER, "not a stream answer");
			goto out;
		}
		s->mode = 2;
	}
	ret = 0;
out:
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_slist_free_all(hdrs);
	return ret;
}

/* Every answer as JSON of type t (new reference) or NULL, its tree bounded first. */
json_t *
docker_parse_json(const char *buf, size_t len, json_type t, struct docker_status *st)
{
	json_error_t err;
	json_t *j = NULL;

	if (jsonbound_values(buf, len, DOCKER_MAX_VALUES) > DOCKER_MAX_VALUES)
		docker_fail(st, DOCKER_ERR_BAD_ANSWER,
		    "answer of more than %d JSON values", DOCKER_MAX_VALUES);
	else if (len == 0 || (j = json_loadb(buf, len, JSON_REJECT_DUPLICATES,
	    &err)) == NULL)
		docker_fail(st, DOCKER_ERR_BAD_ANSWER, "not JSON: %s",
		    len == 0 ? "empty" : err.text);
	else if (json_typeof(j) != t) {
		docker_fail(st, DOCKER_ERR_BAD_ANSWER, "answer of the wrong JSON type");
		json_decref(j);
		j = NULL;
	}
	return j;
}

void
docker_parse_error(const char *body, size_t len, long code,
    struct docker_status *st)
{
	char msg[sizeof(st->detail)] = "";
	size_t mlen = 0;
	json_t *j, *m;

	j = docker_parse_json(body, len, JSON_OBJECT, st);	/* st set again below */
	m = json_object_get(j, "message");
	if (json_is_string(m))
		log_clean(msg, sizeof(msg), &mlen, json_string_value(m),
		    json_string_length(m), false);
	else	/* a proxy's HTML page: its first bytes still help */
		log_clean(msg, sizeof(msg), &mlen, body, len, false);
	json_decref(j);
	docker_fail(st, code == 404 ? DOCKER_ERR_NOT_FOUND :
	    code == 409 ? DOCKER_ERR_NOT_RUNNING :
	    code == 401 || code == 403 ? DOCKER_ERR_DENIED : DOCKER_ERR_HTTP,
	    "HTTP %ld", code);
	/* An empty message (or one of CRs only) keeps "HTTP <code>". */
	if (mlen > 0)
		memcpy(st->detail, msg, mlen + 1);
}

static int negotiate(struct docker *, struct docker_status *);

/* A request (negotiating first) whose answer must have status want. */
int
docker_call(struct docker *d, const char *endpoint, const char *path,
    const char *body, long timeout_ms, long want, struct sink *s,
    struct docker_status *st)
{
	long code;

	if ((strcmp(path, "/version") != 0 && negotiate(d, st) != 0) ||
	    http(d, endpoint, path, body, timeout_ms, s, &code, st) != 0)
		return -1;
	if (code != want)	/* its {"message"} becomes the detail */
		docker_parse_error(s->mode == 1 ? s->buf : NULL,
		    s->mode == 1 ? s->len : 0, code, st);
	return code == want ? 0 : -1;
}

/*
 * Member key of o, checked to be of type t (JSON_TRUE: any boolean).
 * Absent or null: *out NULL, an error only when required.
 */
int
docker_field(json_t *o, const char *key, json_type t, bool required, json_t **out,
    struct docker_status *st)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return required ?
		    docker_fail(st, DOCKER_ERR_BAD_ANSWER, "field %s missing", key) : 0;
	if (t == JSON_TRUE ? !json_is_boolean(v) : json_typeof(v) != t)
		return docker_fail(st, DOCKER_ERR_BAD_ANSWER,
		    "field %s of the wrong type", key);
	*out = v;
	return 0;
}

/* Copies string v: min..size-1 characters from set (NULL: printable ASCII). */
int
docker_copy_field(char *dst, size_t size, json_t *v, const char *set, size_t min,
    const char *key, struct docker_status *st)
{
	const char *s = json_string_value(v);

	if (strlen(s) != json_string_length(v) || strlen(s) < min ||
	    !(set != NULL ? docker_chars(s, set, min, size) :
	    docker_printable(s, size)))
		return docker_fail(st, DOCKER_ERR_BAD_ANSWER,
		    "field %s not acceptable", key);
	snprintf(dst, size, "%s", s);
	return 0;
}

static int
api_version_parse(const char *s, int *v)
{
	char *end;
	long major, minor;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	major = strtol(s, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -1;
	minor = strtol(end + 1, &end, 10);
	if (*end != '\0' || major < 1 || major > 9 || minor > 999)
		return -1;
	*v = (int)(major * 1000 + minor);
	return 0;
}

/*
 * min(engine, 1.41), unless the engine refuses a client that old
 * (MinAPIVersion, 1.44 on Engine 29.0): then that minimum, since the
 * calls and fields used here are the same from 1.24 to 1.52.
 */
int
docker_parse_version(const char *body, size_t len, char version[12],
    struct docker_status *st)
{
	json_t *j, *api, *min;
	int rc = -1, engine, lowest = 0, use;

	if ((j = docker_parse_json(body, len, JSON_OBJECT, st)) == NULL ||
	    docker_field(j, "ApiVersion", JSON_STRING, true, &api, st) != 0 ||
	    docker_field(j, "MinAPIVersion", JSON_STRING, false, &min, st) != 0)
		goto out;
	if (api_version_parse(json_string_value(api), &engine) != 0 ||
	    (min != NULL && api_version_parse(json_string_value(min), &lowest) != 0)) {
		docker_fail(st, DOCKER_ERR_BAD_ANSWER, "unreadable API version");
		goto out;
	}
	/* An engine that refuses its own version is not one to talk to. */
	if (lowest > engine) {
		docker_fail(st, DOCKER_ERR_BAD_ANSWER,
		    "MinAPIVersion %s above ApiVersion %s",
		    json_string_value(min), json_string_value(api));
		goto out;
	}
	use = engine < API_NEWEST ? engine : API_NEWEST;
	use = lowest > use ? lowest : use;
	if (use < API_OLDEST) {
		docker_fail(st, DOCKER_ERR_VERSION, "engine API %s is older than 1.24",
		    json_string_value(api));
		goto out;
	}
	snprintf(version, 12, "%d.%d", use / 1000, use % 1000);
	rc = 0;
out:
	json_decref(j);
	return rc;
}

static int
negotiate(struct docker *d, struct docker_status *st)
{
	struct sink s = { 0 };
	int rc;

	if (d->version[0] != '\0')
		return 0;
	rc = docker_call(d, "GET /version", "/version", NULL, d->timeout_ms, 200,
	    &s, st) == 0 ? docker_parse_version(s.buf, s.len, d->version, st) : -1;
	free(s.buf);
	return rc;
}
