/*
 * deliver: reload the fronts, then verify that every endpoint serves what
 * a verify_want asks for (one pair by its key type, or a letsencrypt
 * front's two lineages).
 */
#ifndef MCA_DELIVER_H
#define MCA_DELIVER_H

#include <stdbool.h>

#include <jansson.h>

#include "agent.h"
#include "reload.h"
#include "verify.h"

/* How long a front that reloads by itself gets (Mailu's watcher polls every 1 s). */
#define DELIVER_SELF_RELOAD_WAIT_MS 3000
/*
 * A watcher seen with no child in every look (DELIVER_WATCHER_LOOK_MS
 * apart) for longer than one of its polls (Mailu's: 1 s) has seen every
 * change and acted on it: done.
 */
#define DELIVER_WATCHER_LOOK_MS 200
#define DELIVER_WATCHER_QUIET_MS 1200

/* What deliver_to_fronts does before it verifies. */
enum deliver_reload {
	DELIVER_LOOK,		/* nothing: only verify */
	DELIVER_RELOAD,		/* reload every front */
	/*
	 * new files were just installed: a front that reloads itself on
	 * them (Mailu's watcher) gets AGENT_FRONT_WATCHER_WAIT first, and
	 * is reloaded only if it does not serve them by then
	 */
	DELIVER_INSTALLED,
};

/* w made to ask for one pair: its leaf fp, of its key type. Returns w. */
const struct verify_want *deliver_want_pair(struct verify_want *w, const char *fp,
    enum cert_key_type type);

/*
 * Reloads the front(s) as how says, then verifies for up to
 * timeout_ms that every endpoint serves what want says; verify.ok or
 * verify.failed, and the timings (keys prefixed with prefix). *fault
 * says how the reload went (RELOAD_OK when the verify failed). found:
 * fronts the caller looked up just before (taken over and freed here),
 * NULL to look them up. Returns 0 when every endpoint serves want.
 */
int deliver_to_fronts(struct agent *a, const struct verify_want *want, enum deliver_reload how,
    long timeout_ms, enum reload_fault *fault, json_t *timings, const char *prefix,
    struct targets *found);

/*
 * A default reload step failed: does every endpoint serve want anyway
 * (the front reloaded by itself)? Says so (reload.served_anyway).
 */
bool deliver_served_anyway(struct agent *a, const struct verify_want *want,
    json_t *timings);

#endif
