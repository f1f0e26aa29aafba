/*
 * daemon: the long-running agent (`run`) and the one-shot commands that
 * share its start-up (`once`, `rollback`): lock, recover, then act.
 */
#ifndef MCA_DAEMON_H
#define MCA_DAEMON_H

#include "config.h"

/* Exit codes of `once` and `rollback` (DESIGN.md). */
#define EXIT_OK 0
#define EXIT_REJECTED 1
#define EXIT_FAILED 2

/* `run`: returns 0 after SIGTERM/SIGINT, 2 if it could not start. */
int daemon_run(struct config *cfg, int argc, char **argv, char **envp);

/* `once`: one cycle now; 0 rotated/unchanged, 1 rejected, 2 rolled back/failed. */
int daemon_once(struct config *cfg);

/* `rollback`: restore the newest backup; 0 ok, 2 failed. */
int daemon_rollback(struct config *cfg);

#endif
