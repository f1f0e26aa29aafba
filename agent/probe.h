/*
 * probe: one endpoint, one connection: TCP connect, optional PROXY
 * header, optional STARTTLS dialogue, TLS handshake with SNI, and the
 * leaf certificate the server chose to present, with the OCSP staple it
 * sent for it (asked for on every probe, judged by ocsp.c, never
 * required).
 */
#ifndef MCA_PROBE_H
#define MCA_PROBE_H

#include <stdbool.h>
#include <time.h>

#include <openssl/ssl.h>

#include "cert.h"
#include "endpoint.h"
#include "ocsp.h"

#define PROBE_NAME_MAX 128

struct probe_result {
	bool ok;				/* a certificate was seen */
	char fingerprint[CERT_FP_HEX + 1];	/* served leaf, when ok */
	time_t not_after;			/* served leaf, when ok */
	enum cert_key_type key_type;		/* served leaf's key, when ok */
	struct ocsp_verdict ocsp;		/* its staple, when ok (NONE: none) */
	/* served leaf's subject and issuer, when ok: RFC 2253 (CN=...,O=...),
	 * printable ASCII (a peer's bytes escaped), "..." where cut */
	char subject[PROBE_NAME_MAX], issuer[PROBE_NAME_MAX];
	long ms;				/* wall time of the probe */
	const char *error;			/* stable code when !ok */
	char detail[256];			/* human detail when !ok */
};

/*
 * A client context for probes. We compare fingerprints, so the chain
 * is not verified here: a probe must see even an untrusted certificate.
 * With CERT_KEY_RSA or CERT_KEY_ECDSA it offers only that key type's
 * signature algorithms (and, for TLS 1.2, cipher suites), so a server
 * holding certificates of both types must present that one, and one
 * holding none of it fails the handshake. Every probe asks for an OCSP
 * staple (status_request); a server without one simply sends none.
 */
SSL_CTX *probe_ctx_new(enum cert_key_type type);

/*
 * Probes ep within timeout_ms, presenting sni (NULL or an IP: none).
 * Always fills res; returns 0 when a certificate was seen, else -1.
 */
int probe_endpoint(SSL_CTX *ctx, const struct endpoint *ep, const char *sni,
    long timeout_ms, struct probe_result *res);


#endif
