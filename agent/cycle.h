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

/* `rollback`: restore the newest backup, reload, verify. */
enum outcome cycle_rollback(struct agent *a);

/* A pair that never settled: source.changed, cert.rejected, cycle.done. */
void cycle_reject(struct agent *a, enum cert_reason why, const char *detail);

/* Writes the status file from the agent's memory. */
void cycle_write_status(struct agent *a, const char *reason);

/*
 * A cycle's bookkeeping, for monitor.c's cycles too: begin numbers it
 * (the "cycle" of its events); finish logs its one cycle.done, counts
 * it, posts its webhook and writes the status. Returns o.
 */
void cycle_begin(struct agent *a);
enum outcome cycle_finish(struct agent *a, enum outcome o, long start_ms,
    json_t *timings, const char *fp);

#endif
