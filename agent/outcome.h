/*
 * outcome: how a cycle ended, exactly one per cycle (cycle.done's
 * "outcome", status.json, the rotations_total metric, the exit code of
 * `once`). The names are the contract; docs/design.md lists them.
 */
#ifndef MCA_OUTCOME_H
#define MCA_OUTCOME_H

enum outcome {
	OUTCOME_ROTATED,	/* installed, reloaded, verified on every endpoint */
	OUTCOME_UNCHANGED,	/* the pair already served, or superseded by newer files */
	OUTCOME_REJECTED,	/* failed validation: nothing touched (invariant 2) */
	OUTCOME_ROLLED_BACK,	/* installed, then the old pair restored and verified */
	OUTCOME_FAILED,		/* the rollback itself failed, or no way back: unhealthy */
	OUTCOME_KEPT,		/* not installed (no front, no engine, a disk fault): the
				 * served pair untouched, the bundle retried */
	OUTCOME__MAX
};

extern const char *const outcome_names[OUTCOME__MAX];

/*
 * The name an outcome had before it was split out, for one release
 * (cycle.done's "legacy_outcome"), or NULL when it has not changed.
 */
const char *outcome_legacy_name(enum outcome o);

#endif
