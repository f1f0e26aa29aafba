/*
 * store: the state dir and the copies of pairs the agent keeps in it,
 * backups of the pairs it replaced and current/, its last-known-good
 * copy of the served pair (the pair install_recover restores).
 *
 * On disk, under the state dir (AGENT_STATE_DIR, 0700, never a symlink):
 *   backups/<UTC>-<fp12>/   cert.pem (0644) + key.pem (0600), newest kept
 *   current/                the agent's last-known-good copy of the served pair
 *   journal                 install's, present only while an install is in flight
 *   lock, status.json       the daemon's and status's (INSTALL_LOCK, INSTALL_STATUS)
 *
 * <UTC> is the backup's time (YYYYmmddTHHMMSSZ), <fp12> the first 12 hex
 * digits of its leaf's fingerprint. A backup dir is built as backups/.new
 * and renamed in whole; current/ is replaced through current.new and
 * current.old (store_save_current). Their cert.pem holds certificates
 * only, as every cert.pem the agent writes (install.h).
 *
 * Every function below holds the state dir's exclusive flock while it
 * works, as install's do (store_open takes it, waiting at most 10 s for
 * another agent process), and a failure sets install_last_errno().
 */
#ifndef MCA_STORE_H
#define MCA_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "install.h"

/*
 * Opens the state dir (creating it 0700; a symlink is refused) and takes
 * its lock. Whatever sits at one of the state dir's own names and is not
 * what the agent puts there is removed, never followed (state.repaired),
 * and backups/ is made if missing. *sfd holds the lock until closed.
 */
int store_open(const struct install_ctx *ctx, int *sfd, char *err, size_t errlen);

/* Creates the state dir (0700) and its subdirectories if missing. */
int store_prepare(const struct install_ctx *ctx, char *err, size_t errlen);

/*
 * Saves p as a new backup dir backups/<UTC time>-<fp12>/ (key 0600, dir
 * 0700, fsync'ed), then prunes to backups_kept. path_out gets the dir.
 * Backups made in the same second get a "-<n>" suffix that keeps them in
 * order. The dir is built as backups/.new and renamed in whole.
 */
int store_backup(const struct install_ctx *ctx, const struct install_pair *p,
    char *path_out, size_t path_len, char *err, size_t errlen);

/*
 * Loads the newest backup (whose fingerprint differs from skip_fp, if
 * given); backups whose chain doesn't parse or whose key doesn't match
 * are skipped. -1 with err "no usable backup" if none is left.
 */
int store_load_backup(const struct install_ctx *ctx, const char *skip_fp,
    struct install_pair *out, char *path_out, size_t path_len, char *err, size_t errlen);

/*
 * True when the newest backup (by its name's time) holds the pair whose
 * leaf is fp: parsed and matching, path_out set. Its name carries the
 * leaf's first 12 hex digits, so a backup of another pair (the usual case
 * in a rotation) costs no parse. A newest backup that is broken is false:
 * a fresh backup then supersedes it.
 */
bool store_newest_backup_is(const struct install_ctx *ctx, const char *fp,
    char *path_out, size_t path_len);

/*
 * The last-known-good copy: save p as current/, or load it. A directory
 * can't be renamed over a non-empty one, so a save writes current.new,
 * renames current -> current.old, current.new -> current, and removes
 * current.old; load, save and recover first settle whatever state a
 * crash left (a complete current.new wins over current.old).
 */
int store_save_current(const struct install_ctx *ctx, const struct install_pair *p,
    char *err, size_t errlen);
int store_load_current(const struct install_ctx *ctx, struct install_pair *out,
    char *err, size_t errlen);

/*
 * The same two steps for install_recover, which holds the lock already
 * (sfd from store_open): settle a half-done save of current/, and load
 * current/ (settled first).
 */
void store_settle_current(int sfd);
int store_load_current_locked(int sfd, struct install_pair *out, char *err,
    size_t errlen);

#endif
