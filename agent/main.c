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
#include "log.h"

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
	    "  check     verify every endpoint serves the installed certificate\n"
	    "            exit 0 ok, 1 expiring soon, 2 mismatch/unreachable/expired\n"
	    "  version   print the version\n\n");
	config_usage(out);
}

/*
 * Mailu's endpoints when AGENT_ENDPOINTS is unset: the enabled TLS ports
 * on the front. Same pod (signal backend): loopback; compose: the
 * service name "front" that Docker's DNS resolves.
 */
static size_t
default_endpoints(const struct config *cfg, struct endpoint out[PROTO__MAX])
{
	const char *host = cfg->reload == RELOAD_SIGNAL ? "127.0.0.1" : "front";
	bool https = cfg->flavor != FLAVOR_MAIL &&
	    cfg->flavor != FLAVOR_MAIL_LETSENCRYPT;
	size_t n = endpoint_defaults(host, &cfg->ports, https, out);

	endpoint_mark_proxy(out, n, &cfg->proxy_ports);
	return n;
}

static int
cmd_check(const struct config *cfg)
{
	struct endpoint defaults[PROTO__MAX];
	const struct endpoint *eps = cfg->endpoints;
	size_t n = cfg->n_endpoints;

	if (eps == NULL) {
		n = default_endpoints(cfg, defaults);
		eps = defaults;
	}
	return (int)check_run(cfg, eps, n);
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
	if (cfg.help) {
		usage(stdout);
		rc = 0;
		goto out;
	}
	if (cfg.command == NULL) {
		usage(stderr);
		goto out;
	}
	if (strcmp(cfg.command, "version") == 0) {
		printf("mailu-cert-agent %s (%s, libcurl %s, jansson %s)\n",
		    MCA_VERSION, OpenSSL_version(OPENSSL_VERSION),
		    curl_version_info(CURLVERSION_NOW)->version, JANSSON_VERSION);
		rc = 0;
	} else if (strcmp(cfg.command, "check") == 0) {
		rc = cmd_check(&cfg);
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
