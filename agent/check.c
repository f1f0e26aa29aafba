/*
 * check: the question admins ask after a renewal — "does every port
 * serve the certificate on disk?" — answered per endpoint, with the
 * daemon (nginx or dovecot) to blame when one group is stale.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cert.h"
#include "check.h"
#include "clock.h"
#include "log.h"
#include "probe.h"
#include "verify.h"

/* Mailu's certbot writes here for the letsencrypt flavors. */
#define LE_DIR "letsencrypt/live/mailu"

void
check_installed_paths(const struct config *cfg, char *dir, size_t dlen,
    const char **cert_name, const char **key_name)
{
	if (cfg->flavor == FLAVOR_LETSENCRYPT ||
	    cfg->flavor == FLAVOR_MAIL_LETSENCRYPT) {
		snprintf(dir, dlen, "%s/%s", cfg->certs_dir, LE_DIR);
		*cert_name = "fullchain.pem";
		*key_name = "privkey.pem";
	} else {
		snprintf(dir, dlen, "%s", cfg->certs_dir);
		*cert_name = cfg->cert_filename;
		*key_name = cfg->key_filename;
	}
}

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

	check_installed_paths(cfg, dir, sizeof(dir), &cname, &kname);
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

/* Expiry of the installed certificate against the thresholds. */
static enum check_status
check_expiry(const struct config *cfg, const struct cert_pair *pair)
{
	time_t now = time(NULL);
	long left = (long)(pair->not_after - now);
	char when[32], thr[16];

	cert_format_time(pair->not_after, when);
	if (left <= 0) {
		log_event(LOG_LEVEL_ERROR, "expiry.warning",
		    json_pack("{s:s, s:s, s:b, s:f}", "fingerprint",
		    pair->fingerprint, "not_after", when, "expired", 1,
		    "days_left", (double)left / 86400.0),
		    "installed certificate expired at %s", when);
		return CHECK_CRITICAL;
	}
	if (cfg->n_expiry_warn > 0 && left <= cfg->expiry_warn_s[0]) {
		long t = cfg->expiry_warn_s[0];

		/* report the tightest threshold crossed */
		for (size_t i = 0; i < cfg->n_expiry_warn; i++)
			if (left <= cfg->expiry_warn_s[i])
				t = cfg->expiry_warn_s[i];
		check_format_duration(t, thr, sizeof(thr));
		log_event(LOG_LEVEL_WARN, "expiry.warning",
		    json_pack("{s:s, s:s, s:b, s:s, s:f}", "fingerprint",
		    pair->fingerprint, "not_after", when, "expired", 0,
		    "threshold", thr, "days_left", (double)left / 86400.0),
		    "installed certificate expires within %s (%s)", thr, when);
		return CHECK_WARNING;
	}
	return CHECK_OK;
}

enum check_status
check_run(const struct config *cfg, const struct endpoint *eps, size_t n)
{
	struct probe_result results[256];
	struct cert_pair pair = { 0 };
	enum check_status status = CHECK_OK, exp;
	struct verify_summary sum;
	bool have_pair, key_ok, exposed;
	const char *sni = cfg->n_hostnames > 0 ? cfg->hostnames[0] : NULL;
	long start = clock_ms();

	if (cfg->flavor == FLAVOR_NOTLS) {
		log_event(LOG_LEVEL_INFO, "check.done",
		    json_pack("{s:s, s:i}", "status", "ok", "exit_code", 0),
		    "TLS_FLAVOR=notls: nothing to verify");
		return CHECK_OK;
	}
	if (n > sizeof(results) / sizeof(results[0]))
		n = sizeof(results) / sizeof(results[0]);
	have_pair = check_installed(cfg, &pair, &key_ok, &exposed) == 0;
	if (!have_pair || !key_ok)
		status = CHECK_CRITICAL;
	else if (exposed)
		status = CHECK_WARNING;

	verify_probe_all(eps, n, sni, cfg->probe_timeout_ms, results);

	verify_report(eps, n, results, have_pair ? pair.fingerprint : NULL, &sum);
	if (sum.matched < n)
		status = CHECK_CRITICAL;
	if (have_pair) {
		exp = check_expiry(cfg, &pair);
		if (exp > status)
			status = exp;
	}
	log_event(status == CHECK_OK ? LOG_LEVEL_INFO :
	    status == CHECK_WARNING ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
	    "check.done",
	    json_pack("{s:s, s:i, s:I, s:I, s:O, s:O, s:O, s:I}", "status",
	    status == CHECK_OK ? "ok" : status == CHECK_WARNING ? "warning" :
	    "critical", "exit_code", (int)status, "endpoints", (json_int_t)n,
	    "matched", (json_int_t)sum.matched, "stale", sum.stale, "unreachable",
	    sum.unreachable, "services", sum.services, "ms",
	    (json_int_t)(clock_ms() - start)),
	    "%zu of %zu endpoints serve the installed certificate", sum.matched, n);
	verify_summary_free(&sum);
	cert_pair_free(&pair);
	return status;
}
