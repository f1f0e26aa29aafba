/*
 * ocsp: the staple's checks in the order ocsp.h lists them. Cheap checks
 * come first; the only signature verifications are the leaf's by its
 * issuer (step 5), a delegated responder's by the issuer (8) and the
 * response's (9), each once.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "ocsp.h"

const char *const ocsp_staple_names[OCSP_STAPLE__MAX] = {
	"none", "good", "revoked", "unknown", "invalid",
};

static enum ocsp_staple invalid(struct ocsp_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum ocsp_staple
invalid(struct ocsp_verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	v->status = OCSP_STAPLE_INVALID;
	return v->status;
}

/* The served certificate after the leaf that issued it and signed it. */
static X509 *
find_issuer(STACK_OF(X509) *served, X509 *leaf)
{
	int n = sk_X509_num(served);

	if (n > 1 + OCSP_CHAIN_MAX)
		n = 1 + OCSP_CHAIN_MAX;
	for (int i = 1; i < n; i++) {
		X509 *c = sk_X509_value(served, i);

		if (X509_check_issued(c, leaf) == X509_V_OK &&
		    X509_verify(leaf, X509_get0_pubkey(c)) == 1)
			return c;
	}
	return NULL;
}

/* The single response for leaf's CertID, whatever hash the response uses. */
static OCSP_SINGLERESP *
find_single(OCSP_BASICRESP *bs, X509 *leaf, X509 *issuer)
{
	OCSP_SINGLERESP *found = NULL;
	OCSP_CERTID *ours = NULL;	/* leaf's CertID under md_of_ours */
	const EVP_MD *md_of_ours = NULL;
	int n = OCSP_resp_count(bs);

	if (n > OCSP_SINGLE_MAX)
		n = OCSP_SINGLE_MAX;
	for (int i = 0; i < n && found == NULL; i++) {
		OCSP_SINGLERESP *s = OCSP_resp_get0(bs, i);
		OCSP_CERTID *theirs = (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(s);
		ASN1_OBJECT *alg = NULL;
		const EVP_MD *md;

		if (OCSP_id_get0_info(NULL, &alg, NULL, NULL, theirs) != 1 ||
		    (md = EVP_get_digestbyobj(alg)) == NULL)
			continue;
		if (md != md_of_ours) {
			OCSP_CERTID_free(ours);
			ours = OCSP_cert_to_id(md, leaf, issuer);
			md_of_ours = md;
		}
		if (ours != NULL && OCSP_id_cmp(ours, theirs) == 0)
			found = s;
	}
	OCSP_CERTID_free(ours);
	return found;
}

/* Step 8: may signer speak for issuer? NULL if so, else why not. */
static const char *
unauthorized(X509 *signer, X509 *issuer, time_t now)
{
	uint32_t flags;
	time_t nb, na;

	if (EVP_PKEY_eq(X509_get0_pubkey(signer), X509_get0_pubkey(issuer)) == 1)
		return NULL;	/* the issuer itself */
	if (X509_check_issued(issuer, signer) != X509_V_OK ||
	    X509_verify(signer, X509_get0_pubkey(issuer)) != 1)
		return "the responder is neither the leaf's issuer nor issued by it";
	flags = X509_get_extension_flags(signer);
	if ((flags & EXFLAG_INVALID) != 0)
		return "the delegated responder's certificate has a malformed extension";
	if ((flags & EXFLAG_XKUSAGE) == 0 ||
	    (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0)
		return "the delegated responder lacks the OCSP signing EKU";
	if (cert_validity(signer, &nb, &na) != 0 ||
	    nb > now + OCSP_SKEW_S || na < now - OCSP_SKEW_S)
		return "the delegated responder's certificate is not valid now";
	return NULL;
}

/* Steps 7 to 11, on a response that has the leaf's single response s. */
static enum ocsp_staple
judge(OCSP_BASICRESP *bs, OCSP_SINGLERESP *s, STACK_OF(X509) *served,
    X509 *issuer, time_t now, struct ocsp_verdict *v)
{
	ASN1_GENERALIZEDTIME *this_upd = NULL, *next_upd = NULL, *rev = NULL;
	X509 *signer = NULL;
	const char *why;
	time_t t_this, t_next = 0, t_rev;
	char at[32];
	int status, reason = -1;

	if (OCSP_resp_get0_signer(bs, &signer, served) != 1)
		return invalid(v, "no certificate matches the responder ID");
	if ((why = unauthorized(signer, issuer, now)) != NULL)
		return invalid(v, "%s", why);
	if (ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA), OCSP_resp_get0_tbs_sigalg(bs),
	    (const ASN1_BIT_STRING *)OCSP_resp_get0_signature(bs),
	    OCSP_resp_get0_respdata(bs), X509_get0_pubkey(signer)) != 1)
		return invalid(v, "the response's signature does not verify");
	status = OCSP_single_get0_status(s, &reason, &rev, &this_upd, &next_upd);
	if (cert_asn1_time(this_upd, &t_this) != 0 ||
	    (next_upd != NULL && cert_asn1_time(next_upd, &t_next) != 0))
		return invalid(v, "unreadable thisUpdate or nextUpdate");
	v->next_update = t_next;
	if (t_this > now + OCSP_SKEW_S) {
		cert_format_time(t_this, at);
		return invalid(v, "not valid yet: thisUpdate %s", at);
	}
	if (next_upd != NULL && t_next < t_this)
		return invalid(v, "nextUpdate is before thisUpdate");
	if (next_upd != NULL && t_next < now - OCSP_SKEW_S) {
		cert_format_time(t_next, at);
		return invalid(v, "expired: nextUpdate %s", at);
	}
	switch (status) {
	case V_OCSP_CERTSTATUS_GOOD:
		v->status = OCSP_STAPLE_GOOD;
		break;
	case V_OCSP_CERTSTATUS_REVOKED:
		v->status = OCSP_STAPLE_REVOKED;
		if (cert_asn1_time(rev, &t_rev) != 0)
			t_rev = 0;
		cert_format_time(t_rev, at);
		snprintf(v->detail, sizeof(v->detail), "revoked at %s (%s)", at,
		    reason >= 0 ? OCSP_crl_reason_str(reason) : "no reason given");
		break;
	case V_OCSP_CERTSTATUS_UNKNOWN:
		v->status = OCSP_STAPLE_UNKNOWN;
		snprintf(v->detail, sizeof(v->detail),
		    "the responder does not know the leaf");
		break;
	default:
		return invalid(v, "unreadable certificate status");
	}
	return v->status;
}

enum ocsp_staple
ocsp_check(const unsigned char *der, size_t len, STACK_OF(X509) *served,
    time_t now, struct ocsp_verdict *v)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_SINGLERESP *s;
	X509 *leaf, *issuer;
	int rs;

	memset(v, 0, sizeof(*v));
	v->status = OCSP_STAPLE_NONE;
	if (der == NULL || len == 0)
		return v->status;
	if (len > OCSP_STAPLE_MAX) {
		invalid(v, "%zu bytes, over the %d bound", len, OCSP_STAPLE_MAX);
		goto out;
	}
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	if (resp == NULL || p != der + len) {
		invalid(v, "not one DER OCSP response");
		goto out;
	}
	if ((rs = OCSP_response_status(resp)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		invalid(v, "response status %s", OCSP_response_status_str(rs));
		goto out;
	}
	if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
		invalid(v, "not a basic OCSP response");
		goto out;
	}
	leaf = sk_X509_value(served, 0);
	if (leaf == NULL || (issuer = find_issuer(served, leaf)) == NULL) {
		invalid(v, "the leaf's issuer is not among the served certificates");
		goto out;
	}
	if ((s = find_single(bs, leaf, issuer)) == NULL) {
		invalid(v, "no response for the served leaf");
		goto out;
	}
	judge(bs, s, served, issuer, now, v);
out:
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
	return v->status;
}
