/*
 * store: the state dir and what the agent keeps in it (store.h): opening
 * and repairing the dir under its lock, the backups, and current/. Only
 * the agent's own files are read back here, each through a directory fd
 * opened with O_NOFOLLOW, so a link planted in the state dir is never
 * followed.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cert.h"
#include "fsutil.h"
#include "install.h"
#include "log.h"
#include "store.h"
#include "testhook.h"

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

/* Backup dir names, sorted oldest first. */
struct blist {
	char (*name)[48];
	size_t n;
};

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
	    &out->key_pem, &out->key_len, why) == 0 &&
	    install_pair_adopt(out, why) == 0) {
		close(dfd);
		return 0;
	}
	close(dfd);
	install_pair_free(out);
	return -1;
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
int
store_open(const struct install_ctx *ctx, int *sfd, char *err, size_t errlen)
{
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	struct stat st;
	int fd, waited = 0;

	*sfd = -1;
	if (mkdir(ctx->state_dir, 0700) != 0 && errno != EEXIST)
		return fsutil_fail(err, errlen, "create state dir %s: %s",
		    ctx->state_dir, strerror(errno));
	fd = open(ctx->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fsutil_fail(err, errlen, "state dir %s: %s (symlinks are "
		    "refused)", ctx->state_dir, strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= LOCK_WAIT_MS) {
			close(fd);
			return fsutil_fail(err, errlen, "state dir %s is locked by "
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
		fsutil_fail(err, errlen, "state dir %s: %s", ctx->state_dir,
		    strerror(errno));
		close(fd);
		return -1;
	}
	*sfd = fd;
	return 0;
}

int
store_prepare(const struct install_ctx *ctx, char *err, size_t errlen)
{
	int sfd;

	if (store_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	close(sfd);
	return 0;
}

/*
 * Brings current/ out of any half-done replacement (store_save_current).
 * Nothing half-done (the usual case, a load before every backup): nothing
 * to make durable either, so no fsync.
 */
void
store_settle_current(int sfd)
{
	if (!fsutil_exists(sfd, CURRENT_NEW) && !fsutil_exists(sfd, CURRENT_OLD))
		return;
	if (!fsutil_exists(sfd, CURRENT) && fsutil_exists(sfd, CURRENT_OLD)) {
		/* Killed between the renames: new was complete, else keep old. */
		if (renameat(sfd, CURRENT_NEW, sfd, CURRENT) != 0)
			(void)renameat(sfd, CURRENT_OLD, sfd, CURRENT);
	}
	/* current.new without that: a save that never finished. */
	(void)fsutil_rm_flat(sfd, CURRENT_NEW);
	(void)fsutil_rm_flat(sfd, CURRENT_OLD);
	(void)fsync(sfd);
}

/*
 * Writes p as pfd/name/{cert,key}.pem: dir 0700, all fsync'ed. what
 * ("backup", "current_new") names the test pause points only; they keep
 * the "install." of the steps they are in (tests/integration/15-crash.sh).
 */
static int
dir_write(int pfd, const char *name, const char *what,
    const struct install_pair *p, char *err, size_t errlen)
{
	int dfd, rc = -1;

	(void)what;	/* unused without MCA_TEST_HOOKS */

	if (mkdirat(pfd, name, 0700) != 0)
		return fsutil_fail(err, errlen, "mkdir %s: %s", name, strerror(errno));
	dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return fsutil_fail(err, errlen, "open %s: %s", name, strerror(errno));
	if (fsutil_write_new_at(dfd, SAVED_KEY, p->key_pem, p->key_len, 0600,
	    (uid_t)-1, (gid_t)-1, err, errlen) == 0) {
		TEST_PAUSEF("install.%s_key_written", what);
		if (fsutil_write_new_at(dfd, SAVED_CERT, p->cert_pem, p->cert_len, 0644,
		    (uid_t)-1, (gid_t)-1, err, errlen) == 0)
			rc = fsutil_sync_dir(dfd, name, err, errlen);
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
	    strspn(name + STAMP_LEN + 1, FSUTIL_HEXDIGITS) != FP12_LEN)
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
store_backup(const struct install_ctx *ctx, const struct install_pair *p,
    char *path_out, size_t path_len, char *err, size_t errlen)
{
	char stamp[STAMP_LEN + 1], name[64];
	struct blist bl = { NULL, 0 };
	time_t now = time(NULL);
	long seq = -1;
	struct tm tm;
	int sfd, bfd = -1, rc = -1;

	if (!fsutil_is_hex(p->fingerprint, CERT_FP_HEX))
		return fsutil_fail(err, errlen, "backup: no fingerprint");
	if (store_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	bfd = openat(sfd, BACKUPS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0 || backups_list(sfd, &bl) != 0) {
		fsutil_fail(err, errlen, "backups dir: %s", strerror(errno));
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
	(void)fsutil_rm_flat(bfd, BACKUP_NEW);
	if (dir_write(bfd, BACKUP_NEW, "backup", p, err, errlen) != 0) {
		/*
		 * a full disk: nothing half-written stays behind; neither step
		 * reports, so install_last_errno() stays dir_write's
		 */
		(void)fsutil_rm_flat(bfd, BACKUP_NEW);
		(void)fsync(bfd);
		goto out;
	}
	if (renameat(bfd, BACKUP_NEW, bfd, name) != 0) {
		fsutil_fail(err, errlen, "rename backup %s: %s", name, strerror(errno));
		(void)fsutil_rm_flat(bfd, BACKUP_NEW);
		goto out;
	}
	if (fsutil_sync_dir(bfd, "backups dir", err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.backup_renamed");
	free(bl.name);
	if (backups_list(sfd, &bl) != 0) {
		fsutil_fail(err, errlen, "backups dir: %s", strerror(errno));
		goto out;
	}
	/*
	 * No fsync after pruning: a prune lost to a power cut only brings
	 * back an old backup, which the next prune removes. One fsync less
	 * on the rotation's path.
	 */
	for (size_t i = 0; ctx->backups_kept >= 1 &&
	    i + (size_t)ctx->backups_kept < bl.n; i++)
		(void)fsutil_rm_flat(bfd, bl.name[i]);
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
store_load_backup(const struct install_ctx *ctx, const char *skip_fp,
    struct install_pair *out, char *path_out, size_t path_len, char *err,
    size_t errlen)
{
	struct blist bl = { NULL, 0 };
	char dir[PATH_MAX];
	enum cert_reason why;
	int sfd, bfd = -1, rc = -1;

	memset(out, 0, sizeof(*out));
	if (store_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	if (backups_list(sfd, &bl) != 0 || (bfd = openat(sfd, BACKUPS,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fsutil_fail(err, errlen, "backups dir: %s", strerror(errno));
		goto out;
	}
	fsutil_fail(err, errlen, "no usable backup");
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
store_newest_backup_is(const struct install_ctx *ctx, const char *fp,
    char *path_out, size_t path_len)
{
	struct blist bl = { NULL, 0 };
	struct install_pair b;
	enum cert_reason why;
	char err[128];
	const char *newest;
	bool same = false;
	int sfd, bfd;

	if (!fsutil_is_hex(fp, CERT_FP_HEX) ||
	    store_open(ctx, &sfd, err, sizeof(err)) != 0)
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
 * current, remove current.old); store_settle_current() resolves each
 * state a crash can leave.
 */
int
store_save_current(const struct install_ctx *ctx, const struct install_pair *p,
    char *err, size_t errlen)
{
	int sfd, rc = -1;

	if (store_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	store_settle_current(sfd);
	if (dir_write(sfd, CURRENT_NEW, "current_new", p, err, errlen) != 0) {
		(void)fsutil_rm_flat(sfd, CURRENT_NEW);
		goto out;
	}
	if (fsutil_exists(sfd, CURRENT) &&
	    renameat(sfd, CURRENT, sfd, CURRENT_OLD) != 0) {
		fsutil_fail(err, errlen, "rename current: %s", strerror(errno));
		goto out;
	}
	TEST_PAUSE("install.current_old_renamed");
	if (renameat(sfd, CURRENT_NEW, sfd, CURRENT) != 0) {
		fsutil_fail(err, errlen, "rename current.new: %s", strerror(errno));
		store_settle_current(sfd);
		goto out;
	}
	if (fsutil_sync_dir(sfd, "state dir", err, errlen) != 0)
		goto out;
	TEST_PAUSE("install.current_renamed");
	if (fsutil_rm_flat(sfd, CURRENT_OLD) != 0) {
		fsutil_fail(err, errlen, "remove current.old: %s", strerror(errno));
		goto out;
	}
	rc = fsutil_sync_dir(sfd, "state dir", err, errlen);
	if (rc == 0)
		TEST_PAUSE("install.current_saved");
out:
	close(sfd);
	return rc;
}

int
store_load_current_locked(int sfd, struct install_pair *out, char *err,
    size_t errlen)
{
	enum cert_reason why = CERT_OK;

	store_settle_current(sfd);
	if (pair_read_sub(sfd, CURRENT, SAVED_CERT, SAVED_KEY, out, &why) != 0)
		return fsutil_fail(err, errlen, "no usable last-known-good copy: %s",
		    cert_reason_names[why]);
	return 0;
}

int
store_load_current(const struct install_ctx *ctx, struct install_pair *out,
    char *err, size_t errlen)
{
	int sfd, rc;

	memset(out, 0, sizeof(*out));
	if (store_open(ctx, &sfd, err, errlen) != 0)
		return -1;
	rc = store_load_current_locked(sfd, out, err, errlen);
	close(sfd);
	return rc;
}
