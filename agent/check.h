/* check: verify only — every endpoint against the installed pair, plus expiry. */
#ifndef MCA_CHECK_H
#define MCA_CHECK_H

#include "config.h"

/* Exit codes of `check` (docs/design.md). */
enum check_status {
	CHECK_OK = 0,
	CHECK_WARNING = 1,	/* expiring within the first threshold */
	CHECK_CRITICAL = 2,	/* mismatch, unreachable, expired, bad pair */
};

/*
 * Runs one check against eps (n of them) and reports it as events.
 * Returns the check_status.
 */
enum check_status check_run(const struct config *cfg,
    const struct endpoint *eps, size_t n);

/* Formats seconds as the largest whole unit: "21d", "36h", "90s". */
void check_format_duration(long s, char *out, size_t len);

#endif
