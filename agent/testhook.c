/* testhook: see testhook.h. Empty in release builds. */
#include "testhook.h"

#ifdef MCA_TEST_HOOKS
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *phase = "";

void
testhook_phase(const char *p)
{
	phase = p != NULL ? p : "";
}

void
testhook_pause(const char *name)
{
	const char *at = getenv("MCA_TEST_PAUSE_AT"), *ms = getenv("MCA_TEST_PAUSE_MS");
	long n = ms != NULL ? strtol(ms, NULL, 10) : 0;
	struct timespec ts = { n / 1000, (n % 1000) * 1000000L };
	char step[128];

	snprintf(step, sizeof(step), "%s%s", phase, name);
	if (at == NULL || strcmp(at, step) != 0)
		return;
	log_event(LOG_LEVEL_WARN, "test.paused",
	    json_pack("{s:s, s:i, s:I}", "step", step, "pid", (int)getpid(),
	    "ms", (json_int_t)n), "paused at %s for a fault test", step);
	if (n <= 0)
		for (;;)
			pause();
	while (nanosleep(&ts, &ts) != 0)
		;
	log_event(LOG_LEVEL_WARN, "test.resumed",
	    json_pack("{s:s}", "step", step), "resumed after %s", step);
}

void
testhook_pausef(const char *fmt, ...)
{
	char step[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(step, sizeof(step), fmt, ap);
	va_end(ap);
	testhook_pause(step);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int testhook_unused;
#endif
