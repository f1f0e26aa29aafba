/*
 * verify: probes a set of endpoints concurrently and compares what each
 * serves with the fingerprint that should be served.
 */
#ifndef MCA_VERIFY_H
#define MCA_VERIFY_H

#include <stddef.h>

#include "endpoint.h"
#include <jansson.h>

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

/*
 * Probes every endpoint (results[i] for eps[i]). Returns 0, or -1 if
 * the probes could not be started at all (results then say why).
 */
int verify_probe_all(const struct endpoint *eps, size_t n, const char *sni,
    long timeout_ms, struct probe_result *results);

/*
 * Probes until every endpoint serves fp or timeout_ms has passed,
 * re-probing only the ones not yet matching, with backoff (25 ms
 * doubling to 1 s). results[i] holds the last probe of eps[i].
 * Returns the number of endpoints that serve fp.
 */
struct verify_stats {
	long rounds;			/* probe rounds */
	long probe_ms;			/* wall time inside the rounds */
	long wait_ms;			/* backoff between rounds */
};

/* stats (may be NULL) says where the time went, for cycle.done's timings. */
size_t verify_until(const struct endpoint *eps, size_t n, const char *sni,
    const char *fp, long timeout_ms, long probe_timeout_ms,
    struct probe_result *results, struct verify_stats *stats);

/* What a set of results says, for events and exit codes. */
struct verify_summary {
	size_t matched;
	json_t *stale;			/* endpoints serving another certificate */
	json_t *unreachable;		/* endpoints that served nothing */
	json_t *services;		/* daemons to blame: "nginx", "dovecot" */
};

/*
 * Emits one verify.endpoint event per endpoint (expected may be NULL)
 * and fills sum (caller owns its JSON arrays: verify_summary_free).
 */
void verify_report(const struct endpoint *eps, size_t n,
    const struct probe_result *results, const char *expected,
    struct verify_summary *sum);
void verify_summary_free(struct verify_summary *sum);

#endif
