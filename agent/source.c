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
#include <time.h>
#include <unistd.h>

#include "acme_json.h"
#include "source.h"

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

/* Strips trailing slashes so dirname/basename see the last component. */
static int
clean_dir(const char *in, char *out, size_t len)
{
	size_t n;

	if (in[0] != '/' || snprintf(out, len, "%s", in) >= (int)len)
		return -1;
	for (n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
		out[n - 1] = '\0';
	return 0;
}

static int
set_files(struct source *s, const char *dir, const char *cert, const char *key,
    const char *confine)
{
	if (snprintf(s->cert_path, sizeof(s->cert_path), "%s/%s", dir, cert) >=
	    (int)sizeof(s->cert_path) ||
	    snprintf(s->key_path, sizeof(s->key_path), "%s/%s", dir, key) >=
	    (int)sizeof(s->key_path) ||
	    snprintf(s->cert_dir, sizeof(s->cert_dir), "%s", confine) >=
	    (int)sizeof(s->cert_dir))
		return -1;
	snprintf(s->key_dir, sizeof(s->key_dir), "%s", confine);
	s->watch_dirs[0] = strdup(dir);
	s->watch_names[0] = strdup(cert);
	s->watch_names[1] = strdup(key);
	s->n_watch_dirs = 1;
	s->installs = true;
	return 0;
}

/*
 * certbot: live/NAME/{fullchain,privkey}.pem are links into
 * ../../archive/NAME/; they may lead anywhere inside the config dir
 * (LIVE/../..), nowhere else. Renewal swaps the links one at a time.
 */
static int
init_certbot(struct source *s, const char *arg, char *err, size_t errlen)
{
	char live[PATH_MAX], conf[PATH_MAX], *slash;

	s->kind = SOURCE_CERTBOT;
	if (clean_dir(arg, live, sizeof(live)) != 0) {
		snprintf(err, errlen, "AGENT_SOURCE: certbot:/CONFIG/live/NAME");
		return -1;
	}
	snprintf(conf, sizeof(conf), "%s", live);
	for (int up = 0; up < 2; up++) {
		if ((slash = strrchr(conf, '/')) == NULL || slash == conf) {
			snprintf(err, errlen, "AGENT_SOURCE: certbot:/CONFIG/live/NAME");
			return -1;
		}
		*slash = '\0';
	}
	if (set_files(s, live, "fullchain.pem", "privkey.pem", conf) != 0) {
		snprintf(err, errlen, "AGENT_SOURCE: path too long");
		return -1;
	}
	return 0;
}

/* lego: DIR/certificates/DOMAIN.crt (leaf + issuer) and DOMAIN.key. */
static int
init_lego(struct source *s, const char *arg, char *err, size_t errlen)
{
	char path[PATH_MAX], certs[PATH_MAX], crt[300], key[300], *slash;
	const char *domain;

	s->kind = SOURCE_LEGO;
	if (clean_dir(arg, path, sizeof(path)) != 0 ||
	    (slash = strrchr(path, '/')) == NULL || slash == path) {
		snprintf(err, errlen, "AGENT_SOURCE: lego:/DIR/DOMAIN");
		return -1;
	}
	*slash = '\0';
	domain = slash + 1;
	/* lego names a wildcard's files after "_.", not "*." */
	if (strncmp(domain, "*.", 2) == 0)
		domain += 2;
	if (!endpoint_valid_hostname(domain, false) ||
	    snprintf(certs, sizeof(certs), "%s/certificates", path) >= (int)sizeof(certs)) {
		snprintf(err, errlen, "AGENT_SOURCE: lego:/DIR/DOMAIN with a host name");
		return -1;
	}
	snprintf(crt, sizeof(crt), "%s%s.crt", slash[1] == '*' ? "_." : "", domain);
	snprintf(key, sizeof(key), "%s%s.key", slash[1] == '*' ? "_." : "", domain);
	if (set_files(s, certs, crt, key, certs) != 0) {
		snprintf(err, errlen, "AGENT_SOURCE: path too long");
		return -1;
	}
	return 0;
}

/*
 * A Secret volume: the kubelet writes a new timestamped dir and renames a
 * ..data link over the old one, so the change is the ..data swap, and
 * reads go through ..data so a stray write beside it changes nothing.
 * tls.crt/tls.key, or cert.pem/key.pem as Mailu's Helm chart maps them.
 */
static int
init_k8s(struct source *s, const char *arg, const char *certs_dir, char *err,
    size_t errlen)
{
	char rd[PATH_MAX], rc[PATH_MAX];
	char dir[PATH_MAX], data[PATH_MAX], probe[PATH_MAX + 16];
	const char *cert = "tls.crt", *key = "tls.key";

	s->kind = SOURCE_K8S;
	if (clean_dir(arg, dir, sizeof(dir)) != 0 ||
	    snprintf(data, sizeof(data), "%s/..data", dir) >= (int)sizeof(data)) {
		snprintf(err, errlen, "AGENT_SOURCE: k8s-secret:/DIR");
		return -1;
	}
	snprintf(probe, sizeof(probe), "%s/tls.crt", data);
	if (access(probe, F_OK) != 0) {
		snprintf(probe, sizeof(probe), "%s/cert.pem", data);
		if (access(probe, F_OK) == 0) {
			cert = "cert.pem";
			key = "key.pem";
		}
	}
	if (set_files(s, data, cert, key, dir) != 0) {
		snprintf(err, errlen, "AGENT_SOURCE: path too long");
		return -1;
	}
	/* watch the Secret dir for the ..data rename, not the files */
	free(s->watch_dirs[0]);
	free(s->watch_names[0]);
	free(s->watch_names[1]);
	s->watch_dirs[0] = strdup(dir);
	s->watch_names[0] = strdup("..data");
	s->watch_names[1] = strdup("..data");
	snprintf(s->stat_path, sizeof(s->stat_path), "%s", data);
	/*
	 * The Secret mounted as the front's /certs itself (Mailu's Helm
	 * chart): read-only, served in place; nothing to install, and a
	 * rollback cannot rewrite it (it fails loudly instead).
	 */
	if (realpath(dir, rd) != NULL && realpath(certs_dir, rc) != NULL &&
	    strcmp(rd, rc) == 0)
		s->installs = false;
	return 0;
}

/* traefik: one JSON file holds every certificate; pick by HOSTNAMES. */
static int
init_traefik(struct source *s, const struct source_spec *sp, char *err,
    size_t errlen)
{
	char path[PATH_MAX], dir[PATH_MAX], name[PATH_MAX];

	s->kind = SOURCE_TRAEFIK;
	if (sp->path_len >= sizeof(path) || (sp->extra != NULL &&
	    (sp->extra_len == 0 || sp->extra_len >= sizeof(s->resolver)))) {
		snprintf(err, errlen, "AGENT_SOURCE: traefik:/FILE[#RESOLVER]");
		return -1;
	}
	memcpy(path, sp->path, sp->path_len);
	path[sp->path_len] = '\0';
	if (sp->extra != NULL)
		snprintf(s->resolver, sizeof(s->resolver), "%s", sp->extra);
	if (split_path(path, dir, name, sizeof(dir)) != 0 ||
	    set_files(s, dir, name, name, dir) != 0) {
		snprintf(err, errlen, "AGENT_SOURCE: path too long");
		return -1;
	}
	return 0;
}

/* pair: two files, each watched in its own directory. */
static int
init_pair(struct source *s, const struct source_spec *sp, char *err,
    size_t errlen)
{
	char name[PATH_MAX];

	s->kind = SOURCE_PAIR;
	if (sp->path_len >= sizeof(s->cert_path) ||
	    sp->extra_len >= sizeof(s->key_path)) {
		snprintf(err, errlen, "AGENT_SOURCE: expected pair:/CERT,/KEY");
		return -1;
	}
	memcpy(s->cert_path, sp->path, sp->path_len);
	s->cert_path[sp->path_len] = '\0';
	snprintf(s->key_path, sizeof(s->key_path), "%s", sp->extra);
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
	return 0;
}

/* certs-dir: the served pair itself, as the ACME tool writes it. */
static int
init_certs_dir(struct source *s, const struct config *cfg, char *err,
    size_t errlen)
{
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
	return 0;
}

int
source_init(struct source *s, const struct config *cfg, char *err, size_t errlen)
{
	return source_init_from(s, cfg->source, cfg, err, errlen);
}

int
source_init_from(struct source *s, const char *value, const struct config *cfg,
    char *err, size_t errlen)
{
	struct source_spec sp;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	/* the parse config_load validated AGENT_SOURCE with */
	if (source_spec_parse(value, &sp) != 0) {
		snprintf(err, errlen, "AGENT_SOURCE %.40s: not available in this "
		    "version", value);
		return -1;
	}
	switch (sp.kind) {
	case SOURCE_CERTS_DIR:
		rc = init_certs_dir(s, cfg, err, errlen);
		break;
	case SOURCE_PAIR:
		rc = init_pair(s, &sp, err, errlen);
		break;
	case SOURCE_CERTBOT:
		rc = init_certbot(s, sp.path, err, errlen);
		break;
	case SOURCE_LEGO:
		rc = init_lego(s, sp.path, err, errlen);
		break;
	case SOURCE_K8S:
		rc = init_k8s(s, sp.path, cfg->certs_dir, err, errlen);
		break;
	case SOURCE_TRAEFIK:
		rc = init_traefik(s, &sp, err, errlen);
		s->hostnames = cfg->hostnames;
		s->n_hostnames = cfg->n_hostnames;
		break;
	case SOURCE__MAX:
		break;
	}
	if (rc != 0)
		return -1;
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
	if (s->stat_path[0] != '\0') {
		struct stat st;

		/* the link itself: a new ..data is a new inode */
		sig->cert_ok = sig->key_ok = lstat(s->stat_path, &st) == 0;
		if (sig->cert_ok) {
			sig->cert_dev = sig->key_dev = st.st_dev;
			sig->cert_ino = sig->key_ino = st.st_ino;
			sig->cert_mtime_ns = sig->key_mtime_ns =
			    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		}
		return;
	}
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

/*
 * Traefik: the pair comes out of the JSON store, not out of two files.
 * The store is streamed, never held whole: it can be megabytes, and it
 * holds every key Traefik has.
 */
static int
read_traefik(struct source *s, struct install_pair *raw, enum cert_reason *why)
{
	size_t size = 0;
	int fd, rc;

	if (cert_open_file(s->cert_path, s->cert_dir, ACME_JSON_MAX, &fd, &size,
	    why) != 0)
		return -1;
	rc = acme_json_select_fd(fd, size, s->resolver[0] != '\0' ? s->resolver : NULL,
	    s->hostnames, s->n_hostnames, time(NULL), raw, why, s->detail,
	    sizeof(s->detail));
	close(fd);
	return rc;
}

int
source_read(struct source *s, struct install_pair *raw,
    struct cert_pair *parsed, enum cert_reason *why)
{
	memset(raw, 0, sizeof(*raw));
	memset(parsed, 0, sizeof(*parsed));
	s->detail[0] = '\0';
	if (s->kind == SOURCE_TRAEFIK) {
		if (read_traefik(s, raw, why) != 0 ||
		    cert_parse_chain(raw->cert_pem, raw->cert_len, parsed, why) != 0 ||
		    cert_parse_key(raw->key_pem, raw->key_len, parsed, why) != 0)
			goto fail;
	} else if (cert_read_file(s->cert_path, s->cert_dir, CERT_FILE_MAX,
	    &raw->cert_pem, &raw->cert_len, why) != 0 ||
	    cert_parse_chain(raw->cert_pem, raw->cert_len, parsed, why) != 0 ||
	    cert_read_file(s->key_path, s->key_dir, CERT_FILE_MAX,
	    &raw->key_pem, &raw->key_len, why) != 0 ||
	    cert_parse_key(raw->key_pem, raw->key_len, parsed, why) != 0)
		goto fail;
	/* What is written is what was parsed: never a key that shared the file. */
	if (install_pair_keep_certificates(raw, parsed) == 0)
		return 0;
	*why = CERT_UNREADABLE;
fail:
	if (s->detail[0] == '\0')
		snprintf(s->detail, sizeof(s->detail), "%.200s: %s",
		    raw->cert_pem == NULL ? s->cert_path : s->key_path,
		    cert_reason_names[*why]);
	install_pair_free(raw);
	cert_pair_free(parsed);
	return -1;
}

const char *
source_describe(const struct source *s, char *buf, size_t len)
{
	switch (s->kind) {
	case SOURCE_CERTS_DIR:
		snprintf(buf, len, "certs-dir:%s", s->cert_dir);
		break;
	case SOURCE_PAIR:
		snprintf(buf, len, "pair:%s,%s", s->cert_path, s->key_path);
		break;
	default:
		snprintf(buf, len, "%s:%s", source_kind_names[s->kind],
		    s->watch_dirs[0] != NULL ? s->watch_dirs[0] : "");
		break;
	}
	return buf;
}
