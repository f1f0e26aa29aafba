/*
 * procwatch: a front's own certificate watcher, seen in a process table:
 * none, idle, or at work (a child of it runs), and several fronts together.
 */
#include "harness.h"
#include "procwatch.h"

#define N(rows) (sizeof(rows) / sizeof(rows[0]))

TEST(state)
{
	/* Mailu's front between changes: start.py, the watcher, the daemons */
	struct proc_row idle[] = {
		{ 1, 0, false }, { 7, 1, false }, { 20, 7, true }, { 33, 1, false },
	};
	/* ... running /config.py, and that one's own child */
	struct proc_row busy[] = {
		{ 1, 0, false }, { 20, 7, true }, { 40, 20, false }, { 41, 40, false },
	};
	/* our lookalike (bash): a forked subshell of the watcher is at work too */
	struct proc_row sub[] = { { 20, 1, true }, { 21, 20, true } };
	/* parents not known (-1, 0) never match one another */
	struct proc_row unknown[] = { { -1, 1, true }, { 5, -1, false }, { 0, 0, true },
		{ 6, 0, false } };
	struct proc_row none[] = { { 1, 0, false }, { 2, 1, false } };

	CHECK_INT(proc_watch_state(idle, N(idle)), PROC_WATCH_IDLE);
	CHECK_INT(proc_watch_state(busy, N(busy)), PROC_WATCH_BUSY);
	CHECK_INT(proc_watch_state(sub, N(sub)), PROC_WATCH_BUSY);
	CHECK_INT(proc_watch_state(unknown, N(unknown)), PROC_WATCH_IDLE);
	CHECK_INT(proc_watch_state(none, N(none)), PROC_WATCH_NONE);
	CHECK_INT(proc_watch_state(NULL, 0), PROC_WATCH_NONE);
	/* a child of a process that is not the watcher is nobody's business */
	CHECK_INT(proc_watch_state(busy + 2, 2), PROC_WATCH_NONE);
}

/* Several fronts: every one must run a watcher; one at work is enough. */
TEST(join)
{
	CHECK_INT(proc_watch_join(PROC_WATCH_IDLE, PROC_WATCH_IDLE), PROC_WATCH_IDLE);
	CHECK_INT(proc_watch_join(PROC_WATCH_IDLE, PROC_WATCH_BUSY), PROC_WATCH_BUSY);
	CHECK_INT(proc_watch_join(PROC_WATCH_BUSY, PROC_WATCH_IDLE), PROC_WATCH_BUSY);
	CHECK_INT(proc_watch_join(PROC_WATCH_BUSY, PROC_WATCH_NONE), PROC_WATCH_NONE);
	CHECK_INT(proc_watch_join(PROC_WATCH_NONE, PROC_WATCH_BUSY), PROC_WATCH_NONE);
}

HARNESS_MAIN("procwatch",
    RUN(state),
    RUN(join))
