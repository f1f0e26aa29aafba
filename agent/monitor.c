/*
 * monitor: between rotations. Drift: is what every endpoint serves still
 * the verified pair (both lineages in the letsencrypt flavor)? If not,
 * reload and verify again. Expiry: warnings per threshold, once each.
 * And the letsencrypt flavor's renewals, which the front makes itself.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "clock.h"
#include "cycle.h"
#include "deliver.h"
#include "log.h"
#include "monitor.h"
#include "notify.h"
#include "testhook.h"

enum outcome
monitor_lineages(struct agent *a, long landed_ms)
{
	struct verify_want want;
	char when[32];
	long start = clock_ms();
	enum outcome o;

	cycle_begin(a);
	a->landed_ms = landed_ms;
	lineage_read(a->le);
	lineage_want(a->le, &want);
	for (int i = 0; i < LINEAGE_N; i++) {
		const struct lineage *l = &a->le[i];

		if (!l->ok) {
			log_event(LOG_LEVEL_WARN, "source.changed",
			    json_pack("{s:s, s:s, s:s}", "source", l->src.watch_dirs[0],
			    "lineage", l->name, "reason", cert_reason_names[l->why]),
			    "letsencrypt lineage %s: %s", l->name,
			    cert_reason_names[l->why]);
			continue;
		}
		cert_format_time(l->not_after, when);
		log_event(LOG_LEVEL_INFO, "source.changed",
		    json_pack("{s:s, s:s, s:s, s:s, s:s}", "source", l->src.watch_dirs[0],
		    "lineage", l->name, "key_type", cert_key_type_names[l->type],
		    "fingerprint", l->fp, "not_after", when),
		    "letsencrypt lineage %s holds %.16s... (%s, expires %s)", l->name,
		    l->fp, cert_key_type_names[l->type], when);
	}
	if (want.n > 0 && a->last_verified && verify_want_same(&want, &a->verified)) {
		o = cycle_finish(a, OUTCOME_UNCHANGED, start, NULL, want.e[0].fp);
		return o;
	}
	/* the front's certbot renewed: verify both key types, reload if stale */
	o = monitor_drift(a, true) == 0 && want.n > 0 ? OUTCOME_ROTATED : OUTCOME_FAILED;
	return cycle_finish(a, o, start, NULL, want.n > 0 ? want.e[0].fp : NULL);
}

int
monitor_drift(struct agent *a, bool may_heal)
{
	struct targets t = { 0 };
	struct probe_result *res = NULL;
	struct verify_summary sum = { 0 };
	struct verify_want want;
	enum reload_fault fault;
	const char *fp;
	json_t *timings;
	int rc = -1;

	agent_want(a, true, &want);
	if (want.n == 0)
		return 0;
	fp = want.e[0].fp;
	if (reload_find(&a->reload, &t) != RELOAD_OK)
		goto out;
	if ((res = calloc(t.n_eps * want.n + 1, sizeof(*res))) == NULL)
		goto out;
	verify_probe_all(t.eps, t.n_eps, &want, a->cfg->n_hostnames > 0 ?
	    a->cfg->hostnames[0] : NULL, a->cfg->probe_timeout_ms, res);
	for (size_t j = 0; j < t.n_eps * want.n; j++) {
		if (res[j].ok || want.e[j % want.n].absent)
			continue;
		/* a front still starting: give it AGENT_VERIFY_TIMEOUT to answer */
		verify_until(t.eps, t.n_eps, &want, a->cfg->n_hostnames > 0 ?
		    a->cfg->hostnames[0] : NULL, a->cfg->verify_timeout_ms,
		    a->cfg->probe_timeout_ms, res, NULL);
		break;
	}
	verify_report(t.eps, t.n_eps, &want, res, &sum);
	a->last_verified = sum.wanted > 0 && sum.matched == sum.wanted;
	if (a->last_verified)
		a->verified = want;
	if (a->last_verified || json_array_size(sum.stale) == 0 || !may_heal) {
		if (!a->last_verified && json_array_size(sum.stale) > 0)
			log_event(LOG_LEVEL_WARN, "drift.detected",
			    json_pack("{s:s, s:O, s:O, s:b}", "fingerprint", fp,
			    "stale", sum.stale, "services", sum.services, "healing", 0),
			    "%zu endpoints serve another certificate; not reloading "
			    "again yet (rate limit)", json_array_size(sum.stale));
		rc = a->last_verified ? 0 : -1;
		goto out;
	}
	if (!a->le_mode && !agent_disk_holds(a, a->good_fp)) {
		/*
		 * A reload loads what CERTS_DIR holds, and that is not the
		 * last-known-good pair (a kill between the install and the
		 * update of current/, or a certs-dir write not seen yet): a
		 * heal would load a pair nobody verified, then wait in vain for
		 * the old one. The next cycle validates, reloads and verifies it.
		 */
		log_event(LOG_LEVEL_WARN, "drift.detected",
		    json_pack("{s:s, s:O, s:O, s:b, s:s}", "fingerprint", fp,
		    "stale", sum.stale, "services", sum.services, "healing", 0,
		    "reason", "certs_dir_changed"),
		    "%zu endpoints serve another certificate; CERTS_DIR holds "
		    "another pair than %.16s..., left to the next cycle",
		    json_array_size(sum.stale), fp);
		rc = -1;
		goto out;
	}
	/* something serves an older pair: the nginx-only reload, healed here */
	{
		json_t *f = json_pack("{s:s, s:O, s:O}", "fingerprint", fp,
		    "stale", sum.stale, "services", sum.services);
		char text[2 * CERT_FP_HEX];

		notify_event("drift.detected", "endpoints serve a stale certificate", f);
		log_event(LOG_LEVEL_WARN, "drift.detected", f,
		    "%zu endpoints do not serve %s", json_array_size(sum.stale),
		    verify_want_text(&want, text, sizeof(text)));
	}
	timings = json_object();
	TEST_PHASE("drift.");
	rc = deliver_to_fronts(a, &want, true, a->cfg->verify_timeout_ms, &fault, timings, "",
	    NULL);
	if (rc == 0)
		a->verified = want;
	TEST_PHASE("");
	json_decref(timings);
	{
		char text[2 * CERT_FP_HEX];

		log_event(rc == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR,
		    rc == 0 ? "drift.healed" : "drift.failed",
		    json_pack("{s:s}", "fingerprint", fp),
		    rc == 0 ? "every endpoint serves %s again" :
		    "endpoints still do not serve %s",
		    verify_want_text(&want, text, sizeof(text)));
	}
out:
	verify_summary_free(&sum);
	free(res);
	reload_targets_free(&t);
	cycle_write_status(a, rc == 0 ? "verified" : "not verified");
	return rc;
}

/*
 * One certificate's expiry warnings: one per AGENT_EXPIRY_WARN threshold
 * crossed, once per certificate (*warned_fp, *warned remember it), and
 * one at error level once it has expired. lineage: its letsencrypt
 * lineage, or NULL for the served pair.
 */
static void
expiry_one(const struct config *cfg, const char *fp, time_t not_after,
    char warned_fp[CERT_FP_HEX + 1], int *warned, const char *lineage)
{
	long left = (long)(not_after - time(NULL));
	char when[32], thr[16];
	int crossed = 0;
	json_t *f;

	if (fp[0] == '\0' || not_after == 0)
		return;
	if (strcmp(warned_fp, fp) != 0) {
		/* a new certificate starts with no warnings given */
		memcpy(warned_fp, fp, CERT_FP_HEX + 1);
		*warned = 0;
	}
	/* thresholds are descending: count how many this pair is inside */
	while ((size_t)crossed < cfg->n_expiry_warn &&
	    left <= cfg->expiry_warn_s[crossed])
		crossed++;
	cert_format_time(not_after, when);
	for (; *warned < crossed; (*warned)++) {
		check_format_duration(cfg->expiry_warn_s[*warned], thr, sizeof(thr));
		f = json_pack("{s:s, s:s, s:b, s:s, s:f}", "fingerprint", fp,
		    "not_after", when, "expired", 0, "threshold", thr, "days_left",
		    (double)left / 86400.0);
		if (lineage != NULL)
			json_object_set_new(f, "lineage", json_string(lineage));
		notify_event("expiry.warning", "the served certificate expires soon", f);
		log_event(LOG_LEVEL_WARN, "expiry.warning", f,
		    "the served certificate%s%s expires within %s (%s)",
		    lineage ? " " : "", lineage ? lineage : "", thr, when);
	}
	if (left <= 0 && *warned <= (int)cfg->n_expiry_warn) {
		*warned = (int)cfg->n_expiry_warn + 1;
		f = json_pack("{s:s, s:s, s:b, s:s, s:f}", "fingerprint", fp,
		    "not_after", when, "expired", 1, "threshold", "expired",
		    "days_left", (double)left / 86400.0);
		if (lineage != NULL)
			json_object_set_new(f, "lineage", json_string(lineage));
		notify_event("expiry.warning", "the served certificate has expired", f);
		log_event(LOG_LEVEL_ERROR, "expiry.warning", f,
		    "the served certificate%s%s expired at %s", lineage ? " " : "",
		    lineage ? lineage : "", when);
	}
}

void
monitor_expiry(struct agent *a)
{
	if (!a->le_mode) {
		expiry_one(a->cfg, a->good_fp, a->good_not_after, a->warned_fp,
		    &a->warned, NULL);
		return;
	}
	/* letsencrypt: each lineage its own (the last read's dates) */
	for (int i = 0; i < LINEAGE_N; i++)
		if (a->le[i].ok)
			expiry_one(a->cfg, a->le[i].fp, a->le[i].not_after,
			    a->le[i].warned_fp, &a->le[i].warned, a->le[i].name);
}
