/*
 * config: settings from defaults, an optional Mailu mailu.env, the
 * environment and --flags, in that order of precedence (last wins).
 */
#ifndef MCA_CONFIG_H
#define MCA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "endpoint.h"
#include "log.h"

enum tls_flavor {
	FLAVOR_CERT,
	FLAVOR_LETSENCRYPT,
	FLAVOR_MAIL,
	FLAVOR_MAIL_LETSENCRYPT,
	FLAVOR_NOTLS,
	FLAVOR__MAX
};

enum reload_backend {
	RELOAD_DOCKER,
	RELOAD_SIGNAL,
	RELOAD_NONE,
	RELOAD__MAX
};

/* AGENT_DANE: what a new key's TLSA mismatch does (agent/dane.c). */
enum dane_mode {
	DANE_OFF,
	DANE_WARN,			/* dane.mismatch, and install anyway */
	DANE_ENFORCE,			/* refuse the bundle: dane_mismatch */
	DANE__MAX
};

/* AGENT_FRONT_WATCHER: does the front reload itself on a new pair? */
enum front_watcher {
	FRONT_WATCHER_AUTO,		/* yes when it runs Mailu's certificate watcher */
	FRONT_WATCHER_YES,
	FRONT_WATCHER_NO,
	FRONT_WATCHER__MAX
};

extern const char *const tls_flavor_names[FLAVOR__MAX];
extern const char *const reload_backend_names[RELOAD__MAX];

#define CONFIG_MAX_HOSTNAMES 64
#define CONFIG_MAX_WARN 8

struct config {
	char *certs_dir;		/* Mailu's certs volume */
	char *cert_filename;		/* TLS_CERT_FILENAME, a plain name */
	char *key_filename;		/* TLS_KEYPAIR_FILENAME, a plain name */
	char *hostnames[CONFIG_MAX_HOSTNAMES];	/* HOSTNAMES; [0] is the SNI */
	size_t n_hostnames;
	enum tls_flavor flavor;
	struct port_set ports;		/* Mailu's PORTS: enabled services */
	struct port_set tls_ports;	/* Mailu's TLS: the ports TLS is on for */
	struct port_set proxy_ports;	/* Mailu's PROXY_PROTOCOL */
	char *source;			/* AGENT_SOURCE, raw */
	enum reload_backend reload;
	char *docker_host;
	char *front;			/* AGENT_FRONT */
	char *reload_commands;		/* ';'-separated, raw */
	bool reload_commands_given;	/* set by the admin (any source), even to the default */
	struct endpoint *endpoints;	/* AGENT_ENDPOINTS; NULL: defaults */
	size_t n_endpoints;
	long verify_timeout_ms;
	long probe_timeout_ms;		/* one endpoint's connect..handshake */
	long poll_interval_ms;
	bool watch_poll;		/* AGENT_WATCH=poll: no inotify */
	long settle_timeout_ms;
	long reload_timeout_ms;		/* one reload command (docker exec) */
	bool reload_exec_each;		/* AGENT_RELOAD_EXEC=each: no sessions kept */
	enum front_watcher front_watcher;	/* AGENT_FRONT_WATCHER */
	long front_watcher_wait_ms;	/* AGENT_FRONT_WATCHER_WAIT */
	long drift_interval_ms;
	long expiry_warn_s[CONFIG_MAX_WARN];	/* descending */
	size_t n_expiry_warn;
	char *state_dir;
	long backups;
	char *metrics_listen;
	char *webhook_url;
	char *webhook_format;		/* json, ntfy or slack */
	char *webhook_events;		/* which events are posted, comma-separated */
	enum log_level log_level;
	bool log_text;			/* AGENT_LOG_FORMAT=text */
	char *ca_file;
	enum dane_mode dane;		/* AGENT_DANE */
	char *dns_server;		/* AGENT_DNS_SERVER; NULL: /etc/resolv.conf */
	char *dane_hosts[CONFIG_MAX_HOSTNAMES];	/* AGENT_DANE_HOSTS; none: HOSTNAMES[0] */
	size_t n_dane_hosts;
	char *env_file;			/* --env-file, for messages */
	bool force;			/* --force */
	bool help;			/* --help */
	bool version;			/* --version */
	char *command;			/* first non-flag argument */
};

/* Which setting was wrong and why; never holds the value (may be secret). */
struct config_error {
	char setting[64];
	char msg[256];
};

/*
 * Fills cfg from argv and environ. Returns 0, or -1 with err filled in
 * (exit 64 territory). cfg must be released with config_free either way.
 */
int config_load(struct config *cfg, int argc, char **argv, char **environ_,
    struct config_error *err);
void config_free(struct config *cfg);

/* "500ms", "30s", "10m", "2h", "21d"; a bare number means seconds. */
int config_parse_duration(const char *s, long *ms);
/* A year is plenty for any of our durations. */
#define CONFIG_DURATION_MAX_MS (366L * 86400000)

/* Prints the settings table for --help. */
void config_usage(FILE *out);
/* Prints it as the Markdown of docs/reference.md's Settings. */
void config_reference(FILE *out);

/* What webhooks post unless AGENT_WEBHOOK_EVENTS says otherwise. */
#define CONFIG_WEBHOOK_EVENTS "cycle.rolled_back,cycle.kept,cycle.failed," \
	"drift.detected,expiry.warning"

/*
 * The reload commands unless the admin sets AGENT_RELOAD_COMMANDS. No
 * `nginx -t` of its own: `nginx -s reload` parses the whole configuration
 * and loads its certificates first, and signals the master only when that
 * succeeds (exit 1 and an [emerg] line otherwise), as `nginx -t` would.
 */
#define CONFIG_RELOAD_COMMANDS "nginx -s reload; dovecot reload"

/*
 * True when the admin did not set AGENT_RELOAD_COMMANDS (in any source,
 * even to the default words): then a failure of one of the commands may
 * be the front's environment, not a veto the admin asked for.
 */
bool config_reload_commands_default(const struct config *cfg);

#endif
