/*
 * lineage: see lineage.h. The reads are the certbot source's, so the same
 * confinement, bounds and key checks hold.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "install.h"
#include "lineage.h"

static const char *const names[LINEAGE_N] = { "mailu", "mailu-ecdsa" };

bool
lineage_flavor(const struct config *cfg)
{
	return cfg->flavor == FLAVOR_LETSENCRYPT || cfg->flavor == FLAVOR_MAIL_LETSENCRYPT;
}

int
lineage_init(struct lineage le[LINEAGE_N], const struct config *cfg, char *err,
    size_t errlen)
{
	char value[PATH_MAX + 32];

	memset(le, 0, LINEAGE_N * sizeof(*le));
	for (int i = 0; i < LINEAGE_N; i++) {
		le[i].name = names[i];
		if ((size_t)snprintf(value, sizeof(value), "certbot:%s/" LINEAGE_DIR
		    "/live/%s", cfg->certs_dir, names[i]) >= sizeof(value) ||
		    source_init_from(&le[i].src, value, cfg, err, errlen) != 0) {
			snprintf(err, errlen, "the letsencrypt lineage %s: path too long",
			    names[i]);
			lineage_free(le);
			return -1;
		}
		/* the front's files: the agent reads them and never writes them */
		le[i].src.installs = false;
	}
	return 0;
}

void
lineage_free(struct lineage le[LINEAGE_N])
{
	for (int i = 0; i < LINEAGE_N; i++)
		source_free(&le[i].src);
}

size_t
lineage_read(struct lineage le[LINEAGE_N])
{
	size_t ok = 0;

	for (int i = 0; i < LINEAGE_N; i++) {
		struct install_pair raw;
		struct cert_pair p;

		le[i].ok = source_read(&le[i].src, &raw, &p, &le[i].why) == 0 &&
		    cert_key_matches(&p);
		if (le[i].ok) {
			memcpy(le[i].fp, raw.fingerprint, sizeof(le[i].fp));
			le[i].type = raw.key_type;
			le[i].not_before = p.not_before;
			le[i].not_after = p.not_after;
			ok++;
		} else if (le[i].why == CERT_OK) {
			le[i].why = CERT_KEY_MISMATCH;
		}
		install_pair_free(&raw);
		cert_pair_free(&p);
	}
	return ok;
}

void
lineage_want(const struct lineage le[LINEAGE_N], struct verify_want *w)
{
	w->n = 0;
	for (int i = 0; i < LINEAGE_N; i++)
		if (le[i].ok)
			verify_want_add(w, le[i].type, le[i].fp);
}

int
lineage_watch_source(struct source *s, const struct lineage le[LINEAGE_N],
    char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->kind = SOURCE_CERTBOT;
	snprintf(s->cert_path, sizeof(s->cert_path), "%s", le[0].src.cert_path);
	snprintf(s->key_path, sizeof(s->key_path), "%s", le[1].src.cert_path);
	snprintf(s->cert_dir, sizeof(s->cert_dir), "%s", le[0].src.cert_dir);
	snprintf(s->key_dir, sizeof(s->key_dir), "%s", le[1].src.cert_dir);
	s->n_watch_dirs = 2;
	for (int i = 0; i < 2; i++) {
		s->watch_dirs[i] = strdup(le[i].src.watch_dirs[0]);
		s->watch_names[i] = strdup(le[0].src.watch_names[i]);
		if (s->watch_dirs[i] == NULL || s->watch_names[i] == NULL) {
			snprintf(err, errlen, "out of memory");
			source_free(s);
			return -1;
		}
	}
	s->installs = false;
	return 0;
}

bool
lineage_same(const struct lineage le[LINEAGE_N], const struct verify_want *served)
{
	struct verify_want want;

	for (int i = 0; i < LINEAGE_N; i++)
		if (!le[i].ok)
			return false;
	lineage_want(le, &want);
	return verify_want_same(&want, served);
}
