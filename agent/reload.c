/*
 * reload: the interface's dispatch, the endpoints every backend shares,
 * and the none backend (the front reloads by itself: only verify).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reload.h"
#include "reload_docker.h"
#include "reload_signal.h"

size_t
reload_mailu_endpoints(const struct config *cfg, const char *host,
    struct endpoint out[PROTO__MAX])
{
	size_t n = endpoint_defaults(host, &cfg->ports, &cfg->tls_ports,
	    cfg->flavor != FLAVOR_NOTLS, out);

	endpoint_mark_proxy(out, n, &cfg->proxy_ports);
	return n;
}

size_t
reload_static_endpoints(const struct config *cfg, const char *host,
    struct endpoint **eps)
{

	if (cfg->endpoints != NULL) {
		*eps = malloc(cfg->n_endpoints * sizeof(**eps));
		if (*eps == NULL)
			return 0;
		memcpy(*eps, cfg->endpoints, cfg->n_endpoints * sizeof(**eps));
		return cfg->n_endpoints;
	}
	*eps = calloc(PROTO__MAX, sizeof(**eps));
	if (*eps == NULL)
		return 0;
	return reload_mailu_endpoints(cfg, host, *eps);
}

void
reload_targets_free(struct targets *t)
{
	free(t->fronts);
	free(t->eps);
	memset(t, 0, sizeof(*t));
}

/* none: Mailu's ports on the compose service name "front" */
static enum reload_fault
none_find(struct reloader *r, struct targets *t)
{
	memset(t, 0, sizeof(*t));
	t->n_eps = reload_static_endpoints(r->cfg, "front", &t->eps);
	return RELOAD_OK;
}

static enum reload_fault
none_reload(struct reloader *r, const struct targets *t, time_t *started)
{
	(void)r;
	(void)t;
	*started = time(NULL);
	log_event(LOG_LEVEL_INFO, "reload.skipped", NULL,
	    "AGENT_RELOAD=none: the front reloads by itself");
	return RELOAD_OK;
}

static const struct reload_ops none_ops = {
	.find = none_find,
	.endpoints = none_find,
	.reload = none_reload,
};

int
reload_open(struct reloader *r, const struct config *cfg, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	switch (cfg->reload) {
	case RELOAD_DOCKER:
		/* NULL when it cannot be had: a new exec every time, as with "each" */
		if (!cfg->reload_exec_each)
			r->sessions = docker_sessions_new();
		return reload_docker_open(r, err, errlen);
	case RELOAD_SIGNAL:
		return reload_signal_open(r);
	default:
		r->ops = &none_ops;
		return 0;
	}
}

void
reload_close(struct reloader *r)
{
	docker_sessions_free(&r->sessions);
	if (r->ops != NULL && r->ops->close != NULL)
		r->ops->close(r);
	r->ops = NULL;
}

void
reload_warm(struct reloader *r)
{
	if (r->ops != NULL && r->ops->warm != NULL)
		r->ops->warm(r);
}

enum reload_fault
reload_find(struct reloader *r, struct targets *t)
{
	return r->ops->find(r, t);
}

enum reload_fault
reload_endpoints(struct reloader *r, struct targets *t)
{
	return r->ops->endpoints(r, t);
}

enum reload_fault
reload_fronts(struct reloader *r, const struct targets *t, time_t *started)
{
	return r->ops->reload(r, t, started);
}

bool
reload_restarted(struct reloader *r, time_t since)
{
	return r->ops->restarted != NULL && r->ops->restarted(r, since);
}

bool
reload_front_may_watch(const struct config *cfg)
{
	switch (cfg->front_watcher) {
	case FRONT_WATCHER_YES:
		return true;
	case FRONT_WATCHER_AUTO:
		/* Mailu starts its watcher in the cert flavor (and the older mail) */
		return cfg->reload != RELOAD_NONE &&
		    (cfg->flavor == FLAVOR_CERT || cfg->flavor == FLAVOR_MAIL) &&
		    config_reload_commands_default(cfg);
	default:
		return false;
	}
}

/* FNV-1a over the fronts' container ids: which fronts these are. */
static unsigned long long
fronts_key(const struct targets *t)
{
	unsigned long long h = 1469598103934665603ULL;

	for (size_t f = 0; f < t->n_fronts; f++)
		for (const char *c = t->fronts[f].id; ; c++) {
			h = (h ^ (unsigned char)*c) * 1099511628211ULL;
			if (*c == '\0')
				break;
		}
	return h != 0 ? h : 1;
}

bool
reload_front_watches(struct reloader *r, const struct targets *t)
{
	unsigned long long key;

	if (!reload_front_may_watch(r->cfg))
		return false;
	if (r->cfg->front_watcher == FRONT_WATCHER_YES)
		return true;
	if (r->ops->watch == NULL)
		return false;
	/* a container keeps its processes' roles while it runs: ask once */
	key = t->n_fronts > 0 ? fronts_key(t) : 0;
	if (key != 0 && key == r->watch_fronts)
		return r->watch_runs;
	r->watch_runs = r->ops->watch(r, t, RELOAD_WATCHER_NEEDLE) != PROC_WATCH_NONE;
	r->watch_fronts = key;
	return r->watch_runs;
}

enum proc_watch
reload_front_watcher(struct reloader *r, const struct targets *t)
{
	return r->ops->watch != NULL ? r->ops->watch(r, t, RELOAD_WATCHER_NEEDLE) :
	    PROC_WATCH_NONE;
}

json_t *
reload_log_errors(struct reloader *r, const struct targets *t, time_t since)
{
	return r->ops->log_errors != NULL ? r->ops->log_errors(r, t, since) :
	    json_array();
}

bool
reload_is_tls_error(const char *line, size_t len)
{
	/*
	 * The daemons' own severities, as they write them: an OpenSSL error
	 * string ("error:0A000076:...") inside an Info line is not one. That
	 * is what dovecot logs when a probe restricted to one key type meets
	 * a port that holds the other, or a client gives up a handshake.
	 */
	static const char *const severities[] = { "[emerg]", "[crit]", "Fatal: ", "Error: " };
	static const char *const topics[] = { "ssl", "tls", "certificate", "key" };
	char text[512], lower[512];
	bool severe = false;
	size_t n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;

	memcpy(text, line, n);
	text[n] = '\0';
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)text[i]);
	for (size_t i = 0; i < sizeof(severities) / sizeof(severities[0]); i++)
		if (strstr(text, severities[i]) != NULL)
			severe = true;
	if (!severe)
		return false;
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		if (strstr(lower, topics[i]) != NULL)
			return true;
	return false;
}
