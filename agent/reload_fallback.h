/*
 * reload_fallback: the pure half of the docker backend's second way to
 * reload. Mailu's front runs nginx and dovecot under a supervisor, and
 * `nginx -s reload` / `dovecot reload` find their master through a pid
 * file that may be missing (Mailu issue #3287) or under another base_dir
 * than the running master's (`dovecot -c /etc/dovecot/proxy.conf`). When
 * one of the agent's own default commands fails that way, the backend
 * finds the master with ps in the front and sends it SIGHUP there.
 *
 * Here: which default command reloads which daemon, whether its output
 * says the failure is the environment's (never the pair's or a config's),
 * and the master picked from ps's output by sigreload's rule. All of it
 * reads text the front wrote: bounded, strict, and never taken for more
 * than a pid that the rule accepted.
 */
#ifndef MCA_RELOAD_FALLBACK_H
#define MCA_RELOAD_FALLBACK_H

#include <stdbool.h>
#include <stddef.h>

#include "sigreload.h"

/* Why a default reload command failed, when it is not the pair's fault. */
enum fallback_why {
	FALLBACK_NONE,			/* the failure stands */
	FALLBACK_PID_FILE_MISSING,	/* nginx: open() of its pid file: ENOENT; or
					   empty, as `nginx -t` leaves a missing one */
	FALLBACK_PID_FILE_INVALID,	/* nginx: another "invalid PID number" in it */
	FALLBACK_PID_STALE,		/* nginx: its pid names no process (ESRCH) */
	FALLBACK_MASTER_NOT_FOUND,	/* dovecot: "Dovecot is not running" */
	FALLBACK_CONFIG_NOT_FOUND,	/* dovecot: the CLI's own config is absent */
	FALLBACK__MAX
};

extern const char *const fallback_why_names[FALLBACK__MAX];

/*
 * The daemon a command reloads: `nginx -s reload` nginx, `dovecot reload`
 * and `doveadm reload` dovecot (argv exactly so, any directory before the
 * program). 0 with *svc, or -1 for any other command (`nginx -t` among
 * them: a failed config test is never the environment's).
 */
int fallback_service(char *const argv[], enum signal_target *svc);

/*
 * Why svc's reload command failed, from its output (len bytes: stdout and
 * stderr as docker_exec keeps them). Anything but a known line of a
 * master not found is FALLBACK_NONE, and so is any output that also
 * holds a config error (nginx [emerg], dovecot "Error in configuration":
 * a file the config names, the pair among them).
 */
enum fallback_why fallback_classify(enum signal_target svc, const char *out,
    size_t len);

/*
 * One line of `ps -o pid,ppid[,user],args` (procps or busybox), len bytes
 * without the newline: pid and ppid as the kernel writes them (canonical
 * decimal, at most INT_MAX), then, when with_user, one word, then the
 * rest after the blanks. 0, or -1 for a header or anything else.
 */
int fallback_ps_row(const char *line, size_t len, bool with_user, long *pid,
    long *ppid, const char **user, size_t *ulen, const char **args, size_t *alen);

/* Processes read from one ps output at most; more is refused, not cut. */
#define FALLBACK_PS_MAX 1024

/*
 * The master of svc in `ps -e -o pid,ppid,user,args` output (len bytes:
 * procps lists other users' processes, the workers, only with -e), by
 * sigreload's rule (signal_pick_master): `root` (or uid 0), its parent
 * PID 1 or an exec (PPID 0) or itself PID 1, with a worker child of its
 * kind; one, or none. cut: the output was cut short, so the table would be
 * partial: refused. 0 with *pid (and pick's decoys), or -1 with err.
 */
int fallback_pick(const char *ps, size_t len, bool cut, enum signal_target svc,
    long *pid, struct signal_pick *pick, char *err, size_t errlen);

/*
 * From `ps -o pid,ppid,args` output: the pids (in the front's PID
 * namespace) of processes an exec started with exactly this command line:
 * an exec's own process (no parent in the container, PPID 0, and not PID
 * 1), or a child of one of our session shells (docker_session.h, named
 * DOCKER_SESSION_NAME, PPID 0 too). At most RELOAD_KILL_MAX_PIDS.
 */
#define RELOAD_KILL_MAX_PIDS 8
size_t reload_hung_pids(const char *ps, const char *line,
    long pids[RELOAD_KILL_MAX_PIDS]);

/*
 * The session shell's shortcut for a command (docker_session.h), or NULL.
 * Only the default `dovecot reload` has one: SIGHUP straight to the
 * master named in BASE_DIR/master.pid (base_dir asked of doveconf once,
 * when the shell starts) when that pid is a live process named dovecot.
 * That is what `dovecot reload` does after it has read its whole
 * configuration, 40-190 ms on a busy 2-core front, on the rotation's
 * critical path; dovecot's master reads the configuration again on the
 * signal and keeps the old one if it is broken. Otherwise the command
 * itself runs, and its failure meets the fallback as before. Never for
 * the admin's own commands (defaults false).
 */
const struct docker_session_shortcut *reload_shortcut(char *const argv[], bool defaults);

#endif
