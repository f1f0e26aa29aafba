/*
 * sigreload: the reload for a shared PID namespace (Kubernetes
 * shareProcessNamespace, or docker run --pid container:front): SIGHUP to
 * the nginx master and to the dovecot master, found in /proc. Needs
 * CAP_KILL when the front runs as another user.
 *
 * A command line is anyone's to choose (exec -a), so it only names a
 * candidate. A candidate is the master only if it runs as root (real and
 * effective uid 0), has at least one worker child of its kind, and was
 * started by the container: its parent is PID 1 or a container init
 * (PPID 0), or it is PID 1 or a container init itself. Every other
 * candidate is a decoy, reported with why.
 */
#ifndef MCA_SIGRELOAD_H
#define MCA_SIGRELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "procwatch.h"

enum signal_target {
	SIGNAL_NGINX,
	SIGNAL_DOVECOT,
	SIGNAL__MAX
};

extern const char *const signal_target_names[SIGNAL__MAX];

enum signal_role {
	SIGNAL_ROLE_OTHER,
	SIGNAL_ROLE_MASTER,
	SIGNAL_ROLE_WORKER,
	SIGNAL_ROLE__MAX
};

extern const char *const signal_role_names[SIGNAL_ROLE__MAX];

/* A namespace holding more processes than this is refused, not half read. */
#define SIGNAL_PROCS_MAX 32768
/* Rejected candidates kept for the log; the rest are only counted. */
#define SIGNAL_DECOYS_MAX 32

/* One process of the table, as read from /proc/PID/{stat,status,cmdline}. */
struct signal_proc {
	pid_t		pid;
	pid_t		ppid;	/* 0: its parent is outside the namespace */
	uid_t		ruid;
	uid_t		euid;
	unsigned char	role;	/* enum signal_role */
	unsigned char	kind;	/* enum signal_target; master or worker only */
};

struct signal_decoy {
	pid_t			pid;
	enum signal_target	kind;
	char			why[64];	/* printable ASCII, no cmdline byte */
};

struct signal_pick {
	pid_t			pids[SIGNAL__MAX];	/* -1 until accepted */
	struct signal_decoy	decoys[SIGNAL_DECOYS_MAX];
	size_t			ndecoys;	/* in decoys[] */
	size_t			omitted;	/* rejected beyond SIGNAL_DECOYS_MAX */
	bool			missing;	/* a kind has no master at all (a front restarting?) */
};

/*
 * Classifies one process by its command line (NUL-separated argv as in
 * /proc/PID/cmdline, len bytes): SIGNAL_ROLE_MASTER for an nginx master
 * ("nginx: master process ...") or a dovecot master (argv[0] dovecot, any
 * directory), SIGNAL_ROLE_WORKER for their children ("nginx: worker
 * process", "nginx: cache manager process", "dovecot/imap-login"...),
 * with *kind set; SIGNAL_ROLE_OTHER for anything else.
 */
enum signal_role signal_classify(const char *cmdline, size_t len,
    enum signal_target *kind);

/*
 * /proc/PID/stat (len bytes, not NUL-terminated): the pid before " (" and
 * the ppid, the fourth field, read after the LAST ')' since comm may hold
 * ')' and spaces. Returns 0, or -1 if the line is not of that form.
 */
int signal_parse_stat(const char *buf, size_t len, pid_t *pid, pid_t *ppid);

/*
 * /proc/PID/status (len bytes): the real and effective uid of the line
 * that starts with "Uid:". Returns 0, or -1 without such a line.
 */
int signal_parse_status_uid(const char *buf, size_t len, uid_t *ruid,
    uid_t *euid);

/*
 * The decision, with no I/O: picks exactly one master of each kind from
 * n processes (any order). Returns 0 with pick->pids[], or -1 with err
 * naming what is missing or ambiguous: "no ..." when no candidate of a
 * kind is accepted, "N ... refusing to guess" for several accepted ones.
 * pick->decoys[] lists the rejected candidates either way.
 */
int signal_pick_masters(const struct signal_proc *procs, size_t n,
    struct signal_pick *pick, char *err, size_t errlen);

/*
 * The same rule for one kind alone: 0 with pick->pids[kind], or -1 with
 * err; candidates of the other kind are neither picked nor decoys.
 */
int signal_pick_master(const struct signal_proc *procs, size_t n,
    enum signal_target kind, struct signal_pick *pick, char *err, size_t errlen);

/*
 * Reads every numeric entry of proc_dir ("/proc") but self into a table
 * (*procs, freed by the caller) of at most max processes. A process gone
 * or unreadable meanwhile is left out. Returns 0, or -1 with err
 * (unreadable proc_dir, more than max processes).
 */
int signal_scan(const char *proc_dir, pid_t self, size_t max,
    struct signal_proc **procs, size_t *n, char *err, size_t errlen);

/*
 * The watcher is a process of proc_dir but self with needle in its
 * command line (the first CMDLINE_MAX bytes); *w says whether there is one
 * and whether a child of it runs (procwatch.h). 0, or -1 when proc_dir is
 * unreadable.
 */
int signal_find_watcher(const char *proc_dir, pid_t self, const char *needle,
    enum proc_watch *w);

/* signal_scan (SIGNAL_PROCS_MAX), then signal_pick_masters. */
int signal_find_masters(const char *proc_dir, struct signal_pick *pick,
    char *err, size_t errlen);

/*
 * One reload.decoy event for each rejected candidate of pick (and
 * reload.decoys_omitted for the rest), naming container when not NULL.
 */
void signal_log_decoys(const struct signal_pick *pick, const char *container);

/*
 * Finds the masters, logs a reload.decoy event for each rejected
 * candidate and sends each master SIGHUP, one reload.signal event each.
 * On -1, *missing tells a master that is not there at all (worth a
 * retry: the front may be restarting) from one that could not be
 * chosen or signalled.
 */
int signal_reload(bool *missing, char *err, size_t errlen);

#endif
