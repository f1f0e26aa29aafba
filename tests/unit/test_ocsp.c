/*
 * ocsp_check: every step of ocsp.h's order, on responses built here with
 * OpenSSL's own OCSP responder API (a CA, its leaves, delegated
 * responders good and bad), and on the answers of `openssl ocsp` kept as
 * the fuzz target's seeds.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "harness.h"
#include "ocsp.h"

static time_t now;
static EVP_PKEY *ca_key, *leaf_key, *resp_key, *rogue_key;
static X509 *ca, *leaf, *other, *resp_eku, *resp_no_eku, *resp_old, *rogue_ca,
    *rogue_resp, *fake_ca;
static STACK_OF(X509) *served;

/* One extension by its config text, as openssl.cnf would write it. */
static void
ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	CHECK(e != NULL && X509_add_ext(x, e, -1) == 1);
	X509_EXTENSION_free(e);
}

/*
 * A certificate for key named cn, valid from now + from to now + to
 * seconds, signed by issuer (NULL: itself, a CA). eku: an EKU or NULL.
 */
static X509 *
issue(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, const char *eku,
    long from, long to)
{
	static long serial = 4096;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
	    -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
	X509_time_adj_ex(X509_getm_notBefore(x), 0, from, &now);
	X509_time_adj_ex(X509_getm_notAfter(x), 0, to, &now);
	X509_set_pubkey(x, key);
	ext(x, x, NID_subject_key_identifier, "hash");
	if (issuer == NULL) {
		ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
		ext(x, x, NID_authority_key_identifier, "keyid:always");
	} else {
		ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	}
	if (eku != NULL)
		ext(x, issuer, NID_ext_key_usage, eku);
	CHECK(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
	return x;
}

/* What one response says, and how it is signed. */
struct spec {
	X509 *cert;			/* the single response's certificate */
	X509 *first;			/* another single response before it, or NULL */
	const EVP_MD *id_md;		/* CertID hash; NULL: SHA-1 */
	int status, reason;
	long this_off, next_off;	/* from now; next_off 0: no nextUpdate */
	X509 *signer;			/* NULL: the CA */
	EVP_PKEY *skey;
	X509 *issuer;			/* of cert, for its CertID; NULL: the CA */
	unsigned long flags;		/* OCSP_NOCERTS, OCSP_RESPID_KEY */
};

static void
add_single(OCSP_BASICRESP *bs, const struct spec *s, X509 *cert)
{
	ASN1_TIME *thisupd = ASN1_TIME_adj(NULL, now, 0, s->this_off);
	ASN1_TIME *nextupd = s->next_off != 0 ? ASN1_TIME_adj(NULL, now, 0, s->next_off) : NULL;
	ASN1_TIME *rev = ASN1_TIME_adj(NULL, now, -3, 0);
	OCSP_CERTID *id = OCSP_cert_to_id(s->id_md, cert,
	    s->issuer != NULL ? s->issuer : ca);

	CHECK(OCSP_basic_add1_status(bs, id, s->status, s->reason, rev, thisupd,
	    nextupd) != NULL);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	ASN1_TIME_free(rev);
}

/* The DER of the response s describes; *len its size. Caller frees. */
static unsigned char *
make(const struct spec *s, size_t *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_RESPONSE *resp;
	unsigned char *der = NULL;
	int n;

	if (s->first != NULL)
		add_single(bs, s, s->first);
	add_single(bs, s, s->cert);
	CHECK(OCSP_basic_sign(bs, s->signer != NULL ? s->signer : ca,
	    s->skey != NULL ? s->skey : ca_key, EVP_sha256(), NULL, s->flags) == 1);
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	n = i2d_OCSP_RESPONSE(resp, &der);
	CHECK(n > 0);
	*len = n > 0 ? (size_t)n : 0;
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	return der;
}

/* The spec of a good answer by the CA, valid for a day from an hour ago. */
static struct spec
good(void)
{
	return (struct spec){ .cert = leaf, .status = V_OCSP_CERTSTATUS_GOOD,
	    .reason = -1, .this_off = -3600, .next_off = 86400 };
}

/* Judges s against served at now; returns the verdict, detail in v. */
static enum ocsp_staple
judge(const struct spec *s, STACK_OF(X509) *chain, struct ocsp_verdict *v)
{
	size_t len = 0;
	unsigned char *der = make(s, &len);
	enum ocsp_staple st = ocsp_check(der, len, chain, now, v);

	CHECK(memchr(v->detail, '\0', sizeof(v->detail)) != NULL);
	OPENSSL_free(der);
	return st;
}

#define EXPECT_INVALID(s, chain, words) do { \
	struct ocsp_verdict v_; \
	CHECK_INT(judge(&(s), (chain), &v_), OCSP_STAPLE_INVALID); \
	if (strstr(v_.detail, (words)) == NULL) { \
		fprintf(stderr, "  %s:%d: detail \"%s\" lacks \"%s\"\n", __FILE__, \
		    __LINE__, v_.detail, (words)); \
		harness_failed_checks++; \
	} \
} while (0)

TEST(setup)
{
	now = time(NULL);
	ca_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	resp_key = EVP_EC_gen("P-256");
	rogue_key = EVP_EC_gen("P-256");
	CHECK(ca_key != NULL && leaf_key != NULL && resp_key != NULL && rogue_key != NULL);
	ca = issue("MCA OCSP Test CA", ca_key, NULL, NULL, NULL, -86400, 3650 * 86400L);
	leaf = issue("mail.example.test", leaf_key, ca, ca_key, "serverAuth", -3600, 90 * 86400);
	other = issue("other.example.test", leaf_key, ca, ca_key, "serverAuth", -3600, 90 * 86400);
	resp_eku = issue("MCA OCSP responder", resp_key, ca, ca_key, "OCSPSigning", -3600,
	    30 * 86400);
	resp_no_eku = issue("MCA OCSP responder", resp_key, ca, ca_key, "serverAuth", -3600,
	    30 * 86400);
	resp_old = issue("MCA OCSP responder", resp_key, ca, ca_key, "OCSPSigning",
	    -30 * 86400, -86400);
	/* the same name as the CA, another key: neither may speak for it */
	rogue_ca = issue("MCA OCSP Test CA", rogue_key, NULL, NULL, NULL, -86400, 86400);
	rogue_resp = issue("MCA OCSP responder", resp_key, rogue_ca, rogue_key,
	    "OCSPSigning", -3600, 86400);
	fake_ca = rogue_ca;
	served = sk_X509_new_null();
	sk_X509_push(served, leaf);
	sk_X509_push(served, ca);
}

TEST(no_staple_is_none)
{
	struct ocsp_verdict v;

	CHECK_INT(ocsp_check(NULL, 0, served, now, &v), OCSP_STAPLE_NONE);
	CHECK_INT(ocsp_check((const unsigned char *)"x", 0, served, now, &v),
	    OCSP_STAPLE_NONE);
	CHECK_STR(v.detail, "");
	CHECK_INT(v.next_update, 0);
	CHECK_STR(ocsp_staple_names[OCSP_STAPLE_NONE], "none");
	CHECK_STR(ocsp_staple_names[OCSP_STAPLE_INVALID], "invalid");
}

TEST(good_by_the_issuer_or_a_delegate)
{
	struct spec s = good();
	struct ocsp_verdict v;

	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_GOOD);
	CHECK_INT(v.next_update, now + 86400);
	CHECK_STR(v.detail, "");
	/* the CA named by key, its certificate not in the response */
	s.flags = OCSP_RESPID_KEY | OCSP_NOCERTS;
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_GOOD);
	/* a delegated responder, its certificate in the response */
	s = good();
	s.signer = resp_eku;
	s.skey = resp_key;
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_GOOD);
	s.flags = OCSP_RESPID_KEY;
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_GOOD);
	/* a SHA-256 CertID, and one for another certificate before ours */
	s = good();
	s.id_md = EVP_sha256();
	s.first = other;
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_GOOD);
	/* no nextUpdate: good, and no time to report */
	s = good();
	s.next_off = 0;
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_GOOD);
	CHECK_INT(v.next_update, 0);
}

TEST(revoked_and_unknown)
{
	struct spec s = good();
	struct ocsp_verdict v;

	s.status = V_OCSP_CERTSTATUS_REVOKED;
	s.reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_REVOKED);
	CHECK(strstr(v.detail, "revoked at ") != NULL);
	CHECK(strstr(v.detail, "keyCompromise") != NULL);
	CHECK_INT(v.next_update, now + 86400);
	s.reason = -1;
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_REVOKED);
	CHECK(strstr(v.detail, "no reason given") != NULL);
	s = good();
	s.status = V_OCSP_CERTSTATUS_UNKNOWN;
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_UNKNOWN);
	CHECK(strstr(v.detail, "does not know") != NULL);
}

/* Step 10, with OCSP_SKEW_S each side. */
TEST(dates_and_skew)
{
	struct spec s = good();
	struct ocsp_verdict v;

	s.this_off = -86400 - 3600;
	s.next_off = -OCSP_SKEW_S - 1;
	EXPECT_INVALID(s, served, "expired: nextUpdate ");
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_INVALID);
	CHECK_INT(v.next_update, now - OCSP_SKEW_S - 1);	/* when it expired */
	s.next_off = -OCSP_SKEW_S + 1;
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_GOOD);
	s = good();
	s.this_off = OCSP_SKEW_S + 1;
	EXPECT_INVALID(s, served, "not valid yet");
	s.this_off = OCSP_SKEW_S - 1;
	CHECK_INT(judge(&s, served, &v), OCSP_STAPLE_GOOD);
	s = good();
	s.this_off = 200;
	s.next_off = 100;
	EXPECT_INVALID(s, served, "nextUpdate is before thisUpdate");
	/* a revoked answer that expired is invalid, not revoked */
	s = good();
	s.status = V_OCSP_CERTSTATUS_REVOKED;
	s.this_off = -7200;
	s.next_off = -3600;
	EXPECT_INVALID(s, served, "expired");
}

/* Steps 5 to 9: whose answer it is, and who signed it. */
TEST(the_responder_must_speak_for_the_issuer)
{
	STACK_OF(X509) *leaf_only = sk_X509_new_null(), *fake = sk_X509_new_null();
	struct spec s = good();

	sk_X509_push(leaf_only, leaf);
	sk_X509_push(fake, leaf);
	sk_X509_push(fake, fake_ca);
	EXPECT_INVALID(s, leaf_only, "issuer is not among the served");
	/* the issuer's name, not its key: the leaf's signature tells */
	EXPECT_INVALID(s, fake, "issuer is not among the served");
	/* an answer for another certificate of the same CA */
	s.cert = other;
	EXPECT_INVALID(s, served, "no response for the served leaf");
	/* a CertID made with another issuer's key */
	s = good();
	s.issuer = rogue_ca;
	EXPECT_INVALID(s, served, "no response for the served leaf");
	/* a delegate: no EKU; expired; issued by another CA; not in the response */
	s = good();
	s.signer = resp_no_eku;
	s.skey = resp_key;
	EXPECT_INVALID(s, served, "lacks the OCSP signing EKU");
	s.signer = resp_old;
	EXPECT_INVALID(s, served, "not valid now");
	s.signer = rogue_resp;
	EXPECT_INVALID(s, served, "neither the leaf's issuer nor issued by it");
	s.signer = resp_eku;
	s.flags = OCSP_NOCERTS;
	EXPECT_INVALID(s, served, "no certificate matches the responder ID");
	/*
	 * A responder with the CA's name and another key: the name finds the
	 * served CA first (with or without its own certificate in the
	 * response), whose key does not verify the signature.
	 */
	s.signer = rogue_ca;
	s.skey = rogue_key;
	s.flags = 0;
	EXPECT_INVALID(s, served, "signature does not verify");
	s.flags = OCSP_NOCERTS;
	EXPECT_INVALID(s, served, "signature does not verify");
	sk_X509_free(leaf_only);
	sk_X509_free(fake);
}

/* Steps 1 to 4, and a signature that a flipped byte breaks. */
TEST(bytes)
{
	struct spec s = good();
	struct ocsp_verdict v;
	unsigned char *der, *big, trylater[] = { 0x30, 0x03, 0x0a, 0x01, 0x03 };
	size_t len;

	s.flags = OCSP_NOCERTS;
	der = make(&s, &len);
	CHECK_INT(ocsp_check(der, len, served, now, &v), OCSP_STAPLE_GOOD);
	der[len - 1] ^= 0x01;	/* the signature's last byte */
	CHECK_INT(ocsp_check(der, len, served, now, &v), OCSP_STAPLE_INVALID);
	CHECK(strstr(v.detail, "signature") != NULL);
	der[len - 1] ^= 0x01;
	CHECK_INT(ocsp_check(der, len - 1, served, now, &v), OCSP_STAPLE_INVALID);
	CHECK(strstr(v.detail, "not one DER") != NULL);
	big = calloc(1, OCSP_STAPLE_MAX + 1);
	memcpy(big, der, len);
	CHECK_INT(ocsp_check(big, len + 1, served, now, &v), OCSP_STAPLE_INVALID);
	CHECK(strstr(v.detail, "not one DER") != NULL);	/* trailing byte */
	CHECK_INT(ocsp_check(big, OCSP_STAPLE_MAX, served, now, &v), OCSP_STAPLE_INVALID);
	CHECK(strstr(v.detail, "not one DER") != NULL);
	CHECK_INT(ocsp_check(big, OCSP_STAPLE_MAX + 1, served, now, &v), OCSP_STAPLE_INVALID);
	CHECK(strstr(v.detail, "16385 bytes, over the 16384 bound") != NULL);
	CHECK_INT(ocsp_check(trylater, sizeof(trylater), served, now, &v),
	    OCSP_STAPLE_INVALID);
	CHECK_STR(v.detail, "response status trylater");
	CHECK_INT(ocsp_check((const unsigned char *)"\x30\x00", 2, served, now, &v),
	    OCSP_STAPLE_INVALID);
	free(big);
	OPENSSL_free(der);
}

/*
 * `openssl ocsp` answers (tests/fuzz/make-ocsp-seeds.sh, the fuzz
 * target's seeds) for the chain in tests/fuzz/ocsp_chain.h, at the
 * fuzz target's fixed time.
 */
#include "../fuzz/ocsp_chain.h"

static unsigned char *
seed(const char *name, size_t *len)
{
	char path[256];
	unsigned char *buf = malloc(OCSP_STAPLE_MAX + 1);
	FILE *f;

	snprintf(path, sizeof(path), "tests/fuzz/corpus/ocsp/%s", name);
	f = fopen(path, "rb");
	CHECK(f != NULL);
	*len = f != NULL ? fread(buf, 1, OCSP_STAPLE_MAX + 1, f) : 0;
	if (f != NULL)
		fclose(f);
	return buf;
}

/* Judges one seed at a time; a mismatch names the file and the detail. */
static void
expect_seed(const char *file, STACK_OF(X509) *chain, time_t at, enum ocsp_staple want)
{
	struct ocsp_verdict v;
	size_t len;
	unsigned char *der = seed(file, &len);

	if (ocsp_check(der, len, chain, at, &v) != want) {
		fprintf(stderr, "  %s: %s (%s), expected %s\n", file,
		    ocsp_staple_names[v.status], v.detail, ocsp_staple_names[want]);
		harness_failed_checks++;
	}
	free(der);
}

TEST(openssl_cli_answers)
{
	STACK_OF(X509) *chain = ocsp_fuzz_chain();

	CHECK(chain != NULL && sk_X509_num(chain) == 2);
	expect_seed("good-ca.der", chain, OCSP_FUZZ_NOW, OCSP_STAPLE_GOOD);
	expect_seed("good-delegated.der", chain, OCSP_FUZZ_NOW, OCSP_STAPLE_GOOD);
	expect_seed("good-sha256.der", chain, OCSP_FUZZ_NOW, OCSP_STAPLE_GOOD);
	expect_seed("revoked.der", chain, OCSP_FUZZ_NOW, OCSP_STAPLE_REVOKED);
	expect_seed("unknown.der", chain, OCSP_FUZZ_NOW, OCSP_STAPLE_UNKNOWN);
	/* no EKU; made in 2020 for a day; for another leaf; tryLater */
	expect_seed("no-eku.der", chain, OCSP_FUZZ_NOW, OCSP_STAPLE_INVALID);
	expect_seed("expired.der", chain, OCSP_FUZZ_NOW, OCSP_STAPLE_INVALID);
	expect_seed("other-leaf.der", chain, OCSP_FUZZ_NOW, OCSP_STAPLE_INVALID);
	expect_seed("trylater.der", chain, OCSP_FUZZ_NOW, OCSP_STAPLE_INVALID);
	/* ten years on, the good ones have expired */
	expect_seed("good-ca.der", chain, OCSP_FUZZ_LATE, OCSP_STAPLE_INVALID);
	sk_X509_pop_free(chain, X509_free);
}

TEST(teardown)
{
	sk_X509_free(served);
	X509 *certs[] = { ca, leaf, other, resp_eku, resp_no_eku, resp_old, rogue_ca,
	    rogue_resp };
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(resp_key);
	EVP_PKEY_free(rogue_key);
}

HARNESS_MAIN("ocsp", RUN(setup), RUN(no_staple_is_none),
    RUN(good_by_the_issuer_or_a_delegate), RUN(revoked_and_unknown),
    RUN(dates_and_skew), RUN(the_responder_must_speak_for_the_issuer), RUN(bytes),
    RUN(openssl_cli_answers), RUN(teardown))
