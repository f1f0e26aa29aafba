/*
 * metrics: /metrics (Prometheus text exposition format 0.0.4) and
 * /healthz on AGENT_METRICS_LISTEN, served by one thread of its own so a
 * slow scraper never delays a rotation. The daemon only updates values.
 */
#ifndef MCA_METRICS_H
#define MCA_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Binds listen ("host:port") and starts the server thread. */
int metrics_start(const char *listen, const char *version, char *err, size_t errlen);
void metrics_stop(void);
/* The bound port (useful with port 0), or -1 when not started. */
int metrics_port(void);

/* Updates; safe from any thread, cheap, and no-ops before metrics_start. */
void metrics_set_installed(time_t not_after);
void metrics_set_endpoint(const char *endpoint, bool match, time_t served_not_after);
void metrics_count_rotation(const char *outcome);
void metrics_set_last_success(time_t when);
void metrics_set_verify_duration(double seconds);
void metrics_count_reload_exec(const char *container, const char *command,
    const char *result);
void metrics_set_health(bool healthy, const char *reason);

#ifdef MCA_TEST_HOOKS
/* Per-connection deadline for the unit tests (default 5000 ms). */
void metrics_test_set_deadline_ms(int ms);
#endif

#endif
