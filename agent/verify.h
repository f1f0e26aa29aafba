/*
 * verify: probes a set of endpoints concurrently and compares what each
 * serves with the fingerprint that should be served.
 */
#ifndef MCA_VERIFY_H
#define MCA_VERIFY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "endpoint.h"
#include "probe.h"

/*
 * At most this many probes at once against one host (a front has at
 * most nine TLS endpoints, so they all go at once: the verify takes as
 * long as its slowest endpoint, not three rounds of dovecot's seven),
 * and at most VERIFY_MAX_PARALLEL in all, so a check of many replicas
 * never looks like an attack and never needs more than that many threads
 * running.
 */
#define VERIFY_PER_HOST 9
#define VERIFY_MAX_PARALLEL 16

/*
 * Re-probe backoff of verify_until: first wait, doubling up to the max.
 * After `dovecot reload` the master restarts its login processes; a
 * probe in that gap still sees the old certificate. The first wait is
 * short because a re-probe round costs the front one handshake per
 * stale endpoint, nothing more; the doubling keeps a front that never
 * catches up from being probed more than about once a second.
 */
#define VERIFY_BACKOFF_FIRST_MS 25
#define VERIFY_BACKOFF_MAX_MS 1000

/* How many certificates one endpoint may be asked about (one per key type). */
#define VERIFY_WANT_MAX 2

/*
 * What every endpoint must serve: one leaf per key type the front holds
 * (Mailu's cert flavor: the installed pair's; letsencrypt: the RSA and
 * the ECDSA lineage's). Each entry is probed with a client that offers
 * only that key type. An entry with absent set (a key type the front
 * should not hold) is probed once: a certificate it gets is a warning
 * (verify.extra_key_type), never a failure.
 */
struct verify_want {
	size_t n;
	struct verify_want_one {
		enum cert_key_type type;
		char fp[CERT_FP_HEX + 1];	/* the leaf it must get; "" if absent */
		bool absent;
	} e[VERIFY_WANT_MAX];
};

/* One entry, for type; returns it, or NULL when want is full. */
struct verify_want_one *verify_want_add(struct verify_want *want,
    enum cert_key_type type, const char *fp);

/* Both ask for the same leaves, entry by entry. */
bool verify_want_same(const struct verify_want *x, const struct verify_want *y);

/*
 * The leaves of want for a message: "0123456789abcdef..." for one entry,
 * "0123456789abcdef... (rsa), fedcba9876543210... (ecdsa)" for two
 * (absent entries left out). Returns buf.
 */
const char *verify_want_text(const struct verify_want *want, char *buf, size_t len);

/* The served (non-absent) entries of want. */
size_t verify_want_served(const struct verify_want *want);

/*
 * Probes every endpoint for every entry of want: results has n *
 * want->n slots, results[i * want->n + k] for eps[i] and want->e[k].
 * Returns 0, or -1 if the probes could not be started at all (results
 * then say why).
 */
int verify_probe_all(const struct endpoint *eps, size_t n,
    const struct verify_want *want, const char *sni, long timeout_ms,
    struct probe_result *results);

/* Where verify_until's time went, for cycle.done's timings. */
struct verify_stats {
	long rounds;			/* probe rounds */
	long probe_ms;			/* wall time inside the rounds */
	long wait_ms;			/* between rounds: backoff, or a daemon's reload */
};

/*
 * Probes until every endpoint serves every served entry of want or
 * timeout_ms has passed, re-probing only what does not match yet, with
 * backoff (25 ms doubling to 1 s); absent entries are probed in the
 * first round only. results as verify_probe_all's. Returns the number of
 * (endpoint, served entry) pairs that match. stats may be NULL.
 */
size_t verify_until(const struct endpoint *eps, size_t n,
    const struct verify_want *want, const char *sni, long timeout_ms,
    long probe_timeout_ms, struct probe_result *results,
    struct verify_stats *stats);

/*
 * Which daemons' endpoints may be probed yet, while a reload runs beside
 * the verify: a daemon's endpoints are probed from the moment its reload
 * is done in every front (verify_gate_open, from any thread), the other
 * daemon's while it still reloads. verify_gate_end: the reload is over;
 * ok opens every daemon not open yet, !ok (it failed) stops the verify.
 */
struct verify_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* on CLOCK_MONOTONIC */
	bool open[SERVICE__MAX];
	bool failed;
	long all_open_ms;		/* clock_ms() when the last one opened; 0 before */
};

void verify_gate_init(struct verify_gate *g);
void verify_gate_open(struct verify_gate *g, enum service svc);
void verify_gate_end(struct verify_gate *g, bool ok);
void verify_gate_destroy(struct verify_gate *g);
/* Waits until a daemon is open (true) or the reload failed (false). */
bool verify_gate_wait_any(struct verify_gate *g);

/*
 * verify_until behind a gate (NULL: every daemon open now): an endpoint is
 * first probed once its daemon is open, and a stale one again after its
 * own backoff (25 ms doubling to 1 s from its first stale answer); the
 * timeout counts from when the last daemon opened, so every endpoint has
 * at least timeout_ms after the whole reload, as without a gate. A failed
 * reload ends it at once (between probe rounds).
 */
size_t verify_until_gated(const struct endpoint *eps, size_t n,
    const struct verify_want *want, const char *sni, long timeout_ms,
    long probe_timeout_ms, struct probe_result *results,
    struct verify_stats *stats, struct verify_gate *gate);

/* What a set of results says, for events and exit codes. */
struct verify_summary {
	size_t matched;			/* (endpoint, served entry) pairs that match */
	size_t wanted;			/* ... of this many */
	json_t *stale;			/* endpoints serving another certificate */
	json_t *unreachable;		/* endpoints that served nothing */
	json_t *services;		/* daemons to blame: "nginx", "dovecot" */
	json_t *extra;			/* endpoints serving a key type not held */
};

/*
 * Emits one verify.endpoint event per endpoint and served entry (an
 * entry with fp "" expects nothing: what is served is reported, and
 * never matches), one verify.extra_key_type per absent entry that got a
 * certificate, and fills sum (caller owns its JSON arrays:
 * verify_summary_free).
 */
void verify_report(const struct endpoint *eps, size_t n,
    const struct verify_want *want, const struct probe_result *results,
    struct verify_summary *sum);
void verify_summary_free(struct verify_summary *sum);

#endif
