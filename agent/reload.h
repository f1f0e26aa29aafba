/*
 * reload: making the front re-read the installed pair, and knowing which
 * endpoints to verify after it. One interface, three backends, chosen by
 * AGENT_RELOAD: docker (commands run in every front through the Engine
 * API, reload_docker.c), signal (SIGHUP to the masters in a shared PID
 * namespace, reload_signal.c) and none (the front reloads by itself).
 * cycle.c and main.c use only what this header declares.
 */
#ifndef MCA_RELOAD_H
#define MCA_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "docker.h"
#include "docker_session.h"
#include "endpoint.h"

/* Fronts to reload and endpoints to verify, resolved once per cycle. */
struct targets {
	struct docker_container *fronts;	/* running fronts (docker backend) */
	size_t n_fronts;
	struct endpoint *eps;
	size_t n_eps;
};

/* How a step ended, and so how the cycle treats a failure. */
enum reload_fault {
	RELOAD_OK,
	RELOAD_FAILED,		/* a reload step failed: the pair or its config is to blame */
	RELOAD_UNAVAILABLE,	/* no engine, no running front, no master: retry later */
};

struct reloader;

/* What every backend does; an operation a backend has no use for is NULL. */
struct reload_ops {
	/* The fronts to reload and the endpoints to verify. */
	enum reload_fault (*find)(struct reloader *r, struct targets *t);
	/* Only the endpoints, for `check` (which reloads nothing). */
	enum reload_fault (*endpoints)(struct reloader *r, struct targets *t);
	/* Reloads what find found; *started: when the first step began. */
	enum reload_fault (*reload)(struct reloader *r, const struct targets *t,
	    time_t *started);
	/* After a failed step: a front restarted since (not the pair's fault). */
	bool (*restarted)(struct reloader *r, time_t since);
	/* Whether every front runs a process whose command line holds needle
	   (NONE if one does not), and whether a child of one runs (BUSY). */
	enum proc_watch (*watch)(struct reloader *r, const struct targets *t,
	    const char *needle);
	/* TLS errors the fronts logged since, as a JSON array. */
	json_t *(*log_errors)(struct reloader *r, const struct targets *t, time_t since);
	/* Gets the reloads ready ahead of the first (the daemon, at its start). */
	void (*warm)(struct reloader *r);
	void (*close)(struct reloader *r);
};

struct reloader {
	const struct reload_ops *ops;
	const struct config *cfg;
	struct docker *docker;		/* docker backend: the engine client */
	struct docker *docker_aside;	/* docker backend: a second one, for the command
					   run beside another (opened at first use) */
	struct docker_sessions *sessions;	/* docker backend: the commands kept
						   ready (AGENT_RELOAD_EXEC=kept), or NULL */
	struct docker_container self;	/* docker backend: the agent's own container
					   (its project, its networks); id "" none */
	bool self_known;		/* ... looked up already */
	/* whether the fronts run a watcher, asked once per set of fronts (an
	   Engine API process list costs ~45 ms); 0: not asked yet */
	unsigned long long watch_fronts;
	bool watch_runs;
	/*
	 * Set by the caller around reload_fronts, NULL otherwise: told (from
	 * any thread) as soon as svc is reloaded in every front, before the
	 * reload is over, so its endpoints can be verified at once. A backend
	 * that cannot tell one daemon from the other never calls it: every
	 * daemon is reloaded when reload_fronts returns RELOAD_OK.
	 */
	void (*reloaded)(void *arg, enum service svc);
	void *reloaded_arg;
};

/* Sets r up for cfg's backend; -1 with err on a bad setting. */
int reload_open(struct reloader *r, const struct config *cfg, char *err, size_t errlen);
void reload_close(struct reloader *r);
/* The backend's warm op, if it has one: a failure only leaves it cold. */
void reload_warm(struct reloader *r);

enum reload_fault reload_find(struct reloader *r, struct targets *t);
enum reload_fault reload_endpoints(struct reloader *r, struct targets *t);
enum reload_fault reload_fronts(struct reloader *r, const struct targets *t,
    time_t *started);
bool reload_restarted(struct reloader *r, time_t since);

/* Mailu's own certificate watcher in the front (core/nginx/certwatcher.py). */
#define RELOAD_WATCHER_NEEDLE "certwatcher"

/*
 * Whether a front may reload itself on a new pair, by the settings alone
 * (pure): AGENT_FRONT_WATCHER yes; or auto with the cert flavor and the
 * default reload commands (an admin's own commands are the admin's plan).
 */
bool reload_front_may_watch(const struct config *cfg);
/*
 * After an install: give the fronts AGENT_FRONT_WATCHER_WAIT to reload
 * themselves before reloading them? yes; or auto (reload_front_may_watch)
 * when every front runs Mailu's certificate watcher.
 */
bool reload_front_watches(struct reloader *r, const struct targets *t);
/*
 * Is the fronts' own watcher at work (BUSY: a child of it runs, a
 * reconfiguration or a reload)? Asked each time; NONE when none is seen.
 */
enum proc_watch reload_front_watcher(struct reloader *r, const struct targets *t);
json_t *reload_log_errors(struct reloader *r, const struct targets *t, time_t since);
void reload_targets_free(struct targets *t);

/*
 * For backends: the endpoints Mailu's front serves on host, by Mailu's
 * rules from PORTS, TLS and TLS_FLAVOR (endpoint_mailu_serves), marked
 * for PROXY_PROTOCOL. Returns how many were written to out.
 */
size_t reload_mailu_endpoints(const struct config *cfg, const char *host,
    struct endpoint out[PROTO__MAX]);

/* For backends: AGENT_ENDPOINTS, or Mailu's ports on host. */
size_t reload_static_endpoints(const struct config *cfg, const char *host,
    struct endpoint **eps);

/*
 * A log line worth a human's eye after a reload: nginx [emerg]/[crit] or
 * dovecot Fatal:/Error: that mentions ssl, tls, a certificate or a key.
 */
bool reload_is_tls_error(const char *line, size_t len);

#endif
