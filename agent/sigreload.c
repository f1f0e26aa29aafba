/*
 * sigreload (not signal.c: that would shadow <signal.h>):
 * /proc is read like any other input: bounded reads, numeric names only,
 * once into a table; then a pure decision picks the masters from it. A
 * command line only makes a candidate: any process of the namespace can
 * be started as `exec -a "nginx: master process" sleep 30`.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sigreload.h"

const char *const signal_target_names[SIGNAL__MAX] = { "nginx", "dovecot" };
const char *const signal_role_names[SIGNAL_ROLE__MAX] = {
	"other", "master", "worker"
};

/*
 * stat: "PID (COMM) S PPID ...". comm is at most 64 bytes and nothing
 * after it holds a ')', so the last ')' of the first 512 bytes is comm's.
 */
#define STAT_MAX	512
/* status: Uid is its ninth line; Name before it is escaped, <= 256 bytes */
#define STATUS_MAX	4096
#define CMDLINE_MAX	4096

static int
has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);

	return len >= plen && memcmp(s, prefix, plen) == 0;
}

enum signal_role
signal_classify(const char *cmdline, size_t len, enum signal_target *kind)
{
	size_t a0len = strnlen(cmdline, len);
	const char *base;

	/* nginx rewrites its argv: "nginx: master process ...", "nginx: worker
	 * process", "nginx: cache manager process" */
	if (has_prefix(cmdline, a0len, "nginx: ")) {
		*kind = SIGNAL_NGINX;
		return has_prefix(cmdline, a0len, "nginx: master process") ?
		    SIGNAL_ROLE_MASTER : SIGNAL_ROLE_WORKER;
	}
	/*
	 * dovecot's master keeps its argv ("/usr/sbin/dovecot -F"); its
	 * children rename themselves "dovecot/imap-login" and the like.
	 */
	if (has_prefix(cmdline, a0len, "dovecot/")) {
		if (a0len == 8)
			return SIGNAL_ROLE_OTHER;
		*kind = SIGNAL_DOVECOT;
		return SIGNAL_ROLE_WORKER;
	}
	base = memrchr(cmdline, '/', a0len);
	base = base != NULL ? base + 1 : cmdline;
	if ((size_t)(cmdline + a0len - base) == 7 && memcmp(base, "dovecot", 7) == 0) {
		*kind = SIGNAL_DOVECOT;
		return SIGNAL_ROLE_MASTER;
	}
	return SIGNAL_ROLE_OTHER;
}

/*
 * Decimal digits at *p as the kernel writes them: at most 10, no sign, no
 * leading zero. 0, or -1 if none, not canonical or above max.
 */
static int
parse_num(const char **p, const char *end, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long v = 0;
	const char *s = *p;
	size_t nd = 0;

	if (end - s >= 2 && s[0] == '0' && isdigit((unsigned char)s[1]))
		return -1;
	while (s < end && isdigit((unsigned char)*s)) {
		if (++nd > 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s++ - '0');
	}
	if (nd == 0 || v > max)
		return -1;
	*p = s;
	*out = v;
	return 0;
}

int
signal_parse_stat(const char *buf, size_t len, pid_t *pid, pid_t *ppid)
{
	const char *p = buf, *end = buf + len, *rp;
	unsigned long long v, pv;

	if (parse_num(&p, end, INT_MAX, &v) != 0 || v == 0)
		return -1;
	if (end - p < 2 || p[0] != ' ' || p[1] != '(')
		return -1;
	p += 2;
	if ((rp = memrchr(p, ')', (size_t)(end - p))) == NULL)
		return -1;
	/* ") S PPID ": one state letter; a space after the ppid, or it may be cut */
	p = rp + 1;
	if (end - p < 4 || p[0] != ' ' || !isalpha((unsigned char)p[1]) ||
	    p[2] != ' ')
		return -1;
	p += 3;
	if (parse_num(&p, end, INT_MAX, &pv) != 0 || p == end || *p != ' ')
		return -1;
	*pid = (pid_t)v;
	*ppid = (pid_t)pv;
	return 0;
}

int
signal_parse_status_uid(const char *buf, size_t len, uid_t *ruid, uid_t *euid)
{
	const char *p = buf, *end = buf + len, *nl;
	unsigned long long r, e;

	for (; p < end; p = nl + 1) {
		/* a line cut by the bounded read is no line: "Uid:\t10" of 1000 */
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return -1;
		if (!has_prefix(p, (size_t)(nl - p), "Uid:"))
			continue;
		p += 4;
		if (p == nl || (*p != '\t' && *p != ' '))
			return -1;
		while (p < nl && (*p == '\t' || *p == ' '))
			p++;
		if (parse_num(&p, nl, (uid_t)-1 - 1, &r) != 0 || p == nl ||
		    (*p != '\t' && *p != ' '))
			return -1;
		while (p < nl && (*p == '\t' || *p == ' '))
			p++;
		if (parse_num(&p, nl, (uid_t)-1 - 1, &e) != 0 ||
		    (p != nl && *p != '\t' && *p != ' '))
			return -1;
		*ruid = (uid_t)r;
		*euid = (uid_t)e;
		return 0;
	}
	return -1;
}

static const struct signal_proc *
find_proc(const struct signal_proc *procs, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

/*
 * Started by the container: Mailu's start.py (PID 1 under docker, PPID 0
 * as a container init on Kubernetes) is nginx's parent, and the dovecot
 * it starts daemonizes onto PID 1; an image may also run nginx as its
 * init. Under Kubernetes a `kubectl exec` process has PPID 0 too: the
 * worker and root checks are what stand against those.
 */
static int
started_by_container(const struct signal_proc *procs, size_t n,
    const struct signal_proc *c)
{
	const struct signal_proc *parent;

	if (c->pid == 1 || c->ppid == 0 || c->ppid == 1)
		return 1;
	parent = find_proc(procs, n, c->ppid);
	return parent != NULL && parent->ppid == 0;
}

static int
has_worker(const struct signal_proc *procs, size_t n,
    const struct signal_proc *c)
{
	for (size_t i = 0; i < n; i++)
		if (procs[i].ppid == c->pid && procs[i].role == SIGNAL_ROLE_WORKER &&
		    procs[i].kind == c->kind)
			return 1;
	return 0;
}

static void
pick_init(struct signal_pick *pick)
{
	memset(pick, 0, sizeof(*pick));
	for (int i = 0; i < SIGNAL__MAX; i++)
		pick->pids[i] = -1;
}

/* The rule for the kinds in want (a bit each); others are not looked at. */
static int
pick_kinds(const struct signal_proc *procs, size_t n, unsigned want,
    struct signal_pick *pick, char *err, size_t errlen)
{
	size_t accepted[SIGNAL__MAX] = { 0 }, rejected[SIGNAL__MAX] = { 0 };
	pid_t first[SIGNAL__MAX];

	pick_init(pick);
	memcpy(first, pick->pids, sizeof(first));
	for (size_t i = 0; i < n; i++) {
		const struct signal_proc *c = &procs[i];
		struct signal_decoy *d;
		char why[sizeof(d->why)];

		if (c->role != SIGNAL_ROLE_MASTER || c->kind >= SIGNAL__MAX ||
		    (want & 1u << c->kind) == 0)
			continue;
		/* uid first: the other checks walk the table, for root only */
		if (c->ruid != 0 || c->euid != 0)
			snprintf(why, sizeof(why), "not root (uid %u, euid %u)",
			    (unsigned)c->ruid, (unsigned)c->euid);
		else if (!started_by_container(procs, n, c))
			snprintf(why, sizeof(why), "parent %d is not the container's "
			    "init", (int)c->ppid);
		else if (!has_worker(procs, n, c))
			snprintf(why, sizeof(why), "no worker children");
		else {
			if (accepted[c->kind]++ == 0)
				first[c->kind] = c->pid;
			continue;
		}
		rejected[c->kind]++;
		if (pick->ndecoys == SIGNAL_DECOYS_MAX) {
			pick->omitted++;
			continue;
		}
		d = &pick->decoys[pick->ndecoys++];
		d->pid = c->pid;
		d->kind = c->kind;
		memcpy(d->why, why, sizeof(d->why));
	}
	for (int k = 0; k < SIGNAL__MAX; k++) {
		const char *name = signal_target_names[k];

		if ((want & 1u << k) == 0)
			continue;
		if (accepted[k] > 1)
			snprintf(err, errlen, "%zu %s master processes: refusing to "
			    "guess which one", accepted[k], name);
		else if (accepted[k] == 0 && rejected[k] > 0)
			snprintf(err, errlen, "no %s master process accepted: %zu "
			    "candidate%s rejected (see reload.decoy)", name,
			    rejected[k], rejected[k] == 1 ? "" : "s");
		else if (accepted[k] == 0)
			snprintf(err, errlen, "no %s master process in this PID "
			    "namespace (is it shared?)", name);
		else
			continue;
		pick->missing = accepted[k] == 0;
		return -1;
	}
	for (int k = 0; k < SIGNAL__MAX; k++)
		pick->pids[k] = first[k];
	return 0;
}

int
signal_pick_masters(const struct signal_proc *procs, size_t n,
    struct signal_pick *pick, char *err, size_t errlen)
{
	return pick_kinds(procs, n, (1u << SIGNAL__MAX) - 1, pick, err, errlen);
}

int
signal_pick_master(const struct signal_proc *procs, size_t n,
    enum signal_target kind, struct signal_pick *pick, char *err, size_t errlen)
{
	if (kind >= SIGNAL__MAX) {
		pick_init(pick);
		snprintf(err, errlen, "no such service");
		return -1;
	}
	return pick_kinds(procs, n, 1u << kind, pick, err, errlen);
}

/* Reads up to len bytes of dfd/name, a regular /proc file. */
static ssize_t
read_at(int dfd, const char *name, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t r;
	int fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	while (got < len) {
		if ((r = read(fd, buf + got, len - got)) < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return (ssize_t)got;
}

/*
 * One process, through one directory fd: if the pid is reused meanwhile,
 * the reads fail (ESRCH) instead of mixing two processes. -1: gone or
 * unreadable, skipped.
 */
static int
read_proc(int procfd, const char *name, pid_t pid, struct signal_proc *p)
{
	char buf[CMDLINE_MAX];
	enum signal_target kind = SIGNAL_NGINX;
	pid_t spid;
	ssize_t n;
	int dfd, rc = -1;

	if ((dfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return -1;
	if ((n = read_at(dfd, "stat", buf, STAT_MAX)) <= 0 ||
	    signal_parse_stat(buf, (size_t)n, &spid, &p->ppid) != 0 || spid != pid)
		goto out;
	if ((n = read_at(dfd, "status", buf, STATUS_MAX)) <= 0 ||
	    signal_parse_status_uid(buf, (size_t)n, &p->ruid, &p->euid) != 0)
		goto out;
	/* empty for a kernel thread or a zombie: "other" */
	if ((n = read_at(dfd, "cmdline", buf, CMDLINE_MAX)) < 0)
		goto out;
	p->pid = pid;
	p->role = (unsigned char)signal_classify(buf, (size_t)n, &kind);
	p->kind = (unsigned char)(p->role == SIGNAL_ROLE_OTHER ? 0 : kind);
	rc = 0;
out:
	close(dfd);
	return rc;
}

/* "1".."2147483647" only: not "self", "01" or "+5" */
static pid_t
pid_name(const char *s)
{
	unsigned long long v;
	const char *p = s, *end = s + strnlen(s, 12);

	if (parse_num(&p, end, INT_MAX, &v) != 0 || p != end || *end != '\0')
		return 0;
	return (pid_t)v;
}

int
signal_scan(const char *proc_dir, pid_t self, size_t max,
    struct signal_proc **procs, size_t *n, char *err, size_t errlen)
{
	struct signal_proc *t = NULL, *nt;
	size_t cap = 0, used = 0;
	struct dirent *de;
	int rc = -1;
	DIR *d;

	*procs = NULL;
	*n = 0;
	if ((d = opendir(proc_dir)) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", proc_dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		pid_t pid = pid_name(de->d_name);

		if (pid == 0 || pid == self)
			continue;
		if (used == cap) {
			if (used == max) {
				snprintf(err, errlen, "more than %zu processes in %s: "
				    "refusing to pick a master from part of them",
				    max, proc_dir);
				goto out;
			}
			cap = cap == 0 ? 256 : cap * 2;
			cap = cap < max ? cap : max;
			if ((nt = realloc(t, cap * sizeof(*t))) == NULL) {
				snprintf(err, errlen, "out of memory reading %s", proc_dir);
				goto out;
			}
			t = nt;
		}
		if (read_proc(dirfd(d), de->d_name, pid, &t[used]) == 0)
			used++;
	}
	*procs = t;
	*n = used;
	t = NULL;
	rc = 0;
out:
	free(t);
	closedir(d);
	return rc;
}

int
signal_find_watcher(const char *proc_dir, pid_t self, const char *needle,
    enum proc_watch *w)
{
	char buf[CMDLINE_MAX];
	struct proc_row *rows = NULL, *nr;
	struct dirent *de;
	size_t nlen = strlen(needle), used = 0, cap = 0;
	pid_t spid, ppid;
	DIR *d;

	*w = PROC_WATCH_NONE;
	if ((d = opendir(proc_dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && used < SIGNAL_PROCS_MAX) {
		pid_t pid = pid_name(de->d_name);
		ssize_t n;
		int dfd;

		if (pid == 0 || pid == self)
			continue;
		if (used == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			if ((nr = realloc(rows, cap * sizeof(*rows))) == NULL)
				break;	/* judged on what was read */
			rows = nr;
		}
		if ((dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) < 0)
			continue;	/* gone meanwhile */
		/* its parent: a child of the watcher is the watcher at work */
		n = read_at(dfd, "stat", buf, STAT_MAX);
		rows[used].pid = pid;
		rows[used].ppid = n > 0 && signal_parse_stat(buf, (size_t)n, &spid, &ppid) == 0 &&
		    spid == pid ? ppid : -1;
		/* the arguments, NUL-separated: a needle inside one of them */
		n = read_at(dfd, "cmdline", buf, sizeof(buf));
		close(dfd);
		rows[used].watcher = n > 0 && memmem(buf, (size_t)n, needle, nlen) != NULL;
		used++;
	}
	closedir(d);
	*w = proc_watch_state(rows, used);
	free(rows);
	return 0;
}

int
signal_find_masters(const char *proc_dir, struct signal_pick *pick, char *err,
    size_t errlen)
{
	struct signal_proc *procs;
	size_t n;
	int rc;

	if (signal_scan(proc_dir, getpid(), SIGNAL_PROCS_MAX, &procs, &n,
	    err, errlen) != 0) {
		pick_init(pick);
		return -1;
	}
	rc = signal_pick_masters(procs, n, pick, err, errlen);
	free(procs);
	return rc;
}

void
signal_log_decoys(const struct signal_pick *pick, const char *container)
{
	for (size_t i = 0; i < pick->ndecoys; i++) {
		const struct signal_decoy *d = &pick->decoys[i];
		json_t *ev = json_pack("{s:s, s:i, s:s}", "service",
		    signal_target_names[d->kind], "pid", (int)d->pid, "why", d->why);

		if (container != NULL && ev != NULL)
			json_object_set_new(ev, "container", json_string(container));
		log_event(LOG_LEVEL_WARN, "reload.decoy", ev,
		    "ignored %s master candidate %d: %s",
		    signal_target_names[d->kind], (int)d->pid, d->why);
	}
	if (pick->omitted > 0)
		log_event(LOG_LEVEL_WARN, "reload.decoys_omitted",
		    json_pack("{s:I}", "omitted", (json_int_t)pick->omitted),
		    "%zu more master candidates ignored, not logged one by one",
		    pick->omitted);
}

int
signal_reload(bool *missing, char *err, size_t errlen)
{
	struct signal_pick pick;
	int found;

	found = signal_find_masters("/proc", &pick, err, errlen);
	signal_log_decoys(&pick, NULL);
	*missing = found != 0 && pick.missing;
	if (found != 0)
		return -1;
	for (int i = 0; i < SIGNAL__MAX; i++) {
		int rc = kill(pick.pids[i], SIGHUP), e = errno;	/* before logging */

		log_event(rc == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "reload.signal",
		    json_pack("{s:s, s:i, s:s, s:b}", "service", signal_target_names[i],
		    "pid", (int)pick.pids[i], "signal", "SIGHUP", "sent", rc == 0),
		    rc == 0 ? "SIGHUP to %s master %d" : "SIGHUP to %s master %d failed",
		    signal_target_names[i], (int)pick.pids[i]);
		if (rc != 0) {
			/* an added CAP_KILL is inert for another uid: say so */
			snprintf(err, errlen, "kill %d: %s%s", (int)pick.pids[i],
			    strerror(e), e != EPERM ? "" : geteuid() != 0 ?
			    " (not uid 0: the signal backend runs as user 0 with only "
			    "CAP_KILL)" : " (CAP_KILL needed)");
			return -1;
		}
	}
	return 0;
}
