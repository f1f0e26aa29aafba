/* AGENT_RELOAD_COMMANDS splitting and the log lines a reload must surface. */
#include "harness.h"
#include "reload_docker.h"

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

HARNESS_MAIN("reload", RUN(commands_split), RUN(log_lines), RUN(hung_pids))
