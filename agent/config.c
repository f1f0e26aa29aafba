/*
 * config: one table of settings drives parsing, precedence, validation
 * and --help. Names are the contract in DESIGN.md; Mailu's own names
 * (CERTS_DIR, HOSTNAMES, TLS_FLAVOR, PORTS, PROXY_PROTOCOL, ...) are read
 * as Mailu means them so `env_file: mailu.env` just works.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "source_spec.h"

const char *const tls_flavor_names[FLAVOR__MAX] = {
	"cert", "letsencrypt", "mail", "mail-letsencrypt", "notls",
};

const char *const reload_backend_names[RELOAD__MAX] = {
	"docker", "signal", "none",
};

enum kind {
	K_PATH,		/* non-empty path */
	K_NAME,		/* a file name inside CERTS_DIR */
	K_HOSTNAMES,
	K_FLAVOR,
	K_PORTS,
	K_PROXY,
	K_SOURCE,
	K_RELOAD,
	K_DOCKER_HOST,
	K_TEXT,		/* non-empty free text */
	K_ENDPOINTS,
	K_DURATION,
	K_WARN,
	K_BACKUPS,
	K_LOGLEVEL,
	K_LISTEN,
	K_URLS,
	K_WEBHOOK_FORMAT,
	K_LOGFORMAT,
	K_WATCH,
};

struct setting {
	const char *env;	/* environment / mailu.env name */
	const char *flag;	/* --flag twin */
	const char *def;	/* default, NULL: unset */
	enum kind kind;
	const char *help;
};

/* Mailu's default PORTS (since 2024.06): 110, 143 and 587 are off. */
#define MAILU_DEFAULT_PORTS "25,80,443,465,993,995,4190"

static const struct setting settings[] = {
	{ "CERTS_DIR", "certs-dir", "/certs", K_PATH,
	  "Mailu's certs volume as mounted in the agent" },
	{ "TLS_CERT_FILENAME", "tls-cert-filename", "cert.pem", K_NAME,
	  "served certificate (chain) file in CERTS_DIR" },
	{ "TLS_KEYPAIR_FILENAME", "tls-keypair-filename", "key.pem", K_NAME,
	  "served private key file in CERTS_DIR" },
	{ "HOSTNAMES", "hostnames", NULL, K_HOSTNAMES,
	  "Mailu's host names; the first is the SNI of every probe" },
	{ "TLS_FLAVOR", "tls-flavor", "cert", K_FLAVOR,
	  "cert, letsencrypt, mail, mail-letsencrypt or notls" },
	{ "PORTS", "ports", MAILU_DEFAULT_PORTS, K_PORTS,
	  "Mailu's enabled ports; picks the default endpoints" },
	{ "PROXY_PROTOCOL", "proxy-protocol", NULL, K_PROXY,
	  "ports (or mail, all-but-http, all) that expect a PROXY header" },
	{ "AGENT_SOURCE", "source", "certs-dir", K_SOURCE,
	  "where new certificates come from" },
	{ "AGENT_RELOAD", "reload", "docker", K_RELOAD,
	  "docker, signal or none" },
	{ "DOCKER_HOST", "docker-host", "unix:///var/run/docker.sock",
	  K_DOCKER_HOST, "unix:///path or tcp://host:port" },
	{ "AGENT_FRONT", "front", "label:com.docker.compose.service=front",
	  K_TEXT, "front container(s): name, id or label:K=V" },
	{ "AGENT_RELOAD_COMMANDS", "reload-commands",
	  "nginx -t; nginx -s reload; dovecot reload", K_TEXT,
	  "commands run in the front, in order" },
	{ "AGENT_RELOAD_TIMEOUT", "reload-timeout", "60s", K_DURATION,
	  "one reload command in the front; a hung one is killed" },
	{ "AGENT_ENDPOINTS", "endpoints", NULL, K_ENDPOINTS,
	  "endpoints to verify, e.g. imaps://front:993,..." },
	{ "AGENT_VERIFY_TIMEOUT", "verify-timeout", "30s", K_DURATION,
	  "wait for every endpoint to serve a new certificate" },
	{ "AGENT_PROBE_TIMEOUT", "probe-timeout", "5s", K_DURATION,
	  "one probe: connect, STARTTLS and handshake" },
	{ "AGENT_POLL_INTERVAL", "poll-interval", "10s", K_DURATION,
	  "poll period beside inotify" },
	{ "AGENT_WATCH", "watch", "inotify", K_WATCH,
	  "inotify (plus the poll) or poll (poll only, e.g. NFS)" },
	{ "AGENT_SETTLE_TIMEOUT", "settle-timeout", "30s", K_DURATION,
	  "how long a changed pair may stay unstable" },
	{ "AGENT_DRIFT_INTERVAL", "drift-interval", "10m", K_DURATION,
	  "period of the verify of what is served" },
	{ "AGENT_EXPIRY_WARN", "expiry-warn", "21d,7d,3d", K_WARN,
	  "expiry warning thresholds" },
	{ "AGENT_STATE_DIR", "state-dir", NULL, K_PATH,
	  "backups, journal, status file (default $CERTS_DIR/.mailu-cert-agent)" },
	{ "AGENT_BACKUPS", "backups", "5", K_BACKUPS, "backups kept" },
	{ "AGENT_METRICS_LISTEN", "metrics-listen", NULL, K_LISTEN,
	  "host:port of /metrics and /healthz" },
	{ "AGENT_WEBHOOK_URL", "webhook-url", NULL, K_URLS,
	  "comma-separated URLs for JSON POSTs" },
	{ "AGENT_WEBHOOK_FORMAT", "webhook-format", "json", K_WEBHOOK_FORMAT,
	  "json, ntfy or slack (incoming-webhook text)" },
	{ "AGENT_LOG_LEVEL", "log-level", "info", K_LOGLEVEL,
	  "debug, info, warn or error" },
	{ "AGENT_LOG_FORMAT", "log-format", "json", K_LOGFORMAT,
	  "json (one object per line) or text (for a terminal)" },
	{ "AGENT_CA_FILE", "ca-file", NULL, K_PATH,
	  "trust store the chain must verify to" },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

/* An env file is read whole: bound it. */
#define ENV_FILE_MAX (1024 * 1024)

static int set_err(struct config_error *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
set_err(struct config_error *err, const char *setting, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->setting, sizeof(err->setting), "%s", setting);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
config_parse_duration(const char *s, long *ms)
{
	static const struct {
		const char *suffix;
		long ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "", 1000 },
	};
	char *end;
	long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || v < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		/* a year is plenty for any of our durations */
		if (v > 366L * 86400000 / units[i].ms)
			return -1;
		*ms = v * units[i].ms;
		return 0;
	}
	return -1;
}

static const struct setting *
setting_by_env(const char *name, size_t len)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strlen(settings[i].env) == len &&
		    strncmp(settings[i].env, name, len) == 0)
			return &settings[i];
	return NULL;
}

static const struct setting *
setting_by_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strlen(settings[i].flag) == len &&
		    strncmp(settings[i].flag, name, len) == 0)
			return &settings[i];
	return NULL;
}

/* Our own prefix: a typo there is an error, other names are Mailu's. */
static bool
is_agent_name(const char *name, size_t len)
{
	return len > 6 && strncmp(name, "AGENT_", 6) == 0;
}

/* name[0..len) is not a setting: an error if it is ours (AGENT_*), else ignored. */
static int
check_unknown(const char *name, size_t len, const char *where,
    struct config_error *err)
{
	if (!is_agent_name(name, len))
		return 0;
	snprintf(err->setting, sizeof(err->setting), "%.*s",
	    (int)(len < 60 ? len : 60), name);
	snprintf(err->msg, sizeof(err->msg), "unknown setting (%.200s)", where);
	return -1;
}

static int
raw_set(char **raw, const struct setting *s, const char *value, size_t len)
{
	char *copy = strndup(value, len);

	if (copy == NULL)
		return -1;
	free(raw[s - settings]);
	raw[s - settings] = copy;
	return 0;
}

/* Removes one pair of matching quotes, as docker compose v2 does. */
static void
unquote(const char **v, size_t *len)
{
	if (*len >= 2 && ((*v)[0] == '"' || (*v)[0] == '\'') &&
	    (*v)[*len - 1] == (*v)[0]) {
		(*v)++;
		*len -= 2;
	}
}

static int
read_env_file(const char *path, char **raw, struct config_error *err)
{
	char *buf = NULL, *line, *next;
	struct stat st;
	ssize_t got;
	size_t used = 0;
	int fd, lineno = 0, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_err(err, "--env-file", "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		set_err(err, "--env-file", "%s", "not a regular file");
		goto out;
	}
	if (st.st_size > ENV_FILE_MAX) {
		set_err(err, "--env-file", "%s", "larger than 1 MiB");
		goto out;
	}
	if ((buf = malloc(ENV_FILE_MAX + 1)) == NULL)
		goto out;
	while ((got = read(fd, buf + used, ENV_FILE_MAX + 1 - used)) > 0)
		used += (size_t)got;
	if (got < 0 || used > ENV_FILE_MAX) {
		set_err(err, "--env-file", "%s", "unreadable or grew past 1 MiB");
		goto out;
	}
	buf[used] = '\0';
	if (memchr(buf, '\0', used) != NULL) {
		set_err(err, "--env-file", "%s", "contains NUL bytes");
		goto out;
	}

	for (line = buf; line != NULL; line = next) {
		const char *k, *v, *eq;
		const struct setting *s;
		size_t klen, vlen;
		char where[32];

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		k = line;
		while (isspace((unsigned char)*k))
			k++;
		if (*k == '\0' || *k == '#')
			continue;
		if (strncmp(k, "export ", 7) == 0)
			k += 7;
		eq = strchr(k, '=');
		snprintf(where, sizeof(where), "line %d", lineno);
		if (eq == NULL) {
			set_err(err, "--env-file", "%s: no '='", where);
			goto out;
		}
		klen = (size_t)(eq - k);
		for (size_t i = 0; i < klen; i++) {
			if (!(isalnum((unsigned char)k[i]) || k[i] == '_') ||
			    (i == 0 && isdigit((unsigned char)k[i]))) {
				set_err(err, "--env-file", "%s: bad name", where);
				goto out;
			}
		}
		v = eq + 1;
		vlen = strlen(v);
		while (vlen > 0 && isspace((unsigned char)v[vlen - 1]))
			vlen--;
		unquote(&v, &vlen);
		s = setting_by_env(k, klen);
		if (s == NULL) {
			char at[PATH_MAX + 32];

			snprintf(at, sizeof(at), "%s, %s", path, where);
			if (check_unknown(k, klen, at, err) != 0)
				goto out;
			continue;
		}
		if (raw_set(raw, s, v, vlen) != 0)
			goto out;
	}
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

static int
read_environ(char **env, char **raw, struct config_error *err)
{
	for (; env != NULL && *env != NULL; env++) {
		const char *eq = strchr(*env, '=');
		const struct setting *s;
		size_t klen;

		if (eq == NULL)
			continue;
		klen = (size_t)(eq - *env);
		s = setting_by_env(*env, klen);
		if (s == NULL) {
			if (check_unknown(*env, klen, "environment", err) != 0)
				return -1;
			continue;
		}
		if (raw_set(raw, s, eq + 1, strlen(eq + 1)) != 0)
			return -1;
	}
	return 0;
}

/* Flags that are not settings. */
static int
plain_flag(struct config *cfg, const char *name)
{
	if (strcmp(name, "help") == 0 || strcmp(name, "h") == 0)
		cfg->help = true;
	else if (strcmp(name, "force") == 0)
		cfg->force = true;
	else
		return -1;
	return 0;
}

static int
read_argv(struct config *cfg, int argc, char **argv, char **raw,
    bool env_file_only, struct config_error *err)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val;
		const struct setting *s;
		size_t nlen;

		if (strcmp(a, "-h") == 0)
			a = "--help";
		if (strncmp(a, "--", 2) != 0) {
			if (env_file_only)
				continue;
			if (cfg->command != NULL)
				return set_err(err, "command",
				    "unexpected argument '%.64s'", a);
			if ((cfg->command = strdup(a)) == NULL)
				return -1;
			continue;
		}
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
		if (nlen == 8 && strncmp(name, "env-file", 8) == 0) {
			val = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (val == NULL)
				return set_err(err, "--env-file", "%s", "needs a value");
			if (env_file_only) {
				free(cfg->env_file);
				if ((cfg->env_file = strdup(val)) == NULL)
					return -1;
			}
			continue;
		}
		s = setting_by_flag(name, nlen);
		if (s == NULL) {
			char fl[64];

			snprintf(fl, sizeof(fl), "--%.*s", (int)(nlen < 48 ? nlen : 48), name);
			if (eq == NULL && plain_flag(cfg, name) == 0)
				continue;
			return set_err(err, fl, "%s", "unknown flag");
		}
		val = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (val == NULL)
			return set_err(err, s->env, "--%s needs a value", s->flag);
		if (!env_file_only && raw_set(raw, s, val, strlen(val)) != 0)
			return -1;
	}
	return 0;
}

static int
parse_list(const char *value, char **out, size_t max, size_t *n,
    const struct setting *s, struct config_error *err)
{
	char *copy = strdup(value), *tok, *save = NULL;
	int rc = -1;

	*n = 0;
	if (copy == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		for (char *e = tok + strlen(tok); e > tok &&
		    isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		if (*tok == '\0')
			continue;
		if (!endpoint_valid_hostname(tok, true)) {
			set_err(err, s->env, "'%.64s' is not a host name", tok);
			goto out;
		}
		if (*n >= max) {
			set_err(err, s->env, "%s", "too many host names");
			goto out;
		}
		for (char *p = tok; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if ((out[(*n)++] = strdup(tok)) == NULL)
			goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

static int
parse_enum(const char *value, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(value, names[i]) == 0)
			return i;
	return -1;
}

static int
parse_warn(struct config *cfg, const char *value, const struct setting *s,
    struct config_error *err)
{
	char buf[256], *tok, *save = NULL;
	long ms;

	if (strlen(value) >= sizeof(buf))
		return set_err(err, s->env, "%s", "too long");
	snprintf(buf, sizeof(buf), "%s", value);
	cfg->n_expiry_warn = 0;
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (config_parse_duration(tok, &ms) != 0 || ms < 1000)
			return set_err(err, s->env, "'%.32s' is not a duration", tok);
		if (cfg->n_expiry_warn >= CONFIG_MAX_WARN)
			return set_err(err, s->env, "%s", "too many thresholds");
		cfg->expiry_warn_s[cfg->n_expiry_warn++] = ms / 1000;
	}
	if (cfg->n_expiry_warn == 0)
		return set_err(err, s->env, "%s", "no threshold given");
	/* descending, so [0] is the first threshold crossed */
	for (size_t i = 1; i < cfg->n_expiry_warn; i++)
		for (size_t j = i; j > 0 && cfg->expiry_warn_s[j] >
		    cfg->expiry_warn_s[j - 1]; j--) {
			long t = cfg->expiry_warn_s[j];
			cfg->expiry_warn_s[j] = cfg->expiry_warn_s[j - 1];
			cfg->expiry_warn_s[j - 1] = t;
		}
	return 0;
}

static bool
valid_docker_host(const char *v)
{
	if (strncmp(v, "unix:///", 8) == 0)
		return strlen(v) < 108 + 7;	/* sun_path */
	if (strncmp(v, "tcp://", 6) == 0) {
		struct endpoint ep;
		char url[300], e[64];

		snprintf(url, sizeof(url), "https://%s", v + 6);
		return strchr(v + 6, ':') != NULL &&
		    endpoint_parse(url, &ep, e, sizeof(e)) == 0;
	}
	return false;
}

static bool
valid_urls(const char *v)
{
	char *copy = strdup(v), *tok, *save = NULL;
	bool ok = copy != NULL;
	size_t n = 0;

	for (tok = ok ? strtok_r(copy, ",", &save) : NULL; tok != NULL;
	    tok = strtok_r(NULL, ",", &save), n++)
		if (strncmp(tok, "http://", 7) != 0 &&
		    strncmp(tok, "https://", 8) != 0)
			ok = false;
	free(copy);
	return ok && n > 0;
}

static int
apply(struct config *cfg, const struct setting *s, const char *v,
    struct config_error *err)
{
	char msg[160];
	long ms;
	int e;

	switch (s->kind) {
	case K_PATH:
	case K_TEXT:
		if (*v == '\0')
			return set_err(err, s->env, "%s", "must not be empty");
		break;
	case K_NAME:
		if (*v == '\0' || strchr(v, '/') != NULL ||
		    strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
			return set_err(err, s->env, "%s",
			    "must be a file name inside CERTS_DIR");
		break;
	case K_HOSTNAMES:
		return parse_list(v, cfg->hostnames, CONFIG_MAX_HOSTNAMES,
		    &cfg->n_hostnames, s, err);
	case K_FLAVOR:
		if ((e = parse_enum(v, tls_flavor_names, FLAVOR__MAX)) < 0)
			return set_err(err, s->env, "unknown flavor '%.32s'", v);
		cfg->flavor = (enum tls_flavor)e;
		return 0;
	case K_PORTS:
	case K_PROXY:
		if (port_set_parse(v, s->kind == K_PORTS ? &cfg->ports :
		    &cfg->proxy_ports, msg, sizeof(msg)) != 0)
			return set_err(err, s->env, "%s", msg);
		return 0;
	case K_SOURCE: {
		struct source_spec sp;

		if (source_spec_parse(v, &sp) != 0)
			return set_err(err, s->env, "not %s", SOURCE_SPEC_FORMS);
		break;
	}
	case K_RELOAD:
		if ((e = parse_enum(v, reload_backend_names, RELOAD__MAX)) < 0)
			return set_err(err, s->env, "unknown backend '%.32s'", v);
		cfg->reload = (enum reload_backend)e;
		return 0;
	case K_DOCKER_HOST:
		if (!valid_docker_host(v))
			return set_err(err, s->env, "%s",
			    "not unix:///path or tcp://host:port");
		break;
	case K_ENDPOINTS:
		if (endpoint_list_parse(v, &cfg->endpoints, &cfg->n_endpoints,
		    msg, sizeof(msg)) != 0)
			return set_err(err, s->env, "%s", msg);
		return 0;
	case K_DURATION:
		if (config_parse_duration(v, &ms) != 0 || ms < 1)
			return set_err(err, s->env, "'%.32s' is not a duration "
			    "(e.g. 500ms, 30s, 10m)", v);
		if (strcmp(s->env, "AGENT_VERIFY_TIMEOUT") == 0)
			cfg->verify_timeout_ms = ms;
		else if (strcmp(s->env, "AGENT_PROBE_TIMEOUT") == 0)
			cfg->probe_timeout_ms = ms;
		else if (strcmp(s->env, "AGENT_POLL_INTERVAL") == 0)
			cfg->poll_interval_ms = ms;
		else if (strcmp(s->env, "AGENT_SETTLE_TIMEOUT") == 0)
			cfg->settle_timeout_ms = ms;
		else if (strcmp(s->env, "AGENT_RELOAD_TIMEOUT") == 0)
			cfg->reload_timeout_ms = ms;
		else
			cfg->drift_interval_ms = ms;
		return 0;
	case K_WARN:
		return parse_warn(cfg, v, s, err);
	case K_BACKUPS: {
		char *end;

		errno = 0;
		cfg->backups = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' ||
		    cfg->backups < 1 || cfg->backups > 1000)
			return set_err(err, s->env, "%s", "must be 1..1000");
		return 0;
	}
	case K_LOGLEVEL:
		if (log_level_parse(v, &cfg->log_level) != 0)
			return set_err(err, s->env, "unknown level '%.16s'", v);
		return 0;
	case K_LISTEN: {
		struct endpoint ep;
		char url[300];

		snprintf(url, sizeof(url), "https://%s", v);
		if (strchr(v, ':') == NULL ||
		    endpoint_parse(url, &ep, msg, sizeof(msg)) != 0)
			return set_err(err, s->env, "%s", "not host:port");
		break;
	}
	case K_LOGFORMAT:
		if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0)
			return set_err(err, s->env, "%s", "json or text");
		cfg->log_text = strcmp(v, "text") == 0;
		return 0;
	case K_WATCH:
		if (strcmp(v, "inotify") != 0 && strcmp(v, "poll") != 0)
			return set_err(err, s->env, "%s", "inotify or poll");
		cfg->watch_poll = strcmp(v, "poll") == 0;
		return 0;
	case K_WEBHOOK_FORMAT:
		if (strcmp(v, "json") != 0 && strcmp(v, "ntfy") != 0 &&
		    strcmp(v, "slack") != 0)
			return set_err(err, s->env, "%s", "json, ntfy or slack");
		break;
	case K_URLS:
		if (!valid_urls(v))
			return set_err(err, s->env, "%s",
			    "not a comma-separated list of http(s) URLs");
		break;
	}
	return 0;
}

/* The string a K_PATH/K_TEXT/... setting lands in. */
static char **
string_slot(struct config *cfg, const struct setting *s)
{
	static const struct {
		const char *env;
		size_t off;
	} slots[] = {
		{ "CERTS_DIR", offsetof(struct config, certs_dir) },
		{ "TLS_CERT_FILENAME", offsetof(struct config, cert_filename) },
		{ "TLS_KEYPAIR_FILENAME", offsetof(struct config, key_filename) },
		{ "AGENT_SOURCE", offsetof(struct config, source) },
		{ "DOCKER_HOST", offsetof(struct config, docker_host) },
		{ "AGENT_FRONT", offsetof(struct config, front) },
		{ "AGENT_RELOAD_COMMANDS", offsetof(struct config, reload_commands) },
		{ "AGENT_STATE_DIR", offsetof(struct config, state_dir) },
		{ "AGENT_METRICS_LISTEN", offsetof(struct config, metrics_listen) },
		{ "AGENT_WEBHOOK_URL", offsetof(struct config, webhook_url) },
		{ "AGENT_WEBHOOK_FORMAT", offsetof(struct config, webhook_format) },
		{ "AGENT_CA_FILE", offsetof(struct config, ca_file) },
	};

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (strcmp(slots[i].env, s->env) == 0)
			return (char **)(void *)((char *)cfg + slots[i].off);
	return NULL;
}

int
config_load(struct config *cfg, int argc, char **argv, char **environ_,
    struct config_error *err)
{
	char *raw[NSETTINGS] = { 0 };
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	memset(err, 0, sizeof(*err));
	cfg->log_level = LOG_LEVEL_INFO;

	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].def != NULL &&
		    (raw[i] = strdup(settings[i].def)) == NULL)
			goto out;
	/* --env-file first, since the environment and flags override it */
	if (read_argv(cfg, argc, argv, raw, true, err) != 0)
		goto out;
	if (cfg->env_file != NULL && read_env_file(cfg->env_file, raw, err) != 0)
		goto out;
	if (read_environ(environ_, raw, err) != 0)
		goto out;
	if (read_argv(cfg, argc, argv, raw, false, err) != 0)
		goto out;

	for (size_t i = 0; i < NSETTINGS; i++) {
		char **slot;

		if (raw[i] == NULL)
			continue;
		/* Mailu writes unset settings as empty: treat them as unset */
		if (raw[i][0] == '\0' && settings[i].def == NULL)
			continue;
		if (apply(cfg, &settings[i], raw[i], err) != 0)
			goto out;
		if ((slot = string_slot(cfg, &settings[i])) != NULL) {
			*slot = raw[i];
			raw[i] = NULL;
		}
	}
	if (cfg->state_dir == NULL) {
		size_t len = strlen(cfg->certs_dir) + sizeof("/.mailu-cert-agent");

		if ((cfg->state_dir = malloc(len)) == NULL)
			goto out;
		snprintf(cfg->state_dir, len, "%s/.mailu-cert-agent", cfg->certs_dir);
	}
	if (cfg->endpoints != NULL)
		endpoint_mark_proxy(cfg->endpoints, cfg->n_endpoints,
		    &cfg->proxy_ports);
	rc = 0;
out:
	if (rc != 0 && err->setting[0] == '\0')
		set_err(err, "config", "%s", "out of memory");
	for (size_t i = 0; i < NSETTINGS; i++)
		free(raw[i]);
	return rc;
}

void
config_free(struct config *cfg)
{
	free(cfg->certs_dir);
	free(cfg->cert_filename);
	free(cfg->key_filename);
	for (size_t i = 0; i < cfg->n_hostnames; i++)
		free(cfg->hostnames[i]);
	free(cfg->source);
	free(cfg->docker_host);
	free(cfg->front);
	free(cfg->reload_commands);
	free(cfg->endpoints);
	free(cfg->state_dir);
	free(cfg->metrics_listen);
	free(cfg->webhook_url);
	free(cfg->webhook_format);
	free(cfg->ca_file);
	free(cfg->env_file);
	free(cfg->command);
	memset(cfg, 0, sizeof(*cfg));
}

void
config_usage(FILE *out)
{
	fprintf(out, "Settings (environment name, --flag twin, default):\n");
	for (size_t i = 0; i < NSETTINGS; i++)
		fprintf(out, "  %-22s --%-20s %s\n      %s\n", settings[i].env,
		    settings[i].flag, settings[i].def != NULL ? settings[i].def : "(unset)",
		    settings[i].help);
	fprintf(out, "  %-22s --%-20s %s\n      %s\n", "", "env-file", "(unset)",
	    "read settings from a Mailu mailu.env first");
}
