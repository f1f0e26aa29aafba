/*
 * daemon: the long-running agent (`run`): watch, settle, rotate, verify
 * what is served, monitor expiry, until SIGTERM.
 */
#ifndef MCA_DAEMON_H
#define MCA_DAEMON_H

#include "agent.h"

/* `run`: returns 0 after SIGTERM/SIGINT, 2 if it could not start. */
int daemon_run(struct config *cfg, int argc, char **argv, char **envp);

#endif
