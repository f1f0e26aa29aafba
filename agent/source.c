/*
 * source: the pair's paths and their confinement. Reads are bounded and
 * may follow symlinks only inside the directory the setting names.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "source.h"

const char *const source_kind_names[SOURCE__MAX] = { "certs-dir", "pair" };

static int
split_path(const char *path, char *dir, char *name, size_t len)
{
	char copy[PATH_MAX];

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -1;
	if (snprintf(dir, len, "%s", dirname(copy)) >= (int)len)
		return -1;
	snprintf(copy, sizeof(copy), "%s", path);
	if (snprintf(name, len, "%s", basename(copy)) >= (int)len)
		return -1;
	return 0;
}

int
source_init(struct source *s, const struct config *cfg, char *err, size_t errlen)
{
	char name[PATH_MAX];

	memset(s, 0, sizeof(*s));
	if (strcmp(cfg->source, "certs-dir") == 0) {
		s->kind = SOURCE_CERTS_DIR;
		snprintf(s->cert_dir, sizeof(s->cert_dir), "%s", cfg->certs_dir);
		snprintf(s->key_dir, sizeof(s->key_dir), "%s", cfg->certs_dir);
		if (snprintf(s->cert_path, sizeof(s->cert_path), "%s/%s",
		    cfg->certs_dir, cfg->cert_filename) >= (int)sizeof(s->cert_path) ||
		    snprintf(s->key_path, sizeof(s->key_path), "%s/%s",
		    cfg->certs_dir, cfg->key_filename) >= (int)sizeof(s->key_path)) {
			snprintf(err, errlen, "CERTS_DIR path too long");
			return -1;
		}
		s->watch_dirs[0] = strdup(cfg->certs_dir);
		s->watch_names[0] = strdup(cfg->cert_filename);
		s->watch_names[1] = strdup(cfg->key_filename);
		s->n_watch_dirs = 1;
		s->installs = false;
	} else if (strncmp(cfg->source, "pair:", 5) == 0) {
		const char *comma = strchr(cfg->source + 5, ',');
		size_t clen;

		s->kind = SOURCE_PAIR;
		if (comma == NULL || (clen = (size_t)(comma - (cfg->source + 5))) == 0 ||
		    clen >= sizeof(s->cert_path) || comma[1] != '/' ||
		    strlen(comma + 1) >= sizeof(s->key_path)) {
			snprintf(err, errlen, "AGENT_SOURCE: expected pair:/CERT,/KEY");
			return -1;
		}
		memcpy(s->cert_path, cfg->source + 5, clen);
		s->cert_path[clen] = '\0';
		snprintf(s->key_path, sizeof(s->key_path), "%s", comma + 1);
		if (split_path(s->cert_path, s->cert_dir, name, sizeof(name)) != 0) {
			snprintf(err, errlen, "AGENT_SOURCE: path too long");
			return -1;
		}
		s->watch_dirs[0] = strdup(s->cert_dir);
		s->watch_names[0] = strdup(name);
		if (split_path(s->key_path, s->key_dir, name, sizeof(name)) != 0) {
			snprintf(err, errlen, "AGENT_SOURCE: path too long");
			return -1;
		}
		s->watch_names[1] = strdup(name);
		s->n_watch_dirs = 1;
		if (strcmp(s->key_dir, s->cert_dir) != 0) {
			s->watch_dirs[1] = strdup(s->key_dir);
			s->n_watch_dirs = 2;
		}
		s->installs = true;
	} else {
		snprintf(err, errlen, "AGENT_SOURCE %.40s: not available in this "
		    "version (certs-dir and pair: are)", cfg->source);
		return -1;
	}
	for (size_t i = 0; i < s->n_watch_dirs; i++)
		if (s->watch_dirs[i] == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	if (s->watch_names[0] == NULL || s->watch_names[1] == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void
source_free(struct source *s)
{
	for (size_t i = 0; i < 2; i++) {
		free(s->watch_dirs[i]);
		free(s->watch_names[i]);
		s->watch_dirs[i] = s->watch_names[i] = NULL;
	}
}

static void
stat_one(const char *path, bool *ok, dev_t *dev, ino_t *ino, off_t *size,
    int64_t *mtime)
{
	struct stat st;

	*ok = stat(path, &st) == 0;
	*dev = *ok ? st.st_dev : 0;
	*ino = *ok ? st.st_ino : 0;
	*size = *ok ? st.st_size : 0;
	*mtime = *ok ? (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec : 0;
}

void
source_stat(const struct source *s, struct source_sig *sig)
{
	memset(sig, 0, sizeof(*sig));
	stat_one(s->cert_path, &sig->cert_ok, &sig->cert_dev, &sig->cert_ino,
	    &sig->cert_size, &sig->cert_mtime_ns);
	stat_one(s->key_path, &sig->key_ok, &sig->key_dev, &sig->key_ino,
	    &sig->key_size, &sig->key_mtime_ns);
}

bool
source_sig_equal(const struct source_sig *a, const struct source_sig *b)
{
	return a->cert_ok == b->cert_ok && a->key_ok == b->key_ok &&
	    a->cert_dev == b->cert_dev && a->key_dev == b->key_dev &&
	    a->cert_ino == b->cert_ino && a->key_ino == b->key_ino &&
	    a->cert_size == b->cert_size && a->key_size == b->key_size &&
	    a->cert_mtime_ns == b->cert_mtime_ns &&
	    a->key_mtime_ns == b->key_mtime_ns;
}

int
source_read(const struct source *s, struct install_pair *raw,
    struct cert_pair *parsed, enum cert_reason *why)
{
	memset(raw, 0, sizeof(*raw));
	memset(parsed, 0, sizeof(*parsed));
	if (cert_read_file(s->cert_path, s->cert_dir, CERT_FILE_MAX,
	    &raw->cert_pem, &raw->cert_len, why) != 0)
		goto fail;
	if (cert_parse_chain(raw->cert_pem, raw->cert_len, parsed, why) != 0)
		goto fail;
	if (cert_read_file(s->key_path, s->key_dir, CERT_FILE_MAX,
	    &raw->key_pem, &raw->key_len, why) != 0)
		goto fail;
	if (cert_parse_key(raw->key_pem, raw->key_len, parsed, why) != 0)
		goto fail;
	memcpy(raw->fingerprint, parsed->fingerprint, sizeof(raw->fingerprint));
	return 0;
fail:
	install_pair_free(raw);
	cert_pair_free(parsed);
	return -1;
}

const char *
source_describe(const struct source *s, char *buf, size_t len)
{
	if (s->kind == SOURCE_PAIR)
		snprintf(buf, len, "pair:%s,%s", s->cert_path, s->key_path);
	else
		snprintf(buf, len, "certs-dir:%s", s->cert_dir);
	return buf;
}
