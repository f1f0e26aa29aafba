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
	SSL_CTX *ctx;
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
	probe_endpoint(j->ctx, j->ep, j->sni, j->timeout_ms, j->res);
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

int
verify_probe_all(const struct endpoint *eps, size_t n, const char *sni,
    long timeout_ms, struct probe_result *results)
{
	struct gate *gates = NULL, all;
	struct job *jobs = NULL;
	pthread_t *threads = NULL;
	bool *started = NULL;
	pthread_attr_t attr;
	SSL_CTX *ctx;
	int rc = -1;

	for (size_t i = 0; i < n; i++) {
		memset(&results[i], 0, sizeof(results[i]));
		results[i].error = "not_probed";
	}
	if (n == 0)
		return 0;
	if ((ctx = probe_ctx_new()) == NULL)
		return -1;
	gates = calloc(n, sizeof(*gates));
	jobs = calloc(n, sizeof(*jobs));
	threads = calloc(n, sizeof(*threads));
	started = calloc(n, sizeof(*started));
	if (gates == NULL || jobs == NULL || threads == NULL || started == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_init(&gates[i].lock, NULL);
		pthread_cond_init(&gates[i].cond, NULL);
		gates[i].free_slots = VERIFY_PER_HOST;
	}
	pthread_mutex_init(&all.lock, NULL);
	pthread_cond_init(&all.cond, NULL);
	all.free_slots = VERIFY_MAX_PARALLEL;
	pthread_attr_init(&attr);
	/* a handshake needs far less than the 8 MiB default */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (size_t i = 0; i < n; i++) {
		jobs[i] = (struct job){ ctx, &eps[i], sni, timeout_ms, &results[i],
		    &gates[gate_index(eps, i)], &all };
		if (pthread_create(&threads[i], &attr, run_job, &jobs[i]) == 0)
			started[i] = true;
		else	/* no thread: probe inline rather than not at all */
			run_job(&jobs[i]);
	}
	pthread_attr_destroy(&attr);
	for (size_t i = 0; i < n; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_destroy(&gates[i].lock);
		pthread_cond_destroy(&gates[i].cond);
	}
	pthread_mutex_destroy(&all.lock);
	pthread_cond_destroy(&all.cond);
	rc = 0;
out:
	free(gates);
	free(jobs);
	free(threads);
	free(started);
	SSL_CTX_free(ctx);
	return rc;
}

size_t
verify_until(const struct endpoint *eps, size_t n, const char *sni,
    const char *fp, long timeout_ms, long probe_timeout_ms,
    struct probe_result *results, struct verify_stats *stats)
{
	long deadline = clock_ms() + timeout_ms, backoff = VERIFY_BACKOFF_FIRST_MS, t0;
	struct verify_stats st = { 0 };
	struct endpoint *todo = calloc(n > 0 ? n : 1, sizeof(*todo));
	struct probe_result *res = calloc(n > 0 ? n : 1, sizeof(*res));
	size_t *idx = calloc(n > 0 ? n : 1, sizeof(*idx));
	size_t matched = 0;

	for (size_t i = 0; i < n; i++) {
		memset(&results[i], 0, sizeof(results[i]));
		results[i].error = "not_probed";
	}
	if (todo == NULL || res == NULL || idx == NULL)
		goto out;
	for (;;) {
		size_t k = 0;
		long left = deadline - clock_ms();

		for (size_t i = 0; i < n; i++)
			if (!results[i].ok || strcmp(results[i].fingerprint, fp) != 0) {
				todo[k] = eps[i];
				idx[k++] = i;
			}
		matched = n - k;
		if (k == 0 || left <= 0)
			break;
		t0 = clock_ms();
		verify_probe_all(todo, k, sni, left < probe_timeout_ms ? left :
		    probe_timeout_ms, res);
		st.rounds++;
		st.probe_ms += clock_ms() - t0;
		if (st.rounds == 1)
			TEST_PAUSE("verify.probed");	/* after the first round */
		for (size_t j = 0; j < k; j++)
			results[idx[j]] = res[j];
		left = deadline - clock_ms();
		if (left <= 0)
			continue;	/* count once more, then stop */
		for (size_t j = 0; j < k; j++)
			if (!res[j].ok || strcmp(res[j].fingerprint, fp) != 0) {
				/* someone is still stale: wait before asking again */
				struct timespec ts = { 0, (backoff < left ? backoff : left) * 1000000L };

				t0 = clock_ms();
				nanosleep(&ts, NULL);
				st.wait_ms += clock_ms() - t0;
				backoff = backoff * 2 > VERIFY_BACKOFF_MAX_MS ?
				    VERIFY_BACKOFF_MAX_MS : backoff * 2;
				break;
			}
	}
out:
	if (stats != NULL)
		*stats = st;
	free(todo);
	free(res);
	free(idx);
	return matched;
}

void
verify_report(const struct endpoint *eps, size_t n,
    const struct probe_result *results, const char *expected,
    struct verify_summary *sum)
{
	bool blamed[SERVICE__MAX] = { false };

	sum->matched = 0;
	sum->stale = json_array();
	sum->unreachable = json_array();
	sum->services = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct probe_result *r = &results[i];
		const struct proto_info *pi = &proto_table[eps[i].proto];
		bool match = expected != NULL && r->ok &&
		    strcmp(r->fingerprint, expected) == 0;
		json_t *f;

		f = json_pack("{s:s, s:s, s:b, s:I}", "endpoint", eps[i].url,
		    "service", service_names[pi->service], "match", match, "ms",
		    (json_int_t)r->ms);
		if (eps[i].proxy)
			json_object_set_new(f, "proxy_protocol", json_true());
		if (expected != NULL)
			json_object_set_new(f, "expected", json_string(expected));
		if (r->ok) {
			char when[32];

			cert_format_time(r->not_after, when);
			json_object_set_new(f, "fingerprint", json_string(r->fingerprint));
			json_object_set_new(f, "not_after", json_string(when));
			log_event(match ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR,
			    "verify.endpoint", f, match ? "%s serves %.16s..." :
			    "%s serves %.16s..., not the expected certificate",
			    eps[i].url, r->fingerprint);
		} else {
			json_object_set_new(f, "error", json_string(r->error));
			json_object_set_new(f, "detail", json_string(r->detail));
			log_event(LOG_LEVEL_ERROR, "verify.endpoint", f, "%s: %s (%s)",
			    eps[i].url, r->error, r->detail);
		}
		metrics_set_endpoint(eps[i].url, match, r->ok ? r->not_after : 0);
		if (match) {
			sum->matched++;
			continue;
		}
		blamed[pi->service] = true;
		json_array_append_new(r->ok ? sum->stale : sum->unreachable,
		    json_string(eps[i].url));
	}
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
	sum->stale = sum->unreachable = sum->services = NULL;
}
