/*
 * procwatch: is a front's own certificate watcher at work? Pure: the
 * caller lists the front's processes (the Engine API's process list, or
 * /proc in a shared PID namespace), this decides. Mailu's watcher runs
 * everything it does as a child (/config.py, `nginx -s reload`, `doveadm
 * reload`); between changes it only sleeps, with no child at all.
 */
#ifndef MCA_PROCWATCH_H
#define MCA_PROCWATCH_H

#include <stdbool.h>
#include <stddef.h>

/* One process: its pid and its parent's (-1 or 0: not known), and whether
   its command line names the watcher. */
struct proc_row {
	long pid;
	long ppid;
	bool watcher;
};

enum proc_watch {
	PROC_WATCH_NONE,	/* no watcher among them */
	PROC_WATCH_IDLE,	/* a watcher, with no child: between changes */
	PROC_WATCH_BUSY,	/* a child of a watcher runs: it is reacting to one */
};

enum proc_watch proc_watch_state(const struct proc_row *rows, size_t n);

/* Every front's state together: NONE if one has none, else BUSY if one is. */
enum proc_watch proc_watch_join(enum proc_watch all, enum proc_watch one);

#endif
