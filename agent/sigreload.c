/*
 * sigreload (DESIGN.md's `signal`; renamed so it never shadows <signal.h>):
 * /proc is read like any other input: bounded reads, numeric
 * names only, and a process is a master only by its own command line.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sigreload.h"

const char *const signal_target_names[SIGNAL__MAX] = { "nginx", "dovecot" };

#define CMDLINE_MAX 4096

int
signal_classify(const char *cmdline, size_t len)
{
	static const char nginx_master[] = "nginx: master process";
	const char *argv0 = cmdline, *base;
	size_t a0len = strnlen(cmdline, len);

	if (len == 0)
		return -1;
	/* nginx rewrites its argv to "nginx: master process ..." */
	if (a0len >= sizeof(nginx_master) - 1 &&
	    memcmp(argv0, nginx_master, sizeof(nginx_master) - 1) == 0)
		return SIGNAL_NGINX;
	/*
	 * dovecot's master keeps its argv ("/usr/sbin/dovecot -F"); its
	 * children rename themselves "dovecot/imap-login" and the like.
	 */
	base = memrchr(argv0, '/', a0len);
	base = base != NULL ? base + 1 : argv0;
	if ((size_t)(argv0 + a0len - base) == 7 && memcmp(base, "dovecot", 7) == 0 &&
	    !(base > argv0 && strncmp(argv0, "dovecot/", 8) == 0))
		return SIGNAL_DOVECOT;
	return -1;
}

static ssize_t
read_cmdline(const char *proc_dir, const char *pid, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/cmdline", proc_dir, pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	return n;
}

int
signal_find_masters(const char *proc_dir, pid_t pids[SIGNAL__MAX], char *err,
    size_t errlen)
{
	int found[SIGNAL__MAX] = { 0 };
	struct dirent *de;
	DIR *d;

	for (int i = 0; i < SIGNAL__MAX; i++)
		pids[i] = -1;
	if ((d = opendir(proc_dir)) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", proc_dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char buf[CMDLINE_MAX];
		ssize_t n;
		long pid;
		char *end;
		int kind;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 1 || pid == (long)getpid())
			continue;
		if ((n = read_cmdline(proc_dir, de->d_name, buf, sizeof(buf) - 1)) <= 0)
			continue;	/* a kernel thread, or gone */
		buf[n] = '\0';
		if ((kind = signal_classify(buf, (size_t)n)) < 0)
			continue;
		found[kind]++;
		pids[kind] = (pid_t)pid;
	}
	closedir(d);
	for (int i = 0; i < SIGNAL__MAX; i++) {
		if (found[i] == 1)
			continue;
		if (found[i] == 0)
			snprintf(err, errlen, "no %s master process in this PID "
			    "namespace (is it shared?)", signal_target_names[i]);
		else
			snprintf(err, errlen, "%d %s master processes: refusing to guess "
			    "which one", found[i], signal_target_names[i]);
		return -1;
	}
	return 0;
}

int
signal_reload(char *err, size_t errlen)
{
	pid_t pids[SIGNAL__MAX];

	if (signal_find_masters("/proc", pids, err, errlen) != 0)
		return -1;
	for (int i = 0; i < SIGNAL__MAX; i++) {
		int rc = kill(pids[i], SIGHUP), e = errno;	/* before logging */

		log_event(rc == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "reload.signal",
		    json_pack("{s:s, s:i, s:s, s:b}", "service", signal_target_names[i],
		    "pid", (int)pids[i], "signal", "SIGHUP", "sent", rc == 0),
		    rc == 0 ? "SIGHUP to %s master %d" : "SIGHUP to %s master %d failed",
		    signal_target_names[i], (int)pids[i]);
		if (rc != 0) {
			/* an added CAP_KILL is inert for another uid: say so */
			snprintf(err, errlen, "kill %d: %s%s", (int)pids[i], strerror(e),
			    e != EPERM ? "" : geteuid() != 0 ? " (not uid 0: the "
			    "signal backend runs as user 0 with only CAP_KILL)" :
			    " (CAP_KILL needed)");
			return -1;
		}
	}
	return 0;
}
