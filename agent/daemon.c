/*
 * daemon: one thread, one poll() loop over a signalfd and an inotify fd.
 * Signals are blocked and read as data, so a SIGTERM can never land in
 * the middle of an install: it is seen between cycles.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cycle.h"
#include "daemon.h"
#include "log.h"
#include "memtrim.h"
#include "metrics.h"
#include "notify.h"
#include "probe.h"
#include "store.h"
#include "watch.h"

#ifndef MCA_VERSION
#define MCA_VERSION "0.0.0-dev"
#endif

/*
 * A changed pair must sit unchanged this long before it is read: ACME
 * clients write several files in a row, and a write in progress changes
 * size or mtime within milliseconds. The bound is the longest pause
 * inside one writer's update that must still count as one write: 100 ms
 * (tests/integration/14-settle.sh appends every 100 ms), doubled for
 * scheduling jitter. A cert/key pair caught between its two files does
 * not depend on it: a key that does not match waits (settle_check).
 */
#define SETTLE_WINDOW_MS 200
/* How often a settling pair (mismatched, or a file missing) is re-read. */
#define SETTLE_RECHECK_MS 200
/*
 * When the source changed again while a cycle ran (a renewal storm), the
 * next cycle waits for a longer quiet spell, so a burst of renewals ends
 * in a few cycles that take the latest pair, not one cycle per renewal.
 */
#define STORM_WINDOW_MS 1000
/* Re-read and hash the pair every this many polls even without a change
 * in its stat signature (a rewrite that kept size and mtime). */
#define REHASH_EVERY_POLLS 6
/*
 * Going idle for at least this long after work, the daemon drops the code
 * pages the work faulted in (memtrim.h): idle RSS is then what an idle
 * tick touches, not the whole OpenSSL start-up.
 */
#define TRIM_IDLE_MS 1000
/* Engine faults are retried with backoff, bounded. */
#define RETRY_FIRST_MS 2000
#define RETRY_MAX_MS (5 * 60 * 1000)

/*
 * The daemon's lock: STATE_DIR/lock, held (flock) for the life of the
 * process and naming its pid. Opened relative to the state dir with
 * O_NOFOLLOW, so a link planted there is never followed (state_open has
 * removed one before; one planted since fails here, ELOOP). Returns the
 * fd; -2 when another process holds it (*holder: its pid as it wrote
 * it, 0 if unknown); -1 with errno otherwise.
 */
static int
take_lock(const char *state_dir, long *holder)
{
	char buf[32];
	ssize_t n;
	int sfd, fd, e;

	*holder = 0;
	sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return -1;
	fd = openat(sfd, INSTALL_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	e = errno;
	close(sfd);
	if (fd < 0) {
		errno = e;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno;
		if (e == EWOULDBLOCK && (n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			*holder = strtol(buf, NULL, 10);
		}
		close(fd);
		errno = e;
		return e == EWOULDBLOCK ? -2 : -1;
	}
	/* who holds it, for the agent.locked of the next one */
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		(void)0;	/* a full disk: the lock holds all the same */
	return fd;
}

static void
log_lock_failure(const char *state_dir, int rc, long holder, int e)
{
	if (rc == -2)
		log_event(LOG_LEVEL_ERROR, "agent.locked",
		    json_pack("{s:s, s:I}", "state_dir", state_dir, "holder_pid",
		    (json_int_t)holder), "another agent (pid %ld) works on %s",
		    holder, state_dir);
	else
		log_event(LOG_LEVEL_ERROR, "agent.failed",
		    json_pack("{s:s, s:s, s:s}", "reason", "cannot take the lock",
		    "state_dir", state_dir, "error", install_error_code(e)),
		    "cannot lock %s/" INSTALL_LOCK ": %s", state_dir, strerror(e));
}

/*
 * True when our lock file is no longer STATE_DIR/lock: the state dir (or
 * the lock) was deleted or replaced while we run.
 */
static bool
lock_lost(const char *state_dir, int lockfd)
{
	char path[PATH_MAX];
	struct stat held, now;

	if (lockfd < 0 || fstat(lockfd, &held) != 0)
		return false;
	if (held.st_nlink == 0)
		return true;
	snprintf(path, sizeof(path), "%s/" INSTALL_LOCK, state_dir);
	return lstat(path, &now) != 0 || now.st_ino != held.st_ino ||
	    now.st_dev != held.st_dev;
}

/*
 * The state dir went away under us (rm -rf, a volume re-created): make it
 * again (0700, as on first start), take a fresh lock in it, keep the
 * served pair as last-known-good again if it is the one we verified,
 * and rewrite the status file. -2: another agent took the new lock.
 */
static int
state_recreate(struct agent *a, int *lockfd)
{
	struct install_pair served = { 0 };
	enum cert_reason why;
	char err[256];
	long holder;
	int fd;

	static bool said;	/* one error line per outage, not one per poll */

	if (store_prepare(&a->ictx, err, sizeof(err)) != 0) {
		if (!said)
			log_event(LOG_LEVEL_ERROR, "state.write_failed",
			    json_pack("{s:s, s:s}", "error",
			    install_error_code(install_last_errno()), "detail", err),
			    "the state dir is gone and cannot be made again: %s", err);
		said = true;
		return -1;
	}
	said = false;
	fd = take_lock(a->cfg->state_dir, &holder);
	if (fd < 0) {
		log_lock_failure(a->cfg->state_dir, fd, holder, errno);
		return fd;
	}
	close(*lockfd);
	*lockfd = fd;
	if (a->good_fp[0] != '\0' && install_read_served(&a->ictx, &served, &why) == 0 &&
	    strcmp(served.fingerprint, a->good_fp) == 0 &&
	    store_save_current(&a->ictx, &served, err, sizeof(err)) != 0)
		log_event(LOG_LEVEL_WARN, "state.write_failed",
		    json_pack("{s:s, s:s}", "error",
		    install_error_code(install_last_errno()), "detail", err),
		    "cannot keep the last-known-good copy: %s", err);
	install_pair_free(&served);
	log_event(LOG_LEVEL_WARN, "state.recreated",
	    json_pack("{s:s, s:s}", "state_dir", a->cfg->state_dir, "fingerprint",
	    a->good_fp), "%s was gone; made it again (0700) with a new lock",
	    a->cfg->state_dir);
	cycle_write_status(a, a->last_verified ? "verified" : "not verified");
	return 0;
}

/* Common start: agent, lock, journal recovery, adopt the served pair. */
static int
start(struct agent *a, struct config *cfg, int *lockfd)
{
	enum install_recovery what;
	char err[256], fp[CERT_FP_HEX + 1] = "";
	long holder;

	if (agent_init(a, cfg, err, sizeof(err)) != 0) {
		log_event(LOG_LEVEL_ERROR, "agent.failed",
		    json_pack("{s:s, s:s}", "reason", err, "error",
		    install_error_code(install_last_errno())), "cannot start: %s", err);
		return -1;
	}
	*lockfd = take_lock(cfg->state_dir, &holder);
	if (*lockfd < 0) {
		log_lock_failure(cfg->state_dir, *lockfd, holder, errno);
		return -1;
	}
	if (install_recover(&a->ictx, &what, fp, sizeof(fp), err, sizeof(err)) != 0) {
		log_event(LOG_LEVEL_ERROR, "install.recover_failed",
		    json_pack("{s:s}", "detail", err),
		    "interrupted install could not be resolved: %s", err);
		return -1;
	}
	if (what != INSTALL_RECOVERY_NONE)
		log_event(LOG_LEVEL_WARN, "install.recovered",
		    json_pack("{s:s, s:s}", "action", what == INSTALL_RECOVERY_FINISHED ?
		    "finished" : "undone", "fingerprint", fp),
		    "an interrupted install was %s; %.16s... is in place",
		    what == INSTALL_RECOVERY_FINISHED ? "finished" : "undone", fp);
	/* first start: what is served now is the pair to fall back to */
	if (a->good_fp[0] == '\0') {
		struct install_pair served = { 0 };
		struct cert_pair p = { 0 };
		enum cert_reason why;

		if (install_read_served(&a->ictx, &served, &why) == 0 &&
		    cert_parse_chain(served.cert_pem, served.cert_len, &p, &why) == 0 &&
		    cert_parse_key(served.key_pem, served.key_len, &p, &why) == 0 &&
		    cert_key_matches(&p) && cfg->source != NULL &&
		    (a->src.installs || strcmp(cfg->command, "run") == 0) &&
		    store_save_current(&a->ictx, &served, err, sizeof(err)) == 0) {
			memcpy(a->good_fp, p.fingerprint, sizeof(a->good_fp));
			a->good_not_after = p.not_after;
			log_event(LOG_LEVEL_INFO, "state.adopted",
			    json_pack("{s:s}", "fingerprint", a->good_fp),
			    "keeping %.16s... as the last-known-good pair", a->good_fp);
		}
		cert_pair_free(&p);
		install_pair_free(&served);
	}
	return 0;
}

static void
stop(struct agent *a, int lockfd)
{
	if (lockfd >= 0)
		close(lockfd);
	agent_free(a);
}

int
daemon_once(struct config *cfg)
{
	struct agent a;
	enum outcome o = OUTCOME_FAILED;
	bool rejected;
	int lockfd = -1;

	if (start(&a, cfg, &lockfd) == 0)
		o = cycle_run(&a, probe_now_ms(), NULL, NULL, &rejected);
	stop(&a, lockfd);
	return o == OUTCOME_ROTATED || o == OUTCOME_UNCHANGED ? EXIT_OK :
	    o == OUTCOME_REJECTED ? EXIT_REJECTED : EXIT_FAILED;
}

int
daemon_rollback(struct config *cfg)
{
	struct agent a;
	enum outcome o = OUTCOME_FAILED;
	int lockfd = -1;

	if (start(&a, cfg, &lockfd) == 0)
		o = cycle_rollback(&a);
	stop(&a, lockfd);
	return o == OUTCOME_ROLLED_BACK ? EXIT_OK : EXIT_FAILED;
}

/* The settle rule: is the changed pair ready to be read, to wait, or to reject? */
enum settle {
	SETTLE_WAIT,		/* not yet: read again soon */
	SETTLE_READY,		/* run a cycle, with the pair read when it matched */
	SETTLE_SAME,		/* what we serve already */
	SETTLE_ABSENT,		/* no certificate there yet: nothing to do */
};

static enum settle
settle_check(struct agent *a, const struct source_sig *sig, long landed, long now,
    struct install_pair *raw, struct cert_pair *p)
{
	enum cert_reason why;
	bool patient = now - landed < a->cfg->settle_timeout_ms;

	if (source_read(&a->src, raw, p, &why) == 0) {
		if (strcmp(raw->fingerprint, a->good_fp) == 0) {
			install_pair_free(raw);
			cert_pair_free(p);
			return SETTLE_SAME;
		}
		if (cert_key_matches(p))
			return SETTLE_READY;	/* the cycle validates these very bytes */
		install_pair_free(raw);
		cert_pair_free(p);
		/* one file written, the other not yet */
		return patient ? SETTLE_WAIT : SETTLE_READY;
	}
	if ((why == CERT_UNREADABLE && !sig->cert_ok && !sig->key_ok) ||
	    (a->src.kind == SOURCE_TRAEFIK && (why == CERT_NO_CERTIFICATE ||
	    sig->cert_size == 0)))
		return SETTLE_ABSENT;	/* certbot, or Traefik, has not issued yet */
	/* a link briefly missing, or acme.json caught mid-write */
	if ((why == CERT_UNREADABLE || why == CERT_BAD_ACME_JSON) && patient)
		return SETTLE_WAIT;
	return SETTLE_READY;	/* let the cycle reject it with its reason */
}

/* How long ago the poll's change happened (file mtime), within one period. */
static long
poll_age_ms(const struct source_sig *sig, long period_ms)
{
	struct timespec ts;
	int64_t m = sig->cert_mtime_ns > sig->key_mtime_ns ? sig->cert_mtime_ns :
	    sig->key_mtime_ns;
	long age;

	clock_gettime(CLOCK_REALTIME, &ts);
	age = (long)(((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - m) / 1000000);
	return age < 0 || age > period_ms ? 0 : age;
}

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

int
daemon_run(struct config *cfg_in, int argc, char **argv, char **envp)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct agent a;
	struct watch w = { .fd = -1 };
	struct source_sig last, rejected_sig, waited_sig, retry_sig;
	struct install_pair raw = { 0 };
	struct cert_pair parsed = { 0 };
	bool dirty = true, have_rejected = false, running = true, absent_said = false,
	    waiting = false, lost = false, trimmed = false;
	long landed = probe_now_ms(), stable_since = 0, next_poll, retry_at = 0,
	    retry_ms = RETRY_FIRST_MS, window = SETTLE_WINDOW_MS;
	unsigned polls = 0;
	long next_drift = 0, heal_backoff = 0, heal_after = 0;
	int lockfd = -1, sfd, rc = EXIT_FAILED;
	char desc[PATH_MAX + 16];

	if (cfg == NULL)
		return EXIT_FAILED;
	*cfg = *cfg_in;			/* take ownership: SIGHUP may replace it */
	memset(cfg_in, 0, sizeof(*cfg_in));
	if ((sfd = signals_fd()) < 0 || start(&a, cfg, &lockfd) != 0)
		goto out_nostart;
	log_event(LOG_LEVEL_INFO, "agent.start",
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "version",
	    MCA_VERSION, "source", source_describe(&a.src, desc, sizeof(desc)),
	    "reload", reload_backend_names[cfg->reload], "certs_dir", cfg->certs_dir,
	    "state_dir", cfg->state_dir, "front", cfg->front, "fingerprint",
	    a.good_fp, "pid", (int)getpid()),
	    "mailu-cert-agent %s watching %s", MCA_VERSION, desc);
	if (cfg->metrics_listen != NULL) {
		char err[256];

		if (metrics_start(cfg->metrics_listen, MCA_VERSION, err, sizeof(err)) != 0)
			log_event(LOG_LEVEL_ERROR, "metrics.failed",
			    json_pack("{s:s}", "reason", err), "metrics: %s", err);
	}
	if (cfg->webhook_url != NULL) {
		char err[256];

		if (notify_start(cfg->webhook_url, cfg->webhook_format, err,
		    sizeof(err)) != 0)
			log_event(LOG_LEVEL_ERROR, "notify.failed",
			    json_pack("{s:s}", "reason", err), "webhooks: %s", err);
	}
	/* watch first: a change during the start-up verify must not be missed */
	open_watch(&w, &a, false);
	source_stat(&a.src, &last);
	cycle_reconcile(&a, true);
	cycle_expiry(&a);
	next_drift = probe_now_ms() + cfg->drift_interval_ms;
	/* a change made while we were down counts from now */
	landed = stable_since = probe_now_ms();
	next_poll = probe_now_ms() + cfg->poll_interval_ms;

	while (running) {
		struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { w.fd, POLLIN, 0 } };
		long now = probe_now_ms(), wait = next_poll - now;
		struct source_sig sig;

		if (dirty) {
			/* wake exactly when the settle window ends, then re-check slowly */
			long settle = stable_since + window - now;

			if (settle <= 0)
				settle = SETTLE_RECHECK_MS;
			wait = settle < wait ? settle : wait;
		}
		if (a.retry_pending && retry_at - now < wait)
			wait = retry_at - now;
		if (next_drift - now < wait)
			wait = next_drift - now;
		if (wait < 0)
			wait = 0;
		/* going idle after work: the code it ran need not stay resident */
		if (!dirty && !trimmed && wait >= TRIM_IDLE_MS) {
			memtrim_code();
			trimmed = true;
		}
		if (poll(pfd, w.fd >= 0 ? 2 : 1, (int)wait) < 0 && errno != EINTR)
			break;
		now = probe_now_ms();
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					reload_settings(&a, &cfg, &w, argc, argv, envp);
					dirty = true;
					landed = now;
				} else {
					running = false;
				}
			}
			if (!running)
				break;
		}
		if (w.fd >= 0 && (pfd[1].revents & POLLIN) && watch_drain(&w) && !dirty) {
			dirty = true;
			landed = now;
		}
		source_stat(&a.src, &sig);
		if (now >= next_poll) {
			next_poll = now + cfg->poll_interval_ms;
			/* the state dir deleted under us: make it again */
			if (lock_lost(cfg->state_dir, lockfd) &&
			    state_recreate(&a, &lockfd) == -2) {
				lost = true;
				break;
			}
			/*
			 * a bundle only the clock kept out: the clock moved on
			 * (a.rejected_*: the last cycle's, the rejecting one while
			 * have_rejected holds)
			 */
			if (have_rejected && cert_retry_due(a.rejected_why,
			    a.rejected_not_before, a.rejected_not_after, time(NULL))) {
				log_event(LOG_LEVEL_INFO, "cert.retry_due",
				    json_pack("{s:s}", "reason", cert_reason_names[a.rejected_why]),
				    "the clock now lies inside the rejected certificate's "
				    "validity; trying it again");
				have_rejected = false;
				if (!dirty) {
					dirty = true;
					landed = now;
				}
			}
			/* a directory made after we started: watch it once it exists */
			if (w.fd < 0 && open_watch(&w, &a, true) == 0)
				log_event(LOG_LEVEL_INFO, "watch.inotify", NULL,
				    "inotify watches %s now", a.src.watch_dirs[0]);
			if (!source_sig_equal(&sig, &last) && !dirty) {
				dirty = true;
				landed = now - poll_age_ms(&sig, cfg->poll_interval_ms);
			} else if (++polls % REHASH_EVERY_POLLS == 0 && !dirty &&
			    !a.retry_pending) {
				/* (a pending retry has its own timer: keep its backoff) */
				dirty = true;
				landed = now;
			}
		}
		if (now >= next_drift && !dirty) {
			/*
			 * Drift: verify what is served; heal by reloading, but a
			 * front that stays broken is reloaded at most once per
			 * doubling interval (drift interval .. 1 h), not in a loop.
			 */
			bool may_heal = now >= heal_after;

			if (cycle_reconcile(&a, may_heal) == 0) {
				heal_backoff = 0;
			} else if (may_heal) {
				heal_backoff = heal_backoff == 0 ? cfg->drift_interval_ms :
				    heal_backoff * 2;
				if (heal_backoff > 3600000)
					heal_backoff = 3600000;
				heal_after = probe_now_ms() + heal_backoff;
			}
			cycle_expiry(&a);
			trimmed = false;
			now = probe_now_ms();
			next_drift = now + cfg->drift_interval_ms;
		}
		if (a.retry_pending && now >= retry_at && !dirty) {
			dirty = true;
			landed = now;
			have_rejected = false;
		}
		if (!dirty) {
			waiting = false;
			continue;
		}
		trimmed = false;
		if (!source_sig_equal(&sig, &last)) {
			last = sig;
			stable_since = now;
			have_rejected = false;
		}
		if (have_rejected && source_sig_equal(&sig, &rejected_sig)) {
			dirty = false;		/* not retried until its files change */
			continue;
		}
		/*
		 * The bundle waiting for its retry, seen again (a late inotify
		 * event, the periodic re-hash): it waits for its backoff. A
		 * changed pair does not.
		 */
		if (a.retry_pending && now < retry_at &&
		    source_sig_equal(&sig, &retry_sig)) {
			dirty = false;
			continue;
		}
		if (now - stable_since < window) {
			if (now - landed >= cfg->settle_timeout_ms) {
				/* never still long enough to be read whole */
				cycle_reject(&a, CERT_INCOMPLETE_WRITE,
				    "files kept changing for AGENT_SETTLE_TIMEOUT");
				rejected_sig = sig;
				have_rejected = true;
				dirty = false;
			}
			continue;
		}
		/* waiting for the other file: read again only once something moved */
		if (waiting && source_sig_equal(&sig, &waited_sig) &&
		    now - landed < cfg->settle_timeout_ms)
			continue;
		waiting = false;
		switch (settle_check(&a, &sig, landed, now, &raw, &parsed)) {
		case SETTLE_WAIT:
			waiting = true;
			waited_sig = sig;
			continue;
		case SETTLE_SAME:
			dirty = false;
			a.retry_pending = false;
			absent_said = false;
			continue;
		case SETTLE_ABSENT:
			if (!absent_said)
				log_event(LOG_LEVEL_INFO, "source.waiting",
				    json_pack("{s:s}", "source", desc),
				    "no certificate in %s yet; waiting", desc);
			absent_said = true;
			dirty = false;
			continue;
		case SETTLE_READY: {
			struct source_sig after;
			bool rejected = false;

			absent_said = false;
			a.settle_ms = window;
			cycle_run(&a, landed, raw.cert_pem != NULL ? &raw : NULL,
			    parsed.leaf != NULL ? &parsed : NULL, &rejected);
			cycle_expiry(&a);
			install_pair_free(&raw);
			cert_pair_free(&parsed);
			source_stat(&a.src, &after);
			window = source_sig_equal(&after, &sig) ? SETTLE_WINDOW_MS :
			    STORM_WINDOW_MS;
			if (rejected) {
				rejected_sig = sig;
				have_rejected = true;
			}
			if (a.retry_pending) {
				retry_sig = sig;
				retry_at = probe_now_ms() + retry_ms;
				retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
				log_event(LOG_LEVEL_INFO, "cycle.retry",
				    json_pack("{s:I}", "in_ms", (json_int_t)(retry_at - probe_now_ms())),
				    "will try again in %ld ms", retry_at - probe_now_ms());
			} else {
				retry_ms = RETRY_FIRST_MS;
			}
			/*
			 * last stays the signature before the cycle: a change made
			 * while it ran is seen on the next turn (our own rollback
			 * of a certs-dir pair is seen too, and settles as unchanged).
			 */
			dirty = false;
			break;
		}
		}
	}
	log_event(LOG_LEVEL_INFO, "agent.stop", json_pack("{s:s}", "reason",
	    lost ? "lock_lost" : "signal"), lost ? "stopping: another agent took "
	    "the state dir" : "stopping on signal");
	rc = lost ? EXIT_FAILED : EXIT_OK;
	notify_stop(5000);
	metrics_stop();
	watch_close(&w);
	stop(&a, lockfd);
	close(sfd);
	config_free(cfg);
	free(cfg);
	return rc;
out_nostart:
	if (sfd >= 0) {
		stop(&a, lockfd);
		close(sfd);
	}
	config_free(cfg);
	free(cfg);
	return rc;
}
