/* Finding the nginx and dovecot masters by command line, in a fake /proc. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "sigreload.h"

static int
cls(const char *s, size_t len)
{
	return signal_classify(s, len);
}

#define C(lit) cls(lit, sizeof(lit) - 1)

TEST(classify)
{
	CHECK_INT(C("nginx: master process /usr/sbin/nginx -g daemon off;"), SIGNAL_NGINX);
	CHECK_INT(C("nginx: worker process"), -1);
	CHECK_INT(C("/usr/sbin/dovecot\0-F\0"), SIGNAL_DOVECOT);
	CHECK_INT(C("dovecot\0-F\0"), SIGNAL_DOVECOT);
	CHECK_INT(C("dovecot/imap-login"), -1);
	CHECK_INT(C("dovecot/anvil [0 connections]"), -1);
	CHECK_INT(C("vim\0/etc/nginx/nginx.conf\0"), -1);
	CHECK_INT(C("/usr/bin/dovecotx"), -1);
	CHECK_INT(C("/usr/sbin/nginx\0-t\0"), -1);
	CHECK_INT(cls("", 0), -1);
}

static char root[] = "/tmp/mca-test-proc-XXXXXX";

static void
proc(const char *pid, const char *cmdline, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/cmdline", root, pid);
	f = fopen(path, "w");
	fwrite(cmdline, 1, len, f);
	fclose(f);
}

#define P(pid, lit) proc(pid, lit, sizeof(lit) - 1)

TEST(find_masters)
{
	pid_t pids[SIGNAL__MAX];
	char err[256] = "", cmd[300];

	CHECK(mkdtemp(root) != NULL);
	P("7", "nginx: master process nginx");
	P("8", "nginx: worker process");
	P("9", "/usr/sbin/dovecot\0-F\0");
	P("10", "dovecot/imap-login");
	P("11", "");			/* a kernel thread */
	P("self", "nginx: master process x");	/* not a pid */
	CHECK_INT(signal_find_masters(root, pids, err, sizeof(err)), 0);
	CHECK_INT(pids[SIGNAL_NGINX], 7);
	CHECK_INT(pids[SIGNAL_DOVECOT], 9);

	/* two dovecot masters: refused, and said */
	P("12", "dovecot\0-c\0/other.conf\0");
	CHECK_INT(signal_find_masters(root, pids, err, sizeof(err)), -1);
	CHECK(strstr(err, "2 dovecot master") != NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/12 %s/7", root, root);
	CHECK_INT(system(cmd), 0);
	/* no nginx: not shared? */
	CHECK_INT(signal_find_masters(root, pids, err, sizeof(err)), -1);
	CHECK(strstr(err, "no nginx master") != NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK_INT(system(cmd), 0);
}

HARNESS_MAIN("sigreload", RUN(classify), RUN(find_masters))
