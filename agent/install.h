/*
 * install: putting a certificate pair into CERTS_DIR without ever
 * leaving a half-written or mismatched pair behind, even across kill -9.
 *
 * On disk, under the state dir (AGENT_STATE_DIR, 0700):
 *   journal                 present only while an install is in flight
 *   backups/<UTC>-<fp12>/   cert.pem (0644) + key.pem (0600), newest kept
 *
 * Every cert.pem the agent writes (here and in CERTS_DIR) holds the
 * certificates it parsed and nothing else; a 0644 write of bytes that
 * carry a key block is refused outright.
 *   current/                the agent's last-known-good copy of the served pair
 *
 * An install: (1) both new files are written as temp files in CERTS_DIR
 * and fsync'ed; (2) the journal records the intent (temp names, target
 * names, fingerprints) and is fsync'ed; (3) key then cert are renamed
 * over the targets; (4) CERTS_DIR is fsync'ed; (5) the journal is
 * removed. install_recover() on start finishes an install whose journal
 * is present (both temp files validated against the journal's
 * fingerprint first), or undoes it when the temp files are incomplete.
 *
 * Temp files are CERTS_DIR/.<target>.mca-new. A target that is a symlink
 * is replaced by a regular file (rename swaps the entry; nothing is ever
 * written through a link). Every function below except
 * install_read_served holds an exclusive flock on the state dir (waiting
 * at most 10 s for another agent process), so steps never interleave.
 */
#ifndef MCA_INSTALL_H
#define MCA_INSTALL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cert.h"

/* Key material in memory: the PEM bytes as they will be written. */
struct install_pair {
	unsigned char *cert_pem;	/* leaf + chain */
	size_t cert_len;
	unsigned char *key_pem;
	size_t key_len;
	char fingerprint[CERT_FP_HEX + 1];	/* of the leaf in cert_pem */
};

/* Wipes and frees the buffers. */
void install_pair_free(struct install_pair *p);

/*
 * Makes p->cert_pem what cp (parsed from it) holds, certificates only
 * (cert_chain_pem), and p->fingerprint cp's: whatever else the file held,
 * a key block above all, is never written where others may read it.
 */
int install_pair_keep_certificates(struct install_pair *p, const struct cert_pair *cp);

struct install_ctx {
	const char *certs_dir;
	const char *cert_name;		/* e.g. "cert.pem" */
	const char *key_name;		/* e.g. "key.pem" */
	const char *state_dir;
	long backups_kept;		/* AGENT_BACKUPS */
	uid_t owner;			/* (uid_t)-1: leave as created */
	gid_t group;			/* (gid_t)-1: leave as created */
};

/* Names in the state dir that other modules own (daemon, status). */
#define INSTALL_LOCK	"lock"
#define INSTALL_STATUS	"status.json"

/*
 * The errno behind the last failed install_* call in this thread (0: the
 * failure was not a system call), and the stable code events carry for
 * it in "error": no_space (ENOSPC, EDQUOT), read_only (EROFS),
 * permission_denied (EACCES, EPERM), symlink_refused (ELOOP, ENOTDIR: a
 * link where the agent's own file or directory belongs), io_error
 * (anything else), invalid (0).
 */
int install_last_errno(void);
const char *install_error_code(int e);

/* Creates the state dir (0700) and its subdirectories if missing. */
int install_prepare(const struct install_ctx *ctx, char *err, size_t errlen);

/*
 * Reads the pair currently in CERTS_DIR (bounded, symlink-confined) into
 * out. Returns 0, or -1 with *why (CERT_KEY_MISMATCH if the two halves
 * don't belong together).
 */
int install_read_served(const struct install_ctx *ctx, struct install_pair *out,
    enum cert_reason *why);

/*
 * Saves p as a new backup dir backups/<UTC time>-<fp12>/ (key 0600, dir
 * 0700, fsync'ed), then prunes to backups_kept. path_out gets the dir.
 * Backups made in the same second get a "-<n>" suffix that keeps them in
 * order. The dir is built as backups/.new and renamed in whole.
 */
int install_backup(const struct install_ctx *ctx, const struct install_pair *p,
    char *path_out, size_t path_len, char *err, size_t errlen);

/*
 * Loads the newest backup (whose fingerprint differs from skip_fp, if
 * given); backups whose chain doesn't parse or whose key doesn't match
 * are skipped. -1 with err "no usable backup" if none is left.
 */
int install_load_backup(const struct install_ctx *ctx, const char *skip_fp,
    struct install_pair *out, char *path_out, size_t path_len, char *err, size_t errlen);

/*
 * True when the newest backup (by its name's time) holds the pair whose
 * leaf is fp: parsed and matching, path_out set. Its name carries the
 * leaf's first 12 hex digits, so a backup of another pair (the usual case
 * in a rotation) costs no parse. A newest backup that is broken is false:
 * a fresh backup then supersedes it.
 */
bool install_newest_backup_is(const struct install_ctx *ctx, const char *fp,
    char *path_out, size_t path_len);

/*
 * Crash-safe install of p into CERTS_DIR (the journaled sequence above).
 * Refuses (-1, nothing written) a pair whose key doesn't match its leaf
 * or whose fingerprint isn't the leaf's, and refuses while a journal is
 * pending (install_recover first). A failure before the key rename
 * leaves the served pair untouched; after it, the journal is replayed
 * at once as after a crash, and err says what is served now.
 */
int install_commit(const struct install_ctx *ctx, const struct install_pair *p,
    char *err, size_t errlen);

/*
 * install_commit for a pair that replaces one someone else wrote (the
 * ACME client, with a certs-dir source): right before the first rename
 * CERTS_DIR must still hold a matching pair whose leaf is expect. If it
 * does not (the client wrote again, or is half-way through), returns 1:
 * temp files and journal are removed and nothing served was touched.
 * expect NULL: exactly install_commit.
 */
int install_commit_over(const struct install_ctx *ctx, const struct install_pair *p,
    const char *expect, char *err, size_t errlen);

/*
 * The last-known-good copy: save p as current/, or load it. A directory
 * can't be renamed over a non-empty one, so a save writes current.new,
 * renames current -> current.old, current.new -> current, and removes
 * current.old; load, save and recover first settle whatever state a
 * crash left (a complete current.new wins over current.old).
 */
int install_save_current(const struct install_ctx *ctx, const struct install_pair *p,
    char *err, size_t errlen);
int install_load_current(const struct install_ctx *ctx, struct install_pair *out,
    char *err, size_t errlen);

enum install_recovery {
	INSTALL_RECOVERY_NONE,		/* no journal: nothing was in flight */
	INSTALL_RECOVERY_FINISHED,	/* rolled forward to the new pair */
	INSTALL_RECOVERY_UNDONE,	/* temp files removed; old pair stays */
};

/*
 * Finishes or undoes an interrupted install. Returns 0 with *what, or -1
 * (err filled in) if the journal is unreadable and the served pair could
 * not be made consistent.
 *
 * No journal: NONE; stale temp files (killed before the journal) are
 * removed. A journal that is unreadable, over 64 KiB, or doesn't fit
 * this config is never acted on: temps are removed, UNDONE, and an
 * install.journal_invalid event (level error) is logged. With a valid
 * journal, temps are renamed only if the cert's leaf fingerprint and the
 * key's SHA-256 match it. Finally the served pair must match its key; if
 * it doesn't, current/ is installed (journaled) and install.restored
 * (level warn, fingerprint) is logged. The journal is always removed
 * once the temps are resolved. fp_out gets the fingerprint now served
 * ("" if none matches).
 */
int install_recover(const struct install_ctx *ctx, enum install_recovery *what,
    char *fp_out, size_t fp_len, char *err, size_t errlen);

#endif
