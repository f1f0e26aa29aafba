/*
 * docker: a small Docker Engine API client over libcurl (unix socket or
 * tcp://), for the calls the agent needs and nothing else:
 *   GET  /version                      API version negotiation
 *   GET  /containers/json?filters=...  find fronts by label
 *   GET  /containers/{id}/json         find a front by name or id, own container
 *   POST /containers/{id}/exec         create an exec
 *   POST /exec/{id}/start              run it, read the multiplexed output
 *   GET  /exec/{id}/json               its exit code
 *   GET  /containers/{id}/logs         the front's logs since the reload
 * Every answer is checked: status code, content type where it matters,
 * JSON shape, and size (bounded reads).
 */
#ifndef MCA_DOCKER_H
#define MCA_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "procwatch.h"

/*
 * What an engine (or a proxy in front of it) may make the agent hold.
 * An answer body is refused while it arrives once past its call's cap
 * (stream payloads go through the demultiplexer, in bounded frames):
 * a container list 1 MiB: a few KB filtered by label, but a socket
 * proxy may drop the filter and list the whole host, ~2 KB a container,
 * so some 500 fit; any other answer (version, inspect, exec, an error's
 * body) 256 KiB: a front's inspect is 5-10 KB, the rest under 1 KB.
 */
#define DOCKER_MAX_LIST (1024 * 1024)
#define DOCKER_MAX_ANSWER (256 * 1024)
/*
 * Values one answer's JSON may hold, counted before jansson builds its
 * tree (jsonbound.h), whatever its shape: jansson's tree takes at most
 * ~160 bytes a value and ~4 a body byte (test_jsonbound.c), so a list's
 * stays under 14 MiB. A front's inspect holds 200-300 values, a list
 * entry 40-85 (300 containers ~26k at most, a full 1 MiB list ~45k).
 */
#define DOCKER_MAX_VALUES 65536
/*
 * Entries of a list answer, checked before the array they size (1.6 KB
 * each with their networks, 3.2 MB at most): more than 1 MiB of real
 * entries (>= 600 bytes) can hold.
 */
#define DOCKER_MAX_CONTAINERS 2048
/*
 * Networks recorded of one container (in the engine's order, by name):
 * a front on a compose project's networks and a proxy's has 2 or 3. The
 * rest, and names of 64 bytes or more, are counted, not recorded.
 */
#define DOCKER_MAX_NETWORKS 8
/* Output kept from one exec, per stream (the rest is counted, not kept). */
#define DOCKER_EXEC_KEEP 4096

struct docker;

/* Stable error codes for events (docker_error_names). */
enum docker_error {
	DOCKER_OK,
	DOCKER_ERR_CONNECT,	/* socket missing, refused, timed out */
	DOCKER_ERR_HTTP,	/* unexpected status code */
	DOCKER_ERR_NOT_FOUND,	/* 404: no such container / exec */
	DOCKER_ERR_NOT_RUNNING,	/* 409: container is not running / paused */
	DOCKER_ERR_DENIED,	/* 403: e.g. a socket proxy without EXEC=1 */
	DOCKER_ERR_BAD_ANSWER,	/* not JSON, wrong shape, too large, bad stream */
	DOCKER_ERR_TIMEOUT,	/* the request or exec took too long */
	DOCKER_ERR_VERSION,	/* engine API older than we support */
	DOCKER_ERR_INVALID,	/* never sent: bad selector, id or command; no memory */
	DOCKER_ERR__MAX
};

extern const char *const docker_error_names[DOCKER_ERR__MAX];

/* What went wrong, for one event: code, HTTP status, a short detail. */
struct docker_status {
	enum docker_error error;
	long http_status;		/* 0 when no answer */
	char detail[256];		/* e.g. the engine's {"message"}, sanitized */
	char endpoint[128];		/* "POST /containers/{id}/exec", for "denied" */
};

/*
 * Connects lazily: docker_open only parses host ("unix:///path" or
 * "tcp://host:port") and sets up libcurl; the first request negotiates
 * the API version (GET /version; min(engine, 1.41), at least 1.24).
 * Returns NULL on a bad host string or out of memory. One struct docker
 * is one libcurl handle and one kept-alive connection: use it from one
 * thread at a time. Selectors, ids and commands that could not be sent
 * as they are fail with DOCKER_ERR_INVALID before any request.
 */
struct docker *docker_open(const char *host, long request_timeout_ms);
void docker_close(struct docker **d);

/* The negotiated API version, e.g. "1.41" ("" before the first request). */
const char *docker_api_version(const struct docker *d);

/* One network a container is on: NetworkSettings.Networks.NAME.IPAddress. */
struct docker_network {
	char name[64];
	char address[48];		/* "" when it has none there (IPv6 only, none) */
};

struct docker_container {
	char id[65];			/* full id */
	char name[128];			/* without the leading '/' */
	bool running;			/* State.Running (not paused) */
	char address[64];		/* first network IP; "127.0.0.1" for --network host; "" none */
	bool host_network;		/* HostConfig.NetworkMode "host" */
	char net_container[129];	/* NetworkMode "container:REF": its REF, or "" */
	struct docker_network nets[DOCKER_MAX_NETWORKS];	/* in the answer's order */
	size_t n_nets;
	size_t nets_omitted;		/* networks beyond nets[], or with too long a name */
	char project[128];		/* com.docker.compose.project label, or "" */
	char service[128];		/* com.docker.compose.service label, or "" */
	time_t started;			/* State.StartedAt (inspect only); 0 unknown */
	time_t finished;		/* State.FinishedAt: last exit (inspect only); 0 none */
};

/*
 * Finds containers matching selector: "label:K=V" (every match,
 * running or not, ordered by name), or a name or id (exactly one).
 * If project is non-NULL and non-empty, label matches are limited to
 * that compose project. On success *out is malloc'd (*n may be 0).
 */
int docker_find(struct docker *d, const char *selector, const char *project,
    struct docker_container **out, size_t *n, struct docker_status *st);

/*
 * The agent's own container when it runs in one (looked up by its host
 * name, which Docker sets to the short id); -1 with DOCKER_ERR_NOT_FOUND
 * when not in a container.
 */
int docker_self(struct docker *d, struct docker_container *self,
    struct docker_status *st);

/* How the agent reaches a front's address (docker_reach). */
enum docker_reach {
	DOCKER_REACH_SHARED,	/* on a network the agent's container is on too, or
				   the agent in the front's network stack */
	DOCKER_REACH_HOST,	/* the agent is on the host (no container, or --network
				   host): its first network, or loopback for a host front */
	DOCKER_REACH_UNSHARED,	/* the agent's container shares no network with it:
				   its first network, which may not be reachable */
	DOCKER_REACH_NONE,	/* no address at all (network none, a container's) */
	DOCKER_REACH__MAX
};

/*
 * The address to probe front on, pure: the first of front's networks (in
 * the engine's order) that self is on too, by name (front's own address
 * when self uses front's network stack: network_mode service:front);
 * else front's first network with an address (loopback for a host-network
 * front). self is
 * the agent's own container (docker_self), NULL when it runs on the host.
 * *network gets the network's name ("host" for the host's, "" when none
 * or not recorded), *address the address ("" with DOCKER_REACH_NONE);
 * both point into front or static storage.
 */
enum docker_reach docker_reach(const struct docker_container *front,
    const struct docker_container *self, const char **network,
    const char **address);

struct docker_exec_result {
	int exit_code;			/* -1 when unknown */
	char exec_id[65];		/* the exec's id once created, "" before */
	long pid;			/* its process on the engine's host (Pid); 0 unknown */
	bool hung;			/* started, then outlived timeout_ms (DOCKER_ERR_TIMEOUT) */
	char output[2 * DOCKER_EXEC_KEEP + 1];	/* stdout then stderr excerpt, NUL-terminated, sanitized */
	size_t output_total;		/* bytes the command wrote in all */
	long ms;
};

/*
 * Runs argv (NULL-terminated, no shell) in container id, waits up to
 * timeout_ms for it to finish, demultiplexes its output and fetches the
 * exit code. Returns 0 when the command ran to completion (whatever its
 * exit code), -1 with st filled in otherwise. A missing binary still
 * completes, with exit code 126 (127 through a shell). On
 * DOCKER_ERR_TIMEOUT the command may still be running in the container:
 * the API cannot stop an exec (res->exec_id and res->pid tell which).
 */
int docker_exec(struct docker *d, const char *id, char *const argv[],
    long timeout_ms, struct docker_exec_result *res, struct docker_status *st);

/*
 * GET /exec/{id}/json: *running, and *pid (the process on the engine's
 * host, 0 when the engine does not say). 0, or -1 with st filled in.
 */
int docker_exec_state(struct docker *d, const char *exec_id, bool *running,
    long *pid, struct docker_status *st);

/*
 * GET /containers/{id}/top (the engine lists the processes, no exec):
 * whether one's command line holds needle, and whether a child of such a
 * process runs (procwatch.h). 0, or -1 with st filled in (a socket proxy
 * may deny it: DOCKER_ERR_DENIED).
 */
int docker_top_watch(struct docker *d, const char *id, const char *needle,
    enum proc_watch *w, struct docker_status *st);

/*
 * Calls fn for each log line (stdout and stderr, without the newline) the
 * container wrote since the given time, at most max_bytes in all. Lines
 * are sanitized like exec output (printable ASCII, NUL-terminated); lines
 * over 4096 bytes come in pieces. Needs a container without a TTY.
 */
int docker_logs_since(struct docker *d, const char *id, time_t since,
    size_t max_bytes, void (*fn)(void *arg, int stream, const char *line, size_t len),
    void *arg, struct docker_status *st);

/*
 * The engine's answers, parsed from their body bytes (len bytes, need not
 * be NUL-terminated): pure functions, no I/O, what the calls above use,
 * exposed for tests and fuzzing. Each returns 0 (docker_parse_exec_inspect:
 * see there), or -1 with st->error (DOCKER_ERR_BAD_ANSWER for a body of
 * the wrong shape) and st->detail.
 */
/* GET /version: the API version to use, min(engine, 1.41) or MinAPIVersion. */
int docker_parse_version(const char *body, size_t len, char version[12],
    struct docker_status *st);
/*
 * GET /containers/json: the entries whose label KEY is VALUE (label_kv is
 * "KEY=VALUE") and, if project is non-NULL, of that compose project,
 * ordered by name. *out is malloc'd (*n may be 0).
 */
int docker_parse_list(const char *body, size_t len, const char *label_kv,
    const char *project, struct docker_container **out, size_t *n,
    struct docker_status *st);
/* GET /containers/{id}/json; hostname gets Config.Hostname. */
int docker_parse_inspect(const char *body, size_t len, struct docker_container *c,
    char *hostname, size_t hlen, struct docker_status *st);
/* POST /containers/{id}/exec: the new exec's id. */
int docker_parse_exec_create(const char *body, size_t len, char eid[65],
    struct docker_status *st);
/*
 * GET /exec/{id}/json: 1 still running, 0 finished (*exit_code 0..255), -1.
 * Unless -1, *pid (pid may be NULL) gets Pid, the exec's process on the
 * engine's host, or 0 when the engine does not give a plausible one.
 */
int docker_parse_exec_inspect(const char *body, size_t len, int *exit_code,
    long *pid, struct docker_status *st);
/*
 * GET /containers/{id}/top: the watcher is a process whose command (CMD
 * column) holds needle; busy when a process's PPID is its PID (without a
 * PID and a PPID column it is never busy).
 */
int docker_parse_top(const char *body, size_t len, const char *needle,
    enum proc_watch *w, struct docker_status *st);
/*
 * An answer with an unexpected status code: st->error from the code, the
 * detail from the body's {"message"}, else its first bytes (body may be NULL).
 */
void docker_parse_error(const char *body, size_t len, long code,
    struct docker_status *st);

/*
 * Demultiplexer for Docker's raw stream (8-byte header: stream 1/2/(0
 * stdin), 3 zero bytes, big-endian u32 length; then the payload). Fed
 * arbitrary chunks; calls fn for each payload piece. Exposed for tests
 * and fuzzing: returns -1 on a malformed header (stream > 2, non-zero
 * padding, or a frame over max_frame).
 */
struct docker_demux {
	unsigned char hdr[8];
	size_t hdr_have;
	uint32_t left;			/* payload bytes left in this frame */
	int stream;
	uint32_t max_frame;
	int broken;
};

void docker_demux_init(struct docker_demux *dm, uint32_t max_frame);
int docker_demux_feed(struct docker_demux *dm, const unsigned char *buf, size_t len,
    void (*fn)(void *arg, int stream, const unsigned char *p, size_t n), void *arg);

#endif
