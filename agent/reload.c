/*
 * reload: the interface's dispatch, the endpoints every backend shares,
 * and the none backend (the front reloads by itself: only verify).
 */
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
	if (r->ops != NULL && r->ops->close != NULL)
		r->ops->close(r);
	r->ops = NULL;
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

bool
reload_front_watches(struct reloader *r, const struct targets *t)
{
	if (!reload_front_may_watch(r->cfg))
		return false;
	if (r->cfg->front_watcher == FRONT_WATCHER_YES)
		return true;
	return r->ops->runs != NULL && r->ops->runs(r, t, RELOAD_WATCHER_NEEDLE);
}

json_t *
reload_log_errors(struct reloader *r, const struct targets *t, time_t since)
{
	return r->ops->log_errors != NULL ? r->ops->log_errors(r, t, since) :
	    json_array();
}
