/*
 * install: putting a certificate pair into CERTS_DIR without ever
 * leaving a half-written or mismatched pair behind, even across kill -9.
 *
 * On disk, under the state dir (AGENT_STATE_DIR, 0700; its other
 * entries, backups/ and current/, are store's: store.h):
 *   journal                 present only while an install is in flight
 *
 * Every cert.pem the agent writes (in the state dir and in CERTS_DIR)
 * holds the certificates it parsed and nothing else; a 0644 write of
 * bytes that carry a key block is refused outright (fsutil_write_new_at).
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
 * install_read_served and the install_pair_* ones holds an exclusive
 * flock on the state dir (store_open: waiting at most 10 s for another
 * agent process), so steps never interleave, also with store's.
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
	enum cert_key_type key_type;		/* of the leaf's key */
};

/* Wipes and frees the buffers. */
void install_pair_free(struct install_pair *p);

/*
 * Makes p->cert_pem what cp (parsed from it) holds, certificates only
 * (cert_chain_pem), and p->fingerprint cp's: whatever else the file held,
 * a key block above all, is never written where others may read it.
 */
int install_pair_keep_certificates(struct install_pair *p, const struct cert_pair *cp);

/*
 * A pair just read from disk: both halves parsed and checked to belong
 * together (CERT_KEY_MISMATCH if not), and its cert bytes made what was
 * parsed (install_pair_keep_certificates), so a copy the agent writes of
 * it (a backup, current/, a rollback) holds certificates only, whatever
 * wrote the file. Returns 0, or -1 with *why.
 */
int install_pair_adopt(struct install_pair *p, enum cert_reason *why);

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
 * The errno behind the last failed install_* or store_* call in this
 * thread (0: the failure was not a system call), and the stable code
 * events carry for it in "error": no_space (ENOSPC, EDQUOT), read_only
 * (EROFS), permission_denied (EACCES, EPERM), symlink_refused (ELOOP,
 * ENOTDIR: a link where the agent's own file or directory belongs),
 * io_error (anything else), invalid (0).
 */
int install_last_errno(void);
const char *install_error_code(int e);

/*
 * Reads the pair currently in CERTS_DIR (bounded, symlink-confined) into
 * out. Returns 0, or -1 with *why (CERT_KEY_MISMATCH if the two halves
 * don't belong together).
 */
int install_read_served(const struct install_ctx *ctx, struct install_pair *out,
    enum cert_reason *why);

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
