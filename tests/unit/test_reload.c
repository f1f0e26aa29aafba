/*
 * AGENT_RELOAD_COMMANDS splitting, the log lines a reload must surface,
 * and the fallback's pure half: which failure is the environment's, and
 * the master picked from ps output (recorded from the fronts).
 */
#include <stdlib.h>

#include "docker_session.h"
#include "harness.h"
#include "reload.h"
#include "reload_docker.h"
#include "reload_fallback.h"

TEST(commands_split)
{
	char buf[256];
	char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1];
	size_t n = 0;

	CHECK_INT(reload_parse_commands("nginx -t; nginx -s reload;dovecot reload",
	    buf, sizeof(buf), argv, &n), 0);
	CHECK_INT(n, 3);
	CHECK_STR(argv[0][0], "nginx");
	CHECK_STR(argv[0][1], "-t");
	CHECK(argv[0][2] == NULL);
	CHECK_STR(argv[1][2], "reload");
	CHECK_STR(argv[2][0], "dovecot");
	/* extra separators and blanks are not commands */
	CHECK_INT(reload_parse_commands(" ; doveadm reload ;; ", buf, sizeof(buf), argv, &n), 0);
	CHECK_INT(n, 1);
	CHECK_STR(argv[0][1], "reload");
	/* no shell: metacharacters stay plain arguments */
	CHECK_INT(reload_parse_commands("sh -c $(id)", buf, sizeof(buf), argv, &n), 0);
	CHECK_STR(argv[0][2], "$(id)");
	CHECK_INT(reload_parse_commands(" ; ", buf, sizeof(buf), argv, &n), -1);
	CHECK_INT(reload_parse_commands("a;b;c;d;e;f;g;h;i", buf, sizeof(buf), argv, &n), -1);
	CHECK_INT(reload_parse_commands("x 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", buf,
	    sizeof(buf), argv, &n), -1);
	CHECK_INT(reload_parse_commands("nginx -t", buf, 4, argv, &n), -1);
}

/* plan P of the commands in S, by daemon or not: "0,2|1" (stages, | between) */
static void
plan_of(const char *s, bool by_daemon, char *out, size_t len, struct reload_plan *p)
{
	char buf[256];
	char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1];
	size_t n = 0, used = 0;

	out[0] = '\0';
	if (reload_parse_commands(s, buf, sizeof(buf), argv, &n) != 0)
		return;
	reload_plan_make(argv, n, by_daemon, p);
	for (size_t k = 0; k < p->n; k++)
		for (size_t i = 0; i < p->stage[k].n; i++)
			used += (size_t)snprintf(out + used, len - used, "%s%zu",
			    i > 0 ? "," : k > 0 ? "|" : "", p->stage[k].cmd[i]);
}

TEST(plan_stages)
{
	char argv0[] = "/usr/sbin/nginx", argv1[] = "doveadm", argv2[] = "sh";
	char *a0[] = { argv0, NULL }, *a1[] = { argv1, NULL }, *a2[] = { argv2, NULL };
	struct reload_plan p;
	char got[64];

	CHECK_INT(reload_command_service(a0), SERVICE_NGINX);
	CHECK_INT(reload_command_service(a1), SERVICE_DOVECOT);
	CHECK_INT(reload_command_service(a2), -1);
	/* the defaults: both at once, each completing its daemon's reload */
	plan_of(CONFIG_RELOAD_COMMANDS, true, got, sizeof(got), &p);
	CHECK_STR(got, "0,1");
	CHECK_INT(p.opens[0], SERVICE_NGINX);
	CHECK_INT(p.opens[1], SERVICE_DOVECOT);
	/* with a test first: nginx -t beside dovecot reload, then nginx -s reload */
	plan_of("nginx -t; nginx -s reload; dovecot reload", true, got, sizeof(got), &p);
	CHECK_STR(got, "0,2|1");
	CHECK_INT(p.opens[0], -1);		/* a test reloads nothing */
	CHECK_INT(p.opens[1], SERVICE_NGINX);
	CHECK_INT(p.opens[2], SERVICE_DOVECOT);
	/* the same words set by the admin: in order, one at a time, no early open */
	plan_of("nginx -t; nginx -s reload; dovecot reload", false, got, sizeof(got), &p);
	CHECK_STR(got, "0|1|2");
	for (int c = 0; c < 3; c++)
		CHECK_INT(p.opens[c], -1);
	/* any command of no known daemon: in order */
	plan_of("nginx -t; nginx -s reload; dovecot reload; /gate/check", true, got,
	    sizeof(got), &p);
	CHECK_STR(got, "0|1|2|3");
	CHECK_INT(p.opens[1], -1);
	/* each daemon's commands keep their order, one of each per stage */
	plan_of("dovecot reload; nginx -t; doveadm reload; nginx -s reload", true, got,
	    sizeof(got), &p);
	CHECK_STR(got, "0,1|2,3");
	CHECK_INT(p.opens[0], -1);
	CHECK_INT(p.opens[2], SERVICE_DOVECOT);
	CHECK_INT(p.opens[3], SERVICE_NGINX);
	plan_of("nginx -s reload", true, got, sizeof(got), &p);
	CHECK_STR(got, "0");
	CHECK_INT(p.opens[0], SERVICE_NGINX);
}

static int
tls_err(const char *s)
{
	return reload_is_tls_error(s, strlen(s));
}

TEST(log_lines)
{
	CHECK(tls_err("2026/11/28 07:57:45 [emerg] 27#27: SSL_CTX_use_PrivateKey(\"/certs/key.pem\") failed"));
	CHECK(tls_err("Nov 28 07:57:45 imap-login: Error: Failed to initialize SSL server context: Can't load SSL certificate"));
	CHECK(tls_err("master: Fatal: Couldn't parse private ssl_key"));
	CHECK(tls_err("[crit] 12#12: *3 SSL_do_handshake() failed"));
	CHECK(!tls_err("2026/11/28 07:57:45 [notice] 27#27: signal process started"));
	CHECK(!tls_err("imap-login: Error: Disconnected: auth failed"));
	CHECK(!tls_err("[emerg] bind() to 127.0.0.1:41443 failed (98: Address in use)"));
	CHECK(!tls_err(""));
	/* an OpenSSL error string in an Info line: a client's (or our own
	 * key-typed probe's) failed handshake, not the daemon's error */
	CHECK(!tls_err("Dec 05 22:18:11 imap-login: Info: Disconnected: Connection closed: "
	    "SSL_accept() failed: error:0A000076:SSL routines::no suitable signature algorithm"));
	CHECK(!tls_err("[info] 30#30: *7 SSL_do_handshake() failed (SSL: error:0A000076:SSL routines::no suitable signature algorithm)"));
}

TEST(hung_pids)
{
	long pids[RELOAD_KILL_MAX_PIDS];
	/* procps (Debian) */
	const char *procps =
	    "    PID    PPID COMMAND\n"
	    "      1       0 /bin/bash /start.sh\n"
	    "     13       1 dovecot -F\n"
	    "     46       0 sleep 600\n"
	    "     47      13 sleep 600\n"
	    "     48       0 sleep 6000\n"
	    "     49       0 sleep 600 x\n"
	    "     91       0 sleep 600\n"
	    "     99       0 ps -o pid,ppid,args\n";
	/* busybox (Alpine), no trailing newline */
	const char *busybox = "PID   PPID  COMMAND\n    1     0 /bin/sh /start.py\n"
	    "   77     0 dovecot reload";

	CHECK_INT(reload_hung_pids(procps, "sleep 600", pids), 2);
	CHECK_INT(pids[0], 46);
	CHECK_INT(pids[1], 91);
	CHECK_INT(reload_hung_pids(busybox, "dovecot reload", pids), 1);
	CHECK_INT(pids[0], 77);
	/* PID 1, a child of another process, a prefix: never */
	CHECK_INT(reload_hung_pids(procps, "/bin/bash /start.sh", pids), 0);
	CHECK_INT(reload_hung_pids(procps, "dovecot -F", pids), 0);
	CHECK_INT(reload_hung_pids(procps, "sleep", pids), 0);
	CHECK_INT(reload_hung_pids("", "sleep 600", pids), 0);
	CHECK_INT(reload_hung_pids("garbage\n0 0\n-5 0 sleep 600\n", "sleep 600", pids), 0);
}

TEST(hung_pids_in_session)
{
	long pids[RELOAD_KILL_MAX_PIDS];
	/* a command run by a session shell is its child; another shell's is not ours */
	const char *ps =
	    "PID   PPID  COMMAND\n"
	    "    1     0 /bin/sh /start.py\n"
	    "   20     0 sh -c while read -r t l; do eval \"$l\" </dev/null 2>&1; echo \"$t $?\"; done " DOCKER_SESSION_NAME "\n"
	    "   21    20 sleep 600\n"
	    "   30     0 sh -c sleep 600; echo other-agent-reload\n"
	    "   31    30 sleep 600\n"
	    "   32     1 sleep 600\n"
	    "   33     0 sleep 600\n";

	CHECK_INT(reload_hung_pids(ps, "sleep 600", pids), 2);
	CHECK_INT(pids[0], 21);
	CHECK_INT(pids[1], 33);
	/* the shell itself is never taken for the command */
	CHECK_INT(reload_hung_pids(ps, "dovecot reload", pids), 0);
}

static char **
words(char *buf)
{
	static char *argv[RELOAD_MAX_ARGS + 1];
	size_t n = 0;

	for (char *w = strtok(buf, " "); w != NULL && n < RELOAD_MAX_ARGS;
	    w = strtok(NULL, " "))
		argv[n++] = w;
	argv[n] = NULL;
	return argv;
}

static int
service_of(const char *cmd)
{
	char buf[128];
	enum signal_target svc = SIGNAL__MAX;

	snprintf(buf, sizeof(buf), "%s", cmd);
	return fallback_service(words(buf), &svc) == 0 ? (int)svc : -1;
}

TEST(fallback_services)
{
	CHECK_INT(service_of("nginx -s reload"), SIGNAL_NGINX);
	CHECK_INT(service_of("/usr/sbin/nginx -s reload"), SIGNAL_NGINX);
	CHECK_INT(service_of("dovecot reload"), SIGNAL_DOVECOT);
	CHECK_INT(service_of("doveadm reload"), SIGNAL_DOVECOT);
	/* a config test is never the environment's */
	CHECK_INT(service_of("nginx -t"), -1);
	CHECK_INT(service_of("nginx -s reopen"), -1);
	CHECK_INT(service_of("nginx -s reload -c /tmp/x.conf"), -1);
	CHECK_INT(service_of("dovecot -c /etc/dovecot/proxy.conf reload"), -1);
	CHECK_INT(service_of("doveadm reload now"), -1);
	CHECK_INT(service_of("mynginx -s reload"), -1);
	CHECK_INT(service_of("nginx"), -1);
	CHECK_INT(fallback_service(NULL, NULL), -1);
}

static int
why_of(enum signal_target svc, const char *out)
{
	return (int)fallback_classify(svc, out, strlen(out));
}

/* Outputs of `nginx -s reload` and `dovecot reload`, as the front gave them. */
TEST(fallback_classify_outputs)
{
	/* recorded in the test front (nginx 1.22: its error log on stderr) */
	CHECK_INT(why_of(SIGNAL_NGINX, "2026/12/05 20:59:02 [notice] 73#73: signal "
	    "process started\n2026/12/05 20:59:02 [error] 73#73: open() "
	    "\"/run/nginx.pid\" failed (2: No such file or directory)\n"),
	    FALLBACK_PID_FILE_MISSING);
	CHECK_INT(why_of(SIGNAL_NGINX, "2026/12/05 20:59:02 [notice] 85#85: signal "
	    "process started\n2026/12/05 20:59:02 [error] 85#85: invalid PID number "
	    "\"garbage\" in \"/run/nginx.pid\"\n"), FALLBACK_PID_FILE_INVALID);
	/* empty: what `nginx -t` leaves of a missing pid file (recorded in 69) */
	CHECK_INT(why_of(SIGNAL_NGINX, "2026/12/05 20:59:03 [notice] 97#97: signal "
	    "process started\n2026/12/05 20:59:03 [error] 97#97: invalid PID number "
	    "\"\" in \"/run/nginx.pid\"\n"), FALLBACK_PID_FILE_MISSING);
	CHECK_INT(why_of(SIGNAL_NGINX, "2026/12/05 20:59:03 [notice] 109#109: signal "
	    "process started\n2026/12/05 20:59:03 [alert] 109#109: kill(99999, 1) "
	    "failed (3: No such process)\n"), FALLBACK_PID_STALE);
	/* before its error log is open, as Mailu issue #3287 shows it */
	CHECK_INT(why_of(SIGNAL_NGINX, "nginx: [error] open() \"/var/run/nginx.pid\" "
	    "failed (2: No such file or directory)"), FALLBACK_PID_FILE_MISSING);
	/* the pair or the config: the failure stands (recorded) */
	CHECK_INT(why_of(SIGNAL_NGINX, "2026/12/05 20:59:07 [emerg] 273#273: cannot "
	    "load certificate key \"/tmp/k.pem\": PEM_read_bio_PrivateKey() failed "
	    "(SSL: error:1E08010C:DECODER routines::unsupported:No supported data to "
	    "decode. Input type: PEM)\n"), FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL_NGINX, "2026/12/05 20:59:06 [emerg] 252#252: unexpected "
	    "end of file, expecting \"}\" in /tmp/bad-nginx.conf:2\n"), FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL_NGINX, "nginx: [emerg] open() \"/etc/nginx/x.conf\" "
	    "failed (2: No such file or directory) in /etc/nginx/nginx.conf:3\n"),
	    FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL_NGINX, "nginx: [error] open() \"/run/nginx.pid\" failed "
	    "(2: No such file or directory)\nnginx: [emerg] unexpected end of file\n"),
	    FALLBACK_NONE);
	/* not found for want of permission is not a missing file */
	CHECK_INT(why_of(SIGNAL_NGINX, "nginx: [error] open() \"/run/nginx.pid\" failed "
	    "(13: Permission denied)\n"), FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL_NGINX, "nginx: [alert] kill(12, 1) failed (1: "
	    "Operation not permitted)\n"), FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL_NGINX, ""), FALLBACK_NONE);
	/* a dovecot line means nothing from nginx, and the other way round */
	CHECK_INT(why_of(SIGNAL_NGINX, "Fatal: Dovecot is not running (read from "
	    "/run/dovecot/master.pid)\n"), FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL_DOVECOT, "nginx: [error] open() \"/run/nginx.pid\" "
	    "failed (2: No such file or directory)\n"), FALLBACK_NONE);

	/* recorded (dovecot 2.3: `dovecot reload` and `doveadm reload` alike) */
	CHECK_INT(why_of(SIGNAL_DOVECOT, "Fatal: Dovecot is not running (read from "
	    "/run/dovecot/master.pid)\n"), FALLBACK_MASTER_NOT_FOUND);
	CHECK_INT(why_of(SIGNAL_DOVECOT, "Fatal: Dovecot is not running (read from "
	    "/run/elsewhere/master.pid)\n"), FALLBACK_MASTER_NOT_FOUND);
	CHECK_INT(why_of(SIGNAL_DOVECOT, "Fatal: Error reading configuration: "
	    "stat(/etc/dovecot/nonexistent.conf) failed: No such file or directory\n"),
	    FALLBACK_CONFIG_NOT_FOUND);
	CHECK_INT(why_of(SIGNAL_DOVECOT, "doveconf: Fatal: Error in configuration file "
	    "/tmp/bad.conf line 1: Expecting '{'\n"), FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL_DOVECOT, "Fatal: Error reading configuration: "
	    "stat(/etc/dovecot/dovecot.conf) failed: Permission denied\n"),
	    FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL_DOVECOT, "doveconf: Fatal: Error in configuration file "
	    "/etc/dovecot/dovecot.conf line 12: ssl_cert: Can't open file "
	    "/certs/cert.pem: No such file or directory\n"), FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL_DOVECOT, "Fatal: Dovecot is not running (read from "
	    "/run/dovecot/master.pid)\ndoveconf: Fatal: Error in configuration file "
	    "/x.conf line 1: Unknown setting: foo\n"), FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL_DOVECOT, "Dovecot is not running (read from x)\n"),
	    FALLBACK_NONE);
	CHECK_INT(why_of(SIGNAL__MAX, "Fatal: Dovecot is not running (read from x)"),
	    FALLBACK_NONE);
}

TEST(fallback_ps_rows)
{
	const char *user, *args;
	size_t ul, al;
	long pid, ppid;

#define ROW(s, u) fallback_ps_row(s, strlen(s), u, &pid, &ppid, &user, &ul, &args, &al)
	CHECK_INT(ROW("     42       1 root     nginx: master process nginx -g daemon off;",
	    true), 0);
	CHECK_INT(pid, 42);
	CHECK_INT(ppid, 1);
	CHECK(ul == 4 && memcmp(user, "root", 4) == 0);
	CHECK(al == 42 && memcmp(args, "nginx: master process nginx -g daemon off;", 42) == 0);
	CHECK_INT(ROW("   77     0 dovecot reload", false), 0);
	CHECK_INT(pid, 77);
	CHECK_INT(ppid, 0);
	CHECK(al == 14);
	CHECK_INT(ROW("  PID  PPID USER     COMMAND", true), -1);
	CHECK_INT(ROW("    PID    PPID COMMAND", false), -1);
	CHECK_INT(ROW("", true), -1);
	CHECK_INT(ROW("   12     1 root", true), -1);	/* no args */
	CHECK_INT(ROW("   12     1 ", false), -1);
	CHECK_INT(ROW("   -5     1 root x", true), -1);
	CHECK_INT(ROW("   +5     1 root x", true), -1);
	CHECK_INT(ROW("   05     1 root x", true), -1);
	CHECK_INT(ROW("   5x     1 root x", true), -1);
	CHECK_INT(ROW(" 2147483648 1 root x", true), -1);
	CHECK_INT(ROW(" 2147483647 0 root x", true), 0);
	CHECK_INT(pid, 2147483647L);
	CHECK_INT(ROW(" 99999999999 1 root x", true), -1);
	CHECK_INT(ROW("\t7\t1\troot\tdovecot", true), 0);
	CHECK_INT(pid, 7);
#undef ROW
}

/*
 * ps -o pid,ppid,user,args -e in the test front, recorded with Debian's
 * procps. The workers run as other users, which procps lists only with
 * -e. busybox, copied into the same front, listed the same processes in
 * its own columns, with {comm} before the args where comm differs from
 * argv[0] (PID 1, {start.sh}): ps_busybox prints them so, and
 * fallback_ps_formats checks that against lines busybox wrote.
 */
static const char ps_procps[] =
    "    PID    PPID USER     COMMAND\n"
    "      1       0 root     /bin/bash /start.sh\n"
    "     14       1 root     /usr/sbin/dovecot -F\n"
    "     15       1 root     nginx: master process nginx -g daemon off;\n"
    "     17      15 www-data nginx: worker process\n"
    "     18      14 dovenull dovecot/managesieve-login\n"
    "     19      14 dovenull dovecot/submission-login\n"
    "     20      14 dovenull dovecot/pop3-login\n"
    "     21      14 dovenull dovecot/imap-login\n"
    "     22      14 dovecot  dovecot/anvil\n"
    "     23      14 root     dovecot/log\n"
    "     24      14 root     dovecot/config\n"
    "     25      14 dovecot  dovecot/stats\n"
    "     27      14 dovecot  dovecot/auth\n"
    "     28       0 root     ps -o pid,ppid,user,args -e\n";

/* ps_procps's rows in busybox's columns, as busybox printed them. */
static void
ps_busybox(char *buf, size_t len)
{
	const char *p = ps_procps, *user, *args;
	size_t used = (size_t)snprintf(buf, len, "PID   PPID  USER     COMMAND\n");

	while (*p != '\0' && used < len) {
		size_t l = strcspn(p, "\n"), ul, al;
		long pid, ppid;

		if (fallback_ps_row(p, l, true, &pid, &ppid, &user, &ul, &args,
		    &al) == 0)
			used += (size_t)snprintf(buf + used, len - used,
			    "%5ld %5ld %-8.*s %s%.*s\n", pid, ppid, (int)ul, user,
			    pid == 1 ? "{start.sh} " : "", (int)al, args);
		p += l + (p[l] == '\n');
	}
}

/*
 * Without -e procps shows root's processes only: no worker, so no master
 * passes the rule (recorded too).
 */
static const char ps_procps_no_e[] =
    "    PID    PPID USER     COMMAND\n"
    "      1       0 root     /bin/bash /start.sh\n"
    "     13       1 root     /usr/sbin/dovecot -F\n"
    "     14       1 root     nginx: master process nginx -g daemon off;\n"
    "     22      13 root     dovecot/log\n"
    "     23      13 root     dovecot/config\n"
    "     27       0 root     ps -o pid,ppid,user,args\n";
/*
 * Mailu's Alpine front in busybox's format, by start.py's layout: the
 * supervisor's comm differs from its argv[0] ({start.py}); dovecot,
 * started as `dovecot -c /etc/dovecot/proxy.conf`, daemonized onto PID 1;
 * nginx in the foreground, its child.
 */
static const char ps_mailu[] =
    "PID   PPID  USER     COMMAND\n"
    "    1     0 root     {start.py} /usr/bin/python3 /start.py\n"
    "    9     1 root     {certwatcher.py} /usr/bin/python3 /certwatcher.py\n"
    "   17     1 root     dovecot -c /etc/dovecot/proxy.conf\n"
    "   18    17 dovecot  dovecot/anvil [0 connections]\n"
    "   19    17 root     dovecot/log\n"
    "   21    17 root     dovecot/config\n"
    "   24     1 root     nginx: master process /usr/sbin/nginx -g daemon off;\n"
    "   25    24 nginx    nginx: worker process\n"
    "   26    24 nginx    nginx: worker process\n"
    "   30    17 dovenull dovecot/submission-login\n"
    "   61     0 root     ps -o pid,ppid,user,args -e\n";

static long
pick_of(const char *ps, enum signal_target svc, bool cut, char *err, size_t len)
{
	struct signal_pick pk;
	long pid = -7;

	if (fallback_pick(ps, strlen(ps), cut, svc, &pid, &pk, err, len) != 0)
		return pid == 0 ? -1 : -99;
	return pid;
}

/* ps_busybox prints what busybox wrote (its first lines, recorded). */
TEST(fallback_ps_formats)
{
	static const char recorded[] = "PID   PPID  USER     COMMAND\n"
	    "    1     0 root     {start.sh} /bin/bash /start.sh\n"
	    "   14     1 root     /usr/sbin/dovecot -F\n"
	    "   15     1 root     nginx: master process nginx -g daemon off;\n"
	    "   17    15 www-data nginx: worker process\n";
	char buf[2048];

	ps_busybox(buf, sizeof(buf));
	CHECK(strncmp(buf, recorded, sizeof(recorded) - 1) == 0);
	CHECK(strstr(buf, "\n   22    14 dovecot  dovecot/anvil\n") != NULL);
}

TEST(fallback_pick_master)
{
	char err[256], ps[4096];

	CHECK_INT(pick_of(ps_procps, SIGNAL_NGINX, false, err, sizeof(err)), 15);
	CHECK_INT(pick_of(ps_procps, SIGNAL_DOVECOT, false, err, sizeof(err)), 14);
	ps_busybox(ps, sizeof(ps));
	CHECK_INT(pick_of(ps, SIGNAL_NGINX, false, err, sizeof(err)), 15);
	CHECK_INT(pick_of(ps, SIGNAL_DOVECOT, false, err, sizeof(err)), 14);
	CHECK_INT(pick_of(ps_mailu, SIGNAL_NGINX, false, err, sizeof(err)), 24);
	CHECK_INT(pick_of(ps_mailu, SIGNAL_DOVECOT, false, err, sizeof(err)), 17);
	CHECK_INT(pick_of(ps_procps_no_e, SIGNAL_NGINX, false, err, sizeof(err)), -1);
	CHECK(strstr(err, "no nginx master process accepted") != NULL);
	/* a cut table is refused, not guessed from */
	CHECK_INT(pick_of(ps_mailu, SIGNAL_NGINX, true, err, sizeof(err)), -1);
	CHECK(strstr(err, "cut short") != NULL);
	/* nginx gone: no master, whatever dovecot's state */
	snprintf(ps, sizeof(ps), "%s",
	    "    1     0 root     /bin/sh /start.sh\n"
	    "   17     1 root     dovecot -F\n");
	CHECK_INT(pick_of(ps, SIGNAL_NGINX, false, err, sizeof(err)), -1);
	CHECK(strstr(err, "no nginx master") != NULL);
	/* a master without workers (a restart under way), one not root, one whose
	 * parent is no init: decoys, not masters */
	snprintf(ps, sizeof(ps), "%s",
	    "    1     0 root     /bin/sh /start.sh\n"
	    "    5     1 root     nginx: master process nginx\n"
	    "    6     1 nginx    nginx: master process fake\n"
	    "    7     6 nginx    nginx: worker process\n"
	    "    8     1 root     /bin/sh -c x\n"
	    "    9     8 root     nginx: master process deep\n"
	    "   10     9 nginx    nginx: worker process\n");
	CHECK_INT(pick_of(ps, SIGNAL_NGINX, false, err, sizeof(err)), -1);
	CHECK(strstr(err, "3 candidates rejected") != NULL);
	/* two that pass the rule: refused rather than guessed */
	snprintf(ps, sizeof(ps), "%s%s", ps_procps,
	    "     50       1 root     nginx: master process nginx -c /tmp/x\n"
	    "     51      50 www-data nginx: worker process\n");
	CHECK_INT(pick_of(ps, SIGNAL_NGINX, false, err, sizeof(err)), -1);
	CHECK(strstr(err, "refusing to guess") != NULL);
	/* the second nginx changes nothing for dovecot */
	CHECK_INT(pick_of(ps, SIGNAL_DOVECOT, false, err, sizeof(err)), 14);
	/* uid 0 printed as a number counts as root (no passwd entry) */
	snprintf(ps, sizeof(ps), "%s",
	    "    1     0 0        /init\n"
	    "    2     1 0        nginx: master process nginx\n"
	    "    3     2 101      nginx: worker process\n");
	CHECK_INT(pick_of(ps, SIGNAL_NGINX, false, err, sizeof(err)), 2);
	/* garbage in, no pid out */
	CHECK_INT(pick_of("", SIGNAL_NGINX, false, err, sizeof(err)), -1);
	CHECK_INT(pick_of("nginx: master process\nnginx: worker process\n",
	    SIGNAL_NGINX, false, err, sizeof(err)), -1);
	CHECK_INT(pick_of(ps_mailu, SIGNAL__MAX, false, err, sizeof(err)), -1);
}

/* More processes than the table holds: refused, not read in part. */
TEST(fallback_pick_bounded)
{
	size_t len = 0, cap = (FALLBACK_PS_MAX + 2) * 48;
	char *ps = malloc(cap), err[256];

	CHECK(ps != NULL);
	if (ps == NULL)
		return;
	len += (size_t)snprintf(ps + len, cap - len, "    1     0 root /init\n"
	    "    2     1 root nginx: master process nginx\n");
	for (int i = 3; i <= FALLBACK_PS_MAX; i++)
		len += (size_t)snprintf(ps + len, cap - len,
		    "%5d     2 nginx nginx: worker process\n", i);
	CHECK_INT(pick_of(ps, SIGNAL_NGINX, false, err, sizeof(err)), 2);
	len += (size_t)snprintf(ps + len, cap - len, "%5d     2 nginx nginx: worker "
	    "process\n", FALLBACK_PS_MAX + 1);
	CHECK_INT(pick_of(ps, SIGNAL_NGINX, false, err, sizeof(err)), -1);
	CHECK(strstr(err, "more than") != NULL);
	free(ps);
}

/* Whether a front may reload itself first, by the settings alone. */
TEST(front_may_watch)
{
	struct config c = { .front_watcher = FRONT_WATCHER_AUTO, .flavor = FLAVOR_CERT,
	    .reload = RELOAD_DOCKER };

	CHECK(reload_front_may_watch(&c));	/* Mailu's cert flavor, default commands */
	c.flavor = FLAVOR_MAIL;
	CHECK(reload_front_may_watch(&c));	/* the older name */
	c.reload = RELOAD_SIGNAL;
	CHECK(reload_front_may_watch(&c));	/* Helm: the same front image */
	c.reload = RELOAD_NONE;
	CHECK(!reload_front_may_watch(&c));	/* nothing to reload anyway */
	c.reload = RELOAD_DOCKER;
	for (int f = 0; f < FLAVOR__MAX; f++) {
		c.flavor = (enum tls_flavor)f;
		CHECK(reload_front_may_watch(&c) == (f == FLAVOR_CERT || f == FLAVOR_MAIL));
	}
	c.flavor = FLAVOR_CERT;
	c.reload_commands_given = true;		/* the admin's own commands: reload at once */
	CHECK(!reload_front_may_watch(&c));
	c.front_watcher = FRONT_WATCHER_YES;	/* unless told */
	CHECK(reload_front_may_watch(&c));
	c.flavor = FLAVOR_LETSENCRYPT;
	CHECK(reload_front_may_watch(&c));
	c.front_watcher = FRONT_WATCHER_NO;
	c.flavor = FLAVOR_CERT;
	c.reload_commands_given = false;
	CHECK(!reload_front_may_watch(&c));
}

HARNESS_MAIN("reload", RUN(front_may_watch), RUN(commands_split), RUN(plan_stages), RUN(log_lines), RUN(hung_pids), RUN(hung_pids_in_session),
    RUN(fallback_services), RUN(fallback_classify_outputs), RUN(fallback_ps_rows),
    RUN(fallback_ps_formats), RUN(fallback_pick_master), RUN(fallback_pick_bounded))
