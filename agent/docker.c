/*
 * docker: the Engine API calls of docker.h: containers found by label,
 * name or id and the agent's own container (list, inspect), exec with its
 * output and exit code, and a container's logs as lines. Each answer's
 * JSON is checked field by field before anything is copied out of it.
 * Requests, caps, negotiation and the demultiplexer: docker_http.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "clock.h"
#include "docker.h"
#include "docker_http.h"
#include "log.h"

#define FRAME_MAX	(1024 * 1024)
#define LINE_MAX_LOG	4096
#define EXEC_POLLS	20	/* exec inspects while Running after the stream ended */
#define EXEC_POLL_MS	50L
#define LABEL_PROJECT	"com.docker.compose.project"
#define LABEL_SERVICE	"com.docker.compose.service"
#define LABEL_KEY_MAX	256	/* the KEY of label:KEY=VALUE, with its NUL */

/* Docker's name rule [a-zA-Z0-9][a-zA-Z0-9_.-]*, or a (short) id: URL-safe. */
static bool
is_ref(const char *s)
{
	return (docker_chars(s, ALNUM "_.-", 1, 128) && strchr(ALNUM, s[0]) != NULL) ||
	    docker_chars(s, HEX, 1, 65);
}

/* path = pre + escaped ref (a checked container name or id) + post. */
static int
ref_path(struct docker *d, const char *pre, const char *ref, const char *post,
    char *path, size_t size, struct docker_status *st)
{
	char *e;
	int n;

	if (!is_ref(ref))
		return docker_fail(st, DOCKER_ERR_INVALID, "not a container name or id");
	if ((e = curl_easy_escape(d->curl, ref, 0)) == NULL)
		return docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
	n = snprintf(path, size, "%s%s%s", pre, e, post);
	curl_free(e);
	return n < (int)size ? 0 : docker_fail(st, DOCKER_ERR_INVALID, "path too long");
}

/* Labels, network mode and networks: the same in both answer shapes. */
static int
fill_common(struct docker_container *c, json_t *labels, json_t *hostcfg,
    json_t *netset, struct docker_status *st)
{
	json_t *proj, *svc, *mode = NULL, *nets = NULL, *v, *ip;
	const char *k;

	if (labels != NULL &&
	    (docker_field(labels, LABEL_PROJECT, JSON_STRING, false, &proj, st) != 0 ||
	    docker_field(labels, LABEL_SERVICE, JSON_STRING, false, &svc, st) != 0 ||
	    (proj != NULL && docker_copy_field(c->project, sizeof(c->project), proj,
	    NULL, 0, LABEL_PROJECT, st) != 0) ||
	    (svc != NULL && docker_copy_field(c->service, sizeof(c->service), svc,
	    NULL, 0, LABEL_SERVICE, st) != 0)))
		return -1;
	if ((hostcfg != NULL &&
	    docker_field(hostcfg, "NetworkMode", JSON_STRING, false, &mode, st) != 0) ||
	    (netset != NULL &&
	    docker_field(netset, "Networks", JSON_OBJECT, false, &nets, st) != 0))
		return -1;
	/* A host-network container has no address of its own: loopback reaches it. */
	if (mode != NULL && strcmp(json_string_value(mode), "host") == 0) {
		c->host_network = true;
		snprintf(c->address, sizeof(c->address), "127.0.0.1");
	}
	if (mode != NULL && strncmp(json_string_value(mode), "container:", 10) == 0 &&
	    is_ref(json_string_value(mode) + 10))
		snprintf(c->net_container, sizeof(c->net_container), "%s",
		    json_string_value(mode) + 10);
	json_object_foreach(nets, k, v) {
		struct docker_network *n = &c->nets[c->n_nets];
		bool has_ip;

		if (!json_is_object(v) ||
		    docker_field(v, "IPAddress", JSON_STRING, false, &ip, st) != 0)
			return docker_fail(st, DOCKER_ERR_BAD_ANSWER,
			    "network %s malformed", k);
		has_ip = ip != NULL && json_string_length(ip) > 0;
		if (has_ip && c->address[0] == '\0' &&
		    docker_copy_field(c->address, sizeof(c->address), ip,
		    HEX "ABCDEF.:", 1, "IPAddress", st) != 0)
			return -1;
		/* a name not kept whole is not kept: a cut one could match another */
		if (c->n_nets == DOCKER_MAX_NETWORKS || !is_ref(k) ||
		    strlen(k) >= sizeof(n->name)) {
			c->nets_omitted++;
			continue;
		}
		snprintf(n->name, sizeof(n->name), "%s", k);
		if (has_ip && docker_copy_field(n->address, sizeof(n->address), ip,
		    HEX "ABCDEF.:", 1, "IPAddress", st) != 0)
			return -1;
		c->n_nets++;
	}
	return 0;
}

enum docker_reach
docker_reach(const struct docker_container *front,
    const struct docker_container *self, const char **network,
    const char **address)
{
	bool on_host = self == NULL || self->host_network;

	*network = "";
	*address = front->address;
	if (front->host_network) {
		*network = "host";
		return on_host ? DOCKER_REACH_HOST : DOCKER_REACH_UNSHARED;
	}
	/* in the front's own network stack: its addresses are ours */
	if (!on_host && front->address[0] != '\0' && self->net_container[0] != '\0' &&
	    (strcmp(self->net_container, front->id) == 0 ||
	    strcmp(self->net_container, front->name) == 0)) {
		*network = "container";
		return DOCKER_REACH_SHARED;
	}
	for (size_t i = 0; !on_host && i < front->n_nets; i++) {
		const struct docker_network *n = &front->nets[i];

		if (n->address[0] == '\0')
			continue;
		for (size_t j = 0; j < self->n_nets; j++) {
			if (strcmp(n->name, self->nets[j].name) == 0) {
				*network = n->name;
				*address = n->address;
				return DOCKER_REACH_SHARED;
			}
		}
	}
	if (front->address[0] == '\0')
		return DOCKER_REACH_NONE;
	/* the first network with an address, named when it was recorded */
	for (size_t i = 0; i < front->n_nets; i++) {
		if (strcmp(front->nets[i].address, front->address) == 0) {
			*network = front->nets[i].name;
			break;
		}
	}
	return on_host ? DOCKER_REACH_HOST : DOCKER_REACH_UNSHARED;
}

/*
 * State.StartedAt / FinishedAt, "2026-11-28T10:26:13.123456789Z" (the
 * fraction is not needed), as a time; 0 when absent or unset (the
 * engine's "0001-01-01T00:00:00Z": never started or never exited).
 */
static time_t
state_time(const json_t *v)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (v == NULL ||
	    strptime(json_string_value(v), "%Y-%m-%dT%H:%M:%S", &tm) == NULL ||
	    tm.tm_year <= 70)
		return 0;
	return timegm(&tm);
}

/* GET /containers/{id}/json's shape; hostname gets Config.Hostname. */
static int
fill_inspect(json_t *j, struct docker_container *c, char *hostname, size_t hlen,
    struct docker_status *st)
{
	json_t *id, *name, *state, *running, *paused, *config, *labels = NULL,
	    *host = NULL, *hostcfg, *netset, *started, *finished;
	const char *nm;

	memset(c, 0, sizeof(*c));
	if (docker_field(j, "Id", JSON_STRING, true, &id, st) != 0 ||
	    docker_copy_field(c->id, sizeof(c->id), id, HEX, 64, "Id", st) != 0 ||
	    docker_field(j, "Name", JSON_STRING, true, &name, st) != 0 ||
	    docker_field(j, "State", JSON_OBJECT, true, &state, st) != 0 ||
	    docker_field(state, "Running", JSON_TRUE, true, &running, st) != 0 ||
	    docker_field(state, "Paused", JSON_TRUE, false, &paused, st) != 0 ||
	    docker_field(state, "StartedAt", JSON_STRING, false, &started, st) != 0 ||
	    docker_field(state, "FinishedAt", JSON_STRING, false, &finished, st) != 0 ||
	    docker_field(j, "Config", JSON_OBJECT, false, &config, st) != 0 ||
	    (config != NULL &&
	    (docker_field(config, "Labels", JSON_OBJECT, false, &labels, st) != 0 ||
	    docker_field(config, "Hostname", JSON_STRING, false, &host, st) != 0)) ||
	    docker_field(j, "HostConfig", JSON_OBJECT, false, &hostcfg, st) != 0 ||
	    docker_field(j, "NetworkSettings", JSON_OBJECT, false, &netset, st) != 0)
		return -1;
	nm = json_string_value(name);
	nm += *nm == '/';
	if (!is_ref(nm) || strlen(nm) >= sizeof(c->name))
		return docker_fail(st, DOCKER_ERR_BAD_ANSWER, "field Name not acceptable");
	snprintf(c->name, sizeof(c->name), "%s", nm);
	c->running = json_is_true(running) && !json_is_true(paused);
	c->started = state_time(started);
	c->finished = state_time(finished);
	snprintf(hostname, hlen, "%s", host != NULL ? json_string_value(host) : "");
	return fill_common(c, labels, hostcfg, netset, st);
}

/* One GET /containers/json entry; Names holds "/name" (and legacy links). */
static int
fill_list_entry(json_t *j, struct docker_container *c, json_t **labels,
    struct docker_status *st)
{
	json_t *id, *names, *name, *state, *hostcfg, *netset;
	const char *nm = NULL, *s;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(j))
		return docker_fail(st, DOCKER_ERR_BAD_ANSWER, "list entry not an object");
	if (docker_field(j, "Id", JSON_STRING, true, &id, st) != 0 ||
	    docker_copy_field(c->id, sizeof(c->id), id, HEX, 64, "Id", st) != 0 ||
	    docker_field(j, "Names", JSON_ARRAY, true, &names, st) != 0 ||
	    docker_field(j, "State", JSON_STRING, true, &state, st) != 0 ||
	    docker_field(j, "Labels", JSON_OBJECT, false, labels, st) != 0 ||
	    docker_field(j, "HostConfig", JSON_OBJECT, false, &hostcfg, st) != 0 ||
	    docker_field(j, "NetworkSettings", JSON_OBJECT, false, &netset, st) != 0)
		return -1;
	json_array_foreach(names, i, name) {
		if (!json_is_string(name))
			return docker_fail(st, DOCKER_ERR_BAD_ANSWER,
			    "field Names malformed");
		s = json_string_value(name);
		if (nm == NULL && s[0] == '/' && strchr(s + 1, '/') == NULL)
			nm = s + 1;
	}
	if (nm == NULL || !is_ref(nm))
		return docker_fail(st, DOCKER_ERR_BAD_ANSWER,
		    "field Names not acceptable");
	snprintf(c->name, sizeof(c->name), "%s", nm);
	c->running = strcmp(json_string_value(state), "running") == 0;
	return fill_common(c, *labels, hostcfg, netset, st);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct docker_container *)a)->name,
	    ((const struct docker_container *)b)->name);
}

int
docker_parse_list(const char *body, size_t len, const char *kv,
    const char *project, struct docker_container **out, size_t *n,
    struct docker_status *st)
{
	struct docker_container *list = NULL;
	json_t *j, *e, *labels, *l;
	const char *eq = strchr(kv, '=');
	char key[LABEL_KEY_MAX];
	size_t i, used = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (eq == NULL || (size_t)(eq - kv) >= sizeof(key))
		return docker_fail(st, DOCKER_ERR_INVALID,
		    "selector is not label:KEY=VALUE");
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	if ((j = docker_parse_json(body, len, JSON_ARRAY, st)) == NULL)
		return -1;
	if (json_array_size(j) > DOCKER_MAX_CONTAINERS) {
		docker_fail(st, DOCKER_ERR_BAD_ANSWER, "list of more than %d containers",
		    DOCKER_MAX_CONTAINERS);
		goto out;
	}
	if ((list = calloc(json_array_size(j) + 1, sizeof(*list))) == NULL) {
		docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
		goto out;
	}
	json_array_foreach(j, i, e) {
		if (fill_list_entry(e, &list[used], &labels, st) != 0)
			goto out;
		/* Checked here too: a socket proxy may drop the filter. */
		l = json_object_get(labels, key);
		if (json_is_string(l) && strcmp(json_string_value(l), eq + 1) == 0 &&
		    (project == NULL || strcmp(list[used].project, project) == 0))
			used++;
	}
	qsort(list, used, sizeof(*list), cmp_name);
	*out = list;
	*n = used;
	list = NULL;
	rc = 0;
out:
	free(list);
	json_decref(j);
	return rc;
}

static int
find_label(struct docker *d, const char *kv, const char *project,
    struct docker_container **out, size_t *n, struct docker_status *st)
{
	struct sink s = { .max = DOCKER_MAX_LIST };
	json_t *filter = NULL, *arr;
	char *fj = NULL, *esc = NULL, path[2048], pkv[300];
	const char *eq = strchr(kv, '=');
	int rc = -1;

	if (eq == NULL || eq == kv || (size_t)(eq - kv) >= LABEL_KEY_MAX ||
	    !docker_printable(kv, 512) ||
	    (project != NULL && !docker_printable(project, 128))) {
		docker_fail(st, DOCKER_ERR_INVALID, "selector is not label:KEY=VALUE");
		goto out;
	}
	snprintf(pkv, sizeof(pkv), LABEL_PROJECT "=%s", project ? project : "");
	/* Docker ANDs the values of one "label" filter. */
	if ((arr = json_array()) == NULL ||
	    (filter = json_pack("{s:o}", "label", arr)) == NULL ||
	    json_array_append_new(arr, json_string(kv)) != 0 ||
	    (project != NULL && json_array_append_new(arr, json_string(pkv)) != 0) ||
	    (fj = json_dumps(filter, JSON_COMPACT)) == NULL ||
	    (esc = curl_easy_escape(d->curl, fj, 0)) == NULL) {
		docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
		goto out;
	}
	if (snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s",
	    esc) >= (int)sizeof(path)) {
		docker_fail(st, DOCKER_ERR_INVALID, "selector too long");
		goto out;
	}
	if (docker_call(d, "GET /containers/json", path, NULL, d->timeout_ms, 200, &s,
	    st) != 0 || docker_parse_list(s.buf, s.len, kv, project, out, n, st) != 0)
		goto out;
	rc = 0;
out:
	free(s.buf);
	free(fj);
	curl_free(esc);
	json_decref(filter);
	return rc;
}

int
docker_parse_inspect(const char *body, size_t len, struct docker_container *c,
    char *hostname, size_t hlen, struct docker_status *st)
{
	json_t *j;
	int rc;

	if ((j = docker_parse_json(body, len, JSON_OBJECT, st)) == NULL)
		return -1;
	rc = fill_inspect(j, c, hostname, hlen, st);
	json_decref(j);
	return rc;
}

/* GET /containers/{ref}/json; hostname gets the container's host name. */
static int
inspect(struct docker *d, const char *ref, struct docker_container *c,
    char *hostname, size_t hlen, struct docker_status *st)
{
	struct sink s = { 0 };
	char path[512];
	int rc;

	ref += *ref == '/';
	if (ref_path(d, "/containers/", ref, "/json", path, sizeof(path), st) != 0)
		return -1;
	rc = docker_call(d, "GET /containers/{id}/json", path, NULL, d->timeout_ms, 200,
	    &s, st) == 0 ? docker_parse_inspect(s.buf, s.len, c, hostname, hlen, st) : -1;
	free(s.buf);
	return rc;
}

int
docker_find(struct docker *d, const char *selector, const char *project,
    struct docker_container **out, size_t *n, struct docker_status *st)
{
	struct docker_container *c;
	char host[256];

	memset(st, 0, sizeof(*st));
	*out = NULL;
	*n = 0;
	if (strncmp(selector, "label:", 6) == 0)
		return find_label(d, selector + 6,
		    project != NULL && *project != '\0' ? project : NULL, out, n, st);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
	if (inspect(d, selector, c, host, sizeof(host), st) != 0) {
		free(c);
		return -1;
	}
	*out = c;
	*n = 1;
	return 0;
}

int
docker_self(struct docker *d, struct docker_container *self,
    struct docker_status *st)
{
	char host[256], seen[256];

	memset(st, 0, sizeof(*st));
	memset(self, 0, sizeof(*self));
	if (gethostname(host, sizeof(host)) != 0)
		return docker_fail(st, DOCKER_ERR_NOT_FOUND, "no host name");
	host[sizeof(host) - 1] = '\0';
	if (!is_ref(host))
		return docker_fail(st, DOCKER_ERR_NOT_FOUND,
		    "host name %s names no container", host);
	if (inspect(d, host, self, seen, sizeof(seen), st) != 0)
		return -1;
	/* A container merely named like this machine is not us. */
	if (strcmp(seen, host) != 0) {
		memset(self, 0, sizeof(*self));
		return docker_fail(st, DOCKER_ERR_NOT_FOUND,
		    "container %s has another host name", host);
	}
	return 0;
}

/* Output kept per stream (stdout 0, stderr 1), counted in all. */
struct exec_out {
	char keep[2][DOCKER_EXEC_KEEP];
	size_t have[2];
	size_t total;
};

static void
exec_frame(void *arg, int stream, const unsigned char *p, size_t n)
{
	struct exec_out *o = arg;
	size_t i = stream == 2, take = DOCKER_EXEC_KEEP - o->have[stream == 2];

	o->total += n;
	if (stream == 0)
		return;
	take = take < n ? take : n;
	memcpy(o->keep[i] + o->have[i], p, take);
	o->have[i] += take;
}

int
docker_parse_exec_create(const char *body, size_t len, char eid[65],
    struct docker_status *st)
{
	json_t *j, *v;
	int rc = -1;

	if ((j = docker_parse_json(body, len, JSON_OBJECT, st)) != NULL &&
	    docker_field(j, "Id", JSON_STRING, true, &v, st) == 0 &&
	    docker_copy_field(eid, 65, v, HEX, 64, "Id", st) == 0)
		rc = 0;
	json_decref(j);
	return rc;
}

int
docker_exec_create(struct docker *d, const char *id, char *const argv[],
    bool attach_stdin, char eid[65], struct docker_status *st)
{
	struct sink s = { 0 };
	json_t *req = NULL, *cmd;
	char path[512], *body = NULL;
	int rc = -1;

	if (ref_path(d, "/containers/", id, "/exec", path, sizeof(path), st) != 0)
		return -1;
	if ((cmd = json_array()) == NULL ||
	    (req = json_pack("{s:b, s:b, s:b, s:b, s:o}", "AttachStdin",
	    attach_stdin, "AttachStdout", 1, "AttachStderr", 1, "Tty", 0, "Cmd",
	    cmd)) == NULL) {
		docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
		goto out;
	}
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (json_array_append_new(cmd, json_string(argv[i])) != 0) {
			docker_fail(st, DOCKER_ERR_INVALID, "command is not UTF-8");
			goto out;
		}
	}
	if ((body = json_dumps(req, JSON_COMPACT)) == NULL) {
		docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
		goto out;
	}
	if (docker_call(d, "POST /containers/{id}/exec", path, body, d->timeout_ms, 201,
	    &s, st) != 0 || docker_parse_exec_create(s.buf, s.len, eid, st) != 0)
		goto out;
	rc = 0;
out:
	free(s.buf);
	free(body);
	json_decref(req);
	return rc;
}

int
docker_parse_exec_inspect(const char *body, size_t len, int *exit_code,
    long *pid, struct docker_status *st)
{
	json_t *j, *running, *code, *p;
	int rc = -1;

	if ((j = docker_parse_json(body, len, JSON_OBJECT, st)) == NULL ||
	    docker_field(j, "Running", JSON_TRUE, true, &running, st) != 0 ||
	    docker_field(j, "ExitCode", JSON_INTEGER, false, &code, st) != 0)
		goto out;
	if (json_is_true(running))
		rc = 1;
	else if (code == NULL || json_integer_value(code) < 0 ||
	    json_integer_value(code) > 255)
		docker_fail(st, DOCKER_ERR_BAD_ANSWER,
		    "finished exec without an exit code");
	else {
		*exit_code = (int)json_integer_value(code);
		rc = 0;
	}
	if (rc >= 0 && pid != NULL) {
		/* not checked with docker_field(): an odd Pid only means "unknown" */
		p = json_object_get(j, "Pid");
		*pid = json_is_integer(p) && json_integer_value(p) > 0 &&
		    json_integer_value(p) < 1L << 30 ? (long)json_integer_value(p) : 0;
	}
out:
	json_decref(j);
	return rc;
}

/*
 * GET /exec/{id}/json: 1 still running, 0 finished (*exit_code), -1 error.
 * *pid gets Pid when the engine gives one (pid may be NULL).
 */
static int
exec_inspect(struct docker *d, const char *eid, int *exit_code, long *pid,
    struct docker_status *st)
{
	struct sink s = { 0 };
	char path[128];
	int rc;

	snprintf(path, sizeof(path), "/exec/%s/json", eid);
	rc = docker_call(d, "GET /exec/{id}/json", path, NULL, d->timeout_ms, 200, &s,
	    st) == 0 ? docker_parse_exec_inspect(s.buf, s.len, exit_code, pid, st) : -1;
	free(s.buf);
	return rc;
}

/*
 * On DOCKER_ERR_TIMEOUT the command may still be running in the
 * container: the API has no way to stop an exec, and we do not try.
 */
int
docker_exec(struct docker *d, const char *id, char *const argv[],
    long timeout_ms, struct docker_exec_result *res, struct docker_status *st)
{
	struct exec_out *o = NULL;
	struct sink s = { .want_stream = true, .fn = exec_frame };
	struct timespec nap = { 0, EXEC_POLL_MS * 1000000L };
	long t0 = clock_ms(), deadline = t0 + timeout_ms;
	char eid[65], path[128];
	size_t len = 0;
	int rc = -1, r = 1;

	memset(st, 0, sizeof(*st));
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	if (argv == NULL || argv[0] == NULL || timeout_ms <= 0) {
		docker_fail(st, DOCKER_ERR_INVALID, "empty command");
		goto out;
	}
	if ((s.arg = o = calloc(1, sizeof(*o))) == NULL) {
		docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
		goto out;
	}
	if (docker_exec_create(d, id, argv, false, eid, st) != 0)
		goto out;
	memcpy(res->exec_id, eid, sizeof(res->exec_id));

	/* The engine answers 200 and closes when the command's output ends. */
	docker_demux_init(&s.dm, FRAME_MAX);
	snprintf(path, sizeof(path), "/exec/%s/start", eid);
	if (docker_call(d, "POST /exec/{id}/start", path,
	    "{\"Detach\":false,\"Tty\":false}",
	    deadline - clock_ms() > 1 ? deadline - clock_ms() : 1, 200, &s, st) != 0) {
		/* which process hangs, for the caller that wants it gone */
		if (st->error == DOCKER_ERR_TIMEOUT) {
			struct docker_status ist;

			res->hung = true;
			exec_inspect(d, eid, &res->exit_code, &res->pid, &ist);
			res->exit_code = -1;
		}
		goto out;
	}
	if (s.dm.left != 0 || s.dm.hdr_have != 0) {
		docker_fail(st, DOCKER_ERR_BAD_ANSWER, "stream ends inside a frame");
		goto out;
	}

	/* The stream can end a moment before the engine records the exit. */
	for (int i = 0; i < EXEC_POLLS && r == 1; i++) {
		if (i > 0 && (clock_ms() + EXEC_POLL_MS > deadline ||
		    nanosleep(&nap, NULL) != 0))
			break;
		if ((r = exec_inspect(d, eid, &res->exit_code, &res->pid, st)) < 0)
			goto out;
	}
	if (r == 1) {
		res->hung = true;
		docker_fail(st, DOCKER_ERR_TIMEOUT,
		    "exec still running after its output ended");
		goto out;
	}
	log_clean(res->output, sizeof(res->output), &len, o->keep[0],
	    o->have[0], true);
	if (len > 0 && o->have[1] > 0 && res->output[len - 1] != '\n')
		log_clean(res->output, sizeof(res->output), &len, "\n", 1, true);
	log_clean(res->output, sizeof(res->output), &len, o->keep[1],
	    o->have[1], true);
	res->output_total = o->total;
	rc = 0;
out:
	res->ms = clock_ms() - t0;
	free(o);
	free(s.buf);
	return rc;
}

int
docker_exec_state(struct docker *d, const char *exec_id, bool *running,
    long *pid, struct docker_status *st)
{
	int code = -1, r;

	memset(st, 0, sizeof(*st));
	*running = false;
	*pid = 0;
	if (!docker_chars(exec_id, HEX, 64, 65))
		return docker_fail(st, DOCKER_ERR_INVALID, "not an exec id");
	if ((r = exec_inspect(d, exec_id, &code, pid, st)) < 0)
		return -1;
	*running = r == 1;
	return 0;
}

/* Each stream split into lines across frames; long lines come in pieces. */
struct log_lines {
	struct sink *sink;
	char line[2][LINE_MAX_LOG + 1];
	size_t have[2];
	size_t total, max;
	void (*fn)(void *, int, const char *, size_t);
	void *arg;
};

static void
log_emit(struct log_lines *l, size_t i)
{
	l->fn(l->arg, (int)i + 1, l->line[i], l->have[i]);
	l->have[i] = 0;
	l->line[i][0] = '\0';
}

static void
log_frame(void *arg, int stream, const unsigned char *p, size_t n)
{
	struct log_lines *l = arg;
	size_t i = (size_t)stream - 1;

	if (stream != 1 && stream != 2)
		return;
	for (size_t k = 0; k < n; k++) {
		if (l->total++ >= l->max) {
			l->sink->stop = true;
			return;
		}
		if (p[k] == '\n')
			log_emit(l, i);
		else
			log_clean(l->line[i], sizeof(l->line[i]), &l->have[i],
			    (const char *)p + k, 1, false);
		if (l->have[i] == LINE_MAX_LOG)
			log_emit(l, i);
	}
}

/* Lines reach fn sanitized like exec output (printable ASCII), NUL-terminated. */
int
docker_logs_since(struct docker *d, const char *id, time_t since,
    size_t max_bytes, void (*fn)(void *arg, int stream, const char *line, size_t len),
    void *arg, struct docker_status *st)
{
	struct log_lines *l = NULL;
	struct sink s = { .want_stream = true, .fn = log_frame };
	char path[512], query[128];
	int rc = -1;

	memset(st, 0, sizeof(*st));
	snprintf(query, sizeof(query),
	    "/logs?stdout=1&stderr=1&since=%lld&timestamps=0",
	    since > 0 ? (long long)since : 0LL);
	if (ref_path(d, "/containers/", id, query, path, sizeof(path), st) != 0)
		goto out;
	if ((s.arg = l = calloc(1, sizeof(*l))) == NULL) {
		docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
		goto out;
	}
	l->sink = &s;
	l->max = max_bytes;
	l->fn = fn;
	l->arg = arg;
	docker_demux_init(&s.dm, FRAME_MAX);
	if (docker_call(d, "GET /containers/{id}/logs", path, NULL, d->timeout_ms, 200,
	    &s, st) != 0)
		goto out;
	if (!s.stop && (s.dm.left != 0 || s.dm.hdr_have != 0)) {
		docker_fail(st, DOCKER_ERR_BAD_ANSWER, "stream ends inside a frame");
		goto out;
	}
	/* The last line of a stream may lack its newline, or was cut short. */
	for (size_t i = 0; i < 2; i++)
		if (l->have[i] > 0)
			log_emit(l, i);
	rc = 0;
out:
	free(l);
	free(s.buf);
	return rc;
}
