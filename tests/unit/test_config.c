/* Settings: precedence, Mailu's names, validation that names the setting. */
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "config_table.h"
#include "harness.h"
#include "source.h"
#include "source_spec.h"

static int
load(struct config *cfg, struct config_error *err, char **argv, char **env)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	return config_load(cfg, argc, argv, env, err);
}

static char *
write_env_file(const char *text)
{
	static char path[] = "/tmp/mca-test-env-XXXXXX";
	int fd;

	snprintf(path, sizeof(path), "/tmp/mca-test-env-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

TEST(defaults)
{
	struct config cfg;
	struct config_error err;
	char *argv[] = { "agent", "check", NULL };
	char *env[] = { "PATH=/bin", NULL };

	CHECK_INT(load(&cfg, &err, argv, env), 0);
	CHECK_STR(cfg.command, "check");
	CHECK_STR(cfg.certs_dir, "/certs");
	CHECK_STR(cfg.cert_filename, "cert.pem");
	CHECK_STR(cfg.key_filename, "key.pem");
	CHECK_STR(cfg.state_dir, "/certs/.mailu-cert-agent");
	CHECK_INT(cfg.verify_timeout_ms, 30000);
	CHECK_INT(cfg.reload_timeout_ms, 60000);
	CHECK_INT(cfg.drift_interval_ms, 600000);
	CHECK_INT(cfg.n_expiry_warn, 3);
	CHECK_INT(cfg.expiry_warn_s[0], 21 * 86400);
	CHECK_INT(cfg.expiry_warn_s[2], 3 * 86400);
	CHECK_INT(cfg.flavor, FLAVOR_CERT);
	CHECK_INT(cfg.reload, RELOAD_DOCKER);
	CHECK(cfg.endpoints == NULL);
	CHECK(port_set_has(&cfg.ports, 993) && !port_set_has(&cfg.ports, 143));
	config_free(&cfg);
}

TEST(precedence_file_env_flag)
{
	struct config cfg;
	struct config_error err;
	char *path = write_env_file(
	    "# Mailu's mailu.env\n"
	    "SECRET_KEY=not-ours\n"
	    "HOSTNAMES=Mail.Example.com,imap.example.com\n"
	    "TLS_FLAVOR=mail\n"
	    "export AGENT_VERIFY_TIMEOUT=\"45s\"\n"
	    "AGENT_POLL_INTERVAL='2s'\n"
	    "PROXY_PROTOCOL=\n"
	    "CERTS_DIR=/from-file\n");
	char *argv[] = { "agent", "--env-file", path, "--certs-dir=/from-flag",
	    "check", "--poll-interval", "3s", NULL };
	char *env[] = { "CERTS_DIR=/from-env", "AGENT_VERIFY_TIMEOUT=1m", NULL };

	CHECK(path != NULL);
	CHECK_INT(load(&cfg, &err, argv, env), 0);
	CHECK_STR(cfg.certs_dir, "/from-flag");
	CHECK_INT(cfg.verify_timeout_ms, 60000);	/* env beats file */
	CHECK_INT(cfg.poll_interval_ms, 3000);		/* flag beats file */
	CHECK_INT(cfg.n_hostnames, 2);
	CHECK_STR(cfg.hostnames[0], "mail.example.com");
	CHECK_INT(cfg.flavor, FLAVOR_MAIL);
	CHECK_INT(cfg.proxy_ports.n, 0);
	CHECK_STR(cfg.state_dir, "/from-flag/.mailu-cert-agent");
	config_free(&cfg);
	unlink(path);
}

/*
 * The docker backend second-guesses only its own default commands: the
 * same words set by the admin, from any source, are the admin's.
 */
TEST(reload_commands_given)
{
	static const char def[] = "nginx -s reload; dovecot reload";
	struct config cfg;
	struct config_error err;
	char *path = write_env_file("AGENT_RELOAD_COMMANDS=nginx -s reload; "
	    "dovecot reload\n");
	char *plain[] = { "agent", "check", NULL }, *flag[] = { "agent", "check",
	    "--reload-commands=nginx -s reload; dovecot reload", NULL },
	    *file[] = { "agent", "--env-file", path, "check", NULL };
	char *noenv[] = { NULL }, *env[] = {
	    "AGENT_RELOAD_COMMANDS=nginx -s reload; dovecot reload", NULL };

	CHECK(path != NULL);
	CHECK_INT(load(&cfg, &err, plain, noenv), 0);
	CHECK_STR(cfg.reload_commands, def);
	CHECK(!cfg.reload_commands_given);
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, plain, env), 0);
	CHECK_STR(cfg.reload_commands, def);
	CHECK(cfg.reload_commands_given);
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, flag, noenv), 0);
	CHECK(cfg.reload_commands_given);
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, file, noenv), 0);
	CHECK_STR(cfg.reload_commands, def);
	CHECK(cfg.reload_commands_given);
	config_free(&cfg);
	unlink(path);
}

/* Each bad value is refused and the error names the setting. */
TEST(bad_values_name_the_setting)
{
	static const struct {
		const char *env;
		const char *setting;
	} cases[] = {
		{ "AGENT_VERIFY_TIMEOUT=5x", "AGENT_VERIFY_TIMEOUT" },
		{ "AGENT_VERIFY_TIMEOUT=-1s", "AGENT_VERIFY_TIMEOUT" },
		{ "AGENT_VERIFY_TIMEOUT=99999999999999999999s", "AGENT_VERIFY_TIMEOUT" },
		{ "AGENT_ENDPOINTS=imaps://front:99999", "AGENT_ENDPOINTS" },
		{ "AGENT_ENDPOINTS=gopher://front", "AGENT_ENDPOINTS" },
		{ "TLS_FLAVOR=maybe", "TLS_FLAVOR" },
		{ "AGENT_RELOAD=ssh", "AGENT_RELOAD" },
		{ "DOCKER_HOST=http://x", "DOCKER_HOST" },
		{ "AGENT_BACKUPS=0", "AGENT_BACKUPS" },
		{ "AGENT_LOG_LEVEL=loud", "AGENT_LOG_LEVEL" },
		{ "AGENT_EXPIRY_WARN=21d,soon", "AGENT_EXPIRY_WARN" },
		{ "TLS_CERT_FILENAME=../etc/passwd", "TLS_CERT_FILENAME" },
		{ "HOSTNAMES=mail example", "HOSTNAMES" },
		{ "PROXY_PROTOCOL=25,smtp", "PROXY_PROTOCOL" },
		{ "AGENT_SOURCE=pair:relative", "AGENT_SOURCE" },
		{ "AGENT_WEBHOOK_URL=ftp://x", "AGENT_WEBHOOK_URL" },
		{ "AGENT_TYPO=1", "AGENT_TYPO" },
		{ "AGENT_WATCH=fanotify", "AGENT_WATCH" },
	};
	char *argv[] = { "agent", "check", NULL };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		struct config_error err;
		char *env[] = { (char *)cases[i].env, NULL };

		CHECK_INT(load(&cfg, &err, argv, env), -1);
		CHECK_STR(err.setting, cases[i].setting);
		CHECK(err.msg[0] != '\0');
		config_free(&cfg);
	}
}

TEST(flags)
{
	struct config cfg;
	struct config_error err;
	char *a1[] = { "agent", "--nope", "check", NULL };
	char *a2[] = { "agent", "check", "extra", NULL };
	char *a3[] = { "agent", "--verify-timeout", NULL };
	char *a4[] = { "agent", "--help", "--force", "--endpoints",
	    "imaps://[::1]:41993,pop3+starttls://h", NULL };
	char *env[] = { NULL };

	CHECK_INT(load(&cfg, &err, a1, env), -1);
	CHECK_STR(err.setting, "--nope");
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, a2, env), -1);
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, a3, env), -1);
	CHECK_STR(err.setting, "AGENT_VERIFY_TIMEOUT");
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, a4, env), 0);
	CHECK(cfg.help && cfg.force);
	CHECK_INT(cfg.n_endpoints, 2);
	config_free(&cfg);
}

TEST(env_file_errors)
{
	struct config cfg;
	struct config_error err;
	char *path = write_env_file("HOSTNAMES=a.example\nthis is not a setting\n");
	char *argv[] = { "agent", "--env-file", path, "check", NULL };
	char *argv2[] = { "agent", "--env-file", "/nonexistent/mailu.env", NULL };
	char *env[] = { NULL };

	CHECK_INT(load(&cfg, &err, argv, env), -1);
	CHECK_STR(err.setting, "--env-file");
	CHECK(strstr(err.msg, "line 2") != NULL);
	config_free(&cfg);
	unlink(path);
	CHECK_INT(load(&cfg, &err, argv2, env), -1);
	CHECK_STR(err.setting, "--env-file");
	config_free(&cfg);
}

TEST(durations)
{
	long ms = 0;

	CHECK_INT(config_parse_duration("500ms", &ms), 0);
	CHECK_INT(ms, 500);
	CHECK_INT(config_parse_duration("30", &ms), 0);
	CHECK_INT(ms, 30000);
	CHECK_INT(config_parse_duration("10m", &ms), 0);
	CHECK_INT(ms, 600000);
	CHECK_INT(config_parse_duration("21d", &ms), 0);
	CHECK_INT(ms, 21L * 86400000);
	CHECK_INT(config_parse_duration("", &ms), -1);
	CHECK_INT(config_parse_duration("s", &ms), -1);
	CHECK_INT(config_parse_duration("1.5s", &ms), -1);
	CHECK_INT(config_parse_duration("400d", &ms), -1);
	CHECK_INT(config_parse_duration(" 1s", &ms), -1);
}

TEST(watch_mode)
{
	struct config cfg;
	struct config_error err;
	char *a1[] = { "agent", "check", NULL };
	char *a2[] = { "agent", "--watch=poll", "check", NULL };
	char *e1[] = { NULL };
	char *e2[] = { "AGENT_WATCH=poll", NULL };
	char *a3[] = { "agent", "--watch=inotify", "check", NULL };

	CHECK_INT(load(&cfg, &err, a1, e1), 0);
	CHECK(!cfg.watch_poll);			/* inotify by default */
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, a2, e1), 0);
	CHECK(cfg.watch_poll);
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, a1, e2), 0);
	CHECK(cfg.watch_poll);
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, a3, e2), 0);	/* the flag wins */
	CHECK(!cfg.watch_poll);
	config_free(&cfg);
}

/* The one AGENT_SOURCE parse: every prefix, its arguments, what it refuses. */
TEST(source_spec_forms)
{
	static const struct {
		const char *value;
		int kind;
		const char *path;	/* path[0..path_len) */
		const char *extra;	/* NULL: none */
	} ok[] = {
		{ "certs-dir", SOURCE_CERTS_DIR, "", NULL },
		{ "pair:/a/cert.pem,/b/key.pem", SOURCE_PAIR, "/a/cert.pem", "/b/key.pem" },
		/* a comma not followed by '/' is CERT's; KEY takes the rest */
		{ "pair:/a,b/cert.pem,/k,ey.pem", SOURCE_PAIR, "/a,b/cert.pem", "/k,ey.pem" },
		{ "pair:/c,/k,/x", SOURCE_PAIR, "/c", "/k,/x" },
		{ "pair:/c:1,/k:2", SOURCE_PAIR, "/c:1", "/k:2" },
		{ "certbot:/etc/letsencrypt/live/mail", SOURCE_CERTBOT,
		    "/etc/letsencrypt/live/mail", NULL },
		{ "lego:/lego/*.example.com", SOURCE_LEGO, "/lego/*.example.com", NULL },
		{ "k8s-secret:/secret", SOURCE_K8S, "/secret", NULL },
		{ "k8s-secret:/a:b,c", SOURCE_K8S, "/a:b,c", NULL },
		{ "traefik:/t/acme.json", SOURCE_TRAEFIK, "/t/acme.json", NULL },
		{ "traefik:/t/acme.json#le", SOURCE_TRAEFIK, "/t/acme.json", "le" },
		{ "traefik:/t:1/a.json#r#s", SOURCE_TRAEFIK, "/t:1/a.json", "r#s" },
		/* the shape only: an empty resolver is source_init's to refuse */
		{ "traefik:/t/acme.json#", SOURCE_TRAEFIK, "/t/acme.json", "" },
	};
	static const char *const bad[] = {
		"", "certs-dir/", "certs-dirx", "CERTS-DIR", "pair", "pair:",
		"pair:relative,/k", "pair:/c", "pair:/c,k", "pair:/c,", "pair:,/k",
		"certbot:", "certbot:etc", "lego:", "lego:lego/x", "k8s-secret:",
		"k8s-secret:s", "traefik:", "traefik:#r", "traefik:acme.json",
		"ftp:/x", "pair/c,/k", " certs-dir", "certbot /x",
	};
	struct source_spec sp;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_INT(source_spec_parse(ok[i].value, &sp), 0);
		CHECK_INT(sp.kind, ok[i].kind);
		CHECK_INT(sp.path_len, strlen(ok[i].path));
		CHECK(strncmp(sp.path, ok[i].path, sp.path_len) == 0);
		if (ok[i].extra == NULL) {
			CHECK(sp.extra == NULL);
			CHECK_STR(sp.path, ok[i].path);	/* runs to the end */
		} else {
			CHECK_STR(sp.extra, ok[i].extra);
			CHECK_INT(sp.extra_len, strlen(ok[i].extra));
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(source_spec_parse(bad[i], &sp), -1);
	}
	/* every kind's name is its prefix; certs-dir alone stands bare */
	for (int k = SOURCE_CERTS_DIR + 1; k < SOURCE__MAX; k++) {
		char v[64];

		snprintf(v, sizeof(v), "%s:/x,/y", source_kind_names[k]);
		CHECK_INT(source_spec_parse(v, &sp), 0);
		CHECK_INT(sp.kind, k);
	}
}

/* What config_load accepts, source_init builds, with the same paths. */
TEST(source_config_agree)
{
	static const struct {
		const char *value;
		const char *cert, *key;
	} cases[] = {
		{ "pair:/src/cert.pem,/src/key.pem", "/src/cert.pem", "/src/key.pem" },
		{ "pair:/a,b/cert.pem,/k/key.pem", "/a,b/cert.pem", "/k/key.pem" },
		{ "certbot:/etc/letsencrypt/live/mail/", "/etc/letsencrypt/live/mail/fullchain.pem",
		    "/etc/letsencrypt/live/mail/privkey.pem" },
		{ "lego:/lego/*.example.com", "/lego/certificates/_.example.com.crt",
		    "/lego/certificates/_.example.com.key" },
		{ "traefik:/t/acme.json#le", "/t/acme.json", "/t/acme.json" },
		{ "certs-dir", "/certs/cert.pem", "/certs/key.pem" },
	};
	char *argv[] = { "agent", "check", NULL };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		struct config_error err;
		struct source src;
		char e[256] = "", env0[128], *env[] = { env0, NULL };

		snprintf(env0, sizeof(env0), "AGENT_SOURCE=%s", cases[i].value);
		CHECK_INT(load(&cfg, &err, argv, env), 0);
		CHECK_INT(source_init(&src, &cfg, e, sizeof(e)), 0);
		CHECK_STR(src.cert_path, cases[i].cert);
		CHECK_STR(src.key_path, cases[i].key);
		source_free(&src);
		config_free(&cfg);
	}
}

/* A value each kind's parser must refuse; a new kind without one fails. */
static const char *const garbage[K__MAX] = {
	[K_PATH] = "", [K_TEXT] = "", [K_NAME] = "../etc/passwd",
	[K_SOURCE] = "ftp:/x", [K_DOCKER_HOST] = "http://x", [K_LISTEN] = "nope",
	[K_URLS] = "ftp://x", [K_WORDS] = "cycle.rotated,cycle.exploded",
	[K_WORD] = "xml", [K_ENUM] = "maybe",
	[K_LOGLEVEL] = "loud", [K_SWITCH] = "maybe", [K_DURATION] = "5x",
	[K_COUNT] = "5x", [K_WARN] = "soon", [K_HOSTNAMES] = "mail example",
	[K_PORTS] = "25,smtp", [K_ENDPOINTS] = "gopher://front",
	[K_DNS_SERVER] = "ns.example.test:53",
};

static bool
all_of(const char *s, const char *set)
{
	return s[0] != '\0' && strspn(s, set) == strlen(s);
}

/* What --help, the reference and config_load rely on in every entry. */
TEST(table_invariants)
{
	int groups[G__MAX] = { 0 };

	CHECK(config_nsettings > 0);
	for (size_t i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];
		struct config cfg = { 0 };
		struct config_error err;

		CHECK(all_of(s->env, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"));
		CHECK(all_of(s->flag, "abcdefghijklmnopqrstuvwxyz0123456789-"));
		/* every entry has a help line, and neither text breaks a table row */
		CHECK(s->help != NULL && s->help[0] != '\0');
		CHECK(s->help != NULL && strpbrk(s->help, "|\n") == NULL);
		CHECK(s->more == NULL || (s->more[0] != '\0' &&
		    strpbrk(s->more, "|\n") == NULL));
		CHECK(s->def == NULL || strpbrk(s->def, "|`\n") == NULL);
		CHECK(s->kind < K__MAX);
		CHECK(s->group < G__MAX);
		/* groups stand together, so --help and the reference share an order */
		CHECK(i == 0 || s->group >= config_settings[i - 1].group);
		groups[s->group]++;
		/* names and flags are unique, and a lookup finds the entry */
		CHECK(config_setting_env(s->env, strlen(s->env)) == s);
		CHECK(config_setting_flag(s->flag, strlen(s->flag)) == s);
		CHECK(strcmp(s->flag, ENV_FILE_FLAG) != 0);
		CHECK(config_switch(s->flag) == NULL);
		for (size_t j = 0; j < i; j++) {
			CHECK(strcmp(s->env, config_settings[j].env) != 0);
			CHECK(strcmp(s->flag, config_settings[j].flag) != 0);
		}
		/* a kind of names lists them, and the help line says each */
		if (s->kind == K_WORD || s->kind == K_WORDS || s->kind == K_ENUM ||
		    s->kind == K_SWITCH || s->kind == K_LOGLEVEL) {
			CHECK(s->names != NULL && s->n_names >= 2);
			for (size_t j = 0; s->names != NULL && j < s->n_names; j++)
				CHECK(strstr(s->help, s->names[j]) != NULL);
		}
		CHECK(s->kind != K_ENUM || s->what != NULL);
		if (s->kind == K_DURATION || s->kind == K_COUNT || s->kind == K_WARN)
			CHECK(s->min >= 0 && s->min <= s->max);
		if (s->kind == K_WARN || s->kind == K_HOSTNAMES || s->kind == K_ENDPOINTS)
			CHECK(s->off_n != 0 && s->off_n != s->off);
		CHECK(s->off < sizeof(struct config) && s->off_n < sizeof(struct config));
		/* the default passes its own parser */
		if (s->def != NULL)
			CHECK_INT(config_setting_parse(&cfg, s, s->def, &err), 0);
		config_free(&cfg);
	}
	for (int g = 0; g < G__MAX; g++)
		CHECK(groups[g] > 0 && setting_group_names[g] != NULL);
	for (size_t i = 0; i < config_nswitches; i++) {
		CHECK(config_switch(config_switches[i].name) == &config_switches[i]);
		CHECK(config_setting_flag(config_switches[i].name,
		    strlen(config_switches[i].name)) == NULL);
	}
}

/* Every kind's parser refuses garbage, and the error names the setting. */
TEST(kinds_reject_garbage)
{
	char *argv[] = { "agent", "check", NULL, NULL };

	for (int k = 0; k < K__MAX; k++)
		CHECK(garbage[k] != NULL);
	for (size_t i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];
		struct config cfg = { 0 };
		struct config_error err = { 0 };
		char env0[128], flag[128], *env[] = { env0, NULL }, *none[] = { NULL };

		if (s->kind >= K__MAX || garbage[s->kind] == NULL)
			continue;
		CHECK_INT(config_setting_parse(&cfg, s, garbage[s->kind], &err), -1);
		CHECK_STR(err.setting, s->env);
		CHECK(err.msg[0] != '\0');
		config_free(&cfg);
		/* through config_load too, from the environment and from a flag;
		 * an empty value is unset when there is no default */
		if (garbage[s->kind][0] == '\0' && s->def == NULL)
			continue;
		snprintf(env0, sizeof(env0), "%s=%s", s->env, garbage[s->kind]);
		CHECK_INT(load(&cfg, &err, argv, env), -1);
		CHECK_STR(err.setting, s->env);
		config_free(&cfg);
		snprintf(flag, sizeof(flag), "--%s=%s", s->flag, garbage[s->kind]);
		argv[2] = flag;
		CHECK_INT(load(&cfg, &err, argv, none), -1);
		CHECK_STR(err.setting, s->env);
		config_free(&cfg);
		argv[2] = NULL;
	}
}

/* Bounds: min and max are taken, one past either is refused. */
TEST(kinds_bounds)
{
	for (size_t i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];
		char v[32];
		struct config cfg = { 0 };
		struct config_error err;

		if (s->kind != K_DURATION && s->kind != K_COUNT)
			continue;
		/* durations in ms ("500ms"), counts bare */
		snprintf(v, sizeof(v), "%ld%s", s->min,
		    s->kind == K_DURATION ? "ms" : "");
		CHECK_INT(config_setting_parse(&cfg, s, v, &err), 0);
		CHECK_INT(*(long *)(void *)((char *)&cfg + s->off), s->min);
		snprintf(v, sizeof(v), "%ld%s", s->max, s->kind == K_DURATION ? "ms" : "");
		CHECK_INT(config_setting_parse(&cfg, s, v, &err), 0);
		CHECK_INT(*(long *)(void *)((char *)&cfg + s->off), s->max);
		snprintf(v, sizeof(v), "%ld%s", s->max + 1, s->kind == K_DURATION ? "ms" : "");
		CHECK_INT(config_setting_parse(&cfg, s, v, &err), -1);
		CHECK_STR(err.setting, s->env);
		if (s->min > 0) {
			snprintf(v, sizeof(v), "%ld%s", s->min - 1,
			    s->kind == K_DURATION ? "ms" : "");
			CHECK_INT(config_setting_parse(&cfg, s, v, &err), -1);
			CHECK_STR(err.setting, s->env);
		}
		config_free(&cfg);
	}
}

/* --help and the reference are printed from the table, every entry. */
TEST(help_and_reference)
{
	char *help = NULL, *ref = NULL;
	size_t hlen = 0, rlen = 0;
	FILE *h = open_memstream(&help, &hlen), *r = open_memstream(&ref, &rlen);
	const char *at = NULL;

	CHECK(h != NULL && r != NULL);
	config_usage(h);
	config_reference(r);
	fclose(h);
	fclose(r);
	CHECK(strstr(help, "  AGENT_VERIFY_TIMEOUT   --verify-timeout       30s\n"
	    "      wait for every endpoint to serve a new certificate\n") != NULL);
	CHECK(strstr(help, "  HOSTNAMES              --hostnames            (unset)\n") != NULL);
	CHECK(strstr(help, "--env-file") != NULL);
	at = help;
	for (size_t i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];
		char row[256];

		/* in table order in --help */
		CHECK(at != NULL && (at = strstr(at, s->env)) != NULL);
		snprintf(row, sizeof(row), "| `%s` | `--%s` | ", s->env, s->flag);
		CHECK(strstr(ref, row) != NULL);
		CHECK(strstr(ref, s->help) != NULL);
	}
	for (int g = 0; g < G__MAX; g++)
		CHECK(strstr(ref, setting_group_names[g]) != NULL);
	CHECK(strstr(ref, "`--env-file FILE`") != NULL);
	CHECK(strstr(ref, "`--force`") != NULL);
	free(help);
	free(ref);
}

/* Flags that are not settings: switches take no value; -h, --h, --help. */
TEST(switches)
{
	struct config cfg;
	struct config_error err;
	char *a1[] = { "agent", "-h", NULL };
	char *a2[] = { "agent", "--h", NULL };
	char *a3[] = { "agent", "--force=1", NULL };
	char *a4[] = { "agent", "--help=x", NULL };
	char *a5[] = { "agent", "--env-file", NULL };
	char *env[] = { NULL };

	CHECK_INT(load(&cfg, &err, a1, env), 0);
	CHECK(cfg.help && !cfg.force);
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, a2, env), 0);
	CHECK(cfg.help);
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, a3, env), -1);
	CHECK_STR(err.setting, "--force");
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, a4, env), -1);
	CHECK_STR(err.setting, "--help");
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, a5, env), -1);
	CHECK_STR(err.setting, "--env-file");
	config_free(&cfg);
}

/* Kinds that parse into fields: each lands where its entry says. */
TEST(kinds_land)
{
	struct config cfg;
	struct config_error err;
	char *argv[] = { "agent", "check", NULL };
	char *env[] = { "AGENT_LOG_LEVEL=warning", "AGENT_LOG_FORMAT=text",
	    "AGENT_RELOAD=signal", "TLS_FLAVOR=notls", "AGENT_BACKUPS=1000",
	    "AGENT_WEBHOOK_FORMAT=slack", "AGENT_EXPIRY_WARN=3d 21d,7d",
	    "AGENT_SETTLE_TIMEOUT=1ms", "AGENT_PROBE_TIMEOUT=2h",
	    "AGENT_DRIFT_INTERVAL=366d", "PROXY_PROTOCOL=all",
	    "AGENT_STATE_DIR=/st", "AGENT_CA_FILE=", NULL };

	CHECK_INT(load(&cfg, &err, argv, env), 0);
	CHECK_INT(cfg.log_level, LOG_LEVEL_WARN);
	CHECK(cfg.log_text);
	CHECK_INT(cfg.reload, RELOAD_SIGNAL);
	CHECK_INT(cfg.flavor, FLAVOR_NOTLS);
	CHECK_INT(cfg.backups, 1000);
	CHECK_STR(cfg.webhook_format, "slack");
	CHECK_INT(cfg.n_expiry_warn, 3);
	CHECK_INT(cfg.expiry_warn_s[0], 21 * 86400);
	CHECK_INT(cfg.expiry_warn_s[1], 7 * 86400);
	CHECK_INT(cfg.expiry_warn_s[2], 3 * 86400);
	CHECK_INT(cfg.settle_timeout_ms, 1);
	CHECK_INT(cfg.probe_timeout_ms, 7200000);
	CHECK_INT(cfg.drift_interval_ms, 366L * 86400000);
	CHECK_INT(cfg.poll_interval_ms, 10000);
	CHECK(port_set_has(&cfg.proxy_ports, 993));
	CHECK_STR(cfg.state_dir, "/st");
	CHECK(cfg.ca_file == NULL);		/* empty: unset */
	CHECK_STR(cfg.source, "certs-dir");
	CHECK_STR(cfg.docker_host, "unix:///var/run/docker.sock");
	CHECK(cfg.metrics_listen == NULL && cfg.webhook_url == NULL);
	config_free(&cfg);
}

/* AGENT_DANE, AGENT_DNS_SERVER, AGENT_DANE_HOSTS: defaults, values, refusals. */
TEST(dane_settings)
{
	struct config cfg;
	struct config_error err;
	char *argv[] = { "agent", "check", NULL, NULL };
	char *none[] = { NULL };
	char *env[] = { "AGENT_DANE=enforce", "AGENT_DNS_SERVER=[::1]:26053",
	    "AGENT_DANE_HOSTS=MX1.example.test, mx2.example.test", NULL };
	char *bad[] = { "AGENT_DNS_SERVER=127.0.0.1:0", NULL };

	CHECK_INT(load(&cfg, &err, argv, none), 0);
	CHECK_INT(cfg.dane, DANE_WARN);
	CHECK(cfg.dns_server == NULL);
	CHECK_INT(cfg.n_dane_hosts, 0);
	config_free(&cfg);
	CHECK_INT(load(&cfg, &err, argv, env), 0);
	CHECK_INT(cfg.dane, DANE_ENFORCE);
	CHECK_STR(cfg.dns_server, "[::1]:26053");
	CHECK_INT(cfg.n_dane_hosts, 2);
	CHECK_STR(cfg.dane_hosts[0], "mx1.example.test");
	CHECK_STR(cfg.dane_hosts[1], "mx2.example.test");
	config_free(&cfg);
	argv[2] = "--dane=off";
	CHECK_INT(load(&cfg, &err, argv, env), 0);
	CHECK_INT(cfg.dane, DANE_OFF);
	config_free(&cfg);
	argv[2] = "--dane=strict";
	CHECK_INT(load(&cfg, &err, argv, none), -1);
	CHECK_STR(err.setting, "AGENT_DANE");
	config_free(&cfg);
	argv[2] = NULL;
	CHECK_INT(load(&cfg, &err, argv, bad), -1);
	CHECK_STR(err.setting, "AGENT_DNS_SERVER");
	config_free(&cfg);
}

HARNESS_MAIN("config", RUN(defaults), RUN(precedence_file_env_flag), RUN(reload_commands_given),
    RUN(bad_values_name_the_setting), RUN(flags), RUN(env_file_errors),
    RUN(durations), RUN(watch_mode), RUN(source_spec_forms),
    RUN(source_config_agree), RUN(table_invariants),
    RUN(kinds_reject_garbage), RUN(kinds_bounds), RUN(help_and_reference),
    RUN(switches), RUN(kinds_land), RUN(dane_settings))
