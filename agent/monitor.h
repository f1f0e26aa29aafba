/*
 * monitor: drift, expiry, and the letsencrypt flavor's renewals: what
 * the daemon does between rotations (monitor.c).
 */
#ifndef MCA_MONITOR_H
#define MCA_MONITOR_H

#include <stdbool.h>

#include "agent.h"

/*
 * On start and every AGENT_DRIFT_INTERVAL: verify the last-known-good
 * pair is served everywhere; if an endpoint serves another one (e.g.
 * after someone ran an nginx-only reload) and may_heal, reload and verify
 * again (drift.detected, then drift.healed or drift.failed). Returns 0
 * when every endpoint matches.
 */
int monitor_drift(struct agent *a, bool may_heal);

/*
 * Expiry monitoring of the installed pair: one expiry.warning per
 * AGENT_EXPIRY_WARN threshold crossed (once per pair, not every check),
 * and one at error level once it has expired.
 */
void monitor_expiry(struct agent *a);

/*
 * le_mode (TLS_FLAVOR=letsencrypt): the front's certbot renewed a
 * lineage. Reads both lineages (source.changed each), and unless every
 * endpoint already served both at the last verify, verifies both key
 * types on every endpoint and reloads the front if some are stale:
 * rotated, unchanged, or failed. Nothing is ever written.
 */
enum outcome monitor_lineages(struct agent *a, long landed_ms);

#endif
