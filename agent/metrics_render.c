/*
 * metrics_render: the exposition, in the idiom of blackbox_exporter and
 * x509-certificate-exporter: what an endpoint serves is a series only
 * while it answers (no 0 standing in for "unknown"), what it is serving
 * is an info series, and its state is one-hot.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_render.h"

#define P "mailu_cert_agent_"

_Static_assert(METRICS_BODY_WORST <= METRICS_BODY_MAX,
    "the tables can make a body over the server's bound");

const char *const metrics_ep_state_names[METRICS_EP__MAX] = {
	"match", "stale", "unreachable",
};

/* From a single round of probes (~50 ms) to AGENT_VERIFY_TIMEOUT's 30 s and beyond. */
const double metrics_verify_buckets[METRICS_VERIFY_BUCKETS] = {
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
};

void
metrics_copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src != NULL ? src : "");

	snprintf(dst, size, "%s", src != NULL ? src : "");
	if (n < size)
		return;
	for (n = size - 1; n > 0 && (src[n] & 0xC0) == 0x80; n--)
		;
	dst[n] = '\0';
}

static int
reserve(struct metrics_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->over || b->len + n + 1 > METRICS_BODY_MAX) {
		b->over = true;
		return -1;
	}
	while (b->len + n + 1 > cap)
		cap *= 2;
	if (cap > METRICS_BODY_MAX)
		cap = METRICS_BODY_MAX;
	if (cap != b->cap) {
		if ((p = realloc(b->p, cap)) == NULL) {
			b->over = true;
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	return 0;
}

static void bprintf(struct metrics_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bprintf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
bescape(struct metrics_buf *b, const char *s)
{
	if (reserve(b, 2 * strlen(s)) == -1)
		return;
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			b->p[b->len++] = '\\';
		b->p[b->len++] = *s == '\n' ? 'n' : *s;
	}
	b->p[b->len] = '\0';
}

/* name="value" (escaped), after a comma unless first. */
static void
label(struct metrics_buf *b, bool first, const char *name, const char *value)
{
	bprintf(b, "%s%s=\"", first ? "" : ",", name);
	bescape(b, value);
	bprintf(b, "\"");
}

static void
family(struct metrics_buf *b, const char *name, const char *type, const char *help)
{
	bprintf(b, "# HELP " P "%s %s\n# TYPE " P "%s %s\n", name, help, name, type);
}

/* The labels every per-endpoint series starts with. */
static void
ep_labels(struct metrics_buf *b, const char *name, const struct metrics_ep *e)
{
	bprintf(b, P "%s{", name);
	label(b, true, "endpoint", e->url);
	label(b, false, "key_type", e->key_type);
}

static void
render_endpoints(const struct metrics_values *v, struct metrics_buf *b)
{
	family(b, "cert_not_after_timestamp_seconds", "gauge",
	    "notAfter of the installed certificate, and of the one each endpoint "
	    "served at the last verify (only while it answers).");
	if (v->has_installed)
		bprintf(b, P "cert_not_after_timestamp_seconds{source=\"installed\"} %lld\n",
		    v->installed);
	for (size_t i = 0; i < v->nep; i++) {
		if (v->ep[i].state == METRICS_EP_UNREACHABLE)
			continue;
		bprintf(b, P "cert_not_after_timestamp_seconds{source=\"served\",");
		label(b, true, "endpoint", v->ep[i].url);
		label(b, false, "key_type", v->ep[i].key_type);
		bprintf(b, "} %lld\n", v->ep[i].not_after);
	}
	family(b, "cert_info", "gauge",
	    "The certificate each endpoint served at the last verify, per key "
	    "type asked for (only while it answers).");
	for (size_t i = 0; i < v->nep; i++) {
		if (v->ep[i].state == METRICS_EP_UNREACHABLE)
			continue;
		ep_labels(b, "cert_info", &v->ep[i]);
		label(b, false, "fingerprint_sha256", v->ep[i].fp);
		label(b, false, "subject", v->ep[i].subject);
		label(b, false, "issuer", v->ep[i].issuer);
		bprintf(b, "} 1\n");
	}
	family(b, "endpoint_ocsp_staple", "gauge",
	    "1 for the OCSP staple each endpoint served at the last verify: none, "
	    "good, revoked, unknown or invalid (only while it answers).");
	for (size_t i = 0; i < v->nep; i++) {
		if (v->ep[i].state == METRICS_EP_UNREACHABLE || v->ep[i].ocsp[0] == '\0')
			continue;
		ep_labels(b, "endpoint_ocsp_staple", &v->ep[i]);
		label(b, false, "status", v->ep[i].ocsp);
		bprintf(b, "} 1\n");
	}
	family(b, "endpoint_state", "gauge",
	    "1 for the state each endpoint was in at the last verify: match, "
	    "stale (another certificate) or unreachable.");
	for (size_t i = 0; i < v->nep; i++)
		for (int s = 0; s < METRICS_EP__MAX; s++) {
			ep_labels(b, "endpoint_state", &v->ep[i]);
			label(b, false, "state", metrics_ep_state_names[s]);
			bprintf(b, "} %d\n", v->ep[i].state == (enum metrics_ep_state)s);
		}
}

static void
render_verify(const struct metrics_values *v, struct metrics_buf *b)
{
	family(b, "verify_duration_seconds", "histogram",
	    "Verifies after a reload, from the first probe until every endpoint "
	    "served what it must, or the timeout.");
	for (int i = 0; i < METRICS_VERIFY_BUCKETS; i++)
		bprintf(b, P "verify_duration_seconds_bucket{le=\"%g\"} %llu\n",
		    metrics_verify_buckets[i], v->verify_le[i]);
	bprintf(b, P "verify_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
	    v->verify_count);
	bprintf(b, P "verify_duration_seconds_sum %.6f\n", v->verify_sum);
	bprintf(b, P "verify_duration_seconds_count %llu\n", v->verify_count);
}

void
metrics_render(const struct metrics_values *v, struct metrics_buf *b)
{
	render_endpoints(v, b);
	family(b, "rotations_total", "counter", "Rotation cycles by outcome.");
	for (int i = 0; i < OUTCOME__MAX; i++)
		bprintf(b, P "rotations_total{outcome=\"%s\"} %llu\n", outcome_names[i],
		    v->rotations[i]);
	family(b, "last_rotation_success_timestamp_seconds", "gauge",
	    "Time of the last rotated cycle, 0 before any.");
	bprintf(b, P "last_rotation_success_timestamp_seconds %lld\n", v->last_success);
	render_verify(v, b);
	family(b, "reload_exec_total", "counter",
	    "Reload commands run in a front (the container's name), by result.");
	for (size_t i = 0; i < v->nser; i++) {
		bprintf(b, P "reload_exec_total{");
		label(b, true, "front", v->ser[i].front);
		label(b, false, "command", v->ser[i].command);
		label(b, false, "result", v->ser[i].result);
		bprintf(b, "} %llu\n", v->ser[i].n);
	}
	family(b, "metrics_series_dropped_total", "counter",
	    "Endpoints and reload series not recorded: over the bounds.");
	bprintf(b, P "metrics_series_dropped_total %llu\n", v->dropped);
	family(b, "healthy", "gauge", "1 if the agent is healthy.");
	bprintf(b, P "healthy %d\n", v->healthy ? 1 : 0);
	family(b, "build_info", "gauge", "The agent's version.");
	bprintf(b, P "build_info{");
	label(b, true, "version", v->version);
	bprintf(b, "} 1\n");
}
