/*
 * status: the one-file summary of the agent's health in the state dir,
 * written after every cycle and read by `healthcheck` (a FROM-scratch
 * image has no shell, curl or jq for a HEALTHCHECK).
 */
#ifndef MCA_STATUS_H
#define MCA_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Writes status (adds "time") to STATE_DIR/status.json atomically, 0644. */
int status_write(const char *state_dir, json_t *status);

/*
 * Reads STATE_DIR/status.json (bounded). Healthy: "healthy" is true.
 * Returns 0 with *healthy, or -1 (missing/unreadable: not healthy) with why.
 */
int status_read(const char *state_dir, bool *healthy, char *why, size_t whylen);

#endif
