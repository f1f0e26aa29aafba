/*
 * clock: see clock.h.
 */
#include "clock.h"

long
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec
clock_after(long ms)
{
	struct timespec ts;
	long ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = ts.tv_nsec + (ms % 1000) * 1000000L;
	ts.tv_sec += ms / 1000 + ns / 1000000000L;
	ts.tv_nsec = ns % 1000000000L;
	return ts;
}

int64_t
clock_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
