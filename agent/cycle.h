/*
 * cycle: one bundle through the pipeline, in the order docs/design.md draws:
 * validate -> back up -> install -> reload -> verify -> report, with
 * rollback on failure. Each cycle ends in exactly one outcome.
 */
#ifndef MCA_CYCLE_H
#define MCA_CYCLE_H

#include <stdbool.h>

#include "agent.h"

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

/*
 * le_mode (TLS_FLAVOR=letsencrypt): the front's certbot renewed a
 * lineage. Reads both lineages (source.changed each), and unless every
 * endpoint already served both at the last verify, verifies both key
 * types on every endpoint and reloads the front if some are stale:
 * rotated, unchanged, or failed. Nothing is ever written.
 */
enum outcome cycle_lineages(struct agent *a, long landed_ms);

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
