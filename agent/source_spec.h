/*
 * source_spec: an AGENT_SOURCE value split into its kind and arguments,
 * with no I/O, so config validates a value with the same parse that
 * source_init builds the source from. Every form but certs-dir is a
 * kind's name, a colon and an absolute path:
 *
 *	certs-dir
 *	pair:/CERT,/KEY			split at the first ",/": a comma not
 *					followed by '/' belongs to CERT
 *	certbot:/CONFIG/live/NAME
 *	lego:/DIR/DOMAIN
 *	k8s-secret:/DIR
 *	traefik:/FILE[#RESOLVER]	split at the first '#'
 *
 * Colons after the prefix are part of the path. What a kind needs
 * beyond this shape (certbot's two levels up, lego's host name, path
 * lengths, a non-empty resolver) source_init checks.
 */
#ifndef MCA_SOURCE_SPEC_H
#define MCA_SOURCE_SPEC_H

#include <stddef.h>

enum source_kind {
	SOURCE_CERTS_DIR,	/* the ACME tool writes CERTS_DIR's pair itself */
	SOURCE_PAIR,		/* pair:/CERT,/KEY */
	SOURCE_CERTBOT,		/* certbot:/etc/letsencrypt/live/NAME */
	SOURCE_LEGO,		/* lego:/DIR/DOMAIN -> DIR/certificates/DOMAIN.{crt,key} */
	SOURCE_K8S,		/* k8s-secret:/DIR, a mounted Secret (kubelet atomic writer) */
	SOURCE_TRAEFIK,		/* traefik:/FILE[#RESOLVER], Traefik's acme.json */
	SOURCE__MAX
};

/* The kinds' names; but for certs-dir, each is also the value's prefix. */
extern const char *const source_kind_names[SOURCE__MAX];

/* The forms, for an error message. */
#define SOURCE_SPEC_FORMS "certs-dir, pair:/CERT,/KEY, certbot:/DIR, " \
	"lego:/DIR/DOMAIN, traefik:/FILE[#R] or k8s-secret:/DIR"

/*
 * Points into the parsed value; nothing is copied. extra, and path
 * when extra is NULL, run to the value's end (NUL-terminated).
 */
struct source_spec {
	enum source_kind kind;
	const char *path;	/* pair: CERT; traefik: FILE; else the dir; "" for certs-dir */
	size_t path_len;
	const char *extra;	/* pair: KEY; traefik: RESOLVER (may be ""); else NULL */
	size_t extra_len;
};

/* Returns 0, or -1 when value is none of the forms above. */
int source_spec_parse(const char *value, struct source_spec *spec);

#endif
