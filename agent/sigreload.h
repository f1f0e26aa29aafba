/*
 * sigreload: the reload for a shared PID namespace (Kubernetes
 * shareProcessNamespace, or docker run --pid container:front): SIGHUP to
 * the nginx master and to the dovecot master, found in /proc by their
 * command lines. Needs CAP_KILL when the front runs as another user.
 */
#ifndef MCA_SIGRELOAD_H
#define MCA_SIGRELOAD_H

#include <stddef.h>
#include <sys/types.h>

enum signal_target {
	SIGNAL_NGINX,
	SIGNAL_DOVECOT,
	SIGNAL__MAX
};

extern const char *const signal_target_names[SIGNAL__MAX];

/*
 * Classifies one process by its command line (NUL-separated argv as in
 * /proc/PID/cmdline, len bytes): SIGNAL_NGINX for an nginx master,
 * SIGNAL_DOVECOT for a dovecot master, -1 for anything else (workers,
 * dovecot/imap-login, an editor with "nginx" in a file name...).
 */
int signal_classify(const char *cmdline, size_t len);

/*
 * Finds exactly one master of each kind under proc_dir ("/proc"). Returns
 * 0 with pids[], or -1 with err naming what is missing or ambiguous
 * (several candidates of the same kind are refused, never guessed).
 */
int signal_find_masters(const char *proc_dir, pid_t pids[SIGNAL__MAX],
    char *err, size_t errlen);

/* Finds the masters and sends each SIGHUP, one reload.signal event each. */
int signal_reload(char *err, size_t errlen);

#endif
