/*
 * agent: struct agent's life: made from the settings, opened (the state
 * dir's lock, an interrupted install finished or undone, the served pair
 * adopted), and closed. Every command that acts starts here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "cycle.h"
#include "log.h"
#include "reload.h"
#include "store.h"

int
agent_init(struct agent *a, struct config *cfg, char *err, size_t errlen)
{
	struct install_pair cur = { 0 };
	char ierr[256];

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->last_outcome = OUTCOME_UNCHANGED;
	/*
	 * letsencrypt: the front's own certbot writes letsencrypt/live/...;
	 * CERTS_DIR's cert.pem is nobody's. Watch both lineages instead.
	 */
	a->le_mode = lineage_flavor(cfg) && strcmp(cfg->source, "certs-dir") == 0;
	if (a->le_mode ? lineage_init(a->le, cfg, err, errlen) != 0 ||
	    lineage_watch_source(&a->src, a->le, err, errlen) != 0 :
	    source_init(&a->src, cfg, err, errlen) != 0)
		return -1;
	a->ictx = (struct install_ctx){ cfg->certs_dir, cfg->cert_filename,
	    cfg->key_filename, cfg->state_dir, cfg->backups, (uid_t)-1, (gid_t)-1 };
	if (store_prepare(&a->ictx, err, errlen) != 0)
		return -1;
	if (reload_open(&a->reload, cfg, err, errlen) != 0)
		return -1;
	if (store_load_current(&a->ictx, &cur, ierr, sizeof(ierr)) == 0) {
		struct cert_pair p = { 0 };
		enum cert_reason why;

		if (cert_parse_chain(cur.cert_pem, cur.cert_len, &p, &why) == 0) {
			memcpy(a->good_fp, p.fingerprint, sizeof(a->good_fp));
			a->good_type = cert_key_type_of(p.leaf);
			a->good_not_before = p.not_before;
			a->good_not_after = p.not_after;
		}
		cert_pair_free(&p);
	}
	install_pair_free(&cur);
	return 0;
}

void
agent_free(struct agent *a)
{
	reload_close(&a->reload);
	source_free(&a->src);
	if (a->le_mode)
		lineage_free(a->le);
}

bool
agent_disk_holds(struct agent *a, const char *fp)
{
	struct install_pair disk = { 0 };
	enum cert_reason why;
	bool same = install_read_served(&a->ictx, &disk, &why) == 0 &&
	    strcmp(disk.fingerprint, fp) == 0;

	install_pair_free(&disk);
	return same;
}

void
agent_want(struct agent *a, bool extra, struct verify_want *w)
{
	w->n = 0;
	if (a->le_mode) {
		lineage_read(a->le);
		lineage_want(a->le, w);
		return;
	}
	if (a->good_fp[0] == '\0')
		return;
	verify_want_add(w, a->good_type, a->good_fp);
	if (extra && a->good_type != CERT_KEY_ANY)
		verify_want_add(w, a->good_type == CERT_KEY_RSA ? CERT_KEY_ECDSA :
		    CERT_KEY_RSA, "")->absent = true;
}

/*
 * The daemon's lock: STATE_DIR/lock, held (flock) for the life of the
 * process and naming its pid. Opened relative to the state dir with
 * O_NOFOLLOW, so a link planted there is never followed (store_open has
 * removed one before; one planted since fails here, ELOOP). Returns the
 * fd; -2 when another process holds it (*holder: its pid as it wrote
 * it, 0 if unknown); -1 with errno otherwise.
 */
static int
take_lock(const char *state_dir, long *holder)
{
	char buf[32];
	ssize_t n;
	int sfd, fd, e;

	*holder = 0;
	sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return -1;
	fd = openat(sfd, INSTALL_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	e = errno;
	close(sfd);
	if (fd < 0) {
		errno = e;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno;
		if (e == EWOULDBLOCK && (n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			*holder = strtol(buf, NULL, 10);
		}
		close(fd);
		errno = e;
		return e == EWOULDBLOCK ? -2 : -1;
	}
	/* who holds it, for the agent.locked of the next one */
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		(void)0;	/* a full disk: the lock holds all the same */
	return fd;
}

static void
log_lock_failure(const char *state_dir, int rc, long holder, int e)
{
	if (rc == -2)
		log_event(LOG_LEVEL_ERROR, "agent.locked",
		    json_pack("{s:s, s:I}", "state_dir", state_dir, "holder_pid",
		    (json_int_t)holder), "another agent (pid %ld) works on %s",
		    holder, state_dir);
	else
		log_event(LOG_LEVEL_ERROR, "agent.failed",
		    json_pack("{s:s, s:s, s:s}", "reason", "cannot take the lock",
		    "state_dir", state_dir, "error", install_error_code(e)),
		    "cannot lock %s/" INSTALL_LOCK ": %s", state_dir, strerror(e));
}

bool
agent_lock_lost(const struct agent *a, int lockfd)
{
	const char *state_dir = a->cfg->state_dir;
	char path[PATH_MAX];
	struct stat held, now;

	if (lockfd < 0 || fstat(lockfd, &held) != 0)
		return false;
	if (held.st_nlink == 0)
		return true;
	snprintf(path, sizeof(path), "%s/" INSTALL_LOCK, state_dir);
	return lstat(path, &now) != 0 || now.st_ino != held.st_ino ||
	    now.st_dev != held.st_dev;
}

int
agent_state_recreate(struct agent *a, int *lockfd)
{
	struct install_pair served = { 0 };
	enum cert_reason why;
	char err[256];
	long holder;
	int fd;

	static bool said;	/* one error line per outage, not one per poll */

	if (store_prepare(&a->ictx, err, sizeof(err)) != 0) {
		if (!said)
			log_event(LOG_LEVEL_ERROR, "state.write_failed",
			    json_pack("{s:s, s:s}", "error",
			    install_error_code(install_last_errno()), "detail", err),
			    "the state dir is gone and cannot be made again: %s", err);
		said = true;
		return -1;
	}
	said = false;
	fd = take_lock(a->cfg->state_dir, &holder);
	if (fd < 0) {
		log_lock_failure(a->cfg->state_dir, fd, holder, errno);
		return fd;
	}
	close(*lockfd);
	*lockfd = fd;
	if (a->good_fp[0] != '\0' && install_read_served(&a->ictx, &served, &why) == 0 &&
	    strcmp(served.fingerprint, a->good_fp) == 0 &&
	    store_save_current(&a->ictx, &served, err, sizeof(err)) != 0)
		log_event(LOG_LEVEL_WARN, "state.write_failed",
		    json_pack("{s:s, s:s}", "error",
		    install_error_code(install_last_errno()), "detail", err),
		    "cannot keep the last-known-good copy: %s", err);
	install_pair_free(&served);
	log_event(LOG_LEVEL_WARN, "state.recreated",
	    json_pack("{s:s, s:s}", "state_dir", a->cfg->state_dir, "fingerprint",
	    a->good_fp), "%s was gone; made it again (0700) with a new lock",
	    a->cfg->state_dir);
	cycle_write_status(a, a->last_verified ? "verified" : "not verified");
	return 0;
}

int
agent_open(struct agent *a, struct config *cfg, int *lockfd)
{
	enum install_recovery what;
	char err[256], fp[CERT_FP_HEX + 1] = "";
	long holder;

	if (agent_init(a, cfg, err, sizeof(err)) != 0) {
		log_event(LOG_LEVEL_ERROR, "agent.failed",
		    json_pack("{s:s, s:s}", "reason", err, "error",
		    install_error_code(install_last_errno())), "cannot start: %s", err);
		return -1;
	}
	*lockfd = take_lock(cfg->state_dir, &holder);
	if (*lockfd < 0) {
		log_lock_failure(cfg->state_dir, *lockfd, holder, errno);
		return -1;
	}
	if (install_recover(&a->ictx, &what, fp, sizeof(fp), err, sizeof(err)) != 0) {
		log_event(LOG_LEVEL_ERROR, "install.recover_failed",
		    json_pack("{s:s}", "detail", err),
		    "interrupted install could not be resolved: %s", err);
		return -1;
	}
	if (what != INSTALL_RECOVERY_NONE)
		log_event(LOG_LEVEL_WARN, "install.recovered",
		    json_pack("{s:s, s:s}", "action", what == INSTALL_RECOVERY_FINISHED ?
		    "finished" : "undone", "fingerprint", fp),
		    "an interrupted install was %s; %.16s... is in place",
		    what == INSTALL_RECOVERY_FINISHED ? "finished" : "undone", fp);
	/* first start: what is served now is the pair to fall back to */
	if (a->good_fp[0] == '\0' && !a->le_mode) {
		struct install_pair served = { 0 };
		struct cert_pair p = { 0 };
		enum cert_reason why;

		if (install_read_served(&a->ictx, &served, &why) == 0 &&
		    cert_parse_chain(served.cert_pem, served.cert_len, &p, &why) == 0 &&
		    cert_parse_key(served.key_pem, served.key_len, &p, &why) == 0 &&
		    cert_key_matches(&p) && cfg->source != NULL &&
		    (a->src.installs || strcmp(cfg->command, "run") == 0) &&
		    store_save_current(&a->ictx, &served, err, sizeof(err)) == 0) {
			memcpy(a->good_fp, p.fingerprint, sizeof(a->good_fp));
			a->good_type = cert_key_type_of(p.leaf);
			a->good_not_before = p.not_before;
			a->good_not_after = p.not_after;
			log_event(LOG_LEVEL_INFO, "state.adopted",
			    json_pack("{s:s}", "fingerprint", a->good_fp),
			    "keeping %.16s... as the last-known-good pair", a->good_fp);
		}
		cert_pair_free(&p);
		install_pair_free(&served);
	}
	return 0;
}

void
agent_close(struct agent *a, int lockfd)
{
	if (lockfd >= 0)
		close(lockfd);
	agent_free(a);
}

