/*
 * fuzz_config: the settings parser (agent/config.c) through config_load,
 * fed all three of its outside inputs at once. The input is split at NUL
 * bytes: part 1 is a mailu.env (handed over as --env-file; it lives in a
 * memfd, no file is written), part 2 the environment (one NAME=VALUE a
 * line), part 3 the command line (one argument a line; an --env-file of
 * its own is replaced by ours). Every environment value also goes through
 * config_parse_duration. Checks what the rest of the agent relies on
 * after a 0: bounded, valid, lower-case host names, thresholds in
 * descending order, positive durations, paths set; after a -1, an error
 * naming a setting; and no leak either way (config_free).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ITEMS 64

/* Splits text (NUL-terminated, modified) into at most max lines. */
static size_t
split_lines(char *text, char **items, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(text, "\n", &save); t != NULL && n < max;
	    t = strtok_r(NULL, "\n", &save))
		items[n++] = t;
	return n;
}

static void
check_ok(const struct config *cfg)
{
	if (cfg->certs_dir == NULL || cfg->state_dir == NULL ||
	    cfg->cert_filename == NULL || cfg->key_filename == NULL ||
	    cfg->n_hostnames > CONFIG_MAX_HOSTNAMES ||
	    cfg->n_expiry_warn == 0 || cfg->n_expiry_warn > CONFIG_MAX_WARN ||
	    cfg->flavor >= FLAVOR__MAX || cfg->reload >= RELOAD__MAX ||
	    cfg->verify_timeout_ms < 1 || cfg->probe_timeout_ms < 1 ||
	    cfg->poll_interval_ms < 1 || cfg->settle_timeout_ms < 1 ||
	    cfg->drift_interval_ms < 1 || cfg->backups < 1 || cfg->backups > 1000 ||
	    (cfg->endpoints == NULL) != (cfg->n_endpoints == 0) ||
	    cfg->n_endpoints > 256 || cfg->ports.n > 64 || cfg->proxy_ports.n > 64)
		abort();
	if (strchr(cfg->cert_filename, '/') != NULL ||
	    strchr(cfg->key_filename, '/') != NULL)
		abort();
	for (size_t i = 0; i < cfg->n_hostnames; i++) {
		if (!endpoint_valid_hostname(cfg->hostnames[i], true))
			abort();
		for (const char *p = cfg->hostnames[i]; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				abort();
	}
	for (size_t i = 0; i < cfg->n_expiry_warn; i++)
		if (cfg->expiry_warn_s[i] < 1 ||
		    (i > 0 && cfg->expiry_warn_s[i] > cfg->expiry_warn_s[i - 1]))
			abort();
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		if (cfg->endpoints[i].port == 0 || cfg->endpoints[i].proto >= PROTO__MAX)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int memfd = -1;
	static char env_arg[64];
	char *copy, *parts[3] = { "", "", "" }, *env[MAX_ITEMS + 1],
	    *argv[MAX_ITEMS + 3], *at;
	struct config cfg;
	struct config_error err;
	size_t n_env, n_arg, off = 0;
	int argc = 0;
	long ms;

	if (memfd < 0) {
		if ((memfd = memfd_create("fuzz-mailu.env", MFD_CLOEXEC)) < 0)
			abort();
		snprintf(env_arg, sizeof(env_arg), "--env-file=/proc/self/fd/%d", memfd);
	}
	/* the parts, each NUL-terminated */
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (int i = 0; i < 3 && off <= size; i++) {
		parts[i] = copy + off;
		off += strlen(copy + off) + 1;
	}

	if (ftruncate(memfd, 0) != 0 ||
	    pwrite(memfd, parts[0], strlen(parts[0]), 0) != (ssize_t)strlen(parts[0]))
		abort();
	n_env = split_lines(parts[1], env, MAX_ITEMS);
	env[n_env] = NULL;
	argv[argc++] = "mailu-cert-agent";
	argv[argc++] = env_arg;
	n_arg = split_lines(parts[2], argv + argc, MAX_ITEMS);
	for (size_t i = 0; i < n_arg; i++)
		if (strncmp(argv[argc + i], "--env-file", 10) == 0)
			argv[argc + i] = env_arg;
	argc += (int)n_arg;
	argv[argc] = NULL;

	for (size_t i = 0; i < n_env; i++) {
		if ((at = strchr(env[i], '=')) == NULL)
			continue;
		if (config_parse_duration(at + 1, &ms) == 0 &&
		    (ms < 0 || ms > 366L * 86400000))
			abort();
	}

	memset(&err, 'x', sizeof(err));
	if (config_load(&cfg, argc, argv, env, &err) == 0) {
		check_ok(&cfg);
	} else if (memchr(err.setting, '\0', sizeof(err.setting)) == NULL ||
	    err.setting[0] == '\0' || memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
		abort();
	}
	config_free(&cfg);
	free(copy);
	return 0;
}
