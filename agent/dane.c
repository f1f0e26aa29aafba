/*
 * dane: TLSA lookups with c-ares and the check before an install (see
 * dane.h). c-ares sends the queries (to AGENT_DNS_SERVER's address and
 * port, or the servers of /etc/resolv.conf), retries, falls back to TCP
 * on a truncated answer and matches answers to questions; the answer's
 * records are read by dane_match.c.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>

#include "clock.h"
#include "dane.h"
#include "log.h"
#include "store.h"

/* One try's wait (c-ares doubles it per round), the tries, and EDNS's size. */
#define DANE_TRY_MS 700
#define DANE_TRIES 2
#define DANE_EDNS_SIZE 1232

/* c-ares's error codes as dane.unavailable reasons. */
static const char *
fail_name(int status)
{
	switch (status) {
	case ARES_ETIMEOUT:
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		return "timeout";
	case ARES_ECONNREFUSED:
		return "connection_refused";
	case ARES_ESERVFAIL:
		return "servfail";
	case ARES_EREFUSED:
		return "refused";
	case ARES_ENOTIMP:
		return "not_implemented";
	case ARES_EFORMERR:
	case ARES_EBADRESP:
		return "bad_answer";
	case ARES_EBADNAME:
		return "bad_name";
	case ARES_ENOMEM:
		return "no_memory";
	default:
		return "resolver";
	}
}

static void
fail(struct dane_host *h, const char *why, const char *detail)
{
	h->done = true;
	h->fail = why;
	snprintf(h->detail, sizeof(h->detail), "%s", detail);
}

static void
on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dane_host *h = arg;

	(void)timeouts;
	if (h->done)
		return;
	if (status != ARES_SUCCESS) {
		fail(h, fail_name(status), ares_strerror(status));
		return;
	}
	if (alen < 0 || (size_t)alen > DANE_ANSWER_MAX) {
		fail(h, "too_large", "the answer is larger than 32 KiB");
		return;
	}
	if (dane_parse_answer(abuf, (size_t)alen, &h->ans) != 0) {
		fail(h, "bad_answer", "the answer does not parse as DNS");
		return;
	}
	h->done = true;
}

/* Sends every question; returns how many went out. */
static size_t
send_all(ares_channel ch, struct dane_host *h, size_t n)
{
	size_t sent = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char *q = NULL;
		int qlen = 0, rc;

		snprintf(h[i].qname, sizeof(h[i].qname), "_25._tcp.%s", h[i].host);
		rc = ares_create_query(h[i].qname, 1 /* IN */, DANE_T_TLSA, 0, 1, &q,
		    &qlen, DANE_EDNS_SIZE);
		if (rc != ARES_SUCCESS || qlen < 4) {
			fail(&h[i], fail_name(rc), ares_strerror(rc));
			ares_free_string(q);
			continue;
		}
		/* AD: ask a validating resolver to say so (RFC 6840 5.7) */
		q[3] |= 0x20;
		ares_send(ch, q, qlen, on_answer, &h[i]);
		ares_free_string(q);
		sent++;
	}
	return sent;
}

static bool
all_done(const struct dane_host *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!h[i].done)
			return false;
	return true;
}

/* Runs the channel until every answer is in or the deadline passes. */
static void
wait_answers(ares_channel ch, struct dane_host *h, size_t n, long deadline)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct pollfd fds[ARES_GETSOCK_MAXNUM];

	while (!all_done(h, n)) {
		long left = deadline - clock_ms();
		struct timeval max, tv, *tp;
		nfds_t nfds = 0;
		unsigned bits;
		int ready;

		if (left <= 0)
			return;
		/* (ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit) */
		bits = (unsigned)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = (short)((bits >> i & 1 ? POLLIN : 0) |
			    (bits >> (i + ARES_GETSOCK_MAXNUM) & 1 ? POLLOUT : 0));

			if (ev != 0)
				fds[nfds++] = (struct pollfd){ socks[i], ev, 0 };
		}
		max.tv_sec = left / 1000;
		max.tv_usec = (left % 1000) * 1000;
		tp = ares_timeout(ch, &max, &tv);
		ready = poll(fds, nfds, (int)(tp->tv_sec * 1000 + tp->tv_usec / 1000) + 1);
		if (ready <= 0) {
			/* c-ares's own timers: a try timed out, the next one goes */
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (nfds_t i = 0; i < nfds; i++)
			if (fds[i].revents != 0)
				ares_process_fd(ch, fds[i].revents & (POLLIN | POLLERR |
				    POLLHUP) ? fds[i].fd : ARES_SOCKET_BAD,
				    fds[i].revents & POLLOUT ? fds[i].fd : ARES_SOCKET_BAD);
	}
}

void
dane_lookup(const struct dane_server *server, struct dane_host *h, size_t n,
    long timeout_ms)
{
	struct ares_options o;
	struct ares_addr_port_node node;
	ares_channel ch = NULL;
	long deadline = clock_ms() + timeout_ms;
	int rc;

	for (size_t i = 0; i < n; i++) {
		h[i].done = false;
		h[i].fail = NULL;
		h[i].detail[0] = '\0';
		memset(&h[i].ans, 0, sizeof(h[i].ans));
	}
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		for (size_t i = 0; i < n; i++)
			fail(&h[i], "resolver", ares_strerror(rc));
		return;
	}
	memset(&o, 0, sizeof(o));
	o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH;
	o.timeout = DANE_TRY_MS;
	o.tries = DANE_TRIES;
	o.ednspsz = DANE_EDNS_SIZE;
	rc = ares_init_options(&ch, &o, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES | ARES_OPT_EDNSPSZ);
	if (rc == ARES_SUCCESS && server != NULL) {
		memset(&node, 0, sizeof(node));
		node.family = server->family;
		if (server->family == AF_INET)
			memcpy(&node.addr.addr4, &server->v4, sizeof(server->v4));
		else
			memcpy(&node.addr.addr6, &server->v6, sizeof(server->v6));
		node.udp_port = node.tcp_port = server->port;
		rc = ares_set_servers_ports(ch, &node);
	}
	if (rc != ARES_SUCCESS) {
		for (size_t i = 0; i < n; i++)
			fail(&h[i], "resolver", ares_strerror(rc));
	} else if (send_all(ch, h, n) > 0) {
		wait_answers(ch, h, n, deadline);
	}
	/* what is still out ends here (ARES_EDESTRUCTION: "timeout") */
	if (ch != NULL)
		ares_destroy(ch);
	for (size_t i = 0; i < n; i++)
		if (!h[i].done)
			fail(&h[i], "timeout", "no answer in time");
	ares_library_cleanup();
}

/*
 * True when p binds another key or chain than the last verified pair
 * (current/, else the served files if they are that pair), or when that
 * pair is not known.
 */
static bool
binding_changed(struct agent *a, const struct cert_pair *p)
{
	struct install_pair cur = { 0 };
	struct cert_pair old = { 0 };
	enum cert_reason why;
	char err[256];
	bool changed = true;

	if (a->good_fp[0] == '\0')
		return true;
	if (store_load_current(&a->ictx, &cur, err, sizeof(err)) != 0 ||
	    strcmp(cur.fingerprint, a->good_fp) != 0) {
		install_pair_free(&cur);
		if (install_read_served(&a->ictx, &cur, &why) != 0 ||
		    strcmp(cur.fingerprint, a->good_fp) != 0)
			goto out;
	}
	if (cert_parse_chain(cur.cert_pem, cur.cert_len, &old, &why) == 0)
		changed = !dane_same_binding(p->leaf, p->chain, old.leaf, old.chain);
out:
	cert_pair_free(&old);
	install_pair_free(&cur);
	return changed;
}

/* The records of an answer, as zone file text, for an event. */
static json_t *
records_json(const struct dane_answer *ans)
{
	json_t *arr = json_array();
	char text[DANE_RECORD_TEXT];

	for (size_t i = 0; i < ans->n; i++) {
		dane_record_text(&ans->rec[i], text);
		json_array_append_new(arr, json_string(text));
	}
	return arr;
}

/* Debug lines for the records not checked (PKIX-TA/EE, unknown, bad length). */
static void
report_skipped(const struct dane_host *h)
{
	char text[DANE_RECORD_TEXT];

	for (size_t i = 0; i < h->ans.n; i++) {
		enum dane_usable u = dane_record_usable(&h->ans.rec[i]);

		if (u == DANE_USABLE)
			continue;
		dane_record_text(&h->ans.rec[i], text);
		log_event(LOG_LEVEL_DEBUG, "dane.record_skipped",
		    json_pack("{s:s, s:s, s:s}", "host", h->host, "record", text,
		    "reason", dane_usable_names[u]), u == DANE_UNUSABLE_PKIX ?
		    "%s: %s is PKIX-TA/PKIX-EE (usage 0/1): out of scope, not "
		    "checked (SMTP senders do not use them either)" :
		    "%s: %s cannot be checked (%s)", h->qname, text,
		    dane_usable_names[u]);
	}
}

/* One host's verdict, as one event. Returns true for a mismatch. */
static bool
report(const struct config *cfg, const struct dane_host *h, X509 *leaf,
    STACK_OF(X509) *chain, const char *publish)
{
	const char *server = cfg->dns_server != NULL ? cfg->dns_server : "system";
	char text[DANE_RECORD_TEXT];
	size_t matched, usable;
	enum dane_verdict v;

	if (h->fail != NULL) {
		log_event(LOG_LEVEL_WARN, "dane.unavailable",
		    json_pack("{s:s, s:s, s:s, s:s}", "host", h->host, "reason",
		    h->fail, "detail", h->detail, "server", server),
		    "no TLSA answer for %s from %s (%s: %s); not blocking", h->qname,
		    server, h->fail, h->detail);
		return false;
	}
	report_skipped(h);
	v = dane_judge(&h->ans, leaf, chain, &matched, &usable);
	switch (v) {
	case DANE_V_OK:
		dane_record_text(&h->ans.rec[matched], text);
		log_event(LOG_LEVEL_INFO, "dane.ok", json_pack("{s:s, s:s, s:I, s:b}",
		    "host", h->host, "record", text, "records", (json_int_t)h->ans.n,
		    "ad", h->ans.ad), "%s: TLSA %s matches the new certificate",
		    h->qname, text);
		return false;
	case DANE_V_MISMATCH:
		log_event(LOG_LEVEL_WARN, "dane.mismatch",
		    json_pack("{s:s, s:o, s:s, s:s, s:b}", "host", h->host, "records",
		    records_json(&h->ans), "publish", publish, "mode",
		    cfg->dane == DANE_ENFORCE ? "enforce" : "warn", "ad", h->ans.ad),
		    "%s: none of its %zu TLSA records matches the new certificate; "
		    "publish \"%s\" (keeping the old record until the new "
		    "certificate is served)%s", h->qname, usable, publish,
		    cfg->dane == DANE_ENFORCE ? "; not installing it" : "");
		return true;
	case DANE_V_NONE:
		log_event(LOG_LEVEL_INFO, "dane.none",
		    json_pack("{s:s, s:s, s:o}", "host", h->host, "reason",
		    h->ans.rcode != 0 ? "nxdomain" : h->ans.n == 0 ? "nodata" :
		    "no_usable_records", "records", records_json(&h->ans)),
		    "%s: no usable TLSA record; nothing to match", h->qname);
		return false;
	case DANE_V_UNAVAILABLE:
		break;
	}
	log_event(LOG_LEVEL_WARN, "dane.unavailable",
	    json_pack("{s:s, s:s, s:s, s:I}", "host", h->host, "reason",
	    h->ans.more ? "too_many_records" : "error_answer", "server", server,
	    "rcode", (json_int_t)h->ans.rcode), "%s: %s; not blocking", h->qname,
	    h->ans.more ? "more TLSA records than can be checked, none of the "
	    "first ones matches" : "the resolver answered with an error");
	return false;
}

enum cert_reason
dane_gate(struct agent *a, const struct cert_pair *p, json_t *timings,
    char *detail, size_t dlen)
{
	const struct config *cfg = a->cfg;
	struct dane_host *h;
	struct dane_server srv;
	char publish[DANE_RECORD_TEXT];
	char *const *hosts = cfg->n_dane_hosts > 0 ? cfg->dane_hosts : cfg->hostnames;
	size_t all = cfg->n_dane_hosts > 0 ? cfg->n_dane_hosts :
	    cfg->n_hostnames > 0 ? 1 : 0, n = 0;
	long t0 = clock_ms();
	enum cert_reason rc = CERT_OK;

	if (cfg->dane == DANE_OFF)
		return CERT_OK;
	if ((h = calloc(all + 1, sizeof(*h))) == NULL)
		return CERT_OK;
	/* a wildcard names no MX: no TLSA record to look up */
	for (size_t i = 0; i < all; i++)
		if (strncmp(hosts[i], "*.", 2) != 0)
			h[n++].host = hosts[i];
	if (n == 0 || !binding_changed(a, p)) {
		log_event(LOG_LEVEL_DEBUG, "dane.skipped", json_pack("{s:s}", "reason",
		    n == 0 ? "no_hosts" : "same_key"), n == 0 ? "no host to look "
		    "up TLSA for (AGENT_DANE_HOSTS, HOSTNAMES)" : "the new "
		    "certificate has the served one's key and chain: TLSA records "
		    "that match now still will");
		free(h);
		return CERT_OK;
	}
	if (dane_record_for(p->leaf, publish) != 0)
		snprintf(publish, sizeof(publish), "?");
	/* (checked when the settings were read) */
	if (cfg->dns_server != NULL && dane_server_parse(cfg->dns_server, &srv) != 0) {
		free(h);
		return CERT_OK;
	}
	dane_lookup(cfg->dns_server != NULL ? &srv : NULL, h, n, DANE_TIMEOUT_MS);
	for (size_t i = 0; i < n; i++) {
		if (report(cfg, &h[i], p->leaf, p->chain, publish) &&
		    cfg->dane == DANE_ENFORCE && rc == CERT_OK) {
			snprintf(detail, dlen, "publish \"%s\" at %s: none of its TLSA "
			    "records matches the new key", publish, h[i].qname);
			rc = CERT_DANE_MISMATCH;
		}
		dane_answer_free(&h[i].ans);
	}
	free(h);
	json_object_set_new(timings, "dane_ms", json_integer(clock_ms() - t0));
	return rc;
}
