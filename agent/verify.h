/*
 * verify: probes a set of endpoints concurrently and compares what each
 * serves with the fingerprint that should be served.
 */
#ifndef MCA_VERIFY_H
#define MCA_VERIFY_H

#include <stddef.h>

#include "endpoint.h"
#include "probe.h"

/*
 * At most this many probes at once against one service of one host:
 * dovecot's login processes stalled when 143 and 993 were hammered
 * together, and a check must never look like an attack.
 */
#define VERIFY_PER_SERVICE 3

/*
 * Probes every endpoint (results[i] for eps[i]). Returns 0, or -1 if
 * the probes could not be started at all (results then say why).
 */
int verify_probe_all(const struct endpoint *eps, size_t n, const char *sni,
    long timeout_ms, struct probe_result *results);

#endif
