/*
 * deliver: getting a pair (or both of a letsencrypt front's) served: the
 * reload through the backend, and the verify of every endpoint beside it
 * (each daemon's endpoints from the moment the backend says that daemon
 * is reloaded), with the timings cycle.done reports. Used by a rotation,
 * a rollback and a drift heal alike.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "deliver.h"
#include "log.h"
#include "metrics.h"
#include "testhook.h"

/* What every endpoint must serve for one pair: its leaf, of its key type. */
const struct verify_want *
deliver_want_pair(struct verify_want *w, const char *fp, enum cert_key_type type)
{
	w->n = 0;
	verify_want_add(w, type, fp);
	return w;
}

/* The verify of a delivery; beside the reload, in a thread of its own. */
struct check {
	const struct targets *t;
	const struct verify_want *want;
	const char *sni;
	long timeout_ms, probe_timeout_ms;
	struct probe_result *res;
	struct verify_stats vst;
	struct verify_gate gate;
	long started;			/* clock_ms() at its first probe; 0: never */
	long reloaded;			/* clock_ms() when the reload ended */
};

static void
verify_run(struct check *c, struct verify_gate *gate)
{
	TEST_PAUSE("cycle.verifying");
	c->started = clock_ms();
	verify_until_gated(c->t->eps, c->t->n_eps, c->want, c->sni, c->timeout_ms,
	    c->probe_timeout_ms, c->res, &c->vst, gate);
}

/* The thread: from the first daemon reloaded; nothing if the reload failed first. */
static void *
verify_beside(void *arg)
{
	struct check *c = arg;

	if (verify_gate_wait_any(&c->gate))
		verify_run(c, &c->gate);
	return NULL;
}

/* reloader.reloaded: svc's endpoints may be probed now. */
static void
daemon_reloaded(void *arg, enum service svc)
{
	verify_gate_open(arg, svc);
}

/*
 * The reload, with the verify beside it when a thread can be had (else
 * after it, as without one). Returns how the reload went; *beside: the
 * verify ran (or was stopped) already.
 */
static enum reload_fault
reload_verifying(struct agent *a, struct targets *t, time_t *started,
    struct check *c, bool *beside)
{
	pthread_attr_t attr;
	pthread_t tid;
	enum reload_fault rf;

	verify_gate_init(&c->gate);
	*beside = false;
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setstacksize(&attr, 256 * 1024);
		*beside = pthread_create(&tid, &attr, verify_beside, c) == 0;
		pthread_attr_destroy(&attr);
	}
	if (*beside) {
		a->reload.reloaded = daemon_reloaded;
		a->reload.reloaded_arg = &c->gate;
	}
	rf = reload_fronts(&a->reload, t, started);
	c->reloaded = clock_ms();
	a->reload.reloaded = NULL;
	a->reload.reloaded_arg = NULL;
	verify_gate_end(&c->gate, rf == RELOAD_OK);
	if (*beside)
		pthread_join(tid, NULL);
	verify_gate_destroy(&c->gate);
	return rf;
}

/*
 * A front that reloads itself on new files (Mailu's certificate watcher):
 * does every endpoint serve want within AGENT_FRONT_WATCHER_WAIT? Asked
 * quietly (the verify that follows reports); says what it found
 * (reload.front_watcher). Reloading on top of the watcher's own reload
 * would make dovecot kill the login processes the first one started.
 */
static bool
front_reloaded_itself(struct agent *a, const struct targets *t,
    const struct verify_want *want, json_t *timings, const char *prefix)
{
	const struct config *cfg = a->cfg;
	struct probe_result *res;
	size_t wanted = 0, matched;
	long t0 = clock_ms(), ms;
	char key[40], text[2 * CERT_FP_HEX];

	for (size_t k = 0; k < want->n; k++)
		wanted += !want->e[k].absent;
	if ((res = calloc(t->n_eps * want->n + 1, sizeof(*res))) == NULL)
		return false;
	matched = verify_until(t->eps, t->n_eps, want, cfg->n_hostnames > 0 ?
	    cfg->hostnames[0] : NULL, cfg->front_watcher_wait_ms, cfg->probe_timeout_ms,
	    res, NULL);
	free(res);
	ms = clock_ms() - t0;
	snprintf(key, sizeof(key), "%sfront_watcher_ms", prefix);
	json_object_set_new(timings, key, json_integer(ms));
	verify_want_text(want, text, sizeof(text));
	if (matched == t->n_eps * wanted) {
		log_event(LOG_LEVEL_INFO, "reload.front_watcher", json_pack("{s:b, s:I}",
		    "served", 1, "ms", (json_int_t)ms), "the front reloaded by itself: "
		    "every endpoint serves %s after %ld ms; not reloading it again",
		    text, ms);
		return true;
	}
	log_event(LOG_LEVEL_WARN, "reload.front_watcher", json_pack("{s:b, s:I, s:I, s:I}",
	    "served", 0, "ms", (json_int_t)ms, "matched", (json_int_t)matched, "wanted",
	    (json_int_t)(t->n_eps * wanted)), "the front's own watcher did not get %s "
	    "served everywhere in %ld ms (%zu of %zu); reloading", text, ms, matched,
	    t->n_eps * wanted);
	return false;
}

/*
 * The front served the new pair, but its watcher may not be done with it:
 * Mailu's reacts to each replaced file on its own (its watchdog sees a
 * deleted and a created file per rename: /config.py four times, each a
 * SIGHUP of both daemons, one after another), and a poll may have seen
 * one file before the other. The cycle ends once the watcher has had no
 * child for DELIVER_WATCHER_QUIET_MS, after at most AGENT_FRONT_WATCHER_WAIT
 * at work. A next install during one of its reloads could be read half
 * old, half new: a cert beside the other pair's key, which nginx takes
 * without a word when the key types differ (an RSA cert with an EC key
 * passes `nginx -t`), then failing every handshake.
 */
static void
front_watcher_settle(struct agent *a, const struct targets *t, json_t *timings,
    const char *prefix)
{
	const struct timespec look = { 0, DELIVER_WATCHER_LOOK_MS * 1000000L };
	long t0 = clock_ms(), now, quiet_since = -1;
	char key[40];

	for (;;) {
		enum proc_watch w = reload_front_watcher(&a->reload, t);

		if (w == PROC_WATCH_NONE)
			return;		/* none to be seen (AGENT_FRONT_WATCHER=yes) */
		now = clock_ms();
		if (w == PROC_WATCH_BUSY)
			quiet_since = -1;
		else if (quiet_since < 0)
			quiet_since = now;
		if ((quiet_since >= 0 && now - quiet_since >= DELIVER_WATCHER_QUIET_MS) ||
		    now - t0 >= a->cfg->front_watcher_wait_ms + DELIVER_WATCHER_QUIET_MS)
			break;
		nanosleep(&look, NULL);
	}
	snprintf(key, sizeof(key), "%sfront_watcher_idle_ms", prefix);
	json_object_set_new(timings, key, json_integer(now - t0));
	if (quiet_since < 0 || now - quiet_since < DELIVER_WATCHER_QUIET_MS)
		log_event(LOG_LEVEL_WARN, "reload.front_watcher_busy", json_pack("{s:I}",
		    "ms", (json_int_t)(now - t0)), "the front's own watcher was still at "
		    "work %ld ms after it served the new pair; going on", now - t0);
}

/*
 * Reload the front(s) as how says and verify every endpoint serves what
 * want says. found: fronts the caller looked up just before (taken over
 * and freed here), NULL to look them up.
 */
int
deliver_to_fronts(struct agent *a, const struct verify_want *want, enum deliver_reload how,
    long timeout_ms, enum reload_fault *fault, json_t *timings, const char *prefix,
    struct targets *found)
{
	const char *fp = want->e[0].fp;
	struct config *cfg = a->cfg;
	struct targets t = { 0 };
	struct probe_result *res = NULL;
	struct verify_summary sum = { 0 };
	struct check c;
	char key[32];
	time_t started = time(NULL);
	long t0 = clock_ms();
	enum reload_fault rf = RELOAD_OK;
	bool beside = false;
	int rc = -1;

	*fault = RELOAD_OK;
	if (found != NULL && (found->fronts != NULL || found->eps != NULL)) {
		t = *found;
		memset(found, 0, sizeof(*found));
	} else {
		rf = reload_find(&a->reload, &t);
	}
	if (rf == RELOAD_OK && how == DELIVER_INSTALLED && t.n_eps > 0 &&
	    reload_front_watches(&a->reload, &t) &&
	    front_reloaded_itself(a, &t, want, timings, prefix)) {
		front_watcher_settle(a, &t, timings, prefix);
		how = DELIVER_LOOK;
	}
	if (rf == RELOAD_OK &&
	    (res = calloc(t.n_eps * want->n + 1, sizeof(*res))) == NULL)
		rf = RELOAD_UNAVAILABLE;
	memset(&c, 0, sizeof(c));
	c.t = &t;
	c.want = want;
	c.sni = cfg->n_hostnames > 0 ? cfg->hostnames[0] : NULL;
	c.timeout_ms = timeout_ms;
	c.probe_timeout_ms = cfg->probe_timeout_ms;
	c.res = res;
	if (rf == RELOAD_OK && how != DELIVER_LOOK)
		rf = reload_verifying(a, &t, &started, &c, &beside);
	if (rf != RELOAD_OK) {
		*fault = rf;
		goto out;
	}
	snprintf(key, sizeof(key), "%sreload_ms", prefix);
	json_object_set_new(timings, key, json_integer((how != DELIVER_LOOK ? c.reloaded :
	    clock_ms()) - t0));
	if (!beside)
		verify_run(&c, NULL);
	verify_report(t.eps, t.n_eps, want, res, &sum);
	/* from the first probe: with the verify beside the reload, it overlaps reload_ms */
	snprintf(key, sizeof(key), "%sverify_ms", prefix);
	json_object_set_new(timings, key, json_integer(clock_ms() - c.started));
	/* where verify's time went: probe rounds, and the waits between them */
	snprintf(key, sizeof(key), "%sverify_rounds", prefix);
	json_object_set_new(timings, key, json_integer(c.vst.rounds));
	snprintf(key, sizeof(key), "%sverify_probe_ms", prefix);
	json_object_set_new(timings, key, json_integer(c.vst.probe_ms));
	snprintf(key, sizeof(key), "%sverify_wait_ms", prefix);
	json_object_set_new(timings, key, json_integer(c.vst.wait_ms));
	metrics_observe_verify_duration((double)(clock_ms() - c.started) / 1000.0);
	a->last_verified = sum.wanted > 0 && sum.matched == sum.wanted;
	{
		json_t *errs = reload_log_errors(&a->reload, &t, started - 1);
		json_t *f = json_pack("{s:s, s:I, s:I, s:O, s:O, s:O, s:o}",
		    "fingerprint", fp, "endpoints", (json_int_t)t.n_eps, "matched",
		    (json_int_t)sum.matched, "stale", sum.stale, "unreachable",
		    sum.unreachable, "services", sum.services, "log_errors", errs);

		char text[2 * CERT_FP_HEX];

		verify_want_text(want, text, sizeof(text));
		if (a->last_verified) {
			log_event(json_array_size(errs) > 0 ? LOG_LEVEL_WARN :
			    LOG_LEVEL_INFO, "verify.ok", f,
			    "all %zu endpoints serve %s", t.n_eps, text);
			TEST_PAUSE("cycle.verified");
			rc = 0;
		} else {
			log_event(LOG_LEVEL_ERROR, "verify.failed", f,
			    "%zu of %zu endpoint probes got %s after %ld ms",
			    sum.matched, sum.wanted, text, timeout_ms);
		}
	}
out:
	verify_summary_free(&sum);
	free(res);
	reload_targets_free(&t);
	return rc;
}

/*
 * A default reload step failed: before rolling back, look. A front that
 * reloads by itself (Mailu's own certificate watcher polls the pair every
 * second) may already serve the new pair everywhere; rolling that back
 * would fight it. Waits a little longer than the watcher's poll. (A step
 * the admin set in AGENT_RELOAD_COMMANDS is a veto: no second look.)
 */
bool
deliver_served_anyway(struct agent *a, const struct verify_want *want, json_t *timings)
{
	enum reload_fault fault;

	if (deliver_to_fronts(a, want, DELIVER_LOOK, DELIVER_SELF_RELOAD_WAIT_MS < a->cfg->verify_timeout_ms ?
	    DELIVER_SELF_RELOAD_WAIT_MS : a->cfg->verify_timeout_ms, &fault, timings,
	    "served_", NULL) != 0)
		return false;
	log_event(LOG_LEVEL_WARN, "reload.served_anyway", json_pack("{s:s}",
	    "fingerprint", want->e[0].fp), "a reload step failed, but every "
	    "endpoint serves %.16s...: the front reloaded by itself; not rolling "
	    "back", want->e[0].fp);
	return true;
}

