/*
 * install: the only module that writes into CERTS_DIR. Every file is
 * written beside its target under a temp name and renamed over it; the
 * journal in the state dir records the intent before the first rename,
 * so a restart after kill -9 finishes or undoes it (install.h).
 *
 * Targets that are symlinks are replaced by regular files: rename swaps
 * the directory entry and never writes through the link, so nothing
 * outside CERTS_DIR is touched. That is intended.
 *
 * Everything here works on directory fds (openat, renameat) opened once,
 * and every public function except install_read_served holds an
 * exclusive flock on the state dir, so a `once` from a deploy hook and
 * the daemon never interleave their steps.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cert.h"
#include "install.h"
#include "log.h"
#include "testhook.h"

#define JOURNAL		"journal"
#define JOURNAL_TMP	".journal.mca-new"
#define JOURNAL_MAX	(64 * 1024)
#define JOURNAL_VERSION	1
#define TMP_SUFFIX	".mca-new"
#define BACKUPS		"backups"
#define BACKUP_NEW	".new"
#define CURRENT		"current"
#define CURRENT_NEW	"current.new"
#define CURRENT_OLD	"current.old"
#define SAVED_CERT	"cert.pem"
#define SAVED_KEY	"key.pem"
#define LOCK_WAIT_MS	10000
#define STAMP_LEN	16		/* YYYYmmddTHHMMSSZ */
#define FP12_LEN	12

static const char hexdigits[] = "0123456789abcdef";

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

/* Backup dir names, sorted oldest first. */
struct blist {
	char (*name)[48];
	size_t n;
};

static int recover_locked(const struct install_ctx *, int, bool,
    enum install_recovery *, char *, size_t, char *, size_t);
static int served_fp(const struct install_ctx *, char[CERT_FP_HEX + 1]);

/* The errno behind the last failure (install_last_errno), 0 for none. */
static _Thread_local int last_errno;

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	last_errno = errno;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int
install_last_errno(void)
{
	return last_errno;
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

static bool
is_hex(const char *s, size_t len)
{
	return strlen(s) == len && strspn(s, hexdigits) == len;
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
		return fail(err, errlen, "cert and key must be two plain file names");
	}
	return 0;
}

static bool
entry_exists(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int
write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Creates dfd/name afresh with its final mode from the first instant,
 * writes buf and fsyncs it. A stale file of that name is removed first;
 * O_EXCL|O_NOFOLLOW mean a link or anything else planted there since is
 * never written through.
 */
static int
write_new_at(int dfd, const char *name, const unsigned char *buf, size_t len,
    mode_t mode, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int fd, rc = -1;

	/* Invariant 5: key bytes go only to a file nobody else may read. */
	if ((mode & 077) != 0 && memmem(buf, len, "PRIVATE KEY", 11) != NULL) {
		errno = 0;
		return fail(err, errlen, "refusing to write %s: it holds a private "
		    "key block and would be readable by others", name);
	}
	(void)unlinkat(dfd, name, 0);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd < 0)
		return fail(err, errlen, "create %s: %s", name, strerror(errno));
	/* The umask can only have taken bits away; set exactly what we mean. */
	if (fchmod(fd, mode) != 0 || ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchown(fd, uid, gid) != 0) || write_all(fd, buf, len) != 0 ||
	    fsync(fd) != 0)
		fail(err, errlen, "write %s: %s", name, strerror(errno));
	else
		rc = 0;
	if (close(fd) != 0 && rc == 0)
		rc = fail(err, errlen, "close %s: %s", name, strerror(errno));
	if (rc != 0)
		(void)unlinkat(dfd, name, 0);
	return rc;
}

static int
sync_dir(int dfd, const char *what, char *err, size_t errlen)
{
	if (fsync(dfd) != 0)
		return fail(err, errlen, "fsync %s: %s", what, strerror(errno));
	return 0;
}

/* Removes dir pfd/name and the plain files in it; absent is fine. */
static int
rm_flat(int pfd, const char *name)
{
	struct dirent *e;
	DIR *d;
	int fd, rc = 0;

	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
		/* a link (or file) in a directory's place: the entry goes, never its target */
		return unlinkat(pfd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    unlinkat(fd, e->d_name, 0) != 0)
			rc = -1;
	}
	closedir(d);
	if (unlinkat(pfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		rc = -1;
	return rc;
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
	return 0;
}

/*
 * A pair just read from disk: checked as pair_check does, and its cert
 * bytes made what was parsed, so a copy the agent writes of it (a backup,
 * current/, a rollback) holds certificates only, whatever wrote the file.
 */
static int
pair_adopt(struct install_pair *p, enum cert_reason *why)
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
	    &out->key_len, why) == 0 && pair_adopt(out, why) == 0)
		return 0;
	install_pair_free(out);
	return -1;
}

/*
 * Reads pfd/sub/{cname,kname}, a directory the agent wrote itself: the
 * directory and both files are opened with O_NOFOLLOW, so a link planted
 * at any of the three names is never followed (it fails as unusable).
 */
static int
pair_read_sub(int pfd, const char *sub, const char *cname, const char *kname,
    struct install_pair *out, enum cert_reason *why)
{
	int dfd;

	memset(out, 0, sizeof(*out));
	*why = CERT_UNREADABLE;
	dfd = openat(pfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			*why = CERT_SYMLINK_ESCAPE;
		return -1;
	}
	if (cert_read_at(dfd, cname, CERT_FILE_MAX, &out->cert_pem,
	    &out->cert_len, why) == 0 && cert_read_at(dfd, kname, CERT_FILE_MAX,
	    &out->key_pem, &out->key_len, why) == 0 && pair_adopt(out, why) == 0) {
		close(dfd);
		return 0;
	}
	close(dfd);
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

/*
 * The state dir's own names. Whatever sits at one of them and is not what
 * the agent puts there (a symlink planted by someone who can write the
 * certs volume, a file where a directory belongs) is removed: unlinkat
 * removes the entry, never its target, and nothing is ever opened
 * through it. The journal is left to recovery (install.journal_invalid).
 */
static void
state_repair(int sfd, const char *state_dir)
{
	static const struct {
		const char *name;
		bool dir;
	} own[] = {
		{ BACKUPS, true }, { CURRENT, true }, { CURRENT_NEW, true },
		{ CURRENT_OLD, true }, { INSTALL_LOCK, false },
		{ INSTALL_STATUS, false },
	};
	struct stat st;

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if (fstatat(sfd, own[i].name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    (own[i].dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) ||
		    S_ISDIR(st.st_mode) || unlinkat(sfd, own[i].name, 0) != 0)
			continue;
		log_event(LOG_LEVEL_WARN, "state.repaired",
		    json_pack("{s:s, s:s, s:s}", "state_dir", state_dir, "entry",
		    own[i].name, "found", S_ISLNK(st.st_mode) ? "symlink" : "other"),
		    "removed a %s at %s/%s (not followed; its target is untouched)",
		    S_ISLNK(st.st_mode) ? "symlink" : "stray entry", state_dir,
		    own[i].name);
	}
}

/*
 * Opens the state dir (creating it 0700; a symlink is refused) and takes
 * its lock, waiting a bounded time for another agent to finish a step.
 */
static int
state_open(const struct install_ctx *ctx, int *sfd, char *err, size_t errlen)
{
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	struct stat st;
	int fd, waited = 0;

	*sfd = -1;
	if (mkdir(ctx->state_dir, 0700) != 0 && errno != EEXIST)
		return fail(err, errlen, "create state dir %s: %s",
		    ctx->state_dir, strerror(errno));
	fd = open(ctx->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, "state dir %s: %s (symlinks are refused)",
		    ctx->state_dir, strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= LOCK_WAIT_MS) {
			close(fd);
			return fail(err, errlen, "state dir %s is locked by "
			    "another agent", ctx->state_dir);
		}
		nanosleep(&nap, NULL);
		waited += 50;
	}
	state_repair(fd, ctx->state_dir);
	/* Keys are kept here: nobody else may even list it. */
	if (fstat(fd, &st) != 0 || ((st.st_mode & 07777) != 0700 &&
	    fchmod(fd, 0700) != 0) || (mkdirat(fd, BACKUPS, 0700) != 0 &&
	    errno != EEXIST)) {
		fail(err, errlen, "state dir %s: %s", ctx->state_dir,
		    strerror(errno));
		close(fd);
		return -1;
	}
	*sfd = fd;
	return 0;
}

int
install_prepare(const struct install_ctx *ctx, char *err, size_t errlen)
{
	int sfd;

	if (state_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	close(sfd);
	return 0;
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
		fail(err, errlen, "journal: out of memory (or non-UTF-8 path)");
		goto out;
	}
	if (write_new_at(sfd, JOURNAL_TMP, (unsigned char *)text, strlen(text),
	    0600, (uid_t)-1, (gid_t)-1, err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.journal_temp_written");
	if (renameat(sfd, JOURNAL_TMP, sfd, JOURNAL) != 0) {
		fail(err, errlen, "journal rename: %s", strerror(errno));
		(void)unlinkat(sfd, JOURNAL_TMP, 0);
		goto out;
	}
	rc = sync_dir(sfd, "state dir", err, errlen);
out:
	free(text);
	json_decref(j);
	return rc;
}

static int
journal_remove(int sfd, char *err, size_t errlen)
{
	if (unlinkat(sfd, JOURNAL, 0) != 0 && errno != ENOENT)
		return fail(err, errlen, "remove journal: %s", strerror(errno));
	return sync_dir(sfd, "state dir", err, errlen);
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

	if (!entry_exists(sfd, JOURNAL))
		return 0;
	/* never through a link planted at its name */
	if (cert_read_at(sfd, JOURNAL, JOURNAL_MAX, &buf, &len, &why) != 0) {
		errno = 0;
		return fail(err, errlen, "journal: %s", why == CERT_SYMLINK_ESCAPE ?
		    "a symlink, not ours" : cert_reason_names[why]);
	}
	if ((j = json_loadb((char *)buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		fail(err, errlen, "journal: not JSON (%s)", jerr.text);
		goto out;
	}
	if (json_unpack(j, "{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s?s}", "version",
	    &v, "op", &op, "cert", &c, "key", &k, "cert_tmp", &ct, "key_tmp",
	    &kt, "fingerprint", &fp, "key_sha256", &kh, "replaces", &rp) != 0 ||
	    v != JOURNAL_VERSION || strcmp(op, "install") != 0) {
		fail(err, errlen, "journal: missing fields or unknown version");
		goto out;
	}
	/* Only ever rename the names this config derives, whatever it says. */
	if (strcmp(c, ctx->cert_name) != 0 || strcmp(k, ctx->key_name) != 0 ||
	    strcmp(ct, n->cert_tmp) != 0 || strcmp(kt, n->key_tmp) != 0 ||
	    !is_hex(fp, CERT_FP_HEX) || !is_hex(kh, CERT_FP_HEX) ||
	    (rp != NULL && !is_hex(rp, CERT_FP_HEX))) {
		fail(err, errlen, "journal: names or digests do not fit");
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
		return fail(err, errlen, "refusing to install: %s",
		    cert_reason_names[why]);
	if (strcmp(fp, p->fingerprint) != 0)
		return fail(err, errlen, "refusing to install: fingerprint is "
		    "not the leaf's");
	if (sha256_hex(p->key_pem, p->key_len, key_sha256) != 0)
		return fail(err, errlen, "sha256 failed");
	dfd = open(ctx->certs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(err, errlen, "certs dir %s: %s", ctx->certs_dir,
		    strerror(errno));

	/* 1. Both files complete and durable under temp names. */
	if (write_new_at(dfd, n.key_tmp, p->key_pem, p->key_len, 0600,
	    ctx->owner, ctx->group, err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.key_temp_written");
	if (write_new_at(dfd, n.cert_tmp, p->cert_pem, p->cert_len, 0644,
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
		fail(err, errlen, "%s no longer holds %.16s...: changed by someone "
		    "else", ctx->certs_dir, expect);
		rc = 1;
		goto out;
	}
	/* 3. Key first: a new key beside the old cert is what recovery expects. */
	if (renameat(dfd, n.key_tmp, dfd, ctx->key_name) != 0) {
		fail(err, errlen, "rename %s: %s", ctx->key_name, strerror(errno));
		goto out;
	}
	key_moved = true;
	TEST_PAUSE("install.key_renamed");
	if (renameat(dfd, n.cert_tmp, dfd, ctx->cert_name) != 0) {
		fail(err, errlen, "rename %s: %s", ctx->cert_name, strerror(errno));
		goto out;
	}
	TEST_PAUSE("install.cert_renamed");
	/* 4. The renames durable, and only then 5. forget the intent. */
	if (sync_dir(dfd, "certs dir", err, errlen) != 0)
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

	if (state_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	/* A pending journal belongs to an install only recovery may touch. */
	if (entry_exists(sfd, JOURNAL)) {
		errno = 0;
		fail(err, errlen, "an interrupted install is pending: recover first");
	} else
		rc = commit_locked(ctx, sfd, p, expect, false, err, errlen);
	close(sfd);
	return rc;
}

/*
 * Brings current/ out of any half-done replacement (install_save_current).
 * Nothing half-done (the usual case, a load before every backup): nothing
 * to make durable either, so no fsync.
 */
static void
current_settle(int sfd)
{
	if (!entry_exists(sfd, CURRENT_NEW) && !entry_exists(sfd, CURRENT_OLD))
		return;
	if (!entry_exists(sfd, CURRENT) && entry_exists(sfd, CURRENT_OLD)) {
		/* Killed between the renames: new was complete, else keep old. */
		if (renameat(sfd, CURRENT_NEW, sfd, CURRENT) != 0)
			(void)renameat(sfd, CURRENT_OLD, sfd, CURRENT);
	}
	/* current.new without that: a save that never finished. */
	(void)rm_flat(sfd, CURRENT_NEW);
	(void)rm_flat(sfd, CURRENT_OLD);
	(void)fsync(sfd);
}

/*
 * Writes p as pfd/name/{cert,key}.pem: dir 0700, all fsync'ed. what
 * ("backup", "current_new") names the test pause points only.
 */
static int
dir_write(int pfd, const char *name, const char *what,
    const struct install_pair *p, char *err, size_t errlen)
{
	int dfd, rc = -1;

	(void)what;	/* unused without MCA_TEST_HOOKS */

	if (mkdirat(pfd, name, 0700) != 0)
		return fail(err, errlen, "mkdir %s: %s", name, strerror(errno));
	dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return fail(err, errlen, "open %s: %s", name, strerror(errno));
	if (write_new_at(dfd, SAVED_KEY, p->key_pem, p->key_len, 0600,
	    (uid_t)-1, (gid_t)-1, err, errlen) == 0) {
		TEST_PAUSEF("install.%s_key_written", what);
		if (write_new_at(dfd, SAVED_CERT, p->cert_pem, p->cert_len, 0644,
		    (uid_t)-1, (gid_t)-1, err, errlen) == 0)
			rc = sync_dir(dfd, name, err, errlen);
	}
	close(dfd);
	if (rc == 0)
		TEST_PAUSEF("install.%s_written", what);
	return rc;
}

/* -1 unless name is <stamp>-<fp12>, 0 for that, n for a "-n" suffix. */
static long
backup_seq(const char *name)
{
	char *end;
	long seq;

	for (int i = 0; i < STAMP_LEN; i++) {
		char c = name[i];

		if (i == 8 ? c != 'T' : i == 15 ? c != 'Z' :
		    !isdigit((unsigned char)c))
			return -1;
	}
	if (name[STAMP_LEN] != '-' ||
	    strspn(name + STAMP_LEN + 1, hexdigits) != FP12_LEN)
		return -1;
	end = (char *)name + STAMP_LEN + 1 + FP12_LEN;
	if (*end == '\0')
		return 0;
	if (*end != '-' || !isdigit((unsigned char)end[1]))
		return -1;
	seq = strtol(end + 1, &end, 10);
	return *end == '\0' && seq > 0 && seq < 1000000 ? seq : -1;
}

/* By time, then by the suffix that orders backups made in one second. */
static int
backup_cmp(const void *a, const void *b)
{
	const char *x = a, *y = b;
	long sx, sy;
	int c;

	if ((c = strncmp(x, y, STAMP_LEN)) != 0)
		return c;
	sx = backup_seq(x);
	sy = backup_seq(y);
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(x, y);
}

static int
backups_list(int sfd, struct blist *bl)
{
	struct dirent *e;
	DIR *d;
	void *grown;
	size_t cap = 0;
	int fd;

	bl->name = NULL;
	bl->n = 0;
	fd = openat(sfd, BACKUPS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strlen(e->d_name) >= sizeof(bl->name[0]) ||
		    backup_seq(e->d_name) < 0)
			continue;
		if (bl->n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((grown = realloc(bl->name, cap * sizeof(bl->name[0]))) == NULL)
				break;
			bl->name = grown;
		}
		memcpy(bl->name[bl->n++], e->d_name, strlen(e->d_name) + 1);
	}
	closedir(d);
	if (bl->n > 0)
		qsort(bl->name, bl->n, sizeof(bl->name[0]), backup_cmp);
	return 0;
}

int
install_backup(const struct install_ctx *ctx, const struct install_pair *p,
    char *path_out, size_t path_len, char *err, size_t errlen)
{
	char stamp[STAMP_LEN + 1], name[64];
	struct blist bl = { NULL, 0 };
	time_t now = time(NULL);
	long seq = -1;
	struct tm tm;
	int sfd, bfd = -1, rc = -1;

	if (!is_hex(p->fingerprint, CERT_FP_HEX))
		return fail(err, errlen, "backup: no fingerprint");
	if (state_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	bfd = openat(sfd, BACKUPS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0 || backups_list(sfd, &bl) != 0) {
		fail(err, errlen, "backups dir: %s", strerror(errno));
		goto out;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	/* Same second as another backup: a suffix above theirs keeps the order. */
	for (size_t i = 0; i < bl.n; i++)
		if (strncmp(bl.name[i], stamp, STAMP_LEN) == 0 &&
		    backup_seq(bl.name[i]) > seq)
			seq = backup_seq(bl.name[i]);
	if (seq < 0)
		snprintf(name, sizeof(name), "%s-%.12s", stamp, p->fingerprint);
	else
		snprintf(name, sizeof(name), "%s-%.12s-%ld", stamp,
		    p->fingerprint, seq + 1);
	/* Built aside and renamed in: a backup dir is complete or absent. */
	(void)rm_flat(bfd, BACKUP_NEW);
	if (dir_write(bfd, BACKUP_NEW, "backup", p, err, errlen) != 0) {
		/* a full disk: nothing half-written stays behind */
		int e = last_errno;

		(void)rm_flat(bfd, BACKUP_NEW);
		(void)fsync(bfd);
		last_errno = e;
		goto out;
	}
	if (renameat(bfd, BACKUP_NEW, bfd, name) != 0) {
		fail(err, errlen, "rename backup %s: %s", name, strerror(errno));
		(void)rm_flat(bfd, BACKUP_NEW);
		goto out;
	}
	if (sync_dir(bfd, "backups dir", err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.backup_renamed");
	free(bl.name);
	if (backups_list(sfd, &bl) != 0) {
		fail(err, errlen, "backups dir: %s", strerror(errno));
		goto out;
	}
	/*
	 * No fsync after pruning: a prune lost to a power cut only brings
	 * back an old backup, which the next prune removes. One fsync less
	 * on the rotation's path.
	 */
	for (size_t i = 0; ctx->backups_kept >= 1 &&
	    i + (size_t)ctx->backups_kept < bl.n; i++)
		(void)rm_flat(bfd, bl.name[i]);
	if (path_out != NULL)
		snprintf(path_out, path_len, "%s/%s/%s", ctx->state_dir,
		    BACKUPS, name);
	TEST_PAUSE("install.backup_done");
	rc = 0;
out:
	free(bl.name);
	if (bfd >= 0)
		close(bfd);
	close(sfd);
	return rc;
}

int
install_load_backup(const struct install_ctx *ctx, const char *skip_fp,
    struct install_pair *out, char *path_out, size_t path_len, char *err,
    size_t errlen)
{
	struct blist bl = { NULL, 0 };
	char dir[PATH_MAX];
	enum cert_reason why;
	int sfd, bfd = -1, rc = -1;

	memset(out, 0, sizeof(*out));
	if (state_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	if (backups_list(sfd, &bl) != 0 || (bfd = openat(sfd, BACKUPS,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fail(err, errlen, "backups dir: %s", strerror(errno));
		goto out;
	}
	fail(err, errlen, "no usable backup");
	/* Newest first; a backup that doesn't parse or match is skipped. */
	for (size_t i = bl.n; i-- > 0; ) {
		snprintf(dir, sizeof(dir), "%s/%s/%s", ctx->state_dir, BACKUPS,
		    bl.name[i]);
		if (pair_read_sub(bfd, bl.name[i], SAVED_CERT, SAVED_KEY, out,
		    &why) != 0)
			continue;
		if (skip_fp != NULL && strcmp(out->fingerprint, skip_fp) == 0) {
			install_pair_free(out);
			continue;
		}
		if (path_out != NULL)
			snprintf(path_out, path_len, "%s", dir);
		err[0] = '\0';
		rc = 0;
		break;
	}
out:
	free(bl.name);
	if (bfd >= 0)
		close(bfd);
	close(sfd);
	return rc;
}

bool
install_newest_backup_is(const struct install_ctx *ctx, const char *fp,
    char *path_out, size_t path_len)
{
	struct blist bl = { NULL, 0 };
	struct install_pair b;
	enum cert_reason why;
	char err[128];
	const char *newest;
	bool same = false;
	int sfd, bfd;

	if (!is_hex(fp, CERT_FP_HEX) || state_open(ctx, &sfd, err, sizeof(err)) != 0)
		return false;
	if (backups_list(sfd, &bl) != 0 || bl.n == 0)
		goto out;
	newest = bl.name[bl.n - 1];
	/* <stamp>-<fp12>: another pair's backup is told by its name alone */
	if (strncmp(newest + STAMP_LEN + 1, fp, FP12_LEN) != 0)
		goto out;
	bfd = openat(sfd, BACKUPS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd >= 0 && pair_read_sub(bfd, newest, SAVED_CERT, SAVED_KEY, &b,
	    &why) == 0) {
		same = strcmp(b.fingerprint, fp) == 0;
		install_pair_free(&b);
	}
	if (bfd >= 0)
		close(bfd);
	if (same && path_out != NULL)
		snprintf(path_out, path_len, "%s/%s/%s", ctx->state_dir, BACKUPS,
		    newest);
out:
	free(bl.name);
	close(sfd);
	return same;
}

/*
 * A directory can't be renamed over a non-empty one, so current/ is
 * replaced in three steps (current -> current.old, current.new ->
 * current, remove current.old); current_settle() resolves each state a
 * crash can leave.
 */
int
install_save_current(const struct install_ctx *ctx, const struct install_pair *p,
    char *err, size_t errlen)
{
	int sfd, rc = -1;

	if (state_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	current_settle(sfd);
	if (dir_write(sfd, CURRENT_NEW, "current_new", p, err, errlen) != 0) {
		(void)rm_flat(sfd, CURRENT_NEW);
		goto out;
	}
	if (entry_exists(sfd, CURRENT) &&
	    renameat(sfd, CURRENT, sfd, CURRENT_OLD) != 0) {
		fail(err, errlen, "rename current: %s", strerror(errno));
		goto out;
	}
	TEST_PAUSE("install.current_old_renamed");
	if (renameat(sfd, CURRENT_NEW, sfd, CURRENT) != 0) {
		fail(err, errlen, "rename current.new: %s", strerror(errno));
		current_settle(sfd);
		goto out;
	}
	if (sync_dir(sfd, "state dir", err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.current_renamed");
	if (rm_flat(sfd, CURRENT_OLD) != 0) {
		fail(err, errlen, "remove current.old: %s", strerror(errno));
		goto out;
	}
	rc = sync_dir(sfd, "state dir", err, errlen);
	if (rc == 0)
		TEST_PAUSE("install.current_saved");
out:
	close(sfd);
	return rc;
}

static int
load_current_locked(int sfd, struct install_pair *out, char *err,
    size_t errlen)
{
	enum cert_reason why = CERT_OK;

	current_settle(sfd);
	if (pair_read_sub(sfd, CURRENT, SAVED_CERT, SAVED_KEY, out, &why) != 0)
		return fail(err, errlen, "no usable last-known-good copy: %s",
		    cert_reason_names[why]);
	return 0;
}

int
install_load_current(const struct install_ctx *ctx, struct install_pair *out,
    char *err, size_t errlen)
{
	int sfd, rc;

	memset(out, 0, sizeof(*out));
	if (state_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	rc = load_current_locked(sfd, out, err, errlen);
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
		return fail(err, errlen, "certs dir %s: %s", ctx->certs_dir,
		    strerror(errno));
	current_settle(sfd);
	(void)unlinkat(sfd, JOURNAL_TMP, 0);
	jstate = journal_read(ctx, sfd, &n, &jr, jerr, sizeof(jerr));
	kt = entry_exists(dfd, n.key_tmp);
	ct = entry_exists(dfd, n.cert_tmp);
	if (jstate == 0) {
		/* Temps without a journal: killed before the intent, nothing renamed. */
		(void)unlinkat(dfd, n.key_tmp, 0);
		(void)unlinkat(dfd, n.cert_tmp, 0);
		if ((kt || ct) && sync_dir(dfd, "certs dir", err, errlen) != 0)
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
	if (sync_dir(dfd, "certs dir", err, errlen) != 0)
		goto out;

	/* The served pair must match now, whatever the journal said. */
	if (served_fp(ctx, fp) != 0) {
		if (!may_restore ||
		    load_current_locked(sfd, &lkg, err, errlen) != 0) {
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
	if (state_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	rc = recover_locked(ctx, sfd, true, what, fp_out, fp_len, err, errlen);
	close(sfd);
	return rc;
}
