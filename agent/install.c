/*
 * install: the only module that writes into CERTS_DIR. Every file is
 * written beside its target under a temp name and renamed over it; the
 * journal in the state dir records the intent before the first rename,
 * so a restart after kill -9 finishes or undoes it (install.h). What
 * else the state dir holds (backups/, current/) is store's.
 *
 * Targets that are symlinks are replaced by regular files: rename swaps
 * the directory entry and never writes through the link, so nothing
 * outside CERTS_DIR is touched. That is intended.
 *
 * Everything here works on directory fds (openat, renameat) opened once,
 * and every public function except install_read_served holds an
 * exclusive flock on the state dir (store_open), so a `once` from a
 * deploy hook and the daemon never interleave their steps.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cert.h"
#include "fsutil.h"
#include "install.h"
#include "log.h"
#include "store.h"
#include "testhook.h"

#define JOURNAL		"journal"
#define JOURNAL_TMP	".journal.mca-new"
#define JOURNAL_MAX	(64 * 1024)
#define JOURNAL_VERSION	1
#define TMP_SUFFIX	".mca-new"

/* The temp names of one install, beside their targets in CERTS_DIR. */
struct names {
	char cert_tmp[NAME_MAX + 1];
	char key_tmp[NAME_MAX + 1];
};

/* What a valid journal promises about the temp files. */
struct journal {
	char fp[CERT_FP_HEX + 1];	/* leaf of the temp cert */
	char key_sha256[CERT_FP_HEX + 1];	/* bytes of the temp key */
	char replaces[CERT_FP_HEX + 1];	/* install_commit_over's expect, "" none */
};

static int recover_locked(const struct install_ctx *, int, bool,
    enum install_recovery *, char *, size_t, char *, size_t);
static int served_fp(const struct install_ctx *, char[CERT_FP_HEX + 1]);

int
install_last_errno(void)
{
	return fsutil_last_errno();
}

const char *
install_error_code(int e)
{
	switch (e) {
	case 0:
		return "invalid";
	case ENOSPC:
	case EDQUOT:
		return "no_space";
	case EROFS:
		return "read_only";
	case EACCES:
	case EPERM:
		return "permission_denied";
	case ELOOP:
	case ENOTDIR:
		return "symlink_refused";
	default:
		return "io_error";
	}
}

static int
sha256_hex(const unsigned char *buf, size_t len, char out[CERT_FP_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -1;
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* A plain name: no path, no dot entry, room left for the temp name. */
static bool
plain_name(const char *s)
{
	return s != NULL && s[0] != '\0' && strchr(s, '/') == NULL &&
	    strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	    strlen(s) + sizeof(TMP_SUFFIX) + 1 <= NAME_MAX;
}

static int
names_of(const struct install_ctx *ctx, struct names *n, char *err,
    size_t errlen)
{
	if (!plain_name(ctx->cert_name) || !plain_name(ctx->key_name) ||
	    strcmp(ctx->cert_name, ctx->key_name) == 0 ||
	    snprintf(n->cert_tmp, sizeof(n->cert_tmp), ".%s" TMP_SUFFIX,
	    ctx->cert_name) >= (int)sizeof(n->cert_tmp) ||
	    snprintf(n->key_tmp, sizeof(n->key_tmp), ".%s" TMP_SUFFIX,
	    ctx->key_name) >= (int)sizeof(n->key_tmp)) {
		errno = 0;
		return fsutil_fail(err, errlen, "cert and key must be two plain "
		    "file names");
	}
	return 0;
}

/* Parses both halves into cp (the caller frees it), which must match. */
static int
pair_parse(const unsigned char *cert, size_t clen, const unsigned char *key,
    size_t klen, struct cert_pair *cp, enum cert_reason *why)
{
	memset(cp, 0, sizeof(*cp));
	if (cert_parse_chain(cert, clen, cp, why) != 0 ||
	    cert_parse_key(key, klen, cp, why) != 0)
		return -1;
	if (!cert_key_matches(cp)) {
		*why = CERT_KEY_MISMATCH;
		return -1;
	}
	return 0;
}

/*
 * Parses both halves, checks they belong together and names the leaf:
 * nothing is written, and nothing read back is trusted, without this.
 */
static int
pair_check(const unsigned char *cert, size_t clen, const unsigned char *key,
    size_t klen, char fp[CERT_FP_HEX + 1], enum cert_reason *why)
{
	struct cert_pair cp;
	int rc;

	if ((rc = pair_parse(cert, clen, key, klen, &cp, why)) == 0)
		memcpy(fp, cp.fingerprint, CERT_FP_HEX + 1);
	cert_pair_free(&cp);
	return rc;
}

int
install_pair_keep_certificates(struct install_pair *p, const struct cert_pair *cp)
{
	unsigned char *pem;
	size_t len;

	if (cert_chain_pem(cp, &pem, &len) != 0)
		return -1;
	cert_buf_free(&p->cert_pem, p->cert_len);
	p->cert_pem = pem;
	p->cert_len = len;
	memcpy(p->fingerprint, cp->fingerprint, sizeof(p->fingerprint));
	p->key_type = cert_key_type_of(cp->leaf);
	return 0;
}

int
install_pair_adopt(struct install_pair *p, enum cert_reason *why)
{
	struct cert_pair cp;
	int rc;

	rc = pair_parse(p->cert_pem, p->cert_len, p->key_pem, p->key_len, &cp, why);
	if (rc == 0 && (rc = install_pair_keep_certificates(p, &cp)) != 0)
		*why = CERT_UNREADABLE;
	cert_pair_free(&cp);
	return rc;
}

/* Reads dir/name, bounded and confined to dir. */
static int
read_in(const char *dir, const char *name, size_t max, unsigned char **buf,
    size_t *len, enum cert_reason *why)
{
	char path[PATH_MAX];

	*buf = NULL;
	*len = 0;
	*why = CERT_UNREADABLE;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -1;
	return cert_read_file(path, dir, max, buf, len, why);
}

/* Reads dir/cname + dir/kname as one pair that must match. */
static int
pair_read_dir(const char *dir, const char *cname, const char *kname,
    struct install_pair *out, enum cert_reason *why)
{
	memset(out, 0, sizeof(*out));
	if (read_in(dir, cname, CERT_FILE_MAX, &out->cert_pem, &out->cert_len,
	    why) == 0 && read_in(dir, kname, CERT_FILE_MAX, &out->key_pem,
	    &out->key_len, why) == 0 && install_pair_adopt(out, why) == 0)
		return 0;
	install_pair_free(out);
	return -1;
}

void
install_pair_free(struct install_pair *p)
{
	if (p == NULL)
		return;
	cert_buf_free(&p->cert_pem, p->cert_len);
	cert_buf_free(&p->key_pem, p->key_len);
	memset(p, 0, sizeof(*p));
}

int
install_read_served(const struct install_ctx *ctx, struct install_pair *out,
    enum cert_reason *why)
{
	return pair_read_dir(ctx->certs_dir, ctx->cert_name, ctx->key_name,
	    out, why);
}

/* Records the intent: temp file, fsync, rename, fsync of the state dir. */
static int
journal_write(const struct install_ctx *ctx, int sfd, const struct names *n,
    const char *fp, const char *key_sha256, const char *replaces, char *err,
    size_t errlen)
{
	char when[32], *text = NULL;
	json_t *j;
	int rc = -1;

	log_format_time(when);
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "version", JOURNAL_VERSION, "op", "install", "certs_dir",
	    ctx->certs_dir, "cert", ctx->cert_name, "key", ctx->key_name, "cert_tmp",
	    n->cert_tmp, "key_tmp", n->key_tmp, "fingerprint", fp,
	    "key_sha256", key_sha256, "time", when);
	if (j != NULL && replaces != NULL)
		json_object_set_new(j, "replaces", json_string(replaces));
	if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL) {
		fsutil_fail(err, errlen, "journal: out of memory (or non-UTF-8 path)");
		goto out;
	}
	if (fsutil_write_new_at(sfd, JOURNAL_TMP, (unsigned char *)text, strlen(text),
	    0600, (uid_t)-1, (gid_t)-1, err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.journal_temp_written");
	if (renameat(sfd, JOURNAL_TMP, sfd, JOURNAL) != 0) {
		fsutil_fail(err, errlen, "journal rename: %s", strerror(errno));
		(void)unlinkat(sfd, JOURNAL_TMP, 0);
		goto out;
	}
	rc = fsutil_sync_dir(sfd, "state dir", err, errlen);
out:
	free(text);
	json_decref(j);
	return rc;
}

static int
journal_remove(int sfd, char *err, size_t errlen)
{
	if (unlinkat(sfd, JOURNAL, 0) != 0 && errno != ENOENT)
		return fsutil_fail(err, errlen, "remove journal: %s", strerror(errno));
	return fsutil_sync_dir(sfd, "state dir", err, errlen);
}

/*
 * 1: a valid journal for these names; 0: no journal; -1: a journal that
 * can't be trusted (err says why). Bounded, and every field checked.
 */
static int
journal_read(const struct install_ctx *ctx, int sfd, const struct names *n,
    struct journal *jr, char *err, size_t errlen)
{
	const char *op, *c, *k, *ct, *kt, *fp, *kh, *rp = NULL;
	unsigned char *buf = NULL;
	enum cert_reason why;
	json_error_t jerr;
	json_t *j = NULL;
	size_t len = 0;
	int v, rc = -1;

	if (!fsutil_exists(sfd, JOURNAL))
		return 0;
	/* never through a link planted at its name */
	if (cert_read_at(sfd, JOURNAL, JOURNAL_MAX, &buf, &len, &why) != 0) {
		errno = 0;
		return fsutil_fail(err, errlen, "journal: %s",
		    why == CERT_SYMLINK_ESCAPE ? "a symlink, not ours" :
		    cert_reason_names[why]);
	}
	if ((j = json_loadb((char *)buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		fsutil_fail(err, errlen, "journal: not JSON (%s)", jerr.text);
		goto out;
	}
	if (json_unpack(j, "{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s?s}", "version",
	    &v, "op", &op, "cert", &c, "key", &k, "cert_tmp", &ct, "key_tmp",
	    &kt, "fingerprint", &fp, "key_sha256", &kh, "replaces", &rp) != 0 ||
	    v != JOURNAL_VERSION || strcmp(op, "install") != 0) {
		fsutil_fail(err, errlen, "journal: missing fields or unknown version");
		goto out;
	}
	/* Only ever rename the names this config derives, whatever it says. */
	if (strcmp(c, ctx->cert_name) != 0 || strcmp(k, ctx->key_name) != 0 ||
	    strcmp(ct, n->cert_tmp) != 0 || strcmp(kt, n->key_tmp) != 0 ||
	    !fsutil_is_hex(fp, CERT_FP_HEX) || !fsutil_is_hex(kh, CERT_FP_HEX) ||
	    (rp != NULL && !fsutil_is_hex(rp, CERT_FP_HEX))) {
		fsutil_fail(err, errlen, "journal: names or digests do not fit");
		goto out;
	}
	memcpy(jr->fp, fp, CERT_FP_HEX + 1);
	memcpy(jr->key_sha256, kh, CERT_FP_HEX + 1);
	snprintf(jr->replaces, sizeof(jr->replaces), "%s", rp != NULL ? rp : "");
	rc = 1;
out:
	json_decref(j);
	cert_buf_free(&buf, len);
	return rc;
}

/* True when temp file dfd/name is a plain file whose content the journal names. */
static bool
temp_matches(int dfd, const char *name, bool is_key, const char *want)
{
	char got[CERT_FP_HEX + 1];
	unsigned char *buf = NULL;
	struct cert_pair cp;
	enum cert_reason why;
	struct stat st;
	size_t len = 0;
	bool ok = false;

	memset(&cp, 0, sizeof(cp));
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode) || (is_key && (st.st_mode & 077) != 0))
		return false;
	if (cert_read_at(dfd, name, CERT_FILE_MAX, &buf, &len, &why) != 0)
		return false;
	if (is_key)
		ok = sha256_hex(buf, len, got) == 0 && strcmp(got, want) == 0;
	else
		ok = cert_parse_chain(buf, len, &cp, &why) == 0 &&
		    strcmp(cp.fingerprint, want) == 0;
	cert_pair_free(&cp);
	cert_buf_free(&buf, len);
	return ok;
}

/* 0 installed, -1 failed, 1 CERTS_DIR no longer held expect (untouched) */
static int
commit_locked(const struct install_ctx *ctx, int sfd,
    const struct install_pair *p, const char *expect, bool nested, char *err,
    size_t errlen)
{
	char key_sha256[CERT_FP_HEX + 1], fp[CERT_FP_HEX + 1], scratch[128],
	    cur[CERT_FP_HEX + 1];
	enum install_recovery what;
	enum cert_reason why;
	bool journaled = false, key_moved = false;
	struct names n;
	int dfd = -1, rc = -1;

	if (names_of(ctx, &n, err, errlen) != 0)
		return -1;
	/* Invariant 1 starts here: never write a pair that doesn't match. */
	errno = 0;
	if (pair_check(p->cert_pem, p->cert_len, p->key_pem, p->key_len, fp,
	    &why) != 0)
		return fsutil_fail(err, errlen, "refusing to install: %s",
		    cert_reason_names[why]);
	if (strcmp(fp, p->fingerprint) != 0)
		return fsutil_fail(err, errlen, "refusing to install: fingerprint is "
		    "not the leaf's");
	if (sha256_hex(p->key_pem, p->key_len, key_sha256) != 0)
		return fsutil_fail(err, errlen, "sha256 failed");
	dfd = open(ctx->certs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fsutil_fail(err, errlen, "certs dir %s: %s", ctx->certs_dir,
		    strerror(errno));

	/* 1. Both files complete and durable under temp names. */
	if (fsutil_write_new_at(dfd, n.key_tmp, p->key_pem, p->key_len, 0600,
	    ctx->owner, ctx->group, err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.key_temp_written");
	if (fsutil_write_new_at(dfd, n.cert_tmp, p->cert_pem, p->cert_len, 0644,
	    ctx->owner, ctx->group, err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.temp_written");
	/* 2. The intent, durable before anything served changes. */
	if (journal_write(ctx, sfd, &n, fp, key_sha256, expect, err, errlen) != 0)
		goto out;
	journaled = true;
	TEST_PAUSE("install.journal_written");
	/*
	 * 2b. Replacing a pair someone else writes (a certs-dir rollback):
	 * if it changed since (the ACME client wrote again, or is writing),
	 * theirs is newer; never put ours over it. Checked last before the
	 * first rename; nothing served has changed yet.
	 */
	if (expect != NULL && (served_fp(ctx, cur) != 0 || strcmp(cur, expect) != 0)) {
		fsutil_fail(err, errlen, "%s no longer holds %.16s...: changed by "
		    "someone else", ctx->certs_dir, expect);
		rc = 1;
		goto out;
	}
	/* 3. Key first: a new key beside the old cert is what recovery expects. */
	if (renameat(dfd, n.key_tmp, dfd, ctx->key_name) != 0) {
		fsutil_fail(err, errlen, "rename %s: %s", ctx->key_name,
		    strerror(errno));
		goto out;
	}
	key_moved = true;
	TEST_PAUSE("install.key_renamed");
	if (renameat(dfd, n.cert_tmp, dfd, ctx->cert_name) != 0) {
		fsutil_fail(err, errlen, "rename %s: %s", ctx->cert_name,
		    strerror(errno));
		goto out;
	}
	TEST_PAUSE("install.cert_renamed");
	/* 4. The renames durable, and only then 5. forget the intent. */
	if (fsutil_sync_dir(dfd, "certs dir", err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.dir_synced");
	if (journal_remove(sfd, err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.journal_removed");
	rc = 0;
out:
	if (rc != 0 && !key_moved) {
		/* Nothing served changed: drop the temps, then the intent. */
		(void)unlinkat(dfd, n.key_tmp, 0);
		(void)unlinkat(dfd, n.cert_tmp, 0);
		(void)fsync(dfd);
		if (journaled)
			(void)journal_remove(sfd, scratch, sizeof(scratch));
	} else if (rc != 0) {
		char rerr[256] = "", rfp[CERT_FP_HEX + 1];
		size_t used = strlen(err);

		/* Half-way: let the journal finish it, as after a crash. */
		if (recover_locked(ctx, sfd, !nested, &what, rfp, sizeof(rfp),
		    rerr, sizeof(rerr)) == 0)
			snprintf(err + used, errlen - used, "; recovered (%s), "
			    "serving %.16s", what == INSTALL_RECOVERY_FINISHED ?
			    "finished" : "undone", rfp);
		else
			snprintf(err + used, errlen - used, "; recovery: %s", rerr);
	}
	close(dfd);
	return rc;
}

int
install_commit(const struct install_ctx *ctx, const struct install_pair *p,
    char *err, size_t errlen)
{
	return install_commit_over(ctx, p, NULL, err, errlen);
}

int
install_commit_over(const struct install_ctx *ctx, const struct install_pair *p,
    const char *expect, char *err, size_t errlen)
{
	int sfd, rc = -1;

	if (store_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	/* A pending journal belongs to an install only recovery may touch. */
	if (fsutil_exists(sfd, JOURNAL)) {
		errno = 0;
		fsutil_fail(err, errlen, "an interrupted install is pending: "
		    "recover first");
	} else
		rc = commit_locked(ctx, sfd, p, expect, false, err, errlen);
	close(sfd);
	return rc;
}

/* The served pair's fingerprint if it is readable and matches its key. */
static int
served_fp(const struct install_ctx *ctx, char fp[CERT_FP_HEX + 1])
{
	struct install_pair cur;
	enum cert_reason why;

	if (install_read_served(ctx, &cur, &why) != 0)
		return -1;
	memcpy(fp, cur.fingerprint, CERT_FP_HEX + 1);
	install_pair_free(&cur);
	return 0;
}

static int
recover_locked(const struct install_ctx *ctx, int sfd, bool may_restore,
    enum install_recovery *what, char *fp_out, size_t fp_len, char *err,
    size_t errlen)
{
	char fp[CERT_FP_HEX + 1] = "", jerr[200] = "";
	struct install_pair lkg;
	struct journal jr;
	struct names n;
	bool kt, ct;
	int dfd = -1, jstate, rc = -1;

	*what = INSTALL_RECOVERY_NONE;
	if (fp_len > 0)
		fp_out[0] = '\0';
	err[0] = '\0';
	if (names_of(ctx, &n, err, errlen) != 0)
		return -1;
	if ((dfd = open(ctx->certs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return fsutil_fail(err, errlen, "certs dir %s: %s", ctx->certs_dir,
		    strerror(errno));
	store_settle_current(sfd);
	(void)unlinkat(sfd, JOURNAL_TMP, 0);
	jstate = journal_read(ctx, sfd, &n, &jr, jerr, sizeof(jerr));
	kt = fsutil_exists(dfd, n.key_tmp);
	ct = fsutil_exists(dfd, n.cert_tmp);
	if (jstate == 0) {
		/* Temps without a journal: killed before the intent, nothing renamed. */
		(void)unlinkat(dfd, n.key_tmp, 0);
		(void)unlinkat(dfd, n.cert_tmp, 0);
		if ((kt || ct) && fsutil_sync_dir(dfd, "certs dir", err, errlen) != 0)
			goto out;
		if (served_fp(ctx, fp) == 0 && fp_len > 0)
			snprintf(fp_out, fp_len, "%s", fp);
		rc = 0;
		goto out;
	}
	*what = INSTALL_RECOVERY_UNDONE;
	if (jstate < 0) {
		/* An intent we can't read is never acted on: undo what we can. */
		log_event(LOG_LEVEL_ERROR, "install.journal_invalid",
		    json_pack("{s:s}", "error", jerr), "%s; undoing", jerr);
	} else if (jr.replaces[0] != '\0' && served_fp(ctx, fp) == 0 &&
	    strcmp(fp, jr.replaces) != 0 && strcmp(fp, jr.fp) != 0) {
		/*
		 * It replaced a pair someone else writes (install_commit_over),
		 * and a third, matching pair is there now: theirs, newer. Undone.
		 */
	} else if (kt && ct) {
		if (temp_matches(dfd, n.key_tmp, true, jr.key_sha256) &&
		    temp_matches(dfd, n.cert_tmp, false, jr.fp) &&
		    renameat(dfd, n.key_tmp, dfd, ctx->key_name) == 0 &&
		    renameat(dfd, n.cert_tmp, dfd, ctx->cert_name) == 0)
			*what = INSTALL_RECOVERY_FINISHED;
	} else if (ct) {
		/* The key is already in place; its cert must follow. */
		if (temp_matches(dfd, n.cert_tmp, false, jr.fp) &&
		    renameat(dfd, n.cert_tmp, dfd, ctx->cert_name) == 0)
			*what = INSTALL_RECOVERY_FINISHED;
	} else if (!kt && served_fp(ctx, fp) == 0 && strcmp(fp, jr.fp) == 0) {
		/* Both renamed before the kill. */
		*what = INSTALL_RECOVERY_FINISHED;
	}
	/* Whatever was not rolled forward is undone. */
	(void)unlinkat(dfd, n.key_tmp, 0);
	(void)unlinkat(dfd, n.cert_tmp, 0);
	if (fsutil_sync_dir(dfd, "certs dir", err, errlen) != 0)
		goto out;

	/* The served pair must match now, whatever the journal said. */
	if (served_fp(ctx, fp) != 0) {
		if (!may_restore ||
		    store_load_current_locked(sfd, &lkg, err, errlen) != 0) {
			size_t used = strlen(err);

			snprintf(err + used, errlen - used, "%sserved pair does not "
			    "match and cannot be restored%s%s", used ? "; " : "",
			    jstate < 0 ? "; " : "", jstate < 0 ? jerr : "");
			/* The temps are resolved: a stale journal would only block installs. */
			(void)journal_remove(sfd, jerr, sizeof(jerr));
			goto out;
		}
		/* Its journal replaces ours atomically: a crash here recovers too. */
		if (commit_locked(ctx, sfd, &lkg, NULL, true, err, errlen) != 0) {
			install_pair_free(&lkg);
			goto out;
		}
		memcpy(fp, lkg.fingerprint, CERT_FP_HEX + 1);
		install_pair_free(&lkg);
		log_event(LOG_LEVEL_WARN, "install.restored",
		    json_pack("{s:s}", "fingerprint", fp),
		    "served pair did not match; restored last-known-good %.16s", fp);
	}
	if (journal_remove(sfd, err, errlen) != 0)
		goto out;
	if (fp_len > 0)
		snprintf(fp_out, fp_len, "%s", fp);
	rc = 0;
out:
	close(dfd);
	return rc;
}

int
install_recover(const struct install_ctx *ctx, enum install_recovery *what,
    char *fp_out, size_t fp_len, char *err, size_t errlen)
{
	int sfd, rc;

	*what = INSTALL_RECOVERY_NONE;
	if (store_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	rc = recover_locked(ctx, sfd, true, what, fp_out, fp_len, err, errlen);
	close(sfd);
	return rc;
}
