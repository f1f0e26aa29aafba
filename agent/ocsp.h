/*
 * ocsp: what an OCSP staple (RFC 6960, sent by a server in its TLS
 * handshake) says about the leaf it came with, judged against the
 * certificates that server sent. Pure: bytes, certificates and a time
 * in, a verdict out; no I/O, no clock, no trust store. A probe does not
 * verify chains (it must see an untrusted certificate for what it is),
 * so a staple is checked for being the issuer's word on the served
 * leaf, as the served chain names that issuer.
 */
#ifndef MCA_OCSP_H
#define MCA_OCSP_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

enum ocsp_staple {
	OCSP_STAPLE_NONE,		/* the server sent no staple */
	OCSP_STAPLE_GOOD,
	OCSP_STAPLE_REVOKED,
	OCSP_STAPLE_UNKNOWN,		/* the responder does not know the leaf */
	OCSP_STAPLE_INVALID,		/* a staple that failed a check below */
	OCSP_STAPLE__MAX
};

extern const char *const ocsp_staple_names[OCSP_STAPLE__MAX];

/*
 * A staple over this many bytes is invalid unread. Real ones are 0.3 to
 * 4 KiB (one response, maybe a responder certificate); OpenSSL itself
 * takes at most 16 KiB in TLS 1.2's CertificateStatus message.
 */
#define OCSP_STAPLE_MAX (16 * 1024)
/* Clock skew allowed on thisUpdate, nextUpdate and a responder's dates. */
#define OCSP_SKEW_S 300
/* Single responses, and served certificates after the leaf, looked at. */
#define OCSP_SINGLE_MAX 64
#define OCSP_CHAIN_MAX 8

struct ocsp_verdict {
	enum ocsp_staple status;
	time_t next_update;		/* of the leaf's signed response; 0: none */
	char detail[160];		/* why invalid, or the revocation; "" else */
};

/*
 * Judges the len bytes of a staple sent with served: the server's
 * certificates, leaf first, as SSL_get_peer_cert_chain gives them to a
 * client. now is the wall clock. len 0 is OCSP_STAPLE_NONE. Otherwise
 * the checks, in this order; the first that fails makes it invalid:
 *  1. at most OCSP_STAPLE_MAX bytes;
 *  2. one DER OCSPResponse, nothing after it;
 *  3. its responseStatus is successful;
 *  4. it is a basic response;
 *  5. the leaf's issuer is among the served certificates (it names the
 *     issuer and its key verifies the leaf's signature);
 *  6. a single response is for the leaf's CertID (issuer name and key
 *     hashes, serial; any hash the response uses);
 *  7. the responder its responder ID names is found (among the
 *     response's certificates and the served ones);
 *  8. the responder may speak for the issuer: it has the issuer's key,
 *     or it is a delegated responder, issued and signed by the issuer,
 *     with the OCSP signing EKU, valid now (with OCSP_SKEW_S);
 *  9. the responder's key verifies the response's signature;
 * 10. thisUpdate <= now + skew, and nextUpdate, when present, is not
 *     before thisUpdate nor before now - skew (next_update is set from
 *     here on: an expired staple says when it expired);
 * 11. the leaf's status: good, revoked (detail: when, why) or unknown.
 * Fills v (detail always NUL-terminated), clears the OpenSSL error
 * queue it filled, and returns v->status.
 */
enum ocsp_staple ocsp_check(const unsigned char *der, size_t len,
    STACK_OF(X509) *served, time_t now, struct ocsp_verdict *v);

#endif
