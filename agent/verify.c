/*
 * verify: one thread per endpoint, gated by a counting semaphore per
 * (host, service), so the nine probes overlap without piling onto one
 * daemon. Threads only fill their own result slot; events are emitted
 * by the caller in endpoint order, which keeps the log deterministic.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
	struct gate *gate;
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

	gate_enter(j->gate);
	probe_endpoint(j->ctx, j->ep, j->sni, j->timeout_ms, j->res);
	gate_leave(j->gate);
	return NULL;
}

/* Index of the gate shared by endpoints of the same host and service. */
static size_t
gate_index(const struct endpoint *eps, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (strcmp(eps[k].host, eps[i].host) == 0 &&
		    proto_table[eps[k].proto].service ==
		    proto_table[eps[i].proto].service)
			return gate_index(eps, k);
	return i;
}

int
verify_probe_all(const struct endpoint *eps, size_t n, const char *sni,
    long timeout_ms, struct probe_result *results)
{
	struct gate *gates = NULL;
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
		gates[i].free_slots = VERIFY_PER_SERVICE;
	}
	pthread_attr_init(&attr);
	/* a handshake needs far less than the 8 MiB default */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (size_t i = 0; i < n; i++) {
		jobs[i] = (struct job){ ctx, &eps[i], sni, timeout_ms, &results[i],
		    &gates[gate_index(eps, i)] };
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
	rc = 0;
out:
	free(gates);
	free(jobs);
	free(threads);
	free(started);
	SSL_CTX_free(ctx);
	return rc;
}
