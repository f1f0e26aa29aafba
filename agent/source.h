/*
 * source: where a new certificate pair comes from, how to tell it
 * changed, and how far its symlinks may lead.
 */
#ifndef MCA_SOURCE_H
#define MCA_SOURCE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cert.h"
#include "config.h"
#include "install.h"
#include "source_spec.h"

struct source {
	enum source_kind kind;
	char cert_path[PATH_MAX];
	char key_path[PATH_MAX];
	char cert_dir[PATH_MAX];	/* reads of cert_path stay inside it */
	char key_dir[PATH_MAX];
	char *watch_dirs[2];		/* directories to watch (inotify) */
	size_t n_watch_dirs;
	char *watch_names[2];		/* file names in them that matter */
	bool installs;			/* the agent copies it into CERTS_DIR */
	char stat_path[PATH_MAX];	/* k8s: the ..data link whose swap is the change */
	char resolver[128];		/* traefik: "" for any */
	char *const *hostnames;		/* HOSTNAMES, to pick a traefik entry */
	size_t n_hostnames;
	char detail[256];		/* why the last source_read failed */
};

/* A stat signature of both files: cheap to compare every poll. */
struct source_sig {
	bool cert_ok, key_ok;		/* the file exists */
	dev_t cert_dev, key_dev;
	ino_t cert_ino, key_ino;
	off_t cert_size, key_size;
	int64_t cert_mtime_ns, key_mtime_ns;
};

int source_init(struct source *s, const struct config *cfg, char *err, size_t errlen);
/* The same for a value other than AGENT_SOURCE's (the letsencrypt lineages). */
int source_init_from(struct source *s, const char *value, const struct config *cfg,
    char *err, size_t errlen);
void source_free(struct source *s);

/* Stats both files (following symlinks, as a reader would). */
void source_stat(const struct source *s, struct source_sig *sig);
bool source_sig_equal(const struct source_sig *a, const struct source_sig *b);

/*
 * Reads and parses the pair: bytes into raw (for install), objects into
 * parsed (leaf, chain, key). Returns 0, or -1 with *why.
 */
int source_read(struct source *s, struct install_pair *raw,
    struct cert_pair *parsed, enum cert_reason *why);

/* A short description for events, e.g. "pair:/src/cert.pem,/src/key.pem". */
const char *source_describe(const struct source *s, char *buf, size_t len);

#endif
