/*
 * main: commands. Only main exits; everything else returns.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "check.h"
#include "config.h"
#include "daemon.h"
#include "docker.h"
#include "log.h"
#include "reload.h"
#include "status.h"

#ifndef MCA_VERSION
#define MCA_VERSION "0.0.0-dev"
#endif

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
	    "that expires before the installed one), --help.\n\n");
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
	struct docker *d = NULL;
	int rc = CHECK_CRITICAL;

	if (cfg->endpoints == NULL && cfg->reload == RELOAD_DOCKER) {
		struct docker_container self;
		struct docker_status st;
		char project[128] = "";

		if ((d = docker_open(cfg->docker_host, 10000)) == NULL)
			goto out;
		if (docker_self(d, &self, &st) == 0)
			snprintf(project, sizeof(project), "%s", self.project);
		if (reload_targets(cfg, d, project, &t) != RELOAD_OK) {
			log_event(LOG_LEVEL_ERROR, "check.done",
			    json_pack("{s:s, s:i}", "status", "critical", "exit_code", 2),
			    "no front to check (set AGENT_ENDPOINTS to probe without the engine)");
			goto out;
		}
	} else {
		t.n_eps = reload_static_endpoints(cfg, cfg->reload == RELOAD_SIGNAL ?
		    "127.0.0.1" : "front", &t.eps);
	}
	rc = (int)check_run(cfg, t.eps, t.n_eps);
out:
	reload_targets_free(&t);
	docker_close(&d);
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
	if (strcmp(cfg.command, "version") == 0) {
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
		rc = daemon_once(&cfg);
	} else if (strcmp(cfg.command, "rollback") == 0) {
		rc = daemon_rollback(&cfg);
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
