/* procwatch: see procwatch.h. */
#include "procwatch.h"

enum proc_watch
proc_watch_state(const struct proc_row *rows, size_t n)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (!rows[i].watcher)
			continue;
		any = true;
		if (rows[i].pid <= 0)
			continue;	/* its children cannot be told */
		for (size_t k = 0; k < n; k++)
			if (rows[k].ppid == rows[i].pid)
				return PROC_WATCH_BUSY;
	}
	return any ? PROC_WATCH_IDLE : PROC_WATCH_NONE;
}

enum proc_watch
proc_watch_join(enum proc_watch all, enum proc_watch one)
{
	if (all == PROC_WATCH_NONE || one == PROC_WATCH_NONE)
		return PROC_WATCH_NONE;
	return all == PROC_WATCH_BUSY || one == PROC_WATCH_BUSY ? PROC_WATCH_BUSY :
	    PROC_WATCH_IDLE;
}
