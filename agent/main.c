/*
 * main: the commands, chosen here; the one-shot ones (check, once,
 * rollback, healthcheck) are carried out here too, `run` in daemon.c.
 * Only main exits; everything else returns.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "check.h"
#include "clock.h"
#include "config.h"
#include "cycle.h"
#include "daemon.h"
#include "docker.h"
#include "log.h"
#include "monitor.h"
#include "probe.h"
#include "reload.h"
#include "status.h"

/* sysexits.h EX_USAGE: a setting or argument is wrong. */
#define EXIT_USAGE 64

extern char **environ;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: mailu-cert-agent [--flags] COMMAND\n\n"
	    "Keeps Mailu's front (nginx + dovecot) serving the current TLS\n"
	    "certificate on every port, and proves it. Events are JSON lines\n"
	    "on stdout.\n\n"
	    "Commands:\n"
	    "  run          daemon: verify, then watch, rotate, verify (default)\n"
	    "  once         one cycle now, e.g. as certbot's --deploy-hook\n"
	    "               exit 0 rotated/unchanged, 1 rejected, 2 rolled back/failed\n"
	    "  check        verify every endpoint serves the installed certificate\n"
	    "               exit 0 ok, 1 expiring soon, 2 mismatch/unreachable/expired\n"
	    "  rollback     restore the newest backup, reload, verify; exit 0 or 2\n"
	    "  healthcheck  read the status file (Docker HEALTHCHECK); exit 0 or 1\n"
	    "  version      print the version\n\n"
	    "Flags: --env-file FILE (a Mailu mailu.env), --force (install a pair\n"
	    "issued before the installed one), --help.\n\n");
	config_usage(out);
}

/*
 * check's endpoints: AGENT_ENDPOINTS; else Mailu's TLS ports on every
 * running front the engine knows (docker backend), on 127.0.0.1 (same
 * pod, signal backend) or on the compose name "front" (none).
 */
static int
cmd_check(const struct config *cfg)
{
	struct targets t = { 0 };
	struct reloader r;
	char err[256];
	int rc = CHECK_CRITICAL;

	if (reload_open(&r, cfg, err, sizeof(err)) != 0) {
		log_event(LOG_LEVEL_ERROR, "config.invalid",
		    json_pack("{s:s, s:s}", "setting", "AGENT_RELOAD", "reason", err),
		    "%s", err);
		return EXIT_USAGE;
	}
	if (reload_endpoints(&r, &t) != RELOAD_OK) {
		log_event(LOG_LEVEL_ERROR, "check.done",
		    json_pack("{s:s, s:i}", "status", "critical", "exit_code", 2),
		    "no front to check (set AGENT_ENDPOINTS to probe without the engine)");
		goto out;
	}
	rc = (int)check_run(cfg, t.eps, t.n_eps);
out:
	reload_targets_free(&t);
	reload_close(&r);
	return rc;
}

static int
cmd_healthcheck(const struct config *cfg)
{
	char why[256];
	bool healthy = false;

	status_read(cfg->state_dir, &healthy, why, sizeof(why));
	log_event(healthy ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "healthcheck",
	    json_pack("{s:b, s:s}", "healthy", healthy, "reason", why),
	    "%s: %s", healthy ? "healthy" : "unhealthy", why);
	return healthy ? 0 : 1;
}

/* `once`: one cycle now; 0 rotated/unchanged, 1 rejected, 2 rolled back/failed. */
static int
cmd_once(struct config *cfg)
{
	struct agent a;
	enum outcome o = OUTCOME_FAILED;
	bool rejected;
	int lockfd = -1;

	if (agent_open(&a, cfg, &lockfd) == 0)
		o = a.le_mode ? monitor_lineages(&a, clock_ms()) :
		    cycle_run(&a, clock_ms(), NULL, NULL, &rejected);
	agent_close(&a, lockfd);
	return o == OUTCOME_ROTATED || o == OUTCOME_UNCHANGED ? EXIT_OK :
	    o == OUTCOME_REJECTED ? EXIT_REJECTED : EXIT_FAILED;
}

/* `rollback`: restore the newest backup, reload, verify; 0 ok, 2 failed. */
static int
cmd_rollback(struct config *cfg)
{
	struct agent a;
	enum outcome o = OUTCOME_FAILED;
	int lockfd = -1;

	if (agent_open(&a, cfg, &lockfd) == 0) {
		if (a.le_mode)	/* the front's certbot owns its files */
			log_event(LOG_LEVEL_ERROR, "rollback.failed", json_pack("{s:s}",
			    "reason", "letsencrypt_flavor"), "TLS_FLAVOR=letsencrypt: "
			    "the front renews its own certificates; nothing to roll back");
		else
			o = cycle_rollback(&a);
	}
	agent_close(&a, lockfd);
	return o == OUTCOME_ROLLED_BACK ? EXIT_OK : EXIT_FAILED;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct config_error err;
	int rc = EXIT_USAGE;

	/* Probes write to sockets a server may close: never die of it. */
	signal(SIGPIPE, SIG_IGN);
	log_init(stdout, LOG_LEVEL_INFO);

	if (config_load(&cfg, argc, argv, environ, &err) != 0) {
		log_event(LOG_LEVEL_ERROR, "config.invalid",
		    json_pack("{s:s, s:s}", "setting", err.setting, "reason", err.msg),
		    "%s: %s", err.setting, err.msg);
		goto out;
	}
	log_init(stdout, cfg.log_level);
	log_set_text(cfg.log_text);
	if (cfg.help) {
		usage(stdout);
		rc = 0;
		goto out;
	}
	if (cfg.command == NULL && (cfg.command = strdup("run")) == NULL)
		goto out;
	if (cfg.version || strcmp(cfg.command, "version") == 0) {
		printf("mailu-cert-agent %s (%s, libcurl %s, jansson %s)\n",
		    MCA_VERSION, OpenSSL_version(OPENSSL_VERSION),
		    curl_version_info(CURLVERSION_NOW)->version, JANSSON_VERSION);
		rc = 0;
	} else if (strcmp(cfg.command, "settings-reference") == 0) {
		/* hidden: docs/reference.md's settings, from --help's table */
		config_reference(stdout);
		rc = 0;
	} else if (strcmp(cfg.command, "check") == 0) {
		rc = cmd_check(&cfg);
	} else if (strcmp(cfg.command, "run") == 0) {
		rc = daemon_run(&cfg, argc, argv, environ);
	} else if (strcmp(cfg.command, "once") == 0) {
		rc = cmd_once(&cfg);
	} else if (strcmp(cfg.command, "rollback") == 0) {
		rc = cmd_rollback(&cfg);
	} else if (strcmp(cfg.command, "healthcheck") == 0) {
		rc = cmd_healthcheck(&cfg);
	} else {
		log_event(LOG_LEVEL_ERROR, "config.invalid",
		    json_pack("{s:s, s:s}", "setting", "command", "reason",
		    "unknown command"),
		    "unknown command '%.32s' (try --help)", cfg.command);
	}
out:
	config_free(&cfg);
	return rc;
}
