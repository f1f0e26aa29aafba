/*
 * cycle: the pipeline, readable top to bottom in cycle_run(). Every exit
 * path goes through finish(), so each cycle ends in exactly one
 * cycle.done event with one outcome.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "cycle.h"
#include "deliver.h"
#include "dane.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "probe.h"
#include "reload.h"
#include "status.h"
#include "store.h"
#include "testhook.h"
#include "verify.h"

void
cycle_write_status(struct agent *a, const char *reason)
{
	bool healthy = a->last_outcome != OUTCOME_FAILED && a->last_verified;
	/* letsencrypt: the first lineage's leaf stands for the pair */
	const char *fp = !a->le_mode ? a->good_fp : a->verified.n > 0 ?
	    a->verified.e[0].fp : "";
	json_t *st = json_pack("{s:b, s:s, s:s, s:s, s:b, s:i, s:I}", "healthy",
	    healthy, "reason", reason, "outcome", outcome_names[a->last_outcome],
	    "fingerprint", fp, "verified", a->last_verified, "pid",
	    (int)getpid(), "cycles", (json_int_t)a->seq);

	metrics_set_health(healthy, reason);
	metrics_set_installed(a->good_not_after);
	if (st != NULL && status_write(a->cfg->state_dir, st) != 0) {
		int e = errno;

		log_event(LOG_LEVEL_WARN, "status.write_failed",
		    json_pack("{s:s, s:s}", "error", install_error_code(e), "detail",
		    strerror(e)), "cannot write the status file in %s: %s",
		    a->cfg->state_dir, strerror(e));
	}
	json_decref(st);
}

void
cycle_begin(struct agent *a)
{
	char id[48];

	a->seq++;
	/* what this cycle asks of the next: nothing, until it says so */
	a->rejected_why = CERT_OK;
	a->retry_pending = false;
	snprintf(id, sizeof(id), "%lld-%u", (long long)time(NULL), a->seq);
	log_set_cycle(id);
}

enum outcome
cycle_finish(struct agent *a, enum outcome o, long start_ms, json_t *timings,
    const char *fp)
{
	long now = clock_ms();
	json_t *f = json_pack("{s:s, s:I, s:s}", "outcome", outcome_names[o],
	    "ms", (json_int_t)(now - start_ms), "fingerprint", fp != NULL ? fp : "");
	const char *legacy = outcome_legacy_name(o);

	/* a renamed outcome keeps its old name beside the new one, one release */
	if (legacy != NULL)
		json_object_set_new(f, "legacy_outcome", json_string(legacy));
	/* ms counts the cycle; total_ms from the files landing to here */
	if (a->landed_ms > 0)
		json_object_set_new(f, "total_ms", json_integer(now - a->landed_ms));
	a->landed_ms = 0;

	if (timings != NULL)
		json_object_set_new(f, "timings", timings);
	TEST_PAUSE("cycle.finishing");
	a->last_outcome = o;
	metrics_count_rotation(o);
	if (o == OUTCOME_ROTATED) {
		metrics_set_last_success(time(NULL));
		/* posted only when AGENT_WEBHOOK_EVENTS asks for it */
		notify_event("cycle.rotated", "new certificate served everywhere", f);
	}
	if (o == OUTCOME_ROLLED_BACK || o == OUTCOME_FAILED || o == OUTCOME_KEPT)
		notify_event(o == OUTCOME_FAILED ? "cycle.failed" : o == OUTCOME_KEPT ?
		    "cycle.kept" : "cycle.rolled_back", o == OUTCOME_FAILED ?
		    "rotation failed and could not be rolled back" : o == OUTCOME_KEPT ?
		    "new certificate not installed yet; the served one stays" :
		    "rotation rolled back", f);
	log_event(o == OUTCOME_FAILED || o == OUTCOME_ROLLED_BACK ? LOG_LEVEL_ERROR :
	    o == OUTCOME_REJECTED || o == OUTCOME_KEPT ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
	    "cycle.done", f, "cycle %s", outcome_names[o]);
	TEST_PAUSE("cycle.done_logged");
	cycle_write_status(a, outcome_names[o]);
	log_set_cycle(NULL);
	return o;
}

/*
 * The pair to fall back to: the last verified one (current/), else what
 * CERTS_DIR serves now if it is a matching pair and not the new one.
 */
static bool
load_previous(struct agent *a, const char *new_fp, struct install_pair *old)
{
	char err[256];
	enum cert_reason why;

	if (store_load_current(&a->ictx, old, err, sizeof(err)) == 0 &&
	    strcmp(old->fingerprint, new_fp) != 0)
		return true;
	install_pair_free(old);
	if (install_read_served(&a->ictx, old, &why) == 0 &&
	    strcmp(old->fingerprint, new_fp) != 0)
		return true;
	install_pair_free(old);
	return false;
}

/*
 * Puts old back, reloads and verifies it. replacing: the fingerprint
 * CERTS_DIR must still hold for old to go back over it (a certs-dir
 * source, where the ACME client writes CERTS_DIR), NULL: no condition.
 */
static enum outcome
rollback_steps(struct agent *a, const struct install_pair *old, bool have_old,
    const char *replacing, const char *why, json_t *timings)
{
	struct verify_want want;
	enum reload_fault fault, looked;
	long wait = a->cfg->verify_timeout_ms;
	char err[256];
	int rc;

	TEST_PAUSE("started");
	if (!have_old) {
		log_event(LOG_LEVEL_ERROR, "rollback.failed",
		    json_pack("{s:s, s:s}", "reason", "no_backup", "cause", why),
		    "cannot roll back (%s): no earlier pair to restore", why);
		return OUTCOME_FAILED;
	}
	rc = install_commit_over(&a->ictx, old, replacing, err, sizeof(err));
	if (rc == 1) {
		/*
		 * The ACME client wrote CERTS_DIR again while this cycle ran: its
		 * pair is newer than old, so old does not go back over it. The
		 * newer files get a cycle of their own, right after this one.
		 */
		log_event(LOG_LEVEL_WARN, "rollback.skipped",
		    json_pack("{s:s, s:s, s:s, s:s}", "reason", "superseded",
		    "fingerprint", old->fingerprint, "cause", why, "detail", err),
		    "not restoring %.16s...: %s; the newer files get their own "
		    "cycle", old->fingerprint, err);
		return OUTCOME_FAILED;
	}
	if (rc != 0) {
		log_event(LOG_LEVEL_ERROR, "rollback.failed",
		    json_pack("{s:s, s:s, s:s, s:s}", "reason", "install_failed",
		    "error", install_error_code(install_last_errno()), "detail",
		    err, "cause", why), "cannot restore %.16s...: %s",
		    old->fingerprint, err);
		return OUTCOME_FAILED;
	}
	TEST_PAUSE("restored");
	if (deliver_to_fronts(a, deliver_want_pair(&want, old->fingerprint, old->key_type), true,
	    wait, &fault, timings, "rollback_", NULL) == 0) {
		log_event(LOG_LEVEL_WARN, "rollback.done",
		    json_pack("{s:s, s:s, s:b}", "fingerprint", old->fingerprint,
		    "cause", why, "verified", 1),
		    "rolled back to %.16s... (%s)", old->fingerprint, why);
		return OUTCOME_ROLLED_BACK;
	}
	/*
	 * An exec refused by the engine (500, a garbled answer, a command
	 * that hung) leaves the front as it was: it may well serve the old
	 * pair still. Look without reloading; with no engine or no running
	 * front this fails at once.
	 */
	if (fault == RELOAD_UNAVAILABLE) {
		/* if not served yet, the front picks it up from disk when back */
		bool served = deliver_to_fronts(a, &want, false, wait, &looked, timings,
		    "rollback_check_", NULL) == 0;

		log_event(LOG_LEVEL_WARN, "rollback.done",
		    json_pack("{s:s, s:s, s:b}", "fingerprint", old->fingerprint,
		    "cause", why, "verified", served), served ?
		    "restored %.16s...; it is served everywhere (reload failed)" :
		    "restored %.16s... on disk; front unreachable, not verified",
		    old->fingerprint);
		return OUTCOME_ROLLED_BACK;
	}
	/*
	 * The reload itself was refused (e.g. a socket proxy denying exec):
	 * then the front never re-read anything and may well still serve the
	 * old pair. Verify that, rather than assume the worst.
	 */
	if (deliver_to_fronts(a, &want, false, wait, &looked, timings, "rollback_check_",
	    NULL) == 0) {
		log_event(LOG_LEVEL_WARN, "rollback.done",
		    json_pack("{s:s, s:s, s:b, s:b}", "fingerprint", old->fingerprint,
		    "cause", why, "verified", 1, "reloaded", 0),
		    "restored %.16s...; it is still served everywhere (reload refused)",
		    old->fingerprint);
		return OUTCOME_ROLLED_BACK;
	}
	/* loudly: the front may now serve neither pair everywhere */
	log_event(LOG_LEVEL_ERROR, "rollback.failed",
	    json_pack("{s:s, s:s, s:s}", "reason", fault == RELOAD_FAILED ?
	    "reload_failed" : "verify_failed", "fingerprint", old->fingerprint,
	    "cause", why), fault == RELOAD_FAILED ? "restored %.16s... on disk, "
	    "but the front could not be reloaded and does not serve it everywhere" :
	    "restored %.16s... but it is not served everywhere either",
	    old->fingerprint);
	return OUTCOME_FAILED;
}

/* rollback_steps, its test pause points named "rollback.<step>". */
static enum outcome
rollback_to(struct agent *a, const struct install_pair *old, bool have_old,
    const char *replacing, const char *why, json_t *timings)
{
	enum outcome o;

	TEST_PHASE("rollback.");
	o = rollback_steps(a, old, have_old, replacing, why, timings);
	TEST_PHASE("");
	return o;
}

static void
reject(const char *fp, enum cert_reason why, const char *detail)
{
	log_event(LOG_LEVEL_WARN, "cert.rejected",
	    json_pack("{s:s, s:s, s:s}", "reason", cert_reason_names[why],
	    "detail", detail, "fingerprint", fp != NULL ? fp : ""),
	    "new certificate rejected: %s%s%s", cert_reason_names[why],
	    detail[0] != '\0' ? ": " : "", detail);
}

/*
 * A cert file that also holds a private key (a combined PEM: lego --pem,
 * HAProxy-style bundles, hand-made files). Whatever the agent writes of
 * it holds the certificates only; with a certs-dir source the file is
 * the ACME client's own, served as it is, so say whether others can read
 * the key there.
 */
static void
report_key_in_cert(const struct agent *a, const char *fp)
{
	struct stat st;
	bool others = stat(a->src.cert_path, &st) == 0 && (st.st_mode & 044) != 0;

	log_event(LOG_LEVEL_WARN, "cert.split", json_pack("{s:s, s:s, s:s, s:b, s:b}",
	    "reason", "key_in_certificate", "fingerprint", fp, "file",
	    a->src.cert_path, "written", a->src.installs, "readable_by_others",
	    others), a->src.installs ? "%s also holds a private key: only its "
	    "certificates are written%s" : "%s also holds a private key%s; the "
	    "agent's copies hold only its certificates", a->src.cert_path,
	    a->src.installs ? "" : others ? ", readable by others" : "");
}

enum outcome
cycle_run(struct agent *a, long landed_ms, struct install_pair *raw_in,
    struct cert_pair *parsed_in, bool *rejected_out)
{
	struct config *cfg = a->cfg;
	struct install_pair raw = { 0 }, old = { 0 };
	struct cert_pair parsed = { 0 };
	struct verify_want want;
	enum reload_fault fault;
	struct cert_policy pol = { cfg->hostnames, cfg->n_hostnames, cfg->ca_file,
	    time(NULL), a->good_not_before, a->good_not_after, cfg->force };
	json_t *timings = json_object();
	enum cert_reason why;
	enum outcome o;
	char detail[256] = "", err[256], desc[PATH_MAX + 16], when[32], bpath[PATH_MAX];
	bool have_old, engine_fault;
	long start = clock_ms(), t0;
	time_t reload_since;
	struct targets fronts = { 0 };

	*rejected_out = false;
	cycle_begin(a);
	a->landed_ms = landed_ms;
	json_object_set_new(timings, "detect_ms", json_integer(start - landed_ms));
	if (a->settle_ms > 0)	/* detect_ms - settle_ms: noticing, not waiting */
		json_object_set_new(timings, "settle_ms", json_integer(a->settle_ms));
	a->settle_ms = 0;
	source_describe(&a->src, desc, sizeof(desc));

	/* validate: nothing is touched before the new pair passes every check */
	t0 = clock_ms();
	if (raw_in != NULL && parsed_in != NULL) {
		raw = *raw_in;
		parsed = *parsed_in;
		memset(raw_in, 0, sizeof(*raw_in));
		memset(parsed_in, 0, sizeof(*parsed_in));
	} else if (source_read(&a->src, &raw, &parsed, &why) != 0) {
		log_event(LOG_LEVEL_INFO, "source.changed",
		    json_pack("{s:s}", "source", desc), "%s changed", desc);
		reject(NULL, why, a->src.detail);
		*rejected_out = true;
		o = cycle_finish(a, OUTCOME_REJECTED, start, timings, NULL);
		goto out;
	}
	cert_format_time(parsed.not_after, when);
	log_event(LOG_LEVEL_INFO, "source.changed",
	    json_pack("{s:s, s:s, s:s, s:o}", "source", desc, "fingerprint",
	    raw.fingerprint, "not_after", when, "names", cert_names_json(parsed.leaf)),
	    "%s holds %.16s... (expires %s)", desc, raw.fingerprint, when);
	if (strcmp(raw.fingerprint, a->good_fp) == 0) {
		o = cycle_finish(a, OUTCOME_UNCHANGED, start, timings, raw.fingerprint);
		goto out;
	}
	if (parsed.key_in_file)
		report_key_in_cert(a, raw.fingerprint);
	TEST_PAUSE("cycle.source_read");
	/* validate; a new key must also match the TLSA records (AGENT_DANE) */
	if (cert_validate(&parsed, &pol, &why, detail, sizeof(detail)) != 0 ||
	    (why = dane_gate(a, &parsed, timings, detail, sizeof(detail))) != CERT_OK) {
		/* the dates, for a rejection only the clock can lift */
		a->rejected_why = why;
		a->rejected_not_before = parsed.not_before;
		a->rejected_not_after = parsed.not_after;
		reject(raw.fingerprint, why, detail);
		*rejected_out = true;
		o = cycle_finish(a, OUTCOME_REJECTED, start, timings, raw.fingerprint);
		goto out;
	}
	TEST_PAUSE("cycle.validated");
	json_object_set_new(timings, "validate_ms", json_integer(clock_ms() - t0));

	/* back up what we would fall back to */
	t0 = clock_ms();
	have_old = load_previous(a, raw.fingerprint, &old);
	if (have_old && store_newest_backup_is(&a->ictx, old.fingerprint, bpath,
	    sizeof(bpath))) {
		/* a retry: the newest backup already holds it; keep the history */
		log_event(LOG_LEVEL_INFO, "cert.backup",
		    json_pack("{s:s, s:s, s:b}", "fingerprint", old.fingerprint, "path",
		    bpath, "reused", 1), "%.16s... is already backed up in %s",
		    old.fingerprint, bpath);
	} else if (have_old && store_backup(&a->ictx, &old, bpath, sizeof(bpath), err,
	    sizeof(err)) == 0) {
		log_event(LOG_LEVEL_INFO, "cert.backup",
		    json_pack("{s:s, s:s}", "fingerprint", old.fingerprint, "path", bpath),
		    "backed up %.16s... to %s", old.fingerprint, bpath);
	} else {
		log_event(have_old ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "cert.backup",
		    json_pack("{s:b, s:s, s:s}", "skipped", 1, "reason", have_old ? err :
		    "no earlier pair", "error", have_old ?
		    install_error_code(install_last_errno()) : "none"), have_old ? "backup failed: %s" :
		    "nothing to back up%s", have_old ? err : "");
		if (have_old) {
			/* nothing was touched; a full disk may have room later */
			a->retry_pending = true;
			o = cycle_finish(a, OUTCOME_FAILED, start, timings, raw.fingerprint);
			goto out;
		}
	}
	TEST_PAUSE("cycle.backup_done");

	/*
	 * No engine or no running front: installing now would only be undone
	 * by the rollback, flipping the pair on disk on every retry while the
	 * engine is away. Touch nothing and retry.
	 */
	if (a->src.installs) {
		/* (found once: the reload below uses these fronts) */
		if (reload_find(&a->reload, &fronts) != RELOAD_OK) {
			log_event(LOG_LEVEL_WARN, "cert.install_deferred",
			    json_pack("{s:s}", "fingerprint", raw.fingerprint),
			    "%.16s... not installed: no engine or no running front to "
			    "reload; served pair untouched", raw.fingerprint);
			a->retry_pending = true;
			o = cycle_finish(a, OUTCOME_KEPT, start, timings, raw.fingerprint);
			goto out;
		}
	}

	/* install (a pair source) or take the files where they are (certs-dir) */
	if (a->src.installs && install_commit(&a->ictx, &raw, err, sizeof(err)) != 0) {
		log_event(LOG_LEVEL_ERROR, "cert.install_failed",
		    json_pack("{s:s, s:s, s:s}", "fingerprint", raw.fingerprint,
		    "error", install_error_code(install_last_errno()), "detail", err),
		    "installing %.16s... failed, served pair untouched: %s",
		    raw.fingerprint, err);
		a->retry_pending = true;
		o = cycle_finish(a, OUTCOME_KEPT, start, timings, raw.fingerprint);
		goto out;
	}
	log_event(LOG_LEVEL_INFO, "cert.installed",
	    json_pack("{s:s, s:s, s:b}", "fingerprint", raw.fingerprint, "dir",
	    cfg->certs_dir, "in_place", !a->src.installs),
	    "%.16s... is in %s", raw.fingerprint, cfg->certs_dir);
	json_object_set_new(timings, "install_ms", json_integer(clock_ms() - t0));
	TEST_PAUSE("cycle.installed");
	if (a->src.kind == SOURCE_CERTS_DIR && !agent_disk_holds(a, raw.fingerprint)) {
		/*
		 * Served in place (certs-dir): the ACME client wrote CERTS_DIR
		 * again since these bytes were validated, or is writing it now.
		 * A reload would load files nobody validated; the newer ones get
		 * a cycle of their own, right after this one.
		 */
		log_event(LOG_LEVEL_WARN, "cycle.superseded",
		    json_pack("{s:s}", "fingerprint", raw.fingerprint),
		    "%s changed since %.16s... was validated; not reloading, the "
		    "newer files get their own cycle", cfg->certs_dir, raw.fingerprint);
		o = cycle_finish(a, OUTCOME_UNCHANGED, start, timings, raw.fingerprint);
		goto out;
	}

	/* reload and verify; anything short of every endpoint: roll back */
	reload_since = time(NULL);
	deliver_want_pair(&want, raw.fingerprint, raw.key_type);
	if (deliver_to_fronts(a, &want, true, cfg->verify_timeout_ms, &fault, timings, "",
	    &fronts) == 0 || (fault == RELOAD_FAILED &&
	    config_reload_commands_default(cfg) && deliver_served_anyway(a, &want, timings))) {
		if (store_save_current(&a->ictx, &raw, err, sizeof(err)) != 0)
			log_event(LOG_LEVEL_WARN, "state.write_failed",
			    json_pack("{s:s, s:s}", "error",
			    install_error_code(install_last_errno()), "detail", err),
			    "cannot keep the last-known-good copy: %s", err);
		memcpy(a->good_fp, raw.fingerprint, sizeof(a->good_fp));
		a->good_type = raw.key_type;
		a->good_not_before = parsed.not_before;
		a->good_not_after = parsed.not_after;
		a->retry_pending = false;
		o = cycle_finish(a, OUTCOME_ROTATED, start, timings, raw.fingerprint);
		goto out;
	}
	engine_fault = fault == RELOAD_UNAVAILABLE;
	o = rollback_to(a, &old, have_old,
	    a->src.kind == SOURCE_CERTS_DIR ? raw.fingerprint : NULL,
	    engine_fault ? "front unreachable" : "reload or verify failed", timings);
	/*
	 * A front that restarted under the reload fails its commands while
	 * it stops and starts: by now it is back (or known to be down), and
	 * that is no fault of the bundle's. Retry it like an engine fault.
	 */
	if (!engine_fault && o == OUTCOME_ROLLED_BACK &&
	    reload_restarted(&a->reload, reload_since))
		engine_fault = true;
	if (engine_fault && o == OUTCOME_ROLLED_BACK) {
		a->retry_pending = true;	/* the bundle is fine; the engine was not */
	} else {
		*rejected_out = true;
		a->retry_pending = false;
	}
	o = cycle_finish(a, o, start, timings, raw.fingerprint);
out:
	reload_targets_free(&fronts);
	install_pair_free(&raw);
	install_pair_free(&old);
	cert_pair_free(&parsed);
	return o;
}

enum outcome
cycle_rollback(struct agent *a)
{
	struct install_pair served = { 0 }, old = { 0 };
	json_t *timings = json_object();
	enum cert_reason why;
	enum outcome o;
	char err[256], path[PATH_MAX];
	long start = clock_ms();

	cycle_begin(a);
	if (install_read_served(&a->ictx, &served, &why) != 0)
		served.fingerprint[0] = '\0';
	if (store_load_backup(&a->ictx, served.fingerprint, &old, path,
	    sizeof(path), err, sizeof(err)) != 0) {
		log_event(LOG_LEVEL_ERROR, "rollback.failed",
		    json_pack("{s:s, s:s}", "reason", "no_backup", "detail", err),
		    "no backup to roll back to: %s", err);
		o = cycle_finish(a, OUTCOME_FAILED, start, timings, NULL);
		goto out;
	}
	log_event(LOG_LEVEL_INFO, "rollback.start",
	    json_pack("{s:s, s:s, s:s}", "from", served.fingerprint, "to",
	    old.fingerprint, "backup", path),
	    "rolling back to %.16s... from %s", old.fingerprint, path);
	o = rollback_to(a, &old, true, NULL, "requested", timings);
	if (o == OUTCOME_ROLLED_BACK) {
		store_save_current(&a->ictx, &old, err, sizeof(err));
		memcpy(a->good_fp, old.fingerprint, sizeof(a->good_fp));
		a->good_type = old.key_type;
	}
	o = cycle_finish(a, o, start, timings, old.fingerprint);
out:
	install_pair_free(&served);
	install_pair_free(&old);
	return o;
}

void
cycle_reject(struct agent *a, enum cert_reason why, const char *detail)
{
	char desc[PATH_MAX + 16];
	long start = clock_ms();

	cycle_begin(a);
	source_describe(&a->src, desc, sizeof(desc));
	log_event(LOG_LEVEL_INFO, "source.changed", json_pack("{s:s}", "source", desc),
	    "%s changed", desc);
	reject(NULL, why, detail);
	cycle_finish(a, OUTCOME_REJECTED, start, NULL, NULL);
}

