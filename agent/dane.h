/*
 * dane: before a bundle with a new key (or a new chain) is installed,
 * look up the TLSA records of _25._tcp.<host> for each AGENT_DANE_HOSTS
 * host (c-ares, in parallel, under one DANE_TIMEOUT_MS deadline) and
 * judge them against it (dane_match.c). Events: dane.ok, dane.mismatch
 * (with the 3 1 1 record to publish), dane.none, dane.unavailable; debug
 * lines for what is not checked (dane.skipped, dane.record_skipped).
 * DNSSEC is not validated: the answer's AD bit is only reported.
 */
#ifndef MCA_DANE_H
#define MCA_DANE_H

#include <stddef.h>

#include <jansson.h>

#include "agent.h"
#include "dane_match.h"

/* The whole lookup, every host together: a slow DNS never holds a renewal long. */
#define DANE_TIMEOUT_MS 2000

/* What one host's lookup found. */
struct dane_host {
	const char *host;
	char qname[300];		/* _25._tcp.<host> */
	bool done;			/* the answer (or an error) came */
	const char *fail;		/* why there is no answer to judge, or NULL */
	char detail[128];		/* the resolver's words for it */
	struct dane_answer ans;
};

/*
 * Looks up TLSA for each of h[0..n) (host set) at server (NULL: the
 * system resolver, /etc/resolv.conf), all at once, for at most
 * timeout_ms. Every entry ends with ans parsed, or fail set ("timeout",
 * "refused", "servfail", "connection_refused", "too_large",
 * "bad_answer", "resolver" ...). Free each with dane_answer_free.
 */
void dane_lookup(const struct dane_server *server, struct dane_host *h, size_t n,
    long timeout_ms);

/*
 * The check in cycle_run, between validate and back up: with AGENT_DANE
 * off, or the bundle binding the same key and chain as the last verified
 * pair, nothing happens. Otherwise each host is looked up and judged,
 * one event each (and dane_ms in timings). Returns CERT_OK, or
 * CERT_DANE_MISMATCH with detail only in enforce mode when a host has
 * TLSA records and none matches: the bundle is rejected. No record, or
 * no answer, never blocks.
 */
enum cert_reason dane_gate(struct agent *a, const struct cert_pair *p,
    json_t *timings, char *detail, size_t dlen);

#endif
