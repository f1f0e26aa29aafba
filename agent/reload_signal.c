/*
 * reload_signal: the signal backend. The front's ports are on our own
 * loopback (same pod); the masters are found and signalled by sigreload.
 */
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reload_signal.h"
#include "sigreload.h"

static enum reload_fault
signal_find(struct reloader *r, struct targets *t)
{
	memset(t, 0, sizeof(*t));
	t->n_eps = reload_static_endpoints(r->cfg, "127.0.0.1", &t->eps);
	return RELOAD_OK;
}

static enum reload_fault
signal_fronts(struct reloader *r, const struct targets *t, time_t *started)
{
	char err[256];
	bool missing;

	(void)r;
	(void)t;
	*started = time(NULL);
	if (signal_reload(&missing, err, sizeof(err)) == 0)
		return RELOAD_OK;
	log_event(LOG_LEVEL_ERROR, "reload.failed", json_pack("{s:s}", "reason", err),
	    "signal reload: %s", err);
	/* no master at all: the front is restarting, like an engine fault */
	return missing ? RELOAD_UNAVAILABLE : RELOAD_FAILED;
}

/* In the pod's shared PID namespace: the front's processes are ours to see. */
static enum proc_watch
signal_watch(struct reloader *r, const struct targets *t, const char *needle)
{
	enum proc_watch w;

	(void)r;
	(void)t;
	return signal_find_watcher("/proc", getpid(), needle, &w) == 0 ? w : PROC_WATCH_NONE;
}

static const struct reload_ops signal_ops = {
	.find = signal_find,
	.endpoints = signal_find,
	.reload = signal_fronts,
	.watch = signal_watch,
};

int
reload_signal_open(struct reloader *r)
{
	r->ops = &signal_ops;
	return 0;
}
