/*
 * fsutil: the files install and store write (temp files in CERTS_DIR,
 * the journal, backups, current/): created afresh with their final mode,
 * fsync'ed, never through a link; and the error both report, whose
 * errno install_last_errno() gives back.
 *
 * Every helper works relative to a directory fd opened once, so a name
 * is only ever looked up in the directory the agent meant.
 */
#ifndef MCA_FSUTIL_H
#define MCA_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Lowercase hex: the digests and fingerprints in the journal and in backup names. */
#define FSUTIL_HEXDIGITS "0123456789abcdef"

/*
 * Formats err and returns -1; the errno at the call is kept as the one
 * behind the last failure in this thread (install_last_errno). A failure
 * that is not a system call's sets errno = 0 first.
 */
int fsutil_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The errno fsutil_fail kept last in this thread; 0 for none. */
int fsutil_last_errno(void);

/* True when s is exactly len lowercase hex digits. */
bool fsutil_is_hex(const char *s, size_t len);

/* True when dfd holds an entry of that name (a link counts; never followed). */
bool fsutil_exists(int dfd, const char *name);

/*
 * Creates dfd/name afresh with its final mode from the first instant,
 * writes buf and fsyncs it. A stale file of that name is removed first;
 * O_EXCL|O_NOFOLLOW mean a link or anything else planted there since is
 * never written through. Bytes carrying a private key block are refused
 * for a mode others may read (nothing is written). uid, gid (uid_t)-1,
 * (gid_t)-1: left as created. On failure nothing of name stays behind.
 */
int fsutil_write_new_at(int dfd, const char *name, const unsigned char *buf,
    size_t len, mode_t mode, uid_t uid, gid_t gid, char *err, size_t errlen);

/* fsync of a directory, so the renames and removals in it are durable. */
int fsutil_sync_dir(int dfd, const char *what, char *err, size_t errlen);

/*
 * Removes dir pfd/name and the plain files in it; absent is fine. A link
 * or a file where the directory belongs is removed, never its target.
 * -1 (errno set, nothing reported) when something stays.
 */
int fsutil_rm_flat(int pfd, const char *name);

#endif
