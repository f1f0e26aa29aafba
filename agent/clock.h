/*
 * clock: the one monotonic clock every timer, deadline and duration uses
 * (CLOCK_MONOTONIC: setting the wall clock moves none of them), and the
 * wall clock where a date is meant.
 */
#ifndef MCA_CLOCK_H
#define MCA_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds. */
long clock_ms(void);

/* The monotonic instant ms from now, for a CLOCK_MONOTONIC condition variable. */
struct timespec clock_after(long ms);

/* Wall-clock nanoseconds since the epoch (files' mtimes are on this clock). */
int64_t clock_wall_ns(void);

#endif
