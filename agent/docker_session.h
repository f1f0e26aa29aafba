/*
 * docker_session: the daemon's reload commands kept ready in their front
 * (AGENT_RELOAD_EXEC=kept). A command's first run starts a small shell in
 * the front, one exec with its stdin attached, that runs the command each
 * time it reads a line and writes its exit status back; every later run
 * costs that line and the command itself, not a new exec.
 */
#ifndef MCA_DOCKER_SESSION_H
#define MCA_DOCKER_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "docker.h"

/* The session shell's $0, how the front's process list shows it. */
#define DOCKER_SESSION_NAME "mailu-cert-agent-reload"
/* (front, command) pairs kept at once; more run a new exec each time. */
#define DOCKER_SESSIONS_MAX 16
/* A command, shell-quoted, fits in this (else a new exec each time). */
#define DOCKER_SESSION_LINE 1024

struct docker_sessions;

/*
 * A command's shortcut in its session shell, the caller's own shell text
 * (never a setting's): setup runs once when the shell starts; try runs
 * before every run, quiet, and when it succeeds the command itself does
 * not run (status 0, no output).
 */
struct docker_session_shortcut {
	const char *setup;
	const char *try;
};

struct docker_sessions *docker_sessions_new(void);
/* Closes every session (the shells in the fronts end) and frees *ssp. */
void docker_sessions_free(struct docker_sessions **ssp);

/*
 * docker_exec (docker.h), the same contract and results, through the
 * session of (id, argv) in ss: opened at the first run, opened again when
 * the engine closed it (the front restarted, a proxy dropped it). A
 * session that cannot be had, or is lost before the command's status
 * came back, falls back to docker_exec for this run: a reload command
 * may then run twice, which reloads twice. NULL ss: docker_exec alone.
 * On a timeout the session is closed; res->exec_id names its shell. cut:
 * the command's shortcut, or NULL; a new exec never takes it.
 */
int docker_sessions_exec(struct docker_sessions *ss, struct docker *d,
    const char *id, char *const argv[], const struct docker_session_shortcut *cut,
    long timeout_ms, struct docker_exec_result *res, struct docker_status *st);

/* The session of (id, argv) opened ahead of its first run; quiet on failure. */
void docker_sessions_open(struct docker_sessions *ss, struct docker *d,
    const char *id, char *const argv[], const struct docker_session_shortcut *cut,
    long timeout_ms);

/*
 * argv as one line for a POSIX shell: each word in single quotes ('
 * written '\''), separated by spaces. -1 when a word holds a control
 * character or the line does not fit in size. Pure, for the unit tests.
 */
int docker_session_quote(char *const argv[], char *out, size_t size);

/*
 * Reads the session shell's stdout, where a run writes the command's
 * output (stdout and stderr, in the order written) and then its exit
 * status on a line of its own, behind the run's token: "TOKEN STATUS".
 * The token is 16 random hex digits per run, so no output can pass for
 * the status line. Zero it, set token, feed it the stream's bytes as they
 * come: output bytes go to out(arg, ...); returns 1 once the status line
 * is complete (code 0..255), 0 for more, -1 on anything else (a status
 * line that is not one, bytes after it). Pure.
 */
struct docker_session_scan {
	char token[17];
	size_t matched;			/* bytes of "TOKEN " matched at a line start */
	bool mid_line;			/* the last output byte was not a newline */
	char digits[4];
	size_t n_digits;
	int done;			/* 1 complete, -1 broken */
	int code;
};

int docker_session_scan(struct docker_session_scan *sc, const unsigned char *p,
    size_t n, void (*out)(void *arg, const unsigned char *p, size_t n), void *arg);

#endif
