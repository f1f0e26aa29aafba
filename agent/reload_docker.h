/*
 * reload_docker: the docker backend of reload.h, and the pure pieces of
 * it the unit tests and fuzzers reach.
 */
#ifndef MCA_RELOAD_DOCKER_H
#define MCA_RELOAD_DOCKER_H

#include "reload.h"
#include "reload_fallback.h"

#define RELOAD_MAX_COMMANDS 8
#define RELOAD_MAX_ARGS 16

/* Parses AGENT_RELOAD_COMMANDS and sets up the engine client. */
int reload_docker_open(struct reloader *r, char *err, size_t errlen);


/*
 * The daemon a command reloads or tests, by its program (any directory
 * before it): nginx SERVICE_NGINX; dovecot or doveadm SERVICE_DOVECOT;
 * -1 for any other.
 */
int reload_command_service(char *const argv[]);

/*
 * How the commands run, pure: in stages, a stage's commands at once (one
 * exec each, each waited for), a stage only once every command of the
 * one before succeeded. In order (!by_daemon: AGENT_RELOAD_COMMANDS the
 * admin set, which the agent never reorders): one command per stage.
 * By daemon (the default commands): each daemon's commands in their
 * order, its k-th in stage k, so nginx's and dovecot's run side by side
 * (the defaults, `nginx -s reload` and `dovecot reload`, in one stage; a
 * `nginx -t` before `nginx -s reload` would still come a stage before
 * it, so a failing test reloads nothing of nginx's). A command of no known
 * daemon puts every command in order. opens[c]: the daemon command c
 * completes the reload of (its daemon's last command), or -1.
 */
struct reload_plan {
	size_t n;
	struct {
		size_t cmd[SERVICE__MAX];	/* indexes into the commands, in order */
		size_t n;
	} stage[RELOAD_MAX_COMMANDS];
	int opens[RELOAD_MAX_COMMANDS];
};
void reload_plan_make(char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1], size_t n,
    bool by_daemon, struct reload_plan *p);

/* Splits AGENT_RELOAD_COMMANDS: ';' between commands, spaces between args. */
int reload_parse_commands(const char *s, char *buf, size_t buflen,
    char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1], size_t *n);

#endif
