/*
 * config_table: the one table of settings. An entry is everything about
 * one setting: its environment name and --flag, its default, its kind
 * (the parser, and the type of the struct config field the value lands
 * in), its help line and the reference section it belongs to.
 * config_load reads every source over it; --help and the hidden
 * `settings-reference` command print it, so the docs cannot drift.
 * Adding a setting is adding one entry (and its struct config field).
 */
#ifndef MCA_CONFIG_TABLE_H
#define MCA_CONFIG_TABLE_H

#include <stddef.h>

#include "config.h"

enum setting_kind {
	/* char *: the value itself, once checked */
	K_PATH,		/* non-empty */
	K_TEXT,		/* non-empty free text */
	K_NAME,		/* a file name inside CERTS_DIR */
	K_SOURCE,	/* one of the forms source_spec_parse takes */
	K_DOCKER_HOST,	/* unix:///path or tcp://host:port */
	K_LISTEN,	/* host:port */
	K_DNS_SERVER,	/* an IP address, optional :port (dane_server_parse) */
	K_URLS,		/* comma-separated http(s) URLs */
	K_WORDS,	/* comma-separated, each one of names */
	K_WORD,		/* one of names */
	/* the value parsed */
	K_ENUM,		/* an int-sized enum: the index of the value in names */
	K_LOGLEVEL,	/* enum log_level, as log_level_parse reads it */
	K_SWITCH,	/* bool: false for names[0], true for names[1] */
	K_DURATION,	/* long milliseconds in [min, max] */
	K_COUNT,	/* long in [min, max] */
	K_WARN,		/* long seconds[CONFIG_MAX_WARN], descending; count at off_n */
	K_HOSTNAMES,	/* char *[CONFIG_MAX_HOSTNAMES], lower case; count at off_n */
	K_PORTS,	/* struct port_set */
	K_ENDPOINTS,	/* struct endpoint *; count at off_n */
	K__MAX
};

/* The kinds whose field is a char * that takes the value itself. */
#define SETTING_IS_STRING(k) ((k) <= K_WORD)

/* The reference's sections; the table lists each one's settings together. */
enum setting_group {
	G_MAILU,
	G_SOURCE,
	G_VERIFY,
	G_DANE,
	G_WATCH,
	G_STATE,
	G_OPS,
	G_LOG,
	G__MAX
};

extern const char *const setting_group_names[G__MAX];

struct setting {
	const char *env;	/* environment / mailu.env name */
	const char *flag;	/* --flag twin */
	const char *def;	/* default, NULL: unset */
	enum setting_kind kind;
	size_t off;		/* its struct config field, of the kind's type */
	size_t off_n;		/* K_WARN, K_HOSTNAMES, K_ENDPOINTS: the size_t count */
	long min, max;		/* K_DURATION, K_WARN (ms), K_COUNT: bounds */
	const char *const *names; /* K_WORD(S), K_ENUM, K_SWITCH, K_LOGLEVEL */
	size_t n_names;
	const char *what;	/* K_ENUM: the error says "unknown WHAT 'value'" */
	enum setting_group group;
	const char *help;	/* one line: --help and the reference */
	const char *more;	/* the reference's rest of the meaning (Markdown); NULL: none */
};

extern const struct setting config_settings[];
extern const size_t config_nsettings;

/* Flags that are not settings; --env-file FILE is read before the rest. */
#define ENV_FILE_FLAG "env-file"
#define ENV_FILE_HELP "read settings from a Mailu mailu.env first"

struct config_switch {
	const char *name;	/* --name, never with a value */
	size_t off;		/* the bool of struct config it sets */
	const char *help;	/* NULL: an alias, not listed */
};

extern const struct config_switch config_switches[];
extern const size_t config_nswitches;

/* The setting whose env (or flag) is name[0..len), or NULL. */
const struct setting *config_setting_env(const char *name, size_t len);
const struct setting *config_setting_flag(const char *name, size_t len);
const struct config_switch *config_switch(const char *name);

/*
 * Checks value as s->kind says and stores what it parses in cfg; a
 * string kind's value is left to the caller to store (config_load moves
 * its copy in). Returns 0, or -1 with err naming s->env.
 */
int config_setting_parse(struct config *cfg, const struct setting *s,
    const char *value, struct config_error *err);

#endif
