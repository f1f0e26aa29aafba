/*
 * agent: what the agent is between cycles (struct agent), how it starts
 * (settings -> source, install context, engine client; the state dir's
 * lock; recovery) and the exit codes of the commands that act.
 */
#ifndef MCA_AGENT_H
#define MCA_AGENT_H

#include <stdbool.h>

#include "cert.h"
#include "config.h"
#include "install.h"
#include "lineage.h"
#include "outcome.h"
#include "reload.h"
#include "source.h"

/* The Makefile sets it from `git describe`; a build without git has this. */
#ifndef MCA_VERSION
#define MCA_VERSION "0.0.0-dev"
#endif

/* Exit codes of `once` and `rollback` (and `run` that cannot start). */
#define EXIT_OK 0
#define EXIT_REJECTED 1
#define EXIT_FAILED 2

/* Everything a cycle needs, and what the agent remembers between cycles. */
struct agent {
	struct config *cfg;
	struct source src;
	struct install_ctx ictx;
	struct reloader reload;		/* AGENT_RELOAD's backend */
	bool le_mode;			/* TLS_FLAVOR=letsencrypt: the front renews */
	struct lineage le[LINEAGE_N];	/* ... its two certbot lineages */
	struct verify_want verified;	/* what every endpoint served at the last verify */
	char good_fp[CERT_FP_HEX + 1];	/* last verified pair (current/), "" none */
	enum cert_key_type good_type;	/* its key type: what probes ask for */
	time_t good_not_before;		/* its leaf's dates: "newer" and expiry */
	time_t good_not_after;
	bool retry_pending;		/* this cycle hit an engine or disk fault: the same bundle again (each cycle resets it) */
	unsigned seq;			/* cycles run */
	enum outcome last_outcome;
	bool last_verified;		/* every endpoint matched at the last verify */
	long landed_ms;			/* when this cycle's change was first seen, 0: n/a */
	long settle_ms;			/* the quiet window detect_ms includes, 0: n/a */
	char warned_fp[CERT_FP_HEX + 1];	/* expiry warnings given for this pair */
	int warned;			/* thresholds warned so far (0..n), n+1: expired */
	enum cert_reason rejected_why;	/* why the last cycle rejected its bundle */
	time_t rejected_not_before;	/* and that bundle's validity, for */
	time_t rejected_not_after;	/* not_yet_valid / expired (cert_retry_due) */
};

/*
 * Fills a from cfg: source, install context, reload backend. With
 * TLS_FLAVOR=letsencrypt and no AGENT_SOURCE of its own, the agent is in
 * le_mode: the front's certbot renews, the agent watches both lineages
 * and verifies and heals, and never installs.
 */
int agent_init(struct agent *a, struct config *cfg, char *err, size_t errlen);
void agent_free(struct agent *a);

/*
 * What every endpoint must serve now: the last verified pair, by its key
 * type (with extra, a probe for the other type too: a warning if served);
 * in le_mode both lineages as they are now. w->n is 0 when there is
 * nothing to compare with yet.
 */
void agent_want(struct agent *a, bool extra, struct verify_want *w);

/* True when CERTS_DIR holds a matching pair whose leaf is fp. */
bool agent_disk_holds(struct agent *a, const char *fp);

/*
 * What every command that acts shares (run, once, rollback): agent_init,
 * then the state dir's lock (STATE_DIR/lock, held with flock for the
 * life of the process and naming its pid; another holder is agent.locked),
 * then recovery of an interrupted install from its journal, then, on a
 * first start, the served pair adopted as the last-known-good one.
 * Returns 0 with *lockfd, or -1 after logging why.
 */
int agent_open(struct agent *a, struct config *cfg, int *lockfd);
void agent_close(struct agent *a, int lockfd);

/*
 * True when our lock file is no longer STATE_DIR/lock: the state dir (or
 * the lock) was deleted or replaced while we run.
 */
bool agent_lock_lost(const struct agent *a, int lockfd);

/*
 * The state dir went away under us (rm -rf, a volume re-created): make it
 * again (0700, as on first start), take a fresh lock in it, keep the
 * served pair as last-known-good again if it is the one we verified,
 * and rewrite the status file. -2: another agent took the new lock.
 */
int agent_state_recreate(struct agent *a, int *lockfd);

#endif
