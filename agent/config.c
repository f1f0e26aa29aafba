/*
 * config: reads the settings of config_table.c from defaults, an optional
 * Mailu mailu.env, the environment and --flags, and parses each value
 * as its kind says, into the struct config field its entry names.
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
#include "config_table.h"
#include "dane_match.h"
#include "source_spec.h"

const char *const tls_flavor_names[FLAVOR__MAX] = {
	"cert", "letsencrypt", "mail", "mail-letsencrypt", "notls",
};

const char *const reload_backend_names[RELOAD__MAX] = {
	"docker", "signal", "none",
};

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

/* A field of cfg, by offset: a setting's (its kind says the type) or a switch's. */
static void *
field(struct config *cfg, size_t off)
{
	return (char *)cfg + off;
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
		if (v > CONFIG_DURATION_MAX_MS / units[i].ms)
			return -1;
		*ms = v * units[i].ms;
		return 0;
	}
	return -1;
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
	free(raw[s - config_settings]);
	raw[s - config_settings] = copy;
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
		s = config_setting_env(k, klen);
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
		s = config_setting_env(*env, klen);
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

/* A flag that is not a setting and takes no value: --force, --help. */
static int
plain_flag(struct config *cfg, const char *name)
{
	const struct config_switch *sw = config_switch(name);

	if (sw == NULL)
		return -1;
	*(bool *)field(cfg, sw->off) = true;
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
		if (nlen == strlen(ENV_FILE_FLAG) &&
		    strncmp(name, ENV_FILE_FLAG, nlen) == 0) {
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
		s = config_setting_flag(name, nlen);
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
parse_hostnames(struct config *cfg, const struct setting *s, const char *value,
    struct config_error *err)
{
	char **out = field(cfg, s->off), *copy = strdup(value), *tok, *save = NULL;
	size_t *n = field(cfg, s->off_n);
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
		if (*n >= CONFIG_MAX_HOSTNAMES) {
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

/* The index of value in s->names, or -1. */
static int
parse_name(const struct setting *s, const char *value)
{
	for (size_t i = 0; i < s->n_names; i++)
		if (strcmp(value, s->names[i]) == 0)
			return (int)i;
	return -1;
}

/* "a or b", "a, b or c": s->names for an error message. */
/* Each comma-separated word of value (spaces around it allowed) is a name. */
static int
parse_words(const struct setting *s, const char *value)
{
	char word[64];
	size_t n = 0;

	for (const char *p = value; ; p += n + (p[n] == ',')) {
		p += strspn(p, " ");
		n = strcspn(p, ",");
		if (n == 0 || n >= sizeof(word))
			return -1;
		snprintf(word, sizeof(word), "%.*s", (int)n, p);
		for (size_t l = strlen(word); l > 0 && word[l - 1] == ' '; l--)
			word[l - 1] = '\0';
		if (parse_name(s, word) < 0)
			return -1;
		if (p[n] == '\0')
			return 0;
	}
}

static int
names_err(const struct setting *s, struct config_error *err)
{
	char list[128] = "";
	size_t len = 0;

	for (size_t i = 0; i < s->n_names && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
		    i == 0 ? "" : i + 1 == s->n_names ? " or " : ", ", s->names[i]);
	return set_err(err, s->env, "%s", list);
}

static int
parse_warn(struct config *cfg, const struct setting *s, const char *value,
    struct config_error *err)
{
	long *warn = field(cfg, s->off);
	size_t *n = field(cfg, s->off_n);
	char buf[256], *tok, *save = NULL;
	long ms;

	if (strlen(value) >= sizeof(buf))
		return set_err(err, s->env, "%s", "too long");
	snprintf(buf, sizeof(buf), "%s", value);
	*n = 0;
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (config_parse_duration(tok, &ms) != 0 || ms < s->min ||
		    ms > s->max)
			return set_err(err, s->env, "'%.32s' is not a duration", tok);
		if (*n >= CONFIG_MAX_WARN)
			return set_err(err, s->env, "%s", "too many thresholds");
		warn[(*n)++] = ms / 1000;
	}
	if (*n == 0)
		return set_err(err, s->env, "%s", "no threshold given");
	/* descending, so [0] is the first threshold crossed */
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && warn[j] > warn[j - 1]; j--) {
			long t = warn[j];
			warn[j] = warn[j - 1];
			warn[j - 1] = t;
		}
	return 0;
}

/* host:port, as a URL's authority would be. */
static bool
valid_listen(const char *v)
{
	struct endpoint ep;
	char url[300], e[160];

	snprintf(url, sizeof(url), "https://%s", v);
	return strchr(v, ':') != NULL && endpoint_parse(url, &ep, e, sizeof(e)) == 0;
}

static bool
valid_docker_host(const char *v)
{
	if (strncmp(v, "unix:///", 8) == 0)
		return strlen(v) < 108 + 7;	/* sun_path */
	return strncmp(v, "tcp://", 6) == 0 && valid_listen(v + 6);
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

/* Why v is no value of the string kind k, or NULL: it is one. */
static const char *
string_refused(enum setting_kind k, const char *v)
{
	struct source_spec sp;
	struct dane_server ds;

	switch (k) {
	case K_PATH:
	case K_TEXT:
		return *v == '\0' ? "must not be empty" : NULL;
	case K_NAME:
		return *v == '\0' || strchr(v, '/') != NULL || strcmp(v, ".") == 0 ||
		    strcmp(v, "..") == 0 ? "must be a file name inside CERTS_DIR" : NULL;
	case K_SOURCE:
		return source_spec_parse(v, &sp) != 0 ? "not " SOURCE_SPEC_FORMS : NULL;
	case K_DOCKER_HOST:
		return valid_docker_host(v) ? NULL : "not unix:///path or tcp://host:port";
	case K_LISTEN:
		return valid_listen(v) ? NULL : "not host:port";
	case K_URLS:
		return valid_urls(v) ? NULL :
		    "not a comma-separated list of http(s) URLs";
	case K_DNS_SERVER:
		return dane_server_parse(v, &ds) != 0 ?
		    "not an IP address with an optional :port ([IPv6]:port)" : NULL;
	default:
		return NULL;
	}
}

int
config_setting_parse(struct config *cfg, const struct setting *s,
    const char *v, struct config_error *err)
{
	enum log_level lvl;
	const char *why;
	char msg[160], *end;
	long n;
	int i;

	switch (s->kind) {
	case K_PATH:
	case K_TEXT:
	case K_NAME:
	case K_SOURCE:
	case K_DOCKER_HOST:
	case K_LISTEN:
	case K_URLS:
	case K_DNS_SERVER:
		if ((why = string_refused(s->kind, v)) != NULL)
			return set_err(err, s->env, "%s", why);
		return 0;
	case K_WORD:
		return parse_name(s, v) < 0 ? names_err(s, err) : 0;
	case K_WORDS:
		return parse_words(s, v) != 0 ? names_err(s, err) : 0;
	case K_ENUM:
		if ((i = parse_name(s, v)) < 0)
			return set_err(err, s->env, "unknown %s '%.32s'", s->what, v);
		/* an int-sized enum (config_table.c checks): the index is its value */
		memcpy(field(cfg, s->off), &i, sizeof(i));
		return 0;
	case K_LOGLEVEL:
		if (log_level_parse(v, &lvl) != 0)
			return set_err(err, s->env, "unknown level '%.16s'", v);
		*(enum log_level *)field(cfg, s->off) = lvl;
		return 0;
	case K_SWITCH:
		if ((i = parse_name(s, v)) < 0)
			return names_err(s, err);
		*(bool *)field(cfg, s->off) = i == 1;
		return 0;
	case K_DURATION:
		if (config_parse_duration(v, &n) != 0 || n < s->min || n > s->max)
			return set_err(err, s->env, "'%.32s' is not a duration "
			    "(e.g. 500ms, 30s, 10m)", v);
		*(long *)field(cfg, s->off) = n;
		return 0;
	case K_COUNT:
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < s->min ||
		    n > s->max)
			return set_err(err, s->env, "must be %ld..%ld", s->min, s->max);
		*(long *)field(cfg, s->off) = n;
		return 0;
	case K_WARN:
		return parse_warn(cfg, s, v, err);
	case K_HOSTNAMES:
		return parse_hostnames(cfg, s, v, err);
	case K_PORTS:
		if (port_set_parse(v, field(cfg, s->off), msg, sizeof(msg)) != 0)
			return set_err(err, s->env, "%s", msg);
		return 0;
	case K_ENDPOINTS:
		if (endpoint_list_parse(v, field(cfg, s->off), field(cfg, s->off_n),
		    msg, sizeof(msg)) != 0)
			return set_err(err, s->env, "%s", msg);
		return 0;
	case K__MAX:
		break;
	}
	return set_err(err, s->env, "%s", "no parser for this kind");
}

int
config_load(struct config *cfg, int argc, char **argv, char **environ_,
    struct config_error *err)
{
	char **raw;	/* each setting's value, as the last source set it */
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	memset(err, 0, sizeof(*err));
	cfg->log_level = LOG_LEVEL_INFO;

	if ((raw = calloc(config_nsettings, sizeof(*raw))) == NULL)
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

	for (size_t i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];

		/* the defaults last: what no source set is known as such */
		if (raw[i] != NULL && s->off == offsetof(struct config, reload_commands))
			cfg->reload_commands_given = true;
		if (raw[i] == NULL && s->def != NULL && (raw[i] = strdup(s->def)) == NULL)
			goto out;
		if (raw[i] == NULL)
			continue;
		/* Mailu writes unset settings as empty: treat them as unset */
		if (raw[i][0] == '\0' && s->def == NULL)
			continue;
		if (config_setting_parse(cfg, s, raw[i], err) != 0)
			goto out;
		if (SETTING_IS_STRING(s->kind)) {
			*(char **)field(cfg, s->off) = raw[i];
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
	for (size_t i = 0; raw != NULL && i < config_nsettings; i++)
		free(raw[i]);
	free(raw);
	return rc;
}

void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];
		void *f = field(cfg, s->off);

		if (SETTING_IS_STRING(s->kind))
			free(*(char **)f);
		else if (s->kind == K_ENDPOINTS)
			free(*(struct endpoint **)f);
		else if (s->kind == K_HOSTNAMES)
			for (size_t j = 0; j < *(size_t *)field(cfg, s->off_n); j++)
				free(((char **)f)[j]);
	}
	free(cfg->env_file);
	free(cfg->command);
	memset(cfg, 0, sizeof(*cfg));
}

bool
config_reload_commands_default(const struct config *cfg)
{
	return !cfg->reload_commands_given;
}
