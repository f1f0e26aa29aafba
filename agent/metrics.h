/*
 * metrics: /metrics (Prometheus text exposition format 0.0.4) and
 * /healthz on AGENT_METRICS_LISTEN, served by one thread of its own so a
 * slow scraper never delays a rotation. The daemon only updates values.
 */
#ifndef MCA_METRICS_H
#define MCA_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "outcome.h"

/* Binds listen ("host:port") and starts the server thread. */
int metrics_start(const char *listen, const char *version, char *err, size_t errlen);
void metrics_stop(void);
/* The bound port (useful with port 0), or -1 when not started. */
int metrics_port(void);

/* Updates; safe from any thread, cheap, and no-ops before metrics_start. */
/* The installed pair's notAfter; 0: none (no series). */
void metrics_set_installed(time_t not_after);

/* What one verify saw on one endpoint for one key type. */
enum metrics_ep_state {
	METRICS_EP_MATCH,		/* serves the certificate it must */
	METRICS_EP_STALE,		/* serves another certificate */
	METRICS_EP_UNREACHABLE,		/* served none: refused, timed out, ... */
	METRICS_EP__MAX
};

/* The values of the state label, in enum order: "match", "stale", ... */
extern const char *const metrics_ep_state_names[METRICS_EP__MAX];

/*
 * One endpoint and key type, as the last verify found it: one
 * endpoint_state series per state (1 for this one), and, unless
 * unreachable, the served leaf's cert_info and expiry. Strings are copied
 * (cut to the label bounds); NULL reads as "". To export more of what a
 * probe saw (one family per endpoint and key type): a field here (zero
 * meaning unknown), set in verify.c's export_one; its copy in struct
 * metrics_ep (metrics_render.h) made by metrics_set_endpoint; its family
 * in metrics_render.c's render_endpoints; its lines in METRICS_EP_BYTES.
 */
struct metrics_endpoint {
	const char *url;		/* the endpoint label */
	const char *key_type;		/* the key type asked for: "rsa", "ecdsa" */
	enum metrics_ep_state state;
	/* the served leaf; read only when state != METRICS_EP_UNREACHABLE */
	const char *fingerprint;	/* SHA-256 of its DER, lowercase hex */
	const char *subject;		/* RFC 2253 text, e.g. CN=mail.example.com */
	const char *issuer;
	time_t not_after;
	/* its OCSP staple: "none", "good", "revoked", "unknown", "invalid";
	 * NULL or "": not known (no endpoint_ocsp_staple series) */
	const char *ocsp_staple;
};

/*
 * One verify's report: metrics_endpoints_begin(), metrics_set_endpoint()
 * for each (endpoint, key type) it probed, metrics_endpoints_end(), which
 * drops the ones not set since begin (a front gone, a key type no longer
 * held), so no series outlives what it describes. metrics_set_endpoint
 * alone updates or adds one and drops nothing.
 */
void metrics_endpoints_begin(void);
void metrics_set_endpoint(const struct metrics_endpoint *e);
void metrics_endpoints_end(void);

void metrics_count_rotation(enum outcome o);
void metrics_set_last_success(time_t when);
/* One verify after a reload, into the verify_duration_seconds histogram. */
void metrics_observe_verify_duration(double seconds);
/* One reload command run in a front (the container's name), by result. */
void metrics_count_reload_exec(const char *front, const char *command,
    const char *result);
void metrics_set_health(bool healthy, const char *reason);

/* A request head must fit in this many bytes. */
#define METRICS_REQ_MAX 4096

enum metrics_page {
	METRICS_PAGE_NONE,
	METRICS_PAGE_METRICS,	/* GET /metrics */
	METRICS_PAGE_HEALTHZ,	/* GET /healthz */
};

/*
 * The server's request parser, pure (no I/O, no lock) for tests and
 * fuzzing: given the len bytes read so far on a connection, returns 0
 * while the request head is incomplete, else the status to answer: 200
 * with *page (any query string is ignored), 400 (not a request line), 405
 * (not GET), 404, or 431 (METRICS_REQ_MAX bytes and no complete head).
 */
int metrics_parse_request(const char *req, size_t len, enum metrics_page *page);

/* A connection slot of the server, by what it is doing. */
enum metrics_conn {
	METRICS_CONN_FREE,
	METRICS_CONN_HEAD,	/* reading its request head */
	METRICS_CONN_WRITE,	/* sending its answer */
	METRICS_CONN_DRAIN,	/* answered; reading what is left, then closed */
};

/*
 * The server's admission, pure: the slot of n a new connection takes,
 * given each slot's state and accept order (seq, lower = older). A free
 * slot; else the oldest HEAD (dropped: it has not asked yet, and idle
 * connections must not lock scrapes out); else the oldest DRAIN (its
 * answer is sent); -1 when all n are WRITE: the new one is refused.
 */
int metrics_pick_slot(const enum metrics_conn *state,
    const unsigned long long *seq, size_t n);

#ifdef MCA_TEST_HOOKS
/*
 * Timeouts for the unit tests: a connection in all (default 5000 ms),
 * its request head (2000 ms, counted from accept too) and the lingering
 * close after its answer (1000 ms).
 */
void metrics_test_set_deadline_ms(int ms);
void metrics_test_set_head_ms(int ms);
void metrics_test_set_drain_ms(int ms);
#endif

#endif
