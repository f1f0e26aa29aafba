/*
 * The acme_json module on stores built here: real keys and certificates
 * (OpenSSL), base64 of their PEM in Traefik's v1 and v2 layouts (jansson).
 * Every result's detail is checked for key material.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme_json.h"
#include "cert.h"
#include "install.h"
#include "harness.h"

#define DAY 86400L

static time_t now;

/* One certificate with its key, and what a store holds of them. */
struct fx {
	EVP_PKEY *key;
	X509 *cert;
	char *cert_pem, *key_pem;	/* as written in the store, decoded */
	char *cert_b64, *key_b64;
	char fp[CERT_FP_HEX + 1];
};

static struct fx mail_old, mail_new, mail_newer, mail_future, wild, other,
    both, tie_early, tie_late, chained, account;

static char *
b64(const char *s, size_t len)
{
	char *out = malloc(len / 3 * 4 + 5);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
	return out;
}

static char *
bio_string(BIO *b)
{
	char *p, *out;
	long n = BIO_get_mem_data(b, &p);

	out = malloc((size_t)n + 1);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
	return out;
}

/* A self-signed certificate valid from now+from to now+to (seconds). */
static X509 *
make_cert(EVP_PKEY *key, long from, long to, const char *san)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), rand());
	ASN1_TIME_set(X509_getm_notBefore(x), now + from);
	ASN1_TIME_set(X509_getm_notAfter(x), now + to);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (san != NULL) {
		X509_EXTENSION *ext;

		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, key, EVP_sha256());
	return x;
}

/* The PEM, base64 and fingerprint of f's key and certificate. */
static void
finish_fx(struct fx *f, X509 *extra)
{
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char md[32];
	unsigned int mdlen;

	PEM_write_bio_X509(b, f->cert);
	if (extra != NULL)
		PEM_write_bio_X509(b, extra);
	f->cert_pem = bio_string(b);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, f->key, NULL, NULL, 0, NULL, NULL);
	f->key_pem = bio_string(b);
	f->cert_b64 = b64(f->cert_pem, strlen(f->cert_pem));
	f->key_b64 = b64(f->key_pem, strlen(f->key_pem));
	/* the fingerprint, computed apart from cert.c */
	X509_digest(f->cert, EVP_sha256(), md, &mdlen);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(f->fp + 2 * i, 3, "%02x", md[i]);
}

/* extra: a second certificate after the leaf (a chain) */
static void
make_fx(struct fx *f, long from, long to, const char *san, X509 *extra)
{
	f->key = EVP_EC_gen("P-256");
	f->cert = make_cert(f->key, from, to, san);
	finish_fx(f, extra);
}

static void
free_fx(struct fx *f)
{
	EVP_PKEY_free(f->key);
	X509_free(f->cert);
	free(f->cert_pem);
	free(f->key_pem);
	free(f->cert_b64);
	free(f->key_b64);
}

/* Traefik's Account: the ACME account key is base64 of its DER. */
static json_t *
account_json(void)
{
	unsigned char *der = NULL;
	int n = i2d_PrivateKey(account.key, &der);
	char *k = b64((const char *)der, (size_t)n);
	json_t *a = json_pack("{s:s, s:{s:{s:s, s:[s]}, s:s}, s:s, s:s}",
	    "Email", "admin@example.test", "Registration", "body", "status", "valid",
	    "contact", "mailto:admin@example.test", "uri",
	    "https://acme.example/acct/1", "PrivateKey", k, "KeyType", "4096");

	OPENSSL_free(der);
	free(k);
	return a;
}

/* An entry: v1 or v2 spelling; main NULL: no domain member at all. */
static json_t *
entry(int v1, const struct fx *f, const char *main, const char *san)
{
	json_t *e = json_object(), *d;

	if (main != NULL) {
		d = json_pack("{s:s, s:o}", v1 ? "Main" : "main", main,
		    v1 ? "SANs" : "sans", san != NULL ? json_pack("[s]", san) : json_null());
		json_object_set_new(e, v1 ? "Domain" : "domain", d);
	}
	json_object_set_new(e, v1 ? "Certificate" : "certificate", json_string(f->cert_b64));
	json_object_set_new(e, v1 ? "Key" : "key", json_string(f->key_b64));
	if (!v1)
		json_object_set_new(e, "Store", json_string("default"));
	return e;
}

static json_t *
doc_v1(json_t *certs)
{
	return json_pack("{s:o, s:o, s:{}, s:{}}", "Account", account_json(),
	    "Certificates", certs, "HTTPChallenges", "TLSChallenges");
}

/* Adds a resolver to a v2 store (doc NULL: a new store). */
static json_t *
add_resolver(json_t *doc, const char *name, json_t *certs)
{
	if (doc == NULL)
		doc = json_object();
	json_object_set_new(doc, name, json_pack("{s:o, s:o}", "Account",
	    account_json(), "Certificates", certs));
	return doc;
}

struct res {
	int rc;
	enum cert_reason why;
	char detail[256];
	struct install_pair out;
};

static struct fx *const all_fx[] = {
	&mail_old, &mail_new, &mail_newer, &mail_future, &wild, &other, &both,
	&tie_early, &tie_late, &chained, &account,
};

/* No key, and no base64 of any key, in a detail line. */
static void
check_detail_clean(const char *detail)
{
	char piece[41];
	unsigned char *der = NULL;
	int n = i2d_PrivateKey(account.key, &der);
	char *acct = b64((const char *)der, (size_t)n);

	CHECK(strstr(detail, "PRIVATE") == NULL);
	CHECK(strstr(detail, "LS0tLS1CRUdJTi") == NULL);	/* "-----BEGIN" */
	for (size_t i = 0; i < sizeof(all_fx) / sizeof(all_fx[0]); i++) {
		/* past the shared "-----BEGIN PRIVATE KEY-----" prefix */
		snprintf(piece, sizeof(piece), "%s", all_fx[i]->key_b64 + 40);
		CHECK(strstr(detail, piece) == NULL);
		snprintf(piece, sizeof(piece), "%.20s", all_fx[i]->key_b64 + 60);
		CHECK(strstr(detail, piece) == NULL);
	}
	snprintf(piece, sizeof(piece), "%.20s", acct);
	CHECK(strstr(detail, piece) == NULL);
	OPENSSL_free(der);
	free(acct);
}

static void
select_bytes(const char *s, size_t len, const char *resolver, char *const *names,
    size_t n, struct res *r)
{
	memset(r, 0, sizeof(*r));
	r->rc = acme_json_select((const unsigned char *)s, len, resolver, names, n,
	    now, &r->out, &r->why, r->detail, sizeof(r->detail));
	CHECK((r->rc == 0) == (r->why == CERT_OK));
	CHECK(r->rc == 0 || r->out.cert_pem == NULL);
	check_detail_clean(r->detail);
}

static char *mail_only[] = { "mail.example.test" };

/* Dumps doc (consumed) and selects for mail.example.test. */
static void
select_doc(json_t *doc, const char *resolver, struct res *r)
{
	char *s = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	select_bytes(s, strlen(s), resolver, mail_only, 1, r);
	free(s);
}

/* The pair chosen is f's, byte for byte, with f's fingerprint. */
static void
check_chose(struct res *r, const struct fx *f)
{
	CHECK_INT(r->rc, 0);
	CHECK_INT(r->why, CERT_OK);
	if (r->rc != 0) {
		fprintf(stderr, "  detail: %s\n", r->detail);
		return;
	}
	CHECK_STR(r->out.fingerprint, f->fp);
	CHECK_INT(r->out.cert_len, strlen(f->cert_pem));
	CHECK_INT(r->out.key_len, strlen(f->key_pem));
	CHECK(memcmp(r->out.cert_pem, f->cert_pem, r->out.cert_len) == 0);
	CHECK(memcmp(r->out.key_pem, f->key_pem, r->out.key_len) == 0);
	install_pair_free(&r->out);
}

static void
check_fails(struct res *r, enum cert_reason why)
{
	CHECK_INT(r->rc, -1);
	CHECK_INT(r->why, why);
	CHECK(r->detail[0] != '\0');
	install_pair_free(&r->out);
}

TEST(v1_layout)
{
	struct res r;

	select_doc(doc_v1(json_pack("[o, o]", entry(1, &other, "other.example.test", NULL),
	    entry(1, &mail_new, "mail.example.test", NULL))), NULL, &r);
	check_chose(&r, &mail_new);
	/* a resolver name means nothing to a v1 store */
	select_doc(doc_v1(json_pack("[o]", entry(1, &mail_new, "mail.example.test", NULL))),
	    "myresolver", &r);
	check_chose(&r, &mail_new);
}

TEST(v2_resolvers)
{
	struct res r;
	json_t *d;

	/* le: the newer pair; other: an older one for the same host */
	d = add_resolver(NULL, "le", json_pack("[o, o]",
	    entry(0, &other, "other.example.test", NULL),
	    entry(0, &mail_newer, "mail.example.test", NULL)));
	d = add_resolver(d, "myresolver", json_pack("[o]",
	    entry(0, &mail_new, "mail.example.test", "smtp.example.test")));
	select_doc(json_deep_copy(d), "myresolver", &r);
	check_chose(&r, &mail_new);
	select_doc(json_deep_copy(d), "le", &r);
	check_chose(&r, &mail_newer);
	/* no resolver named: the whole store */
	select_doc(json_deep_copy(d), NULL, &r);
	check_chose(&r, &mail_newer);
	select_doc(d, "missing", &r);
	check_fails(&r, CERT_BAD_ACME_JSON);
	CHECK(strstr(r.detail, "missing") != NULL);
	CHECK(strstr(r.detail, "myresolver") != NULL);
}

TEST(several_domains_and_names)
{
	char *two[] = { "mail.example.test", "webmail.example.test" };
	struct res r;
	json_t *d = add_resolver(NULL, "myresolver", json_pack("[o, o, o]",
	    entry(0, &mail_newer, "mail.example.test", NULL),
	    entry(0, &both, "mail.example.test", "webmail.example.test"),
	    entry(0, &other, "other.example.test", NULL)));
	char *s = json_dumps(d, JSON_COMPACT);

	/* mail_newer expires later but covers only one of the two names */
	select_bytes(s, strlen(s), "myresolver", two, 2, &r);
	check_chose(&r, &both);
	select_bytes(s, strlen(s), "myresolver", mail_only, 1, &r);
	check_chose(&r, &mail_newer);
	free(s);
	json_decref(d);
}

TEST(newest_valid_wins)
{
	struct res r;

	/* an expired older entry and a newer valid one for the same host */
	select_doc(add_resolver(NULL, "r", json_pack("[o, o]",
	    entry(0, &mail_old, "mail.example.test", NULL),
	    entry(0, &mail_new, "mail.example.test", NULL))), "r", &r);
	check_chose(&r, &mail_new);
	/* two valid: the later notAfter, in either order */
	select_doc(add_resolver(NULL, "r", json_pack("[o, o]",
	    entry(0, &mail_newer, "mail.example.test", NULL),
	    entry(0, &mail_new, "mail.example.test", NULL))), "r", &r);
	check_chose(&r, &mail_newer);
	select_doc(add_resolver(NULL, "r", json_pack("[o, o]",
	    entry(0, &mail_new, "mail.example.test", NULL),
	    entry(0, &mail_newer, "mail.example.test", NULL))), "r", &r);
	check_chose(&r, &mail_newer);
	/* same notAfter: the later notBefore */
	select_doc(add_resolver(NULL, "r", json_pack("[o, o]",
	    entry(0, &tie_late, "mail.example.test", NULL),
	    entry(0, &tie_early, "mail.example.test", NULL))), "r", &r);
	check_chose(&r, &tie_late);
	/* one valid now beats one valid only later, whatever its notAfter */
	select_doc(add_resolver(NULL, "r", json_pack("[o, o]",
	    entry(0, &mail_future, "mail.example.test", NULL),
	    entry(0, &mail_new, "mail.example.test", NULL))), "r", &r);
	check_chose(&r, &mail_new);
	/* alone, it is chosen: cert_validate names it not_yet_valid */
	select_doc(add_resolver(NULL, "r", json_pack("[o, o]",
	    entry(0, &mail_old, "mail.example.test", NULL),
	    entry(0, &mail_future, "mail.example.test", NULL))), "r", &r);
	check_chose(&r, &mail_future);
}

TEST(only_expired)
{
	struct res r;

	select_doc(add_resolver(NULL, "r", json_pack("[o, o]",
	    entry(0, &mail_old, "mail.example.test", NULL),
	    entry(0, &other, "other.example.test", NULL))), "r", &r);
	check_fails(&r, CERT_EXPIRED);
}

TEST(wildcard_and_no_domain)
{
	char *two[] = { "mail.example.test", "imap.example.test" };
	char *deep[] = { "a.mail.example.test" };
	struct res r;
	char *s;
	json_t *d;

	/* the JSON says other.example.test; the certificate is what counts */
	d = doc_v1(json_pack("[o]", entry(1, &wild, "other.example.test", NULL)));
	s = json_dumps(d, JSON_COMPACT);
	select_bytes(s, strlen(s), NULL, two, 2, &r);
	check_chose(&r, &wild);
	/* RFC 6125: one label only */
	select_bytes(s, strlen(s), NULL, deep, 1, &r);
	check_fails(&r, CERT_HOSTNAME_MISMATCH);
	free(s);
	json_decref(d);
	/* no domain member, and a domain of the wrong type */
	select_doc(add_resolver(NULL, "r", json_pack("[o]",
	    entry(0, &mail_new, NULL, NULL))), "r", &r);
	check_chose(&r, &mail_new);
	d = entry(0, &mail_new, NULL, NULL);
	json_object_set_new(d, "domain", json_string("mail.example.test"));
	select_doc(add_resolver(NULL, "r", json_pack("[o]", d)), "r", &r);
	check_chose(&r, &mail_new);
}

TEST(other_hosts_only)
{
	struct res r;

	select_doc(add_resolver(NULL, "r", json_pack("[o, o]",
	    entry(0, &other, "other.example.test", NULL),
	    entry(0, &other, "other.example.test", NULL))), "r", &r);
	check_fails(&r, CERT_HOSTNAME_MISMATCH);
	CHECK(strstr(r.detail, "other.example.test") != NULL);
	CHECK(strstr(r.detail, "mail.example.test") != NULL);
}

TEST(no_certificate_yet)
{
	struct res r;

	select_doc(add_resolver(NULL, "r", json_array()), "r", &r);
	check_fails(&r, CERT_NO_CERTIFICATE);
	select_doc(add_resolver(NULL, "r", json_null()), "r", &r);
	check_fails(&r, CERT_NO_CERTIFICATE);
	select_doc(json_object(), NULL, &r);
	check_fails(&r, CERT_NO_CERTIFICATE);
	select_doc(json_object(), "r", &r);
	check_fails(&r, CERT_BAD_ACME_JSON);
}

/* Every prefix of a small store: rejected, no crash, no key in detail. */
TEST(truncated)
{
	struct res r;
	json_t *d = add_resolver(NULL, "myresolver", json_pack("[o]",
	    entry(0, &mail_new, "mail.example.test", NULL)));
	char *s = json_dumps(d, JSON_COMPACT | JSON_INDENT(2));
	size_t len = strlen(s), bad = 0;

	for (size_t n = 0; n < len; n++) {
		/* a copy of exactly n bytes, so ASan sees any read past them */
		char *part = malloc(n + 1);

		memcpy(part, s, n);
		select_bytes(part, n, "myresolver", mail_only, 1, &r);
		bad += r.rc == -1 && r.why == CERT_BAD_ACME_JSON;
		install_pair_free(&r.out);
		free(part);
	}
	CHECK_INT(bad, len);
	select_bytes(s, len, "myresolver", mail_only, 1, &r);
	check_chose(&r, &mail_new);
	free(s);
	json_decref(d);
}

TEST(wrong_types)
{
	static const char *const docs[] = {
		"[]", "\"x\"", "42", "null", "", "{\"r\": []}", "{\"r\": 1}",
		"{\"r\": {\"Certificates\": \"x\"}}", "{\"r\": {\"Certificates\": {}}}",
		"{\"Certificates\": 5}", "{\"r\": {\"Certificates\": [1, \"a\", null, []]}}",
		"{\"r\": {\"Certificates\": [{\"certificate\": 7, \"key\": \"QQ==\"}]}}",
		"{\"r\": {\"Certificates\": []}, \"r\": {\"Certificates\": []}}",
		"{\"r\": {\"Certificates\": []}} trailing",
	};
	struct res r;
	json_t *e;

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		select_bytes(docs[i], strlen(docs[i]), "r", mail_only, 1, &r);
		if (r.why != CERT_BAD_ACME_JSON)
			fprintf(stderr, "  doc %zu: %s\n", i, docs[i]);
		check_fails(&r, CERT_BAD_ACME_JSON);
	}
	/* the chosen entry's key is not a string */
	e = entry(0, &mail_new, "mail.example.test", NULL);
	json_object_set_new(e, "key", json_integer(1));
	select_doc(add_resolver(NULL, "r", json_pack("[o]", e)), "r", &r);
	check_fails(&r, CERT_BAD_ACME_JSON);
	/* an unparsable entry beside a good one is skipped, and counted */
	select_doc(add_resolver(NULL, "r", json_pack("[i, o]", 5,
	    entry(0, &mail_new, "mail.example.test", NULL))), "r", &r);
	CHECK(strstr(r.detail, "1 unparsable") != NULL);
	check_chose(&r, &mail_new);
}

TEST(bad_base64)
{
	static const char *const bad[] = {
		"", "!!!!", "QUJD=", "QQ==QQ==", "Q===", "QUJD\nQUJD", " QUJD",
		"aGVsbG8=",	/* base64, but not PEM */
	};
	struct res r;
	json_t *e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = entry(0, &mail_new, "mail.example.test", NULL);
		json_object_set_new(e, "certificate", json_string(bad[i]));
		select_doc(add_resolver(NULL, "r", json_pack("[o]", e)), "r", &r);
		check_fails(&r, CERT_BAD_ACME_JSON);
		/* beside a good entry: skipped */
		e = entry(0, &mail_new, "mail.example.test", NULL);
		json_object_set_new(e, "certificate", json_string(bad[i]));
		select_doc(add_resolver(NULL, "r", json_pack("[o, o]", e,
		    entry(0, &mail_new, "mail.example.test", NULL))), "r", &r);
		check_chose(&r, &mail_new);
	}
	/* a bad key in the chosen entry */
	e = entry(0, &mail_new, "mail.example.test", NULL);
	json_object_set_new(e, "key", json_string("QQ==QQ=="));
	select_doc(add_resolver(NULL, "r", json_pack("[o]", e)), "r", &r);
	check_fails(&r, CERT_BAD_ACME_JSON);
	CHECK(strstr(r.detail, "key") != NULL);
}

/* Decoded lengths are exact for every padding (PEM length mod 3). */
TEST(padding)
{
	struct res r;

	for (int extra = 0; extra < 3; extra++) {
		struct fx f = mail_new;
		size_t len = strlen(mail_new.cert_pem);
		char *pem = malloc(len + 3);

		memcpy(pem, mail_new.cert_pem, len);
		memset(pem + len, '\n', 3);
		len += (size_t)extra;
		pem[len] = '\0';
		f.cert_pem = pem;
		f.cert_b64 = b64(pem, len);
		select_doc(add_resolver(NULL, "r", json_pack("[o]",
		    entry(0, &f, "mail.example.test", NULL))), "r", &r);
		check_chose(&r, &f);
		free(f.cert_b64);
		free(pem);
	}
}

TEST(chain_and_fingerprint)
{
	struct res r;
	struct cert_pair p;
	enum cert_reason why;

	select_doc(add_resolver(NULL, "r", json_pack("[o]",
	    entry(0, &chained, "mail.example.test", NULL))), "r", &r);
	CHECK_INT(r.rc, 0);
	if (r.rc != 0)
		return;
	/* the output is what the rest of the pipeline reads */
	memset(&p, 0, sizeof(p));
	CHECK_INT(cert_parse_chain(r.out.cert_pem, r.out.cert_len, &p, &why), 0);
	CHECK_INT(cert_parse_key(r.out.key_pem, r.out.key_len, &p, &why), 0);
	CHECK(cert_key_matches(&p));
	CHECK_INT(sk_X509_num(p.chain), 1);
	CHECK_STR(p.fingerprint, r.out.fingerprint);
	CHECK_STR(r.out.fingerprint, chained.fp);
	cert_pair_free(&p);
	check_chose(&r, &chained);
}

TEST(too_large)
{
	struct res r;
	const char s[] = "{}";

	/* the bound is checked before a byte is read */
	select_bytes(s, (size_t)ACME_JSON_MAX + 1, NULL, mail_only, 1, &r);
	check_fails(&r, CERT_TOO_LARGE);
	select_bytes(s, SIZE_MAX, NULL, mail_only, 1, &r);
	check_fails(&r, CERT_TOO_LARGE);
}

/* A key cut off in the middle: jansson's error text would quote it. */
TEST(no_key_bytes_in_detail)
{
	struct res r;
	json_t *d = doc_v1(json_pack("[o]", entry(1, &mail_new, "mail.example.test", NULL)));
	char *s = json_dumps(d, JSON_COMPACT);
	const char *k = strstr(s, mail_new.key_b64);

	CHECK(k != NULL);
	if (k != NULL) {
		select_bytes(s, (size_t)(k - s) + 120, NULL, mail_only, 1, &r);
		check_fails(&r, CERT_BAD_ACME_JSON);
	}
	k = strstr(s, "\"PrivateKey\"");
	CHECK(k != NULL);
	if (k != NULL) {
		select_bytes(s, (size_t)(k - s) + 60, NULL, mail_only, 1, &r);
		check_fails(&r, CERT_BAD_ACME_JSON);
	}
	free(s);
	json_decref(d);
}

/* jansson now wipes what it frees (lexer buffers and the DOM). */
TEST(wiping_free_installed)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	CHECK(m == malloc);
	CHECK(f != free);
	/* and blocks from before and after mix */
	json_decref(json_pack("{s:[s, i]}", "a", "b", 1));
}

/* Many entries: the one in the middle that covers the name is found. */
TEST(many_entries)
{
	char *sub[] = { "host137.example.test" };
	struct res r;
	json_t *arr = json_array();
	struct fx *hosts = calloc(300, sizeof(*hosts));
	char san[64];
	struct timespec t0, t1;

	for (int i = 0; i < 300; i++) {
		snprintf(san, sizeof(san), "DNS:host%d.example.test", i);
		make_fx(&hosts[i], -DAY, 60 * DAY, san, NULL);
		json_array_append_new(arr, entry(0, &hosts[i], san + 4, NULL));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		json_t *d = add_resolver(NULL, "r", arr);
		char *s = json_dumps(d, JSON_COMPACT);

		json_decref(d);
		select_bytes(s, strlen(s), "r", sub, 1, &r);
		free(s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	check_chose(&r, &hosts[137]);
	printf("  300 entries: %.0f ms (ASan)\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	for (int i = 0; i < 300; i++)
		free_fx(&hosts[i]);
	free(hosts);
}

/* A file holding exactly len bytes of s, open for reading. */
static int
file_of(const char *s, size_t len)
{
	FILE *f = tmpfile();
	int fd;

	fwrite(s, 1, len, f);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* As select_bytes, through acme_json_select_fd (size: what the open saw). */
static void
select_file(const char *s, size_t len, size_t size, const char *resolver,
    char *const *names, size_t n, struct res *r)
{
	int fd = file_of(s, len);

	memset(r, 0, sizeof(*r));
	r->rc = acme_json_select_fd(fd, size, resolver, names, n, now, &r->out, &r->why,
	    r->detail, sizeof(r->detail));
	CHECK((r->rc == 0) == (r->why == CERT_OK));
	CHECK(r->rc == 0 || r->out.cert_pem == NULL);
	check_detail_clean(r->detail);
	close(fd);
}

/* Through a file: the same choices, and a file that grew is unreadable. */
TEST(from_a_file)
{
	json_t *d = add_resolver(NULL, "le", json_pack("[o, o, o]",
	    entry(0, &other, "other.example.test", NULL),
	    entry(0, &mail_newer, "mail.example.test", NULL),
	    entry(0, &mail_new, "mail.example.test", NULL)));
	char *s = json_dumps(d, JSON_INDENT(2));
	size_t len = strlen(s);
	struct res r;

	select_file(s, len, len, "le", mail_only, 1, &r);
	check_chose(&r, &mail_newer);
	select_file(s, len, len - 1, "le", mail_only, 1, &r);
	check_fails(&r, CERT_UNREADABLE);
	select_file(s, len - 1, len - 1, "le", mail_only, 1, &r);
	check_fails(&r, CERT_BAD_ACME_JSON);
	select_file(s, len, (size_t)ACME_JSON_MAX + 1, "le", mail_only, 1, &r);
	check_fails(&r, CERT_TOO_LARGE);
	select_file(s, len, len, "missing", mail_only, 1, &r);
	check_fails(&r, CERT_BAD_ACME_JSON);
	free(s);
	json_decref(d);
}

/* A v2 entry with a certificate value of its own. */
static json_t *
entry_text(const struct fx *f, const char *cert_text)
{
	json_t *e = entry(0, f, "mail.example.test", NULL);

	json_object_set_new(e, "certificate", json_string(cert_text));
	return e;
}

static char *
b64_str(const char *s)
{
	return b64(s, strlen(s));
}

/* A certificate for mail.example.test named only by its subject's CN. */
static void
make_cn_fx(struct fx *f, int type, const char *cn, size_t cnlen)
{
	X509_NAME *n = X509_NAME_new();
	X509_NAME_ENTRY *ne = X509_NAME_ENTRY_create_by_NID(NULL, NID_commonName, type,
	    (const unsigned char *)cn, (int)cnlen);

	f->key = EVP_EC_gen("P-256");
	f->cert = make_cert(f->key, -DAY, 60 * DAY, NULL);
	X509_NAME_add_entry(n, ne, -1, 0);
	X509_NAME_ENTRY_free(ne);
	X509_set_subject_name(f->cert, n);
	X509_NAME_free(n);
	X509_sign(f->cert, f->key, EVP_sha256());
	finish_fx(f, NULL);
}

/*
 * The leaf look never rules out a leaf that covers: names in the CN only
 * (plain and BMPString), in capitals, past the first 3 KB of the value,
 * in CRLF PEM, after text, with a wildcard; and it does rule out: an
 * entry for another host with a broken chain tail is not even parsed.
 */
TEST(leaf_look)
{
	static const char bmp[] = "\0m\0a\0i\0l\0.\0e\0x\0a\0m\0p\0l\0e\0.\0t\0e\0s\0t";
	static const char bad_tail[] = "-----BEGIN CERTIFICATE-----\nAAAA\n"
	    "-----END CERTIFICATE-----\n";
	char *upper[] = { "MAIL.Example.Test" }, *none[] = { NULL };
	struct fx cn, cn_bmp, caps, many, tail_other, far;
	char san[6000], *pem, *t;
	size_t used = 0;
	struct res r;

	make_cn_fx(&cn, MBSTRING_ASC, "mail.example.test", 17);
	make_cn_fx(&cn_bmp, V_ASN1_BMPSTRING, bmp, sizeof(bmp) - 1);
	make_fx(&caps, -DAY, 60 * DAY, "DNS:MAIL.EXAMPLE.test", NULL);
	for (int i = 0; i < 150; i++)
		used += (size_t)snprintf(san + used, sizeof(san) - used,
		    "DNS:host%d.example.test,", i);
	snprintf(san + used, sizeof(san) - used, "DNS:mail.example.test");
	make_fx(&many, -DAY, 60 * DAY, san, NULL);
	CHECK(strlen(many.cert_b64) > 2 * 3072);
	make_fx(&tail_other, -DAY, 80 * DAY, "DNS:other.example.test", NULL);
	make_fx(&far, -DAY, 200 * DAY, "DNS:far.example.test", NULL);

	select_doc(add_resolver(NULL, "r", json_pack("[o, o]",
	    entry(0, &other, "other.example.test", NULL),
	    entry(0, &cn, "mail.example.test", NULL))), "r", &r);
	check_chose(&r, &cn);
	select_doc(add_resolver(NULL, "r", json_pack("[o]",
	    entry(0, &cn_bmp, "mail.example.test", NULL))), "r", &r);
	check_chose(&r, &cn_bmp);
	select_doc(add_resolver(NULL, "r", json_pack("[o]",
	    entry(0, &caps, "mail.example.test", NULL))), "r", &r);
	check_chose(&r, &caps);
	select_doc(add_resolver(NULL, "r", json_pack("[o]",
	    entry(0, &many, "mail.example.test", NULL))), "r", &r);
	check_chose(&r, &many);
	/* a capitalised host name, and no host name at all (every entry covers) */
	{
		json_t *d = add_resolver(NULL, "r", json_pack("[o, o]",
		    entry(0, &mail_new, "mail.example.test", NULL),
		    entry(0, &far, "far.example.test", NULL)));
		char *s = json_dumps(d, JSON_COMPACT);

		select_bytes(s, strlen(s), "r", upper, 1, &r);
		check_chose(&r, &mail_new);
		select_bytes(s, strlen(s), "r", none, 0, &r);
		check_chose(&r, &far);
		free(s);
		json_decref(d);
	}
	/* CRLF lines, and text before the block: PEM_read_bio reads both */
	pem = malloc(2 * strlen(mail_new.cert_pem) + 64);
	used = 0;
	for (const char *c = mail_new.cert_pem; *c != '\0'; c++) {
		if (*c == '\n')
			pem[used++] = '\r';
		pem[used++] = *c;
	}
	pem[used] = '\0';
	t = b64_str(pem);
	select_doc(add_resolver(NULL, "r", json_pack("[o]", entry_text(&mail_new, t))),
	    "r", &r);
	CHECK_INT(r.rc, 0);
	CHECK_STR(r.out.fingerprint, mail_new.fp);
	install_pair_free(&r.out);
	free(t);
	snprintf(pem, 2 * strlen(mail_new.cert_pem) + 64, "Subject: mail\n%s",
	    mail_new.cert_pem);
	t = b64_str(pem);
	select_doc(add_resolver(NULL, "r", json_pack("[o]", entry_text(&mail_new, t))),
	    "r", &r);
	CHECK_INT(r.rc, 0);
	CHECK_STR(r.out.fingerprint, mail_new.fp);
	install_pair_free(&r.out);
	free(t);
	free(pem);
	/* a broken tail: another host's entry is ruled out unparsed... */
	pem = malloc(strlen(tail_other.cert_pem) + sizeof(bad_tail));
	sprintf(pem, "%s%s", tail_other.cert_pem, bad_tail);
	t = b64_str(pem);
	select_doc(add_resolver(NULL, "r", json_pack("[o, o]", entry_text(&tail_other, t),
	    entry(0, &mail_new, "mail.example.test", NULL))), "r", &r);
	CHECK(strstr(r.detail, "2 scanned, 0 unparsable") != NULL);
	check_chose(&r, &mail_new);
	free(t);
	free(pem);
	/* ...but a covering one is parsed whole, and skipped as before */
	pem = malloc(strlen(mail_newer.cert_pem) + sizeof(bad_tail));
	sprintf(pem, "%s%s", mail_newer.cert_pem, bad_tail);
	t = b64_str(pem);
	select_doc(add_resolver(NULL, "r", json_pack("[o, o]", entry_text(&mail_newer, t),
	    entry(0, &mail_new, "mail.example.test", NULL))), "r", &r);
	CHECK(strstr(r.detail, "2 scanned, 1 unparsable") != NULL);
	check_chose(&r, &mail_new);
	free(t);
	free(pem);
	free_fx(&cn);
	free_fx(&cn_bmp);
	free_fx(&caps);
	free_fx(&many);
	free_fx(&tail_other);
	free_fx(&far);
}

/* Hostile and odd stores: wrong types, duplicates, depth, sizes, escapes. */
TEST(hostile_stores)
{
	static const char *const bad[] = {
		/* duplicates, also after unescaping and inside an entry */
		"{\"r\":{\"Certificates\":[{\"certificate\":\"QQ==\",\"certificate\":\"QQ==\"}]}}",
		"{\"r\":{\"Certificates\":[{\"key\":\"QQ==\",\"k\\u0065y\":\"QQ==\"}]}}",
		"{\"r\":{\"Certificates\":[],\"Certific\\u0061tes\":[]}}",
		/* shapes */
		"{\"r\":{\"Certificates\":{\"0\":{}}}}", "{\"r\":{\"Certificates\":\"x\"}}",
		"{\"r\":{\"Certificates\":7}}", "{\"r\":[]}", "{\"r\":\"x\"}",
		"{\"Certificates\":{}}", "{\"Certificates\":true}",
		/* not JSON */
		"{\"r\":{\"Certificates\":[]}}\x00", "{\"r\":{\"Certificates\":[\"\\u0000\"]}}",
		"{\"r\":{\"Certificates\":[\"\xff\"]}}", "{\"r\":{\"Certificates\":[1e999]}}",
		"{\"r\":{\"Certificates\":[],}}",
	};
	struct res r;
	json_t *e, *d;
	char *s, *big;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		select_bytes(bad[i], strlen(bad[i]) + (i == 10), "r", mail_only, 1, &r);
		if (r.why != CERT_BAD_ACME_JSON)
			fprintf(stderr, "  doc %zu: %s: %s\n", i, bad[i], r.detail);
		check_fails(&r, CERT_BAD_ACME_JSON);
	}
	select_bytes(NULL, 0, "r", mail_only, 1, &r);
	check_fails(&r, CERT_BAD_ACME_JSON);
	/* members of the wrong type: skipped entries, "(no domain)", a missing key */
	e = entry(0, &mail_new, NULL, NULL);
	json_object_set_new(e, "domain", json_pack("{s:i, s:[]}", "main", 5, "sans"));
	d = add_resolver(NULL, "r", json_pack("[{s:{}}, {s:[]}, {s:n}, {s:b}, o]",
	    "certificate", "certificate", "certificate", "certificate", 1, e));
	select_doc(d, "r", &r);
	CHECK(strstr(r.detail, "(no domain)") != NULL);
	CHECK(strstr(r.detail, "5 scanned, 4 unparsable") != NULL);
	check_chose(&r, &mail_new);
	e = entry(0, &mail_new, "mail.example.test", NULL);
	json_object_set_new(e, "key", json_pack("[s]", mail_new.key_b64));
	select_doc(add_resolver(NULL, "r", json_pack("[o]", e)), "r", &r);
	check_fails(&r, CERT_BAD_ACME_JSON);
	CHECK(strstr(r.detail, "missing") != NULL);
	/* both spellings in one entry: the layout's own wins */
	e = entry(0, &mail_new, "mail.example.test", NULL);
	json_object_set_new(e, "Certificate", json_string(other.cert_b64));
	json_object_set_new(e, "Key", json_string(other.key_b64));
	select_doc(add_resolver(NULL, "r", json_pack("[o]", e)), "r", &r);
	check_chose(&r, &mail_new);
	e = entry(1, &mail_new, "mail.example.test", NULL);
	json_object_set_new(e, "certificate", json_string(other.cert_b64));
	select_doc(doc_v1(json_pack("[o]", e)), NULL, &r);
	check_chose(&r, &mail_new);
	/* escapes in base64 are read as jansson reads them */
	n = strlen(mail_new.cert_b64);
	big = malloc(6 * n + 1);
	s = big;
	for (size_t i = 0; i < n; i++)
		s += sprintf(s, i % 7 == 0 ? "\\u%04x" : i % 7 == 3 && mail_new.cert_b64[i] == '/' ?
		    "\\/" : "%c", mail_new.cert_b64[i]);
	s = malloc(strlen(big) + strlen(mail_new.key_b64) + 256);
	sprintf(s, "{\"r\":{\"Certificates\":[{\"certificate\":\"%s\",\"key\":\"%s\"}]}}",
	    big, mail_new.key_b64);
	select_bytes(s, strlen(s), "r", mail_only, 1, &r);
	check_chose(&r, &mail_new);
	free(s);
	free(big);
	/* 2,048 levels beside the entries are fine; 2,049 are not */
	for (int depth = 2048; depth <= 2049; depth++) {
		size_t k = 0;

		big = malloc(2 * (size_t)depth + 4096);
		k += (size_t)sprintf(big, "{\"r\":{\"x\":");
		for (int i = 0; i < depth - 2; i++)
			big[k++] = '[';
		for (int i = 0; i < depth - 2; i++)
			big[k++] = ']';
		sprintf(big + k, ",\"Certificates\":[{\"certificate\":\"%s\",\"key\":\"%s\"}]}}",
		    mail_new.cert_b64, mail_new.key_b64);
		select_bytes(big, strlen(big), "r", mail_only, 1, &r);
		if (depth == 2048)
			check_chose(&r, &mail_new);
		else
			check_fails(&r, CERT_BAD_ACME_JSON);
		free(big);
	}
	/* huge strings: a 20 MB member is read past; a certificate or a key
	 * beyond base64 of CERT_FILE_MAX is not kept */
	n = 20 * 1024 * 1024;
	big = malloc(n + 4096);
	memset(big, 'A', n + 4096);
	memcpy(big, "{\"r\":{\"junk\":\"", 14);
	sprintf(big + 14 + n, "\",\"Certificates\":[{\"certificate\":\"%s\",\"key\":\"%s\"}]}}",
	    mail_new.cert_b64, mail_new.key_b64);
	select_bytes(big, strlen(big), "r", mail_only, 1, &r);
	check_chose(&r, &mail_new);
	n = (CERT_FILE_MAX + 2) / 3 * 4 + 4;
	memset(big, 'A', n + 4096);
	memcpy(big, "{\"r\":{\"Certificates\":[{\"certificate\":\"", 38);
	sprintf(big + 38 + n, "\"},{\"certificate\":\"%s\",\"key\":\"%s\"}]}}",
	    mail_new.cert_b64, mail_new.key_b64);
	select_bytes(big, strlen(big), "r", mail_only, 1, &r);
	CHECK(strstr(r.detail, "1 unparsable") != NULL);
	check_chose(&r, &mail_new);
	{
		size_t k = (size_t)sprintf(big, "{\"r\":{\"Certificates\":[{\"certificate\":"
		    "\"%s\",\"key\":\"", mail_new.cert_b64);

		memset(big + k, 'A', n);
		strcpy(big + k + n, "\"}]}}");
	}
	select_file(big, strlen(big), strlen(big), "r", mail_only, 1, &r);
	check_fails(&r, CERT_BAD_ACME_JSON);
	CHECK(strstr(r.detail, "too large") != NULL);
	free(big);
}

/* 300 entries through a file: chunks cut strings, the one in the middle is found. */
TEST(many_entries_from_a_file)
{
	char *sub[] = { "host150.example.test" };
	struct fx *hosts = calloc(300, sizeof(*hosts));
	json_t *arr = json_array(), *d;
	char san[64], *s;
	struct res r;

	for (int i = 0; i < 300; i++) {
		snprintf(san, sizeof(san), "DNS:host%d.example.test", i);
		make_fx(&hosts[i], -DAY, 60 * DAY, san, NULL);
		json_array_append_new(arr, entry(0, &hosts[i], san + 4, NULL));
	}
	d = add_resolver(add_resolver(NULL, "a", json_null()), "b", arr);
	s = json_dumps(d, JSON_INDENT(2));
	CHECK(strlen(s) > 4 * 64 * 1024);
	select_file(s, strlen(s), strlen(s), NULL, sub, 1, &r);
	CHECK(strstr(r.detail, "300 scanned, 0 unparsable") != NULL);
	check_chose(&r, &hosts[150]);
	free(s);
	json_decref(d);
	for (int i = 0; i < 300; i++)
		free_fx(&hosts[i]);
	free(hosts);
}

static void
setup(void)
{
	X509 *inter;

	now = time(NULL);
	make_fx(&account, -DAY, DAY, NULL, NULL);
	make_fx(&mail_old, -90 * DAY, -DAY, "DNS:mail.example.test", NULL);
	make_fx(&mail_new, -DAY, 60 * DAY, "DNS:mail.example.test,DNS:smtp.example.test", NULL);
	make_fx(&mail_newer, -DAY, 90 * DAY, "DNS:mail.example.test", NULL);
	make_fx(&mail_future, DAY, 120 * DAY, "DNS:mail.example.test", NULL);
	make_fx(&wild, -DAY, 30 * DAY, "DNS:*.example.test", NULL);
	make_fx(&other, -DAY, 60 * DAY, "DNS:other.example.test", NULL);
	make_fx(&both, -DAY, 45 * DAY, "DNS:mail.example.test,DNS:webmail.example.test", NULL);
	make_fx(&tie_early, -2 * DAY, 70 * DAY, "DNS:mail.example.test", NULL);
	make_fx(&tie_late, -DAY, 70 * DAY, "DNS:mail.example.test", NULL);
	inter = make_cert(account.key, -DAY, 365 * DAY, NULL);
	make_fx(&chained, -DAY, 50 * DAY, "DNS:mail.example.test", inter);
	X509_free(inter);
}

static void
teardown(void)
{
	for (size_t i = 0; i < sizeof(all_fx) / sizeof(all_fx[0]); i++)
		free_fx(all_fx[i]);
}

HARNESS_MAIN("acme_json", RUN(setup), RUN(v1_layout), RUN(v2_resolvers),
    RUN(several_domains_and_names), RUN(newest_valid_wins), RUN(only_expired),
    RUN(wildcard_and_no_domain), RUN(other_hosts_only), RUN(no_certificate_yet),
    RUN(truncated), RUN(wrong_types), RUN(bad_base64), RUN(padding),
    RUN(chain_and_fingerprint), RUN(too_large), RUN(no_key_bytes_in_detail),
    RUN(wiping_free_installed), RUN(many_entries), RUN(from_a_file), RUN(leaf_look),
    RUN(hostile_stores), RUN(many_entries_from_a_file), RUN(teardown))
