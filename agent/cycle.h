/*
 * cycle: one bundle through the pipeline, in the order DESIGN.md draws:
 * validate -> back up -> install -> reload -> verify -> report, with
 * rollback on failure. Each cycle ends in exactly one outcome.
 */
#ifndef MCA_CYCLE_H
#define MCA_CYCLE_H

#include <stdbool.h>

#include "cert.h"
#include "config.h"
#include "docker.h"
#include "install.h"
#include "source.h"

enum outcome {
	OUTCOME_ROTATED,
	OUTCOME_UNCHANGED,
	OUTCOME_REJECTED,
	OUTCOME_ROLLED_BACK,
	OUTCOME_FAILED,
	OUTCOME__MAX
};

extern const char *const outcome_names[OUTCOME__MAX];

/* Everything a cycle needs, and what the agent remembers between cycles. */
struct agent {
	struct config *cfg;
	struct source src;
	struct install_ctx ictx;
	struct docker *docker;		/* docker backend only */
	char project[128];		/* own compose project, "" if none */
	char good_fp[CERT_FP_HEX + 1];	/* last verified pair (current/), "" none */
	time_t good_not_after;
	bool retry_pending;		/* an engine fault: try the same bundle again */
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

/* Fills a from cfg: source, install context, engine client, own project. */
int agent_init(struct agent *a, struct config *cfg, char *err, size_t errlen);
void agent_free(struct agent *a);

/*
 * Runs one cycle. raw/parsed: the pair the settle check already read
 * (ownership passes to the cycle), so what is validated is exactly what
 * settled; NULL: read the source now (`once`, retries). landed_ms
 * (monotonic) is when the change was first seen, for the timings.
 * *rejected_out is set when the bundle must not be retried until its
 * files change.
 */
enum outcome cycle_run(struct agent *a, long landed_ms, struct install_pair *raw_in,
    struct cert_pair *parsed_in, bool *rejected_out);

/* `rollback`: restore the newest backup, reload, verify. */
enum outcome cycle_rollback(struct agent *a);

/* A pair that never settled: source.changed, cert.rejected, cycle.done. */
void cycle_reject(struct agent *a, enum cert_reason why, const char *detail);

/*
 * On start and every AGENT_DRIFT_INTERVAL: verify the last-known-good
 * pair is served everywhere; if an endpoint serves another one (e.g.
 * after someone ran an nginx-only reload) and may_heal, reload and verify
 * again (drift.detected, then drift.healed or drift.failed). Returns 0
 * when every endpoint matches.
 */
int cycle_reconcile(struct agent *a, bool may_heal);

/*
 * Expiry monitoring of the installed pair: one expiry.warning per
 * AGENT_EXPIRY_WARN threshold crossed (once per pair, not every check),
 * and one at error level once it has expired.
 */
void cycle_expiry(struct agent *a);

/* Writes the status file from the agent's memory. */
void cycle_write_status(struct agent *a, const char *reason);

#endif
