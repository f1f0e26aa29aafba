/* testhook: see testhook.h. Empty in release builds. */
#include "testhook.h"

#ifdef MCA_TEST_HOOKS
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

void
testhook_pause(const char *step)
{
	const char *at = getenv("MCA_TEST_PAUSE_AT");

	if (at == NULL || strcmp(at, step) != 0)
		return;
	log_event(LOG_LEVEL_WARN, "test.paused",
	    json_pack("{s:s, s:i}", "step", step, "pid", (int)getpid()),
	    "paused at %s for a crash test", step);
	for (;;)
		pause();
}
#else
/* ISO C forbids an empty translation unit. */
typedef int testhook_unused;
#endif
