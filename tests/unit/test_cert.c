/* The cert module on real OpenSSL objects made here, one per reason code. */
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "harness.h"

static char dir[] = "/tmp/mca-test-cert-XXXXXX";

static EVP_PKEY *
ec_key(void)
{
	return EVP_EC_gen("P-256");
}

/* A self-signed certificate for key, valid from now+from_s to now+to_s. */
static X509 *
make_cert(EVP_PKEY *key, long from_s, long to_s, const char *san)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), rand());
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), to_s);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, key, EVP_sha256());
	return x;
}

static void
path_of(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

static void
write_text(const char *name, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	path_of(p, name);
	f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static void
write_cert(const char *name, X509 *a, X509 *b)
{
	char p[PATH_MAX];
	FILE *f;

	path_of(p, name);
	f = fopen(p, "w");
	PEM_write_X509(f, a);
	if (b != NULL)
		PEM_write_X509(f, b);
	fclose(f);
}

static void
write_key(const char *name, EVP_PKEY *k, int traditional, const char *pass)
{
	char p[PATH_MAX];
	FILE *f;

	path_of(p, name);
	f = fopen(p, "w");
	if (pass != NULL)
		PEM_write_PKCS8PrivateKey(f, k, EVP_aes_256_cbc(), pass,
		    (int)strlen(pass), NULL, NULL);
	else if (traditional) {
		BIO *b = BIO_new_fp(f, BIO_NOCLOSE);
		PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL);
		BIO_free(b);
	}
	else
		PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
}

static enum cert_reason
load(const char *cname, const char *kname, struct cert_pair *p)
{
	enum cert_reason why = CERT_OK;

	cert_pair_load(dir, cname, kname, p, &why);
	return why;
}

static EVP_PKEY *k1, *k2;
static X509 *c1, *c2;

TEST(good_pair_and_fingerprint)
{
	struct cert_pair p;
	unsigned char *der = NULL, md[32];
	char hex[65];
	unsigned int mdlen;
	int len;

	write_cert("cert.pem", c1, c2);
	write_key("key.pem", k1, 0, NULL);
	CHECK_INT(load("cert.pem", "key.pem", &p), CERT_OK);
	CHECK(cert_key_matches(&p));
	CHECK_INT(sk_X509_num(p.chain), 1);
	/* the fingerprint is SHA-256 over the leaf's DER, computed apart here */
	len = i2d_X509(c1, &der);
	EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	CHECK_STR(p.fingerprint, hex);
	CHECK(p.not_after > time(NULL) + 29 * 86400 && p.not_after < time(NULL) + 31 * 86400);
	CHECK(p.not_before <= time(NULL));
	{
		json_t *names = cert_names_json(p.leaf);
		CHECK_INT(json_array_size(names), 2);
		CHECK_STR(json_string_value(json_array_get(names, 1)), "*.example.com");
		json_decref(names);
	}
	cert_pair_free(&p);
	/* traditional "EC PRIVATE KEY" form too */
	write_key("trad.pem", k1, 1, NULL);
	CHECK_INT(load("cert.pem", "trad.pem", &p), CERT_OK);
	CHECK(cert_key_matches(&p));
	cert_pair_free(&p);
}

TEST(key_mismatch)
{
	struct cert_pair p;

	write_cert("cert.pem", c1, NULL);
	write_key("other.pem", k2, 0, NULL);
	CHECK_INT(load("cert.pem", "other.pem", &p), CERT_OK);
	CHECK(!cert_key_matches(&p));
	cert_pair_free(&p);
}

TEST(reason_codes)
{
	struct cert_pair p;
	char from[PATH_MAX];
	FILE *f;

	write_text("junk.pem", "hello, this is not a certificate\n");
	CHECK_INT(load("junk.pem", NULL, &p), CERT_NOT_PEM);
	cert_pair_free(&p);
	write_text("badb64.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
	CHECK(load("badb64.pem", NULL, &p) != CERT_OK);
	cert_pair_free(&p);

	write_key("key.pem", k1, 0, NULL);
	CHECK_INT(load("key.pem", NULL, &p), CERT_NO_CERTIFICATE);
	cert_pair_free(&p);

	write_cert("cert.pem", c1, NULL);
	CHECK_INT(load("cert.pem", "cert.pem", &p), CERT_NO_KEY);
	cert_pair_free(&p);

	write_key("enc.pem", k1, 0, "secret");
	CHECK_INT(load("cert.pem", "enc.pem", &p), CERT_ENCRYPTED_KEY);
	cert_pair_free(&p);

	CHECK_INT(load("missing.pem", NULL, &p), CERT_UNREADABLE);
	cert_pair_free(&p);

	/* one byte over the bound */
	path_of(from, "big.pem");
	f = fopen(from, "w");
	for (size_t i = 0; i < CERT_FILE_MAX + 1; i++)
		fputc('A', f);
	fclose(f);
	CHECK_INT(load("big.pem", NULL, &p), CERT_TOO_LARGE);
	cert_pair_free(&p);

	/* a link out of the directory, and one that stays inside */
	path_of(from, "escape.pem");
	CHECK_INT(symlink("/etc/hostname", from), 0);
	CHECK_INT(load("escape.pem", NULL, &p), CERT_SYMLINK_ESCAPE);
	cert_pair_free(&p);
	path_of(from, "inside.pem");
	CHECK_INT(symlink("cert.pem", from), 0);
	CHECK_INT(load("inside.pem", NULL, &p), CERT_OK);
	cert_pair_free(&p);

	/* a directory is not a certificate */
	path_of(from, "sub");
	mkdir(from, 0700);
	CHECK_INT(load("sub", NULL, &p), CERT_UNREADABLE);
	cert_pair_free(&p);
}

TEST(reason_names_cover_every_code)
{
	for (int i = 0; i < CERT__MAX; i++)
		CHECK(cert_reason_names[i] != NULL && cert_reason_names[i][0] != '\0');
	CHECK_STR(cert_reason_names[CERT_SYMLINK_ESCAPE], "symlink_escape");
	CHECK_STR(cert_reason_names[CERT_INCOMPLETE_WRITE], "incomplete_write");
}

TEST(read_at_never_follows_a_link)
{
	unsigned char *buf = NULL;
	enum cert_reason why;
	char from[PATH_MAX];
	size_t len = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);

	write_text("plain.pem", "plain\n");
	CHECK_INT(cert_read_at(dfd, "plain.pem", 100, &buf, &len, &why), 0);
	CHECK_INT(len, 6);
	cert_buf_free(&buf, len);
	/* a link, even one that stays inside, is never followed */
	path_of(from, "link.pem");
	CHECK_INT(symlink("plain.pem", from), 0);
	CHECK_INT(cert_read_at(dfd, "link.pem", 100, &buf, &len, &why), -1);
	CHECK_INT(why, CERT_SYMLINK_ESCAPE);
	CHECK(buf == NULL);
	/* plain names only, regular files only, bounded */
	CHECK_INT(cert_read_at(dfd, "sub/x", 100, &buf, &len, &why), -1);
	CHECK_INT(cert_read_at(dfd, "sub", 100, &buf, &len, &why), -1);
	CHECK_INT(why, CERT_UNREADABLE);
	CHECK_INT(cert_read_at(dfd, "plain.pem", 5, &buf, &len, &why), -1);
	CHECK_INT(why, CERT_TOO_LARGE);
	close(dfd);
}

TEST(retry_due_only_for_time_reasons)
{
	time_t nb = 1000, na = 2000;

	/* not yet valid: due once the clock passes notBefore */
	CHECK(!cert_retry_due(CERT_NOT_YET_VALID, nb, na, 999));
	CHECK(cert_retry_due(CERT_NOT_YET_VALID, nb, na, 1000));
	CHECK(cert_retry_due(CERT_NOT_YET_VALID, nb, na, 1999));
	/* ...but not if the clock jumped past notAfter as well */
	CHECK(!cert_retry_due(CERT_NOT_YET_VALID, nb, na, 2000));
	/* expired: only a clock set back into the window lifts it */
	CHECK(!cert_retry_due(CERT_EXPIRED, nb, na, 2500));
	CHECK(cert_retry_due(CERT_EXPIRED, nb, na, 1500));
	/* every other reason waits for the files to change */
	for (int r = 0; r < CERT__MAX; r++)
		if (r != CERT_NOT_YET_VALID && r != CERT_EXPIRED)
			CHECK(!cert_retry_due((enum cert_reason)r, nb, na, 1500));
}

/* The whole file at dir/name, NUL-terminated (free it). */
static char *
slurp(const char *name, size_t *len)
{
	char p[PATH_MAX], *buf = NULL;
	FILE *f;
	long n;

	path_of(p, name);
	if ((f = fopen(p, "r")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) != NULL)
		*len = fread(buf, 1, (size_t)n, f);
	fclose(f);
	return buf;
}

/*
 * A combined PEM (leaf, key, chain in one file) parses as the chain, says
 * it held a key, and cert_chain_pem gives the certificates alone; a file
 * of certificates only comes back byte for byte.
 */
TEST(combined_pem_keeps_certificates_only)
{
	struct cert_pair p, q;
	enum cert_reason why;
	unsigned char *out = NULL;
	size_t len = 0, clen = 0;
	char path[PATH_MAX], *plain, *combined;
	FILE *f;

	memset(&p, 0, sizeof(p));
	memset(&q, 0, sizeof(q));
	write_cert("plain.pem", c1, c2);
	plain = slurp("plain.pem", &clen);
	CHECK(plain != NULL);
	path_of(path, "combined.pem");
	f = fopen(path, "w");
	PEM_write_X509(f, c1);
	PEM_write_PrivateKey(f, k1, NULL, NULL, 0, NULL, NULL);
	fputs("text between blocks\r\n", f);
	PEM_write_X509(f, c2);
	fclose(f);
	combined = slurp("combined.pem", &len);
	CHECK(combined != NULL && strstr(combined, "PRIVATE KEY") != NULL);

	CHECK_INT(load("combined.pem", "combined.pem", &p), CERT_OK);
	CHECK(p.key_in_file);
	CHECK(cert_key_matches(&p));
	CHECK_INT(sk_X509_num(p.chain), 1);
	CHECK_INT(cert_chain_pem(&p, &out, &len), 0);
	CHECK(out != NULL && memmem(out, len, "PRIVATE KEY", 11) == NULL);
	CHECK_INT(len, clen);
	CHECK(out != NULL && plain != NULL && memcmp(out, plain, clen) == 0);
	/* what was written parses to the same leaf and chain */
	CHECK_INT(cert_parse_chain(out, len, &q, &why), 0);
	CHECK_STR(q.fingerprint, p.fingerprint);
	CHECK_INT(sk_X509_num(q.chain), 1);
	CHECK(!q.key_in_file);
	cert_buf_free(&out, len);
	cert_pair_free(&q);
	cert_pair_free(&p);

	/* certificates only: no key noted, the same bytes back */
	CHECK_INT(load("plain.pem", NULL, &p), CERT_OK);
	CHECK(!p.key_in_file);
	CHECK_INT(cert_chain_pem(&p, &out, &len), 0);
	CHECK(len == clen && out != NULL && memcmp(out, plain, clen) == 0);
	cert_buf_free(&out, len);
	cert_pair_free(&p);

	/* a key block after the leaf that does not parse: noted, left out */
	write_cert("broken.pem", c1, NULL);
	path_of(path, "broken.pem");
	f = fopen(path, "a");
	fputs("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n", f);
	fclose(f);
	CHECK_INT(load("broken.pem", NULL, &p), CERT_OK);
	CHECK(p.key_in_file);
	CHECK_INT(cert_chain_pem(&p, &out, &len), 0);
	CHECK(out != NULL && memmem(out, len, "PRIVATE KEY", 11) == NULL);
	cert_buf_free(&out, len);
	cert_pair_free(&p);
	free(plain);
	free(combined);
}

/* "Newer" is issued later; expiry only breaks a tie. */
TEST(newer_means_issued_later)
{
	time_t nb = 1800000000, na = nb + 90 * 86400;

	/* a 45-day renewal issued after a 90-day pair: newer */
	CHECK(cert_is_newer(nb + 3600, nb + 3600 + 45 * 86400, nb, na));
	/* issued before it, whatever it expires: not newer */
	CHECK(!cert_is_newer(nb - 3600, na + 300 * 86400, nb, na));
	/* issued the same second: the later expiry wins, the same is not older */
	CHECK(cert_is_newer(nb, na + 1, nb, na));
	CHECK(cert_is_newer(nb, na, nb, na));
	CHECK(!cert_is_newer(nb, na - 1, nb, na));
}

/* cert_validate applies it, and --force lifts it */
TEST(not_newer_in_validate)
{
	static char *const names[] = { "mail.example.com" };
	struct cert_policy pol = { names, 1, NULL, 0, 0, 0, false };
	struct cert_pair p;
	enum cert_reason why;
	char detail[128];

	write_cert("cert.pem", c1, NULL);
	write_key("key.pem", k1, 0, NULL);
	CHECK_INT(load("cert.pem", "key.pem", &p), CERT_OK);
	pol.now = time(NULL);
	/* installed: issued a day later than c1, expiring a year later */
	pol.installed_not_before = p.not_before + 86400;
	pol.installed_not_after = p.not_after + 365 * 86400;
	CHECK_INT(cert_validate(&p, &pol, &why, detail, sizeof(detail)), -1);
	CHECK_INT(why, CERT_NOT_NEWER);
	CHECK(strstr(detail, "issued before") != NULL);
	pol.force = true;
	CHECK_INT(cert_validate(&p, &pol, &why, detail, sizeof(detail)), 0);
	/* installed: issued a day earlier, expiring a year later: c1 is newer */
	pol.force = false;
	pol.installed_not_before = p.not_before - 86400;
	CHECK_INT(cert_validate(&p, &pol, &why, detail, sizeof(detail)), 0);
	cert_pair_free(&p);
}

TEST(times)
{
	char out[32];

	cert_format_time(0, out);
	CHECK_STR(out, "1970-01-01T00:00:00Z");
}

static void
setup(void)
{
	CHECK(mkdtemp(dir) != NULL);
	k1 = ec_key();
	k2 = ec_key();
	c1 = make_cert(k1, -60, 30 * 86400, "DNS:mail.example.com,DNS:*.example.com");
	c2 = make_cert(k2, -60, 60 * 86400, "DNS:ca.example.com");
}

static void
teardown(void)
{
	char cmd[PATH_MAX + 16];

	X509_free(c1);
	X509_free(c2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
}

HARNESS_MAIN("cert", RUN(setup), RUN(good_pair_and_fingerprint), RUN(key_mismatch),
    RUN(reason_codes), RUN(reason_names_cover_every_code),
    RUN(read_at_never_follows_a_link), RUN(retry_due_only_for_time_reasons),
    RUN(combined_pem_keeps_certificates_only), RUN(newer_means_issued_later),
    RUN(not_newer_in_validate), RUN(times), RUN(teardown))
