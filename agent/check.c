/*
 * check: the question admins ask after a renewal — "does every port
 * serve the certificate on disk?" — answered per endpoint, with the
 * daemon (nginx or dovecot) to blame when one group is stale.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cert.h"
#include "check.h"
#include "clock.h"
#include "lineage.h"
#include "log.h"
#include "probe.h"
#include "verify.h"

void
check_format_duration(long s, char *out, size_t len)
{
	if (s % 86400 == 0)
		snprintf(out, len, "%ldd", s / 86400);
	else if (s % 3600 == 0)
		snprintf(out, len, "%ldh", s / 3600);
	else if (s % 60 == 0)
		snprintf(out, len, "%ldm", s / 60);
	else
		snprintf(out, len, "%lds", s);
}

/*
 * The installed cert file also holds a private key (a combined PEM an
 * ACME client wrote there) that group or others may read: a warning.
 */
static bool
key_exposed(const char *dir, const char *cname, const struct cert_pair *pair)
{
	char path[PATH_MAX];
	struct stat st;

	if (!pair->key_in_file)
		return false;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, cname) >= sizeof(path) ||
	    stat(path, &st) != 0 || (st.st_mode & 044) == 0)
		return false;
	log_event(LOG_LEVEL_WARN, "check.key_exposed", json_pack("{s:s, s:s, s:s}",
	    "reason", "key_in_certificate", "file", path, "mode",
	    (st.st_mode & 04) != 0 ? "world-readable" : "group-readable"),
	    "%s holds a private key and others can read it: have the ACME "
	    "client write the key to its own file", path);
	return true;
}

/*
 * Loads and describes the installed pair; -1 if it cannot be a reference.
 * *exposed: its cert file holds a key that others may read.
 */
static int
check_installed(const struct config *cfg, struct cert_pair *pair,
    bool *key_ok, bool *exposed)
{
	char dir[PATH_MAX], when[32];
	const char *cname, *kname;
	enum cert_reason why;
	json_t *f;

	snprintf(dir, sizeof(dir), "%s", cfg->certs_dir);
	cname = cfg->cert_filename;
	kname = cfg->key_filename;
	*key_ok = false;
	*exposed = false;
	if (cert_pair_load(dir, cname, NULL, pair, &why) != 0) {
		log_event(LOG_LEVEL_ERROR, "check.installed",
		    json_pack("{s:s, s:s, s:s}", "dir", dir, "file", cname,
		    "reason", cert_reason_names[why]),
		    "installed certificate %s/%s: %s", dir, cname,
		    cert_reason_names[why]);
		return -1;
	}
	*exposed = key_exposed(dir, cname, pair);
	/* The key is loaded separately: a bad key must not hide the cert. */
	if (cert_pair_load_key(dir, kname, pair, &why) == 0) {
		*key_ok = cert_key_matches(pair);
		if (!*key_ok)
			why = CERT_KEY_MISMATCH;
	}
	cert_format_time(pair->not_after, when);
	f = json_pack("{s:s, s:s, s:s, s:o, s:b}", "fingerprint",
	    pair->fingerprint, "not_after", when, "file", cname, "names",
	    cert_names_json(pair->leaf), "key_match", *key_ok);
	if (!*key_ok)
		json_object_set_new(f, "reason", json_string(cert_reason_names[why]));
	log_event(*key_ok ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "check.installed", f,
	    *key_ok ? "installed certificate %.16s... expires %s" :
	    "installed certificate %.16s... does not match its key (%s)",
	    pair->fingerprint, *key_ok ? when : cert_reason_names[why]);
	return 0;
}

/*
 * Expiry of an installed certificate against the thresholds; lineage
 * names the letsencrypt lineage it is, NULL for the certs dir's pair.
 */
static enum check_status
check_expiry(const struct config *cfg, const char *fp, time_t not_after,
    const char *lineage)
{
	time_t now = time(NULL);
	long left = (long)(not_after - now);
	char when[32], thr[16];
	json_t *f;

	cert_format_time(not_after, when);
	if (left <= 0) {
		f = json_pack("{s:s, s:s, s:b, s:f}", "fingerprint", fp, "not_after",
		    when, "expired", 1, "days_left", (double)left / 86400.0);
		if (lineage != NULL)
			json_object_set_new(f, "lineage", json_string(lineage));
		log_event(LOG_LEVEL_ERROR, "expiry.warning", f,
		    "installed certificate%s%s expired at %s", lineage ? " " : "",
		    lineage ? lineage : "", when);
		return CHECK_CRITICAL;
	}
	if (cfg->n_expiry_warn > 0 && left <= cfg->expiry_warn_s[0]) {
		long t = cfg->expiry_warn_s[0];

		/* report the tightest threshold crossed */
		for (size_t i = 0; i < cfg->n_expiry_warn; i++)
			if (left <= cfg->expiry_warn_s[i])
				t = cfg->expiry_warn_s[i];
		check_format_duration(t, thr, sizeof(thr));
		f = json_pack("{s:s, s:s, s:b, s:s, s:f}", "fingerprint", fp,
		    "not_after", when, "expired", 0, "threshold", thr, "days_left",
		    (double)left / 86400.0);
		if (lineage != NULL)
			json_object_set_new(f, "lineage", json_string(lineage));
		log_event(LOG_LEVEL_WARN, "expiry.warning", f,
		    "installed certificate%s%s expires within %s (%s)",
		    lineage ? " " : "", lineage ? lineage : "", thr, when);
		return CHECK_WARNING;
	}
	return CHECK_OK;
}

/*
 * The letsencrypt flavor: what both lineages hold, one check.installed
 * each. Returns how many were read (their entries are in want).
 */
static size_t
check_lineages(const struct config *cfg, struct lineage le[LINEAGE_N],
    struct verify_want *want)
{
	char err[256], when[32];
	size_t ok;

	want->n = 0;
	if (lineage_init(le, cfg, err, sizeof(err)) != 0) {
		log_event(LOG_LEVEL_ERROR, "check.installed", json_pack("{s:s}",
		    "reason", err), "letsencrypt lineages: %s", err);
		return 0;
	}
	ok = lineage_read(le);
	for (int i = 0; i < LINEAGE_N; i++) {
		if (!le[i].ok) {
			log_event(LOG_LEVEL_ERROR, "check.installed",
			    json_pack("{s:s, s:s, s:s}", "lineage", le[i].name, "file",
			    le[i].src.cert_path, "reason", cert_reason_names[le[i].why]),
			    "letsencrypt lineage %s: %s", le[i].name,
			    cert_reason_names[le[i].why]);
			continue;
		}
		cert_format_time(le[i].not_after, when);
		log_event(LOG_LEVEL_INFO, "check.installed",
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "lineage", le[i].name,
		    "key_type", cert_key_type_names[le[i].type], "fingerprint", le[i].fp,
		    "not_after", when, "file", le[i].src.cert_path, "key_match", 1),
		    "letsencrypt lineage %s (%s): %.16s... expires %s", le[i].name,
		    cert_key_type_names[le[i].type], le[i].fp, when);
	}
	lineage_want(le, want);
	return ok;
}

enum check_status
check_run(const struct config *cfg, const struct endpoint *eps, size_t n)
{
	struct probe_result *results = NULL;
	struct cert_pair pair = { 0 };
	struct lineage le[LINEAGE_N];
	enum check_status status = CHECK_OK, exp;
	struct verify_summary sum = { 0 };
	struct verify_want want = { 0 };
	bool le_flavor = lineage_flavor(cfg), have_pair = false, key_ok = false,
	    exposed = false;
	const char *sni = cfg->n_hostnames > 0 ? cfg->hostnames[0] : NULL;
	long start = clock_ms();

	if (cfg->flavor == FLAVOR_NOTLS) {
		log_event(LOG_LEVEL_INFO, "check.done",
		    json_pack("{s:s, s:i}", "status", "ok", "exit_code", 0),
		    "TLS_FLAVOR=notls: nothing to verify");
		return CHECK_OK;
	}
	memset(le, 0, sizeof(le));
	if (le_flavor) {
		/* both lineages, each by its own key type */
		if (check_lineages(cfg, le, &want) < LINEAGE_N)
			status = CHECK_CRITICAL;
	} else {
		have_pair = check_installed(cfg, &pair, &key_ok, &exposed) == 0;
		if (!have_pair || !key_ok)
			status = CHECK_CRITICAL;
		else if (exposed)
			status = CHECK_WARNING;
		if (have_pair) {
			enum cert_key_type t = cert_key_type_of(pair.leaf);

			verify_want_add(&want, t, pair.fingerprint);
			/* a second key type the certs dir does not hold: a warning */
			if (t != CERT_KEY_ANY)
				verify_want_add(&want, t == CERT_KEY_RSA ? CERT_KEY_ECDSA :
				    CERT_KEY_RSA, "")->absent = true;
		}
	}
	if (want.n == 0)	/* nothing to compare with: report what is served */
		verify_want_add(&want, CERT_KEY_ANY, "");
	if ((results = calloc(n * want.n + 1, sizeof(*results))) == NULL)
		status = CHECK_CRITICAL;
	else
		verify_probe_all(eps, n, &want, sni, cfg->probe_timeout_ms, results);
	verify_report(eps, results != NULL ? n : 0, &want, results, &sum);
	if (sum.matched < sum.wanted || sum.wanted == 0)
		status = CHECK_CRITICAL;
	for (int i = 0; le_flavor && i < LINEAGE_N; i++)
		if (le[i].ok && (exp = check_expiry(cfg, le[i].fp, le[i].not_after,
		    le[i].name)) > status)
			status = exp;
	if (have_pair && (exp = check_expiry(cfg, pair.fingerprint, pair.not_after,
	    NULL)) > status)
		status = exp;
	log_event(status == CHECK_OK ? LOG_LEVEL_INFO :
	    status == CHECK_WARNING ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
	    "check.done",
	    json_pack("{s:s, s:i, s:I, s:I, s:I, s:O, s:O, s:O, s:O, s:I}", "status",
	    status == CHECK_OK ? "ok" : status == CHECK_WARNING ? "warning" :
	    "critical", "exit_code", (int)status, "endpoints", (json_int_t)n,
	    "probes", (json_int_t)sum.wanted, "matched", (json_int_t)sum.matched,
	    "stale", sum.stale, "unreachable", sum.unreachable, "services",
	    sum.services, "extra_key_type", sum.extra, "ms",
	    (json_int_t)(clock_ms() - start)),
	    "%zu of %zu endpoint probes serve the installed certificate%s",
	    sum.matched, sum.wanted, le_flavor ? "s" : "");
	verify_summary_free(&sum);
	free(results);
	cert_pair_free(&pair);
	if (le_flavor)
		lineage_free(le);
	return status;
}
