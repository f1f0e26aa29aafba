/*
 * lineage: Mailu's letsencrypt flavor. The front runs certbot itself,
 * with two lineages under CERTS_DIR/letsencrypt: live/mailu (RSA) and
 * live/mailu-ecdsa (ECDSA), and every daemon serves both pairs (nginx two
 * ssl_certificate lines, dovecot ssl_cert and ssl_alt_cert): a client's
 * signature algorithms pick one. The agent never writes there; it reads
 * both lineages (certbot's rules: links only inside the config dir) to
 * know what every endpoint must serve, for each key type.
 */
#ifndef MCA_LINEAGE_H
#define MCA_LINEAGE_H

#include <stdbool.h>
#include <time.h>

#include "cert.h"
#include "config.h"
#include "source.h"
#include "verify.h"

#define LINEAGE_N 2
#define LINEAGE_DIR "letsencrypt"	/* certbot's config dir in CERTS_DIR */

struct lineage {
	const char *name;			/* "mailu", "mailu-ecdsa" */
	struct source src;			/* certbot:CERTS_DIR/letsencrypt/live/NAME */
	bool ok;				/* the last read found a matching pair */
	enum cert_reason why;			/* !ok: why not */
	char fp[CERT_FP_HEX + 1];		/* its leaf, when ok */
	enum cert_key_type type;
	time_t not_before, not_after;
	char warned_fp[CERT_FP_HEX + 1];	/* expiry warnings given for this leaf */
	int warned;				/* thresholds warned (0..n), n+1: expired */
};

/* True for TLS_FLAVOR=letsencrypt and its older name mail-letsencrypt. */
bool lineage_flavor(const struct config *cfg);

int lineage_init(struct lineage le[LINEAGE_N], const struct config *cfg, char *err,
    size_t errlen);
void lineage_free(struct lineage le[LINEAGE_N]);

/*
 * Reads both lineages (a pair whose key does not match its leaf is not
 * ok: certbot is half-way through). Returns how many are ok.
 */
size_t lineage_read(struct lineage le[LINEAGE_N]);

/* What every endpoint must serve: one entry per lineage read ok. */
void lineage_want(const struct lineage le[LINEAGE_N], struct verify_want *w);

/*
 * Both lineages read ok and hold what served asks for (the last verify's
 * want): nothing to do, whatever else changed in their directories.
 */
bool lineage_same(const struct lineage le[LINEAGE_N], const struct verify_want *served);

/*
 * A source to watch both lineages with: inotify on both live/ dirs, and
 * a stat signature over both fullchain.pem links (cert_* the RSA one,
 * key_* the ECDSA one). Never read or installed through.
 */
int lineage_watch_source(struct source *s, const struct lineage le[LINEAGE_N],
    char *err, size_t errlen);

#endif
