/*
 * reload: making the front re-read the installed pair. Docker backend:
 * each AGENT_RELOAD_COMMANDS command, in order, in every running front
 * container, through the Engine API; the first that fails stops.
 */
#ifndef MCA_RELOAD_H
#define MCA_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "docker.h"
#include "endpoint.h"

#define RELOAD_MAX_COMMANDS 8
#define RELOAD_MAX_ARGS 16

/* Fronts to reload and endpoints to verify, resolved once per cycle. */
struct targets {
	struct docker_container *fronts;	/* running fronts (docker backend) */
	size_t n_fronts;
	struct endpoint *eps;
	size_t n_eps;
};

/* How a failure is to be treated by the cycle. */
enum reload_fault {
	RELOAD_OK,
	RELOAD_CERT_FAULT,	/* a command failed: the pair or config is to blame */
	RELOAD_ENGINE_FAULT,	/* no engine, no running front: retry later */
};

/*
 * Resolves targets: the running fronts (AGENT_FRONT, limited to the
 * agent's own compose project when it runs in one and AGENT_FRONT is
 * the default) and the endpoints (AGENT_ENDPOINTS, else Mailu's TLS
 * ports on each front's address). Emits front.* events. Returns
 * RELOAD_OK or RELOAD_ENGINE_FAULT.
 */
enum reload_fault reload_targets(const struct config *cfg, struct docker *d,
    const char *project, struct targets *t);
void reload_targets_free(struct targets *t);

/* Endpoints without the engine: AGENT_ENDPOINTS, or the defaults on host. */
size_t reload_static_endpoints(const struct config *cfg, const char *host,
    struct endpoint **eps);

/*
 * Runs the reload on every front, emitting reload.exec per command.
 * *started is set to when the first command began (for the log scan).
 */
enum reload_fault reload_run(const struct config *cfg, struct docker *d,
    const struct targets *t, time_t *started);

/*
 * Did a front (AGENT_FRONT) stop, vanish or start again since the given
 * time? Then a failed reload was the restart's doing, not the pair's:
 * logs front.restarted.
 */
bool reload_fronts_restarted(const struct config *cfg, struct docker *d,
    const char *project, time_t since);

/*
 * Scans each front's log since a time for nginx [emerg]/[crit] and
 * dovecot Fatal:/Error: lines about TLS; returns them as a JSON array.
 */
json_t *reload_log_errors(struct docker *d, const struct targets *t, time_t since);

/*
 * A log line worth a human's eye after a reload: nginx [emerg]/[crit] or
 * dovecot Fatal:/Error: that mentions ssl, tls, a certificate or a key.
 */
bool reload_is_tls_error(const char *line, size_t len);

/*
 * From `ps -o pid,ppid,args` output: the pids (in the front's PID
 * namespace) of processes an exec started with exactly this command line.
 * An exec's process has no parent in the container (PPID 0) and is not
 * PID 1. At most RELOAD_KILL_MAX_PIDS.
 */
#define RELOAD_KILL_MAX_PIDS 8
size_t reload_hung_pids(const char *ps, const char *line,
    long pids[RELOAD_KILL_MAX_PIDS]);

/* Splits AGENT_RELOAD_COMMANDS: ';' between commands, spaces between args. */
int reload_parse_commands(const char *s, char *buf, size_t buflen,
    char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1], size_t *n);

#endif
