/*
 * verify: one thread per endpoint, gated by a counting semaphore per
 * host and one for all, so the probes overlap without piling onto one
 * front. Threads only fill their own result slot; events are emitted
 * by the caller in endpoint order, which keeps the log deterministic.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "testhook.h"

#include "verify.h"

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int free_slots;
};

struct job {
	SSL_CTX *ctx;			/* offering the entry's key type only */
	SSL_CTX *any;			/* offering every type */
	bool absent;			/* an absent entry: a failure is the answer */
	const struct endpoint *ep;
	const char *sni;
	long timeout_ms;
	struct probe_result *res;
	struct gate *gate;		/* this endpoint's host */
	struct gate *all;		/* every endpoint */
};

static void
gate_enter(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (g->free_slots == 0)
		pthread_cond_wait(&g->cond, &g->lock);
	g->free_slots--;
	pthread_mutex_unlock(&g->lock);
}

static void
gate_leave(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->free_slots++;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void *
run_job(void *arg)
{
	struct job *j = arg;

	/* always host first, then all: one order, no deadlock */
	gate_enter(j->gate);
	gate_enter(j->all);
	/*
	 * A server with no certificate of the type asked for fails the
	 * handshake: ask again for any type, so a stale endpoint is reported
	 * as serving its old leaf, not as unreachable.
	 */
	if (probe_endpoint(j->ctx, j->ep, j->sni, j->timeout_ms, j->res) != 0 &&
	    j->ctx != j->any && !j->absent &&
	    strcmp(j->res->error, "tls_handshake_failed") == 0)
		probe_endpoint(j->any, j->ep, j->sni, j->timeout_ms, j->res);
	gate_leave(j->all);
	gate_leave(j->gate);
	return NULL;
}

/* Index of the gate shared by endpoints of the same host. */
static size_t
gate_index(const struct endpoint *eps, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (strcmp(eps[k].host, eps[i].host) == 0)
			return k;	/* the first of that host: its own index */
	return i;
}

bool
verify_want_same(const struct verify_want *x, const struct verify_want *y)
{
	if (x->n != y->n)
		return false;
	for (size_t k = 0; k < x->n; k++)
		if (x->e[k].type != y->e[k].type || x->e[k].absent != y->e[k].absent ||
		    strcmp(x->e[k].fp, y->e[k].fp) != 0)
			return false;
	return true;
}

const char *
verify_want_text(const struct verify_want *want, char *buf, size_t len)
{
	size_t used = 0, served = verify_want_served(want);

	if (len > 0)
		buf[0] = '\0';
	for (size_t k = 0; k < want->n && used < len; k++) {
		int n;

		if (want->e[k].absent)
			continue;
		n = snprintf(buf + used, len - used, served > 1 ? "%s%.16s... (%s)" :
		    "%s%.16s...", used > 0 ? ", " : "", want->e[k].fp,
		    cert_key_type_names[want->e[k].type]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

struct verify_want_one *
verify_want_add(struct verify_want *want, enum cert_key_type type, const char *fp)
{
	struct verify_want_one *e;

	if (want->n == VERIFY_WANT_MAX)
		return NULL;
	e = &want->e[want->n++];
	e->type = type;
	e->absent = false;
	snprintf(e->fp, sizeof(e->fp), "%s", fp != NULL ? fp : "");
	return e;
}

size_t
verify_want_served(const struct verify_want *want)
{
	size_t n = 0;

	for (size_t k = 0; k < want->n; k++)
		n += !want->e[k].absent;
	return n;
}

/* Does results' slot for this entry need a(nother) probe? */
static bool
unsettled(const struct verify_want_one *e, const struct probe_result *r)
{
	return !e->absent && (!r->ok || strcmp(r->fingerprint, e->fp) != 0);
}

/*
 * Probes the (endpoint, entry) pairs listed in idx (slot = i * want->n +
 * k), one thread each, into results.
 */
static int
probe_slots(const struct endpoint *eps, const struct verify_want *want,
    const size_t *idx, size_t m, const char *sni, long timeout_ms,
    struct probe_result *results)
{
	SSL_CTX *ctx[CERT_KEY__MAX] = { NULL };
	struct gate *gates = NULL, all;
	struct job *jobs = NULL;
	pthread_t *threads = NULL;
	bool *started = NULL;
	pthread_attr_t attr;
	int rc = -1;

	if (m == 0)
		return 0;
	if ((ctx[CERT_KEY_ANY] = probe_ctx_new(CERT_KEY_ANY)) == NULL)
		goto out;
	for (size_t k = 0; k < want->n; k++)
		if (ctx[want->e[k].type] == NULL &&
		    (ctx[want->e[k].type] = probe_ctx_new(want->e[k].type)) == NULL)
			goto out;
	gates = calloc(m, sizeof(*gates));
	jobs = calloc(m, sizeof(*jobs));
	threads = calloc(m, sizeof(*threads));
	started = calloc(m, sizeof(*started));
	if (gates == NULL || jobs == NULL || threads == NULL || started == NULL)
		goto out;
	for (size_t j = 0; j < m; j++) {
		pthread_mutex_init(&gates[j].lock, NULL);
		pthread_cond_init(&gates[j].cond, NULL);
		gates[j].free_slots = VERIFY_PER_HOST;
	}
	pthread_mutex_init(&all.lock, NULL);
	pthread_cond_init(&all.cond, NULL);
	all.free_slots = VERIFY_MAX_PARALLEL;
	pthread_attr_init(&attr);
	/* a handshake needs far less than the 8 MiB default */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (size_t j = 0; j < m; j++) {
		const struct verify_want_one *e = &want->e[idx[j] % want->n];
		size_t i = idx[j] / want->n;

		jobs[j] = (struct job){ ctx[e->type], ctx[CERT_KEY_ANY], e->absent,
		    &eps[i], sni, timeout_ms, &results[idx[j]],
		    &gates[gate_index(eps, i)], &all };
		if (pthread_create(&threads[j], &attr, run_job, &jobs[j]) == 0)
			started[j] = true;
		else	/* no thread: probe inline rather than not at all */
			run_job(&jobs[j]);
	}
	pthread_attr_destroy(&attr);
	for (size_t j = 0; j < m; j++)
		if (started[j])
			pthread_join(threads[j], NULL);
	for (size_t j = 0; j < m; j++) {
		pthread_mutex_destroy(&gates[j].lock);
		pthread_cond_destroy(&gates[j].cond);
	}
	pthread_mutex_destroy(&all.lock);
	pthread_cond_destroy(&all.cond);
	rc = 0;
out:
	free(gates);
	free(jobs);
	free(threads);
	free(started);
	for (int t = 0; t < CERT_KEY__MAX; t++)
		SSL_CTX_free(ctx[t]);
	return rc;
}

int
verify_probe_all(const struct endpoint *eps, size_t n,
    const struct verify_want *want, const char *sni, long timeout_ms,
    struct probe_result *results)
{
	size_t m = n * want->n, *idx = calloc(m > 0 ? m : 1, sizeof(*idx));
	int rc = -1;

	for (size_t j = 0; j < m; j++) {
		memset(&results[j], 0, sizeof(results[j]));
		results[j].error = "not_probed";
		if (idx != NULL)
			idx[j] = j;
	}
	if (idx != NULL)
		rc = probe_slots(eps, want, idx, m, sni, timeout_ms, results);
	free(idx);
	return rc;
}

void
verify_gate_init(struct verify_gate *g)
{
	pthread_condattr_t a;

	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &a);
	pthread_condattr_destroy(&a);
}

void
verify_gate_destroy(struct verify_gate *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

/* Opens svc (all: every daemon), under the lock; notes when the last opened. */
static void
gate_set(struct verify_gate *g, int svc, bool ok)
{
	bool all = true;

	pthread_mutex_lock(&g->lock);
	for (int s = 0; s < SERVICE__MAX; s++) {
		if (ok && (svc < 0 || s == svc))
			g->open[s] = true;
		all = all && g->open[s];
	}
	g->failed = g->failed || !ok;
	if (all && g->all_open_ms == 0)
		g->all_open_ms = clock_ms();
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

void
verify_gate_open(struct verify_gate *g, enum service svc)
{
	gate_set(g, (int)svc, true);
}

void
verify_gate_end(struct verify_gate *g, bool ok)
{
	gate_set(g, -1, ok);
}

bool
verify_gate_wait_any(struct verify_gate *g)
{
	bool any = false;

	pthread_mutex_lock(&g->lock);
	for (;;) {
		for (int s = 0; s < SERVICE__MAX; s++)
			any = any || g->open[s];
		if (any || g->failed)
			break;
		pthread_cond_wait(&g->cond, &g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	return any && !g->failed;
}

/*
 * What the gate says now (every daemon open when there is none); waits
 * first, until until_ms (clock_ms; 0: no bound) or a change, when wait.
 */
static void
gate_look(struct verify_gate *g, bool wait, long until_ms, bool open[SERVICE__MAX],
    bool *failed, long *all_open_ms)
{
	if (g == NULL) {
		long ms = until_ms - clock_ms();

		if (wait && ms > 0) {
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
		for (int s = 0; s < SERVICE__MAX; s++)
			open[s] = true;
		*failed = false;
		*all_open_ms = -1;
		return;
	}
	pthread_mutex_lock(&g->lock);
	if (wait && until_ms == 0) {
		pthread_cond_wait(&g->cond, &g->lock);
	} else if (wait) {
		struct timespec ts = { until_ms / 1000, (until_ms % 1000) * 1000000L };

		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	}
	memcpy(open, g->open, sizeof(g->open));
	*failed = g->failed;
	*all_open_ms = g->all_open_ms;
	pthread_mutex_unlock(&g->lock);
}

/* When a slot was first asked, and when it is due again. */
struct slot {
	bool asked;
	long due, backoff;
};

size_t
verify_until(const struct endpoint *eps, size_t n,
    const struct verify_want *want, const char *sni, long timeout_ms,
    long probe_timeout_ms, struct probe_result *results,
    struct verify_stats *stats)
{
	return verify_until_gated(eps, n, want, sni, timeout_ms, probe_timeout_ms,
	    results, stats, NULL);
}

size_t
verify_until_gated(const struct endpoint *eps, size_t n,
    const struct verify_want *want, const char *sni, long timeout_ms,
    long probe_timeout_ms, struct probe_result *results,
    struct verify_stats *stats, struct verify_gate *gate)
{
	long deadline = 0, t0, all_open = 0;
	struct verify_stats st = { 0 };
	size_t m = n * want->n, matched = 0;
	size_t *idx = calloc(m > 0 ? m : 1, sizeof(*idx));
	struct slot *sl = calloc(m > 0 ? m : 1, sizeof(*sl));
	bool open[SERVICE__MAX], failed = false, wait = false;
	long until = 0;

	for (size_t j = 0; j < m; j++) {
		memset(&results[j], 0, sizeof(results[j]));
		results[j].error = "not_probed";
	}
	if (idx == NULL || sl == NULL)
		goto out;
	if (gate == NULL)
		deadline = clock_ms() + timeout_ms;
	for (;;) {
		size_t k = 0;
		long now, left, next = 0;
		bool pending = false;

		t0 = clock_ms();
		gate_look(gate, wait, until, open, &failed, &all_open);
		if (wait)
			st.wait_ms += clock_ms() - t0;
		/* the timeout counts once every daemon is reloaded */
		if (deadline == 0 && all_open > 0)
			deadline = all_open + timeout_ms;
		now = clock_ms();
		left = deadline > 0 ? deadline - now : probe_timeout_ms;
		if (failed || left <= 0)
			break;
		/* not asked yet and open; stale and due; anything else waits */
		for (size_t j = 0; j < m; j++) {
			const struct verify_want_one *e = &want->e[j % want->n];

			if (sl[j].asked && !unsettled(e, &results[j]))
				continue;
			pending = true;
			if (!sl[j].asked && !open[proto_table[eps[j / want->n].proto].service])
				continue;
			if (!sl[j].asked || sl[j].due <= now)
				idx[k++] = j;
			else if (next == 0 || sl[j].due < next)
				next = sl[j].due;
		}
		if (!pending)
			break;
		wait = k == 0;
		if (wait) {
			/* the next re-probe, the deadline, or a daemon opening */
			until = next > 0 && (deadline == 0 || next < deadline) ? next : deadline;
			continue;
		}
		t0 = clock_ms();
		probe_slots(eps, want, idx, k, sni, left < probe_timeout_ms ? left :
		    probe_timeout_ms, results);
		st.rounds++;
		now = clock_ms();
		st.probe_ms += now - t0;
		for (size_t i = 0; i < k; i++) {
			struct slot *s = &sl[idx[i]];

			s->asked = true;
			/* still stale: its own backoff, from its first stale answer */
			s->backoff = s->backoff == 0 ? VERIFY_BACKOFF_FIRST_MS :
			    s->backoff * 2 > VERIFY_BACKOFF_MAX_MS ? VERIFY_BACKOFF_MAX_MS :
			    s->backoff * 2;
			s->due = now + s->backoff;
		}
		if (st.rounds == 1)
			TEST_PAUSE("verify.probed");	/* after the first round */
	}
	for (size_t j = 0; j < m; j++)
		matched += !want->e[j % want->n].absent &&
		    !unsettled(&want->e[j % want->n], &results[j]);
out:
	if (stats != NULL)
		*stats = st;
	free(idx);
	free(sl);
	return matched;
}

/* Appends url to arr unless it is there already. */
static void
append_once(json_t *arr, const char *url)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), url) == 0)
			return;
	json_array_append_new(arr, json_string(url));
}

/* ocsp_staple, and ocsp_next_update and ocsp_detail when known. */
static void
staple_fields(json_t *f, const struct ocsp_verdict *v)
{
	char when[32];

	json_object_set_new(f, "ocsp_staple", json_string(ocsp_staple_names[v->status]));
	if (v->next_update != 0) {
		cert_format_time(v->next_update, when);
		json_object_set_new(f, "ocsp_next_update", json_string(when));
	}
	if (v->detail[0] != '\0')
		json_object_set_new(f, "ocsp_detail", json_string(v->detail));
}

/* How bad a staple is, for an endpoint's metric: revoked worst, good best. */
static int
staple_rank(enum ocsp_staple st)
{
	static const int rank[OCSP_STAPLE__MAX] = { [OCSP_STAPLE_GOOD] = 0,
	    [OCSP_STAPLE_NONE] = 1, [OCSP_STAPLE_UNKNOWN] = 2,
	    [OCSP_STAPLE_INVALID] = 3, [OCSP_STAPLE_REVOKED] = 4 };

	return rank[st];
}

/* A staple that is there but not good: a warning, never a failure. */
static void
report_staple(const struct endpoint *ep, enum cert_key_type kt,
    const struct probe_result *r)
{
	enum ocsp_staple st = r->ocsp.status;
	json_t *f;

	if (staple_rank(st) < staple_rank(OCSP_STAPLE_UNKNOWN))
		return;
	f = json_pack("{s:s, s:s, s:s, s:s}", "endpoint", ep->url, "service",
	    service_names[proto_table[ep->proto].service], "key_type",
	    cert_key_type_names[kt], "fingerprint", r->fingerprint);
	staple_fields(f, &r->ocsp);
	log_event(LOG_LEVEL_WARN, "verify.ocsp_staple", f, "%s (%s) staples an OCSP "
	    "response that is %s: %s", ep->url, cert_key_type_names[kt],
	    ocsp_staple_names[st], r->ocsp.detail);
}

/* One verify.endpoint event: what eps[i] served for entry e. */
static bool
report_one(const struct endpoint *ep, const struct verify_want_one *e,
    const struct probe_result *r)
{
	const struct proto_info *pi = &proto_table[ep->proto];
	bool match = e->fp[0] != '\0' && r->ok && strcmp(r->fingerprint, e->fp) == 0;
	enum cert_key_type kt = e->type != CERT_KEY_ANY || !r->ok ? e->type : r->key_type;
	json_t *f;

	f = json_pack("{s:s, s:s, s:s, s:b, s:I}", "endpoint", ep->url, "service",
	    service_names[pi->service], "key_type", cert_key_type_names[kt], "match",
	    match, "ms", (json_int_t)r->ms);
	if (ep->proxy)
		json_object_set_new(f, "proxy_protocol", json_true());
	if (e->fp[0] != '\0')
		json_object_set_new(f, "expected", json_string(e->fp));
	if (r->ok) {
		char when[32];

		cert_format_time(r->not_after, when);
		json_object_set_new(f, "fingerprint", json_string(r->fingerprint));
		json_object_set_new(f, "not_after", json_string(when));
		/* asked for one type, the server had only another */
		if (r->key_type != kt)
			json_object_set_new(f, "served_key_type",
			    json_string(cert_key_type_names[r->key_type]));
		staple_fields(f, &r->ocsp);
		log_event(match ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "verify.endpoint",
		    f, match ? "%s serves %.16s... (%s)" :
		    "%s serves %.16s... (%s), not the expected certificate",
		    ep->url, r->fingerprint, cert_key_type_names[kt]);
		report_staple(ep, kt, r);
	} else {
		json_object_set_new(f, "error", json_string(r->error));
		json_object_set_new(f, "detail", json_string(r->detail));
		log_event(LOG_LEVEL_ERROR, "verify.endpoint", f, "%s (%s): %s (%s)",
		    ep->url, cert_key_type_names[kt], r->error, r->detail);
	}
	return match;
}

/* One (endpoint, key type) for the metrics: its state, and what it served. */
static void
export_one(const struct endpoint *ep, const struct verify_want_one *e,
    const struct probe_result *r, bool match)
{
	metrics_set_endpoint(&(struct metrics_endpoint){ .url = ep->url,
	    .key_type = cert_key_type_names[e->type],
	    .state = match ? METRICS_EP_MATCH : r->ok ? METRICS_EP_STALE :
	    METRICS_EP_UNREACHABLE, .fingerprint = r->fingerprint,
	    .subject = r->subject, .issuer = r->issuer, .not_after = r->not_after,
	    .ocsp_staple = ocsp_staple_names[r->ocsp.status] });
}

void
verify_report(const struct endpoint *eps, size_t n,
    const struct verify_want *want, const struct probe_result *results,
    struct verify_summary *sum)
{
	bool blamed[SERVICE__MAX] = { false };

	memset(sum, 0, sizeof(*sum));
	sum->stale = json_array();
	sum->unreachable = json_array();
	sum->services = json_array();
	sum->extra = json_array();
	metrics_endpoints_begin();
	for (size_t i = 0; i < n; i++) {
		const struct proto_info *pi = &proto_table[eps[i].proto];

		for (size_t k = 0; k < want->n; k++) {
			const struct verify_want_one *e = &want->e[k];
			const struct probe_result *r = &results[i * want->n + k];
			bool match;

			if (e->absent) {
				/* a key type the front should not hold: say so, no more */
				if (!r->ok)
					continue;
				log_event(LOG_LEVEL_WARN, "verify.extra_key_type",
				    json_pack("{s:s, s:s, s:s, s:s}", "endpoint", eps[i].url,
				    "service", service_names[pi->service], "key_type",
				    cert_key_type_names[r->key_type], "fingerprint",
				    r->fingerprint), "%s also serves an %s certificate "
				    "(%.16s...) the certs dir does not hold", eps[i].url,
				    cert_key_type_names[r->key_type], r->fingerprint);
				append_once(sum->extra, eps[i].url);
				continue;
			}
			sum->wanted++;
			match = report_one(&eps[i], e, r);
			export_one(&eps[i], e, r, match);
			if (match) {
				sum->matched++;
				continue;
			}
			blamed[pi->service] = true;
			append_once(r->ok ? sum->stale : sum->unreachable, eps[i].url);
		}
	}
	metrics_endpoints_end();
	for (int s = 0; s < SERVICE__MAX; s++)
		if (blamed[s])
			json_array_append_new(sum->services, json_string(service_names[s]));
}

void
verify_summary_free(struct verify_summary *sum)
{
	json_decref(sum->stale);
	json_decref(sum->unreachable);
	json_decref(sum->services);
	json_decref(sum->extra);
	sum->stale = sum->unreachable = sum->services = sum->extra = NULL;
}
