/*
 * daemon: `run`. One thread, one poll() loop over a signalfd and an
 * inotify fd; what to do next, and when, is sched's decision (schedule.h),
 * carried out here. Signals are blocked and read as data, so a SIGTERM
 * can never land in the middle of an install: it is seen between cycles.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cycle.h"
#include "daemon.h"
#include "log.h"
#include "memtrim.h"
#include "metrics.h"
#include "monitor.h"
#include "notify.h"
#include "probe.h"
#include "schedule.h"
#include "watch.h"

/* inotify unless AGENT_WATCH=poll; -1 (poll only) otherwise or on failure */
static int
open_watch(struct watch *w, const struct agent *a, bool quiet)
{
	if (a->cfg->watch_poll) {
		w->fd = -1;
		if (!quiet)
			log_event(LOG_LEVEL_INFO, "watch.poll_only",
			    json_pack("{s:s}", "reason", "AGENT_WATCH=poll"),
			    "AGENT_WATCH=poll: polling every %ld ms, no inotify",
			    a->cfg->poll_interval_ms);
		return -1;
	}
	return watch_open(w, &a->src, quiet);
}

static int
signals_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* SIGHUP: new settings replace the old ones only if all of them are valid. */
static void
reload_settings(struct agent *a, struct config **cfg, struct watch *w,
    int argc, char **argv, char **envp)
{
	struct config *fresh = calloc(1, sizeof(*fresh));
	struct config_error cerr;
	char err[256];

	if (fresh == NULL)
		return;
	if (config_load(fresh, argc, argv, envp, &cerr) != 0) {
		log_event(LOG_LEVEL_ERROR, "config.invalid",
		    json_pack("{s:s, s:s}", "setting", cerr.setting, "reason", cerr.msg),
		    "SIGHUP: %s: %s; keeping the running settings", cerr.setting, cerr.msg);
		config_free(fresh);
		free(fresh);
		return;
	}
	watch_close(w);
	agent_free(a);
	if (agent_init(a, fresh, err, sizeof(err)) != 0) {
		log_event(LOG_LEVEL_ERROR, "config.invalid",
		    json_pack("{s:s, s:s}", "setting", "config", "reason", err),
		    "SIGHUP: %s; keeping the running settings", err);
		config_free(fresh);
		free(fresh);
		agent_init(a, *cfg, err, sizeof(err));
	} else {
		config_free(*cfg);
		if (*cfg != NULL)
			free(*cfg);
		*cfg = fresh;
		log_init(stdout, fresh->log_level);
		log_set_text(fresh->log_text);
		log_event(LOG_LEVEL_INFO, "config.reloaded", NULL, "settings re-read");
	}
	open_watch(w, a, false);
}

/* The metrics listener and the webhook worker, when configured. */
static void
start_services(const struct config *cfg)
{
	char err[256];

	if (cfg->metrics_listen != NULL &&
	    metrics_start(cfg->metrics_listen, MCA_VERSION, err, sizeof(err)) != 0)
		log_event(LOG_LEVEL_ERROR, "metrics.failed",
		    json_pack("{s:s}", "reason", err), "metrics: %s", err);
	if (cfg->webhook_url != NULL &&
	    notify_start(cfg->webhook_url, cfg->webhook_format, cfg->webhook_events,
	    err, sizeof(err)) != 0)
		log_event(LOG_LEVEL_ERROR, "notify.failed",
		    json_pack("{s:s}", "reason", err), "webhooks: %s", err);
}

/*
 * SCHED_READ in the letsencrypt flavor: certbot renews a lineage by
 * swapping its links one at a time, so a lineage whose pair does not
 * match yet is waited for (the settle rule); then monitor_lineages verifies
 * both key types and heals, never installing anything.
 */
static void
read_lineages(struct agent *a, struct sched *s, const struct sched_do *d,
    const struct source_sig *sig, const char *desc)
{
	struct sched_read r = { .ok = true, .matches = true, .sig = sig,
	    .patient = d->patient, .early = d->early };
	size_t ok = lineage_read(a->le);

	r.same = a->last_verified && lineage_same(a->le, &a->verified);
	for (int i = 0; i < LINEAGE_N && r.ok; i++)
		if (!a->le[i].ok) {
			r.ok = false;
			r.why = a->le[i].why;
		}
	/* neither lineage issued yet: certbot in the front has not run */
	if (ok == 0 && !sig->cert_ok && !sig->key_ok)
		r.why = CERT_UNREADABLE;
	if (!r.ok && r.why == CERT_KEY_MISMATCH)
		r.ok = true, r.matches = false;
	switch (sched_settle(&r)) {
	case SCHED_SETTLE_READY: {
		struct sched_cycle c = { 0 };

		/* nothing is installed, so nothing to retry or suppress */
		monitor_lineages(a, s->landed);
		sched_cycle_done(s, &c, sig, clock_ms());
		break;
	}
	default:
		if (sched_read_done(s, sched_settle(&r), sig))
			log_event(LOG_LEVEL_INFO, "source.waiting",
			    json_pack("{s:s}", "source", desc),
			    "no certificate in %s yet; waiting", desc);
		break;
	}
}

/*
 * SCHED_READ: read the source and apply the settle rule. A pair that is
 * ready runs its cycle at once, on the very bytes that settled.
 */
static void
read_source(struct agent *a, struct sched *s, const struct sched_do *d,
    const struct source_sig *sig, const char *desc)
{
	struct install_pair raw = { 0 };
	struct cert_pair parsed = { 0 };
	struct sched_read r = { .traefik = a->src.kind == SOURCE_TRAEFIK,
	    .sig = sig, .patient = d->patient, .early = d->early };
	struct sched_cycle c = { 0 };
	struct source_sig after;
	enum sched_settle what;
	long delay;

	if (a->le_mode) {
		read_lineages(a, s, d, sig, desc);
		return;
	}
	if ((r.ok = source_read(&a->src, &raw, &parsed, &r.why) == 0)) {
		r.same = strcmp(raw.fingerprint, a->good_fp) == 0;
		r.matches = cert_key_matches(&parsed);
	}
	what = sched_settle(&r);
	if (what != SCHED_SETTLE_READY || !r.matches || r.same) {
		/* only a matching pair is handed over; the cycle reads anything else again */
		install_pair_free(&raw);
		cert_pair_free(&parsed);
	}
	if (what != SCHED_SETTLE_READY) {
		if (sched_read_done(s, what, sig))
			log_event(LOG_LEVEL_INFO, "source.waiting",
			    json_pack("{s:s}", "source", desc),
			    "no certificate in %s yet; waiting", desc);
		return;
	}
	a->settle_ms = d->early ? 0 : s->window;	/* read early: no quiet window */
	cycle_run(a, s->landed, raw.cert_pem != NULL ? &raw : NULL,
	    parsed.leaf != NULL ? &parsed : NULL, &c.rejected);
	install_pair_free(&raw);
	cert_pair_free(&parsed);
	source_stat(&a->src, &after);
	c.changed_during = !source_sig_equal(&after, sig);
	c.why = a->rejected_why;
	c.not_before = a->rejected_not_before;
	c.not_after = a->rejected_not_after;
	c.retry = a->retry_pending;
	if ((delay = sched_cycle_done(s, &c, sig, clock_ms())) > 0)
		log_event(LOG_LEVEL_INFO, "cycle.retry",
		    json_pack("{s:I}", "in_ms", (json_int_t)delay),
		    "will try again in %ld ms", delay);
}

/*
 * Carries out sched's actions until it says wait. Returns -1 when the
 * state dir was taken over by another agent (stop), else 0.
 */
static int
act(struct agent *a, struct sched *s, struct watch *w, int *lockfd,
    const struct source_sig *sig, const char *desc)
{
	struct sched_do d;

	for (;;) {
		sched_step(s, sig, clock_ms(), clock_wall_ns(), &d);
		switch (d.what) {
		case SCHED_WAIT:
			return 0;
		case SCHED_POLL:
			/* the state dir deleted under us: make it again */
			if (agent_lock_lost(a, *lockfd) &&
			    agent_state_recreate(a, lockfd) == -2)
				return -1;
			if (d.retry_due)
				log_event(LOG_LEVEL_INFO, "cert.retry_due",
				    json_pack("{s:s}", "reason",
				    cert_reason_names[s->rejected_why]),
				    "the clock now lies inside the rejected certificate's "
				    "validity; trying it again");
			/* a directory made after we started: watch it once it exists */
			if (w->fd < 0 && open_watch(w, a, true) == 0)
				log_event(LOG_LEVEL_INFO, "watch.inotify", NULL,
				    "inotify watches %s now", a->src.watch_dirs[0]);
			break;
		case SCHED_DRIFT:
			sched_drift_done(s, d.may_heal,
			    monitor_drift(a, d.may_heal) == 0, clock_ms());
			break;
		case SCHED_EXPIRY:
			monitor_expiry(a);
			break;
		case SCHED_REJECT:
			cycle_reject(a, CERT_INCOMPLETE_WRITE,
			    "files kept changing for AGENT_SETTLE_TIMEOUT");
			break;
		case SCHED_READ:
			read_source(a, s, &d, sig, desc);
			break;
		}
	}
}

int
daemon_run(struct config *cfg_in, int argc, char **argv, char **envp)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct agent a;
	struct watch w = { .fd = -1 };
	struct source_sig sig;
	struct sched s;
	bool running = true, lost = false;
	int lockfd = -1, sfd, rc = EXIT_FAILED;
	char desc[PATH_MAX + 16];

	if (cfg == NULL)
		return EXIT_FAILED;
	*cfg = *cfg_in;			/* take ownership: SIGHUP may replace it */
	memset(cfg_in, 0, sizeof(*cfg_in));
	if ((sfd = signals_fd()) < 0 || agent_open(&a, cfg, &lockfd) != 0)
		goto out;
	log_event(LOG_LEVEL_INFO, "agent.start",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "version",
	    MCA_VERSION, "source", source_describe(&a.src, desc, sizeof(desc)),
	    "reload", reload_backend_names[cfg->reload], "certs_dir", cfg->certs_dir,
	    "state_dir", cfg->state_dir, "front", cfg->front, "fingerprint",
	    a.good_fp, "pid", (int)getpid()),
	    "mailu-cert-agent %s watching %s", MCA_VERSION, desc);
	start_services(cfg);
	/* watch first: a change during the start-up verify must not be missed */
	open_watch(&w, &a, false);
	source_stat(&a.src, &sig);
	monitor_drift(&a, true);
	reload_warm(&a.reload);
	monitor_expiry(&a);
	sched_init(&s, cfg->poll_interval_ms, cfg->drift_interval_ms,
	    cfg->settle_timeout_ms, &sig, clock_ms());

	while (running) {
		struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { w.fd, POLLIN, 0 } };
		long wait = sched_wait_ms(&s, clock_ms());
		struct signalfd_siginfo si;
		unsigned closed;

		/* going idle after work: the code it ran need not stay resident */
		if (sched_trim_due(&s, wait))
			memtrim_code();
		if (poll(pfd, w.fd >= 0 ? 2 : 1, (int)wait) < 0 && errno != EINTR)
			break;
		while ((pfd[0].revents & POLLIN) &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGHUP) {
				running = false;
				break;
			}
			reload_settings(&a, &cfg, &w, argc, argv, envp);
			sched_settings(&s, cfg->poll_interval_ms, cfg->drift_interval_ms,
			    cfg->settle_timeout_ms, clock_ms());
		}
		if (!running)
			break;
		if (w.fd >= 0 && (pfd[1].revents & POLLIN) && watch_drain(&w, &closed)) {
			sched_source_event(&s, clock_ms());
			sched_source_closed(&s, closed);
		}
		source_stat(&a.src, &sig);
		if (act(&a, &s, &w, &lockfd, &sig, desc) != 0) {
			lost = true;
			break;
		}
	}
	log_event(LOG_LEVEL_INFO, "agent.stop", json_pack("{s:s}", "reason",
	    lost ? "lock_lost" : "signal"), lost ? "stopping: another agent took "
	    "the state dir" : "stopping on signal");
	rc = lost ? EXIT_FAILED : EXIT_OK;
	notify_stop(5000);
	metrics_stop();
	watch_close(&w);
out:
	if (sfd >= 0) {
		agent_close(&a, lockfd);
		close(sfd);
	}
	config_free(cfg);
	free(cfg);
	return rc;
}
