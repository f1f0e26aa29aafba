/*
 * config_table: the settings, one entry each (see config_table.h), and
 * the two texts printed from them: --help and the Markdown reference of
 * docs/reference.md (`make docs-check` compares the two).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config_table.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* 0, and an array of negative size (a compile error) unless c holds. */
#define MUST(c) (0 * sizeof(char[(c) ? 1 : -1]))

/*
 * The offset of field f of struct config, which must be of type t (an
 * array: of n t's), so an entry whose kind does not match its field's
 * type does not compile.
 */
#define FIELD(f, t) (offsetof(struct config, f) + \
	MUST(_Generic(((struct config *)0)->f, t: 1, default: 0)))
#define ARRAY(f, t, n) (FIELD(f, t *) + \
	MUST(sizeof(((struct config *)0)->f) == (n) * sizeof(t)))

/* One macro a kind: the kind, its typed field, its parameters. */
#define STRING(k, f)	.kind = (k), .off = FIELD(f, char *)
#define WORD(f, v)	.kind = K_WORD, .off = FIELD(f, char *), \
			.names = (v), .n_names = NELEM(v)
#define WORDS(f, v)	.kind = K_WORDS, .off = FIELD(f, char *), \
			.names = (v), .n_names = NELEM(v)
/* K_ENUM's values are stored as an int: the enum must be int-sized */
#define ENUM(f, t, v, w) .kind = K_ENUM, .off = FIELD(f, t) + \
			MUST(sizeof(t) == sizeof(int)), \
			.names = (v), .n_names = NELEM(v), .what = (w)
#define LOGLEVEL(f)	.kind = K_LOGLEVEL, .off = FIELD(f, enum log_level), \
			.names = log_level_names, .n_names = LOG_LEVEL__MAX
#define SWITCH(f, v)	.kind = K_SWITCH, .off = FIELD(f, bool), \
			.names = (v), .n_names = NELEM(v) + MUST(NELEM(v) == 2)
#define DURATION(f)	.kind = K_DURATION, .off = FIELD(f, long), \
			.min = 1, .max = CONFIG_DURATION_MAX_MS
#define COUNT(f, lo, hi) .kind = K_COUNT, .off = FIELD(f, long), \
			.min = (lo), .max = (hi)
#define WARN(f, n)	.kind = K_WARN, .off = ARRAY(f, long, CONFIG_MAX_WARN), \
			.off_n = FIELD(n, size_t), .min = 1000, \
			.max = CONFIG_DURATION_MAX_MS
#define HOSTNAMES(f, n)	.kind = K_HOSTNAMES, \
			.off = ARRAY(f, char *, CONFIG_MAX_HOSTNAMES), \
			.off_n = FIELD(n, size_t)
#define PORTS(f)	.kind = K_PORTS, .off = FIELD(f, struct port_set)
#define ENDPOINTS(f, n)	.kind = K_ENDPOINTS, .off = FIELD(f, struct endpoint *), \
			.off_n = FIELD(n, size_t)

/* Mailu's default PORTS (since 2024.06): 110, 143 and 587 are off. */
#define MAILU_DEFAULT_PORTS "25,80,443,465,993,995,4190"

static const char *const watch_names[] = { "inotify", "poll" };
static const char *const reload_exec_names[] = { "kept", "each" };
static const char *const log_format_names[] = { "json", "text" };
static const char *const dane_mode_names[] = { "off", "warn", "enforce" };
static const char *const front_watcher_names[] = { "auto", "yes", "no" };
static const char *const webhook_format_names[] = { "json", "ntfy", "slack" };
static const char *const webhook_event_names[] = { "cycle.rotated",
    "cycle.rolled_back", "cycle.kept", "cycle.failed", "drift.detected",
    "expiry.warning" };

const char *const setting_group_names[G__MAX] = {
	"Mailu's settings",
	"Source and reload",
	"Verify",
	"DANE",
	"Watch",
	"State",
	"Operations: drift, expiry, metrics, webhooks",
	"Logging",
};

/*
 * In reference order: a group's settings stand together. Mailu's names
 * mean what they mean to Mailu, so `env_file: mailu.env` just works.
 */
const struct setting config_settings[] = {
	{ "CERTS_DIR", "certs-dir", "/certs", STRING(K_PATH, certs_dir),
	  .group = G_MAILU,
	  .help = "Mailu's certs volume as mounted in the agent" },
	{ "TLS_CERT_FILENAME", "tls-cert-filename", "cert.pem",
	  STRING(K_NAME, cert_filename), .group = G_MAILU,
	  .help = "served certificate (chain) file in CERTS_DIR",
	  .more = "As Mailu names it: a plain file name." },
	{ "TLS_KEYPAIR_FILENAME", "tls-keypair-filename", "key.pem",
	  STRING(K_NAME, key_filename), .group = G_MAILU,
	  .help = "served private key file in CERTS_DIR",
	  .more = "As Mailu names it: a plain file name." },
	{ "HOSTNAMES", "hostnames", NULL, HOSTNAMES(hostnames, n_hostnames),
	  .group = G_MAILU,
	  .help = "Mailu's host names; the first is the SNI of every probe",
	  .more = "Comma-separated. A new certificate must cover every one "
	  "(`hostname_mismatch`)." },
	{ "TLS_FLAVOR", "tls-flavor", "cert",
	  ENUM(flavor, enum tls_flavor, tls_flavor_names, "flavor"),
	  .group = G_MAILU,
	  .help = "cert, letsencrypt, mail, mail-letsencrypt or notls",
	  .more = "`cert`/`mail`: the pair `TLS_CERT_FILENAME`, "
	  "`TLS_KEYPAIR_FILENAME`. `letsencrypt`/`mail-letsencrypt`: the front "
	  "renews itself; the agent reads both lineages, "
	  "`letsencrypt/live/mailu` (RSA) and `mailu-ecdsa` (ECDSA), verifies "
	  "both key types and heals, and never writes. `notls`: no TLS, "
	  "nothing to check." },
	{ "PORTS", "ports", MAILU_DEFAULT_PORTS, PORTS(ports), .group = G_MAILU,
	  .help = "Mailu's enabled ports; picks the default endpoints",
	  .more = "Mailu's default since 2024.06 leaves 110, 143 and 587 off. "
	  "As in Mailu, SMTP 25 is always served, HTTPS 443, SMTPS 465 and "
	  "IMAPS 993 whenever `TLS` holds them, POP3S 995 when both lists do, "
	  "and 110, 143, 587 and 4190 when `PORTS` does." },
	{ "TLS", "tls", MAILU_DEFAULT_PORTS, PORTS(tls_ports), .group = G_MAILU,
	  .help = "Mailu's ports with TLS on (443, 465, 993, 995 count)",
	  .more = "Mailu's `TLS` setting: which of its TLS ports are served; "
	  "default all." },
	{ "PROXY_PROTOCOL", "proxy-protocol", NULL, PORTS(proxy_ports),
	  .group = G_MAILU,
	  .help = "ports (or mail, all-but-http, all) that expect a PROXY header",
	  .more = "Probes to them send a v2 header first. An endpoint matches "
	  "by its Mailu port (e.g. 993 for `imaps`) or its actual port." },

	{ "AGENT_SOURCE", "source", "certs-dir", STRING(K_SOURCE, source),
	  .group = G_SOURCE,
	  .help = "where new certificates come from",
	  .more = "`certs-dir`, `pair:/CERT,/KEY`, `certbot:/CONFIG/live/NAME`, "
	  "`lego:/DIR/DOMAIN`, `traefik:/FILE[#RESOLVER]`, `k8s-secret:/DIR` "
	  "(paths absolute; see Sources in docs/reference.md)." },
	{ "AGENT_RELOAD", "reload", "docker",
	  ENUM(reload, enum reload_backend, reload_backend_names, "backend"),
	  .group = G_SOURCE,
	  .help = "docker, signal or none",
	  .more = "`docker`: Engine API exec. `signal`: SIGHUP to the nginx and "
	  "dovecot masters in a shared PID namespace; endpoints default to "
	  "`127.0.0.1`. `none`: the agent only installs and verifies." },
	{ "DOCKER_HOST", "docker-host", "unix:///var/run/docker.sock",
	  STRING(K_DOCKER_HOST, docker_host), .group = G_SOURCE,
	  .help = "unix:///path or tcp://host:port",
	  .more = "`tcp://` e.g. for a socket proxy." },
	{ "AGENT_FRONT", "front", "label:com.docker.compose.service=front",
	  STRING(K_TEXT, front), .group = G_SOURCE,
	  .help = "front container(s): name, id or label:K=V",
	  .more = "Every running match is reloaded. With the default, when the "
	  "agent runs in a compose project itself, only that project's `front` "
	  "matches." },
	{ "AGENT_RELOAD_COMMANDS", "reload-commands", CONFIG_RELOAD_COMMANDS,
	  STRING(K_TEXT, reload_commands), .group = G_SOURCE,
	  .help = "commands run in the front, in order",
	  .more = "Words, not shell syntax; at most 8 commands of 16 words. The "
	  "default two run at once, each in its own session shell or exec "
	  "(`AGENT_RELOAD_EXEC`); `nginx -s reload` tests the "
	  "configuration with the new certificates before it signals nginx "
	  "(`nginx -t` and the reload in one command), and exits 1 without "
	  "signalling when the test fails." },
	{ "AGENT_RELOAD_TIMEOUT", "reload-timeout", "60s",
	  DURATION(reload_timeout_ms), .group = G_SOURCE,
	  .help = "one reload command in the front; a hung one is killed",
	  .more = "Killed in the front (`reload.timeout`), and the pair rolled "
	  "back." },
	{ "AGENT_RELOAD_EXEC", "reload-exec", "kept",
	  SWITCH(reload_exec_each, reload_exec_names), .group = G_SOURCE,
	  .help = "kept (a shell per command waits in the front) or each",
	  .more = "Docker backend. `kept`: a command's first run starts a "
	  "small `sh` in the front (one exec) that runs it again each time "
	  "the agent writes a line, and ends when the agent exits; later "
	  "reloads skip the engine's exec start-up (0.1-0.5 s each). `each`: a "
	  "new exec for every command, every time. Either way the command, "
	  "its exit status and its output are the same." },
	{ "AGENT_FRONT_WATCHER", "front-watcher", "auto",
	  ENUM(front_watcher, enum front_watcher, front_watcher_names, "value"),
	  .group = G_SOURCE,
	  .help = "auto, yes or no: the front reloads itself on a new pair",
	  .more = "Mailu's front runs its own certificate watcher in the `cert` "
	  "flavor: it reloads nginx and dovecot about a second after `cert.pem` "
	  "or `key.pem` change. A second dovecot reload right after its own "
	  "makes dovecot kill the login processes of the first, cutting their "
	  "clients off. So after an install the agent first waits up to "
	  "`AGENT_FRONT_WATCHER_WAIT` for the front to serve the new pair on "
	  "every endpoint, and reloads only if it does not (`reload.front_watcher`). "
	  "When it does, the cycle ends only once the watcher is done: it "
	  "reconfigures the front once per file event (four times for a pair "
	  "renamed into place), and an install during one of those reloads "
	  "could be read half old, half new; so the agent waits, up to "
	  "`AGENT_FRONT_WATCHER_WAIT` more, until the watcher has had no child "
	  "process for 1.2 s (`front_watcher_idle_ms`). "
	  "`auto`: when every front runs a process named `certwatcher` (the "
	  "Engine API's process list, or the shared PID namespace), the flavor "
	  "is `cert` and `AGENT_RELOAD_COMMANDS` is not set. A drift heal "
	  "always reloads at once: no file changed for the front to see." },
	{ "AGENT_FRONT_WATCHER_WAIT", "front-watcher-wait", "5s",
	  DURATION(front_watcher_wait_ms), .group = G_SOURCE,
	  .help = "how long a front that reloads itself gets before the agent does" },

	{ "AGENT_ENDPOINTS", "endpoints", NULL,
	  ENDPOINTS(endpoints, n_endpoints), .group = G_VERIFY,
	  .help = "endpoints to verify, e.g. imaps://front:993,...",
	  .more = "Comma-separated `scheme://host[:port]`. Unset: Mailu's TLS "
	  "ports on each front (see Endpoints in docs/reference.md)." },
	{ "AGENT_VERIFY_TIMEOUT", "verify-timeout", "30s",
	  DURATION(verify_timeout_ms), .group = G_VERIFY,
	  .help = "wait for every endpoint to serve a new certificate" },
	{ "AGENT_PROBE_TIMEOUT", "probe-timeout", "5s",
	  DURATION(probe_timeout_ms), .group = G_VERIFY,
	  .help = "one probe: connect, STARTTLS and handshake",
	  .more = "The PROXY header too, when one is sent." },
	{ "AGENT_CA_FILE", "ca-file", NULL, STRING(K_PATH, ca_file),
	  .group = G_VERIFY,
	  .help = "trust store the chain must verify to",
	  .more = "When set, a new chain that does not is rejected "
	  "(`untrusted_chain`)." },

	{ "AGENT_DANE", "dane", "warn",
	  ENUM(dane, enum dane_mode, dane_mode_names, "mode"), .group = G_DANE,
	  .help = "off, warn or enforce: check TLSA records before a key change",
	  .more = "Before a bundle with a new key (or chain) is installed, the "
	  "TLSA records of `_25._tcp.<host>` are matched against it (usages 3 "
	  "and 2). `warn`: `dane.mismatch` names the `3 1 1` record to publish, "
	  "and the bundle is installed. `enforce`: it is rejected "
	  "(`dane_mismatch`). No record, or no answer from DNS, never blocks. "
	  "DNSSEC is not validated." },
	{ "AGENT_DNS_SERVER", "dns-server", NULL,
	  STRING(K_DNS_SERVER, dns_server), .group = G_DANE,
	  .help = "the resolver asked for TLSA: IP[:port] or [IPv6]:port",
	  .more = "An address, not a name. Unset: the servers of "
	  "`/etc/resolv.conf`. Every host's lookup shares one 2 s deadline." },
	{ "AGENT_DANE_HOSTS", "dane-hosts", NULL,
	  HOSTNAMES(dane_hosts, n_dane_hosts), .group = G_DANE,
	  .help = "MX host names whose TLSA records are checked",
	  .more = "Comma-separated. Unset: the first of `HOSTNAMES`." },

	{ "AGENT_POLL_INTERVAL", "poll-interval", "10s",
	  DURATION(poll_interval_ms), .group = G_WATCH,
	  .help = "poll period beside inotify" },
	{ "AGENT_WATCH", "watch", "inotify", SWITCH(watch_poll, watch_names),
	  .group = G_WATCH,
	  .help = "inotify (plus the poll) or poll (poll only, e.g. NFS)",
	  .more = "With `poll` a change is seen at the next poll; "
	  "`watch.poll_only` says so at start." },
	{ "AGENT_SETTLE_TIMEOUT", "settle-timeout", "30s",
	  DURATION(settle_timeout_ms), .group = G_WATCH,
	  .help = "how long a changed pair may stay unstable",
	  .more = "Or mismatched: a pair caught mid-write is read again until "
	  "then, and only then rejected." },

	{ "AGENT_STATE_DIR", "state-dir", NULL, STRING(K_PATH, state_dir),
	  .group = G_STATE,
	  .help = "backups, journal, status file (default $CERTS_DIR/.mailu-cert-agent)",
	  .more = "Also the lock and the last-known-good copy; the status file "
	  "is `status.json`." },
	{ "AGENT_BACKUPS", "backups", "5", COUNT(backups, 1, 1000),
	  .group = G_STATE,
	  .help = "backups kept" },

	{ "AGENT_DRIFT_INTERVAL", "drift-interval", "10m",
	  DURATION(drift_interval_ms), .group = G_OPS,
	  .help = "period of the verify of what is served",
	  .more = "Every interval: verify every endpoint, heal a stale one by "
	  "reloading (at most once per doubling interval up to 1 h while it "
	  "stays broken), and re-evaluate expiry." },
	{ "AGENT_EXPIRY_WARN", "expiry-warn", "21d,7d,3d",
	  WARN(expiry_warn_s, n_expiry_warn), .group = G_OPS,
	  .help = "expiry warning thresholds",
	  .more = "`check` exits 1 inside the largest, and the warning names "
	  "the smallest one crossed." },
	{ "AGENT_METRICS_LISTEN", "metrics-listen", NULL,
	  STRING(K_LISTEN, metrics_listen), .group = G_OPS,
	  .help = "host:port of /metrics and /healthz",
	  .more = "Or `[v6]:port`, `:port`. `/metrics` is Prometheus text "
	  "0.0.4. Unset: off." },
	{ "AGENT_WEBHOOK_URL", "webhook-url", NULL,
	  STRING(K_URLS, webhook_url), .group = G_OPS,
	  .help = "comma-separated URLs for JSON POSTs",
	  .more = "http(s), at most 8: a POST on each event of "
	  "`AGENT_WEBHOOK_EVENTS`. Unset: off." },
	{ "AGENT_WEBHOOK_EVENTS", "webhook-events", CONFIG_WEBHOOK_EVENTS,
	  WORDS(webhook_events, webhook_event_names), .group = G_OPS,
	  .help = "the events posted: any of cycle.rotated, cycle.rolled_back, "
	  "cycle.kept, cycle.failed, drift.detected, expiry.warning",
	  .more = "Comma-separated. By default every one but `cycle.rotated`: "
	  "webhooks are for trouble unless you ask for more." },
	{ "AGENT_WEBHOOK_FORMAT", "webhook-format", "json",
	  WORD(webhook_format, webhook_format_names), .group = G_OPS,
	  .help = "json, ntfy or slack (incoming-webhook text)",
	  .more = "`ntfy`: a plain text body, `Title`/`Tags` headers. "
	  "`slack`: `{\"text\": ...}`." },

	{ "AGENT_LOG_LEVEL", "log-level", "info", LOGLEVEL(log_level),
	  .group = G_LOG,
	  .help = "debug, info, warn or error" },
	{ "AGENT_LOG_FORMAT", "log-format", "json",
	  SWITCH(log_text, log_format_names), .group = G_LOG,
	  .help = "json (one object per line) or text (for a terminal)",
	  .more = "`text`: `TIME LEVEL EVENT: msg key=value ...`, with the "
	  "same fields." },
};

const size_t config_nsettings = NELEM(config_settings);

const struct config_switch config_switches[] = {
	{ "force", offsetof(struct config, force),
	  "`once`, `run`: install a pair issued before the installed one "
	  "(`not_newer`)" },
	{ "help", offsetof(struct config, help),
	  "the usage and every setting (`-h` too)" },
	{ "version", offsetof(struct config, version),
	  "print the version, as the `version` command does" },
	{ "h", offsetof(struct config, help), NULL },
};

const size_t config_nswitches = NELEM(config_switches);

/* The entry whose env (by_flag: flag) is name[0..len), or NULL. */
static const struct setting *
lookup(const char *name, size_t len, bool by_flag)
{
	for (size_t i = 0; i < config_nsettings; i++) {
		const char *n = by_flag ? config_settings[i].flag :
		    config_settings[i].env;

		if (strlen(n) == len && strncmp(n, name, len) == 0)
			return &config_settings[i];
	}
	return NULL;
}

const struct setting *
config_setting_env(const char *name, size_t len)
{
	return lookup(name, len, false);
}

const struct setting *
config_setting_flag(const char *name, size_t len)
{
	return lookup(name, len, true);
}

const struct config_switch *
config_switch(const char *name)
{
	for (size_t i = 0; i < config_nswitches; i++)
		if (strcmp(config_switches[i].name, name) == 0)
			return &config_switches[i];
	return NULL;
}

void
config_usage(FILE *out)
{
	fprintf(out, "Settings (environment name, --flag twin, default):\n");
	for (size_t i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];

		fprintf(out, "  %-22s --%-20s %s\n      %s\n", s->env, s->flag,
		    s->def != NULL ? s->def : "(unset)", s->help);
	}
	fprintf(out, "  %-22s --%-20s %s\n      %s\n", "", ENV_FILE_FLAG,
	    "(unset)", ENV_FILE_HELP);
}

static void
reference_head(FILE *out, const char *title)
{
	fprintf(out, "\n### %s\n\n| setting | flag | default | meaning |\n"
	    "|---|---|---|---|\n", title);
}

/* What config_load does with the table, for the reference's readers. */
static const char *const reference_intro[] = {
	"Settings are read from the defaults, then `--env-file FILE` (a Mailu",
	"`mailu.env`), then the environment, then `--flags`; the last one wins.",
	"Mailu's own names mean what they mean to Mailu. An unknown name beginning",
	"with `AGENT_`, or an unknown flag, is an error (exit 64), so a typo can't",
	"pass silently. Other names in `mailu.env` are ignored, and their values",
	"never reach the log. Mailu writes an unset setting as empty, so an empty",
	"value counts as unset for a setting without a default. A duration is a",
	"number and a unit (`500ms`, `30s`, `10m`, `2h`, `21d`); a bare number",
	"means seconds.",
};

void
config_reference(FILE *out)
{
	for (size_t i = 0; i < NELEM(reference_intro); i++)
		fprintf(out, "%s\n", reference_intro[i]);
	for (int g = 0; g < G__MAX; g++) {
		reference_head(out, setting_group_names[g]);
		for (size_t i = 0; i < config_nsettings; i++) {
			const struct setting *s = &config_settings[i];

			if ((int)s->group != g)
				continue;
			fprintf(out, "| `%s` | `--%s` | ", s->env, s->flag);
			if (s->def != NULL)
				fprintf(out, "`%s`", s->def);
			else
				fprintf(out, "(unset)");
			/* help is a phrase; more, sentences after it */
			fprintf(out, " | %s%s%s |\n", s->help, s->more == NULL ? "" :
			    s->help[strlen(s->help) - 1] == '.' ? " " : ". ",
			    s->more != NULL ? s->more : "");
		}
	}
	reference_head(out, "Command line only");
	fprintf(out, "| | `--%s FILE` | (unset) | %s |\n", ENV_FILE_FLAG,
	    ENV_FILE_HELP);
	for (size_t i = 0; i < config_nswitches; i++)
		if (config_switches[i].help != NULL)
			fprintf(out, "| | `--%s` | | %s |\n",
			    config_switches[i].name, config_switches[i].help);
}
