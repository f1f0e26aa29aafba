/*
 * The fixture test_install and test_store share: a temp CERTS_DIR with
 * the state dir inside it, an install_ctx over them, two pairs A (EC, no
 * chain) and B (RSA, with a chain), and checks of files by path.
 * fixture_setup and fixture_teardown are each program's first and last
 * test.
 */
#ifndef MCA_TEST_PAIR_FIXTURE_H
#define MCA_TEST_PAIR_FIXTURE_H

#include <sys/stat.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "install.h"
#include "log.h"
#include "store.h"
#include "harness.h"

static char dir[PATH_MAX];
static char certs[PATH_MAX], state[PATH_MAX];
static struct install_ctx ctx;
static EVP_PKEY *ka, *kb;
static X509 *ca, *cb;
static struct install_pair A, B;

static X509 *
make_cert(EVP_PKEY *key, const char *cn)
{
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), rand());
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 30 * 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, key, EVP_sha256());
	return x;
}

static unsigned char *
bio_bytes(BIO *b, size_t *len)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	unsigned char *out = malloc((size_t)n + 1);

	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

/* PEM bytes of leaf (+ extra as chain) and key, as a source would hand them. */
static void
make_pair(struct install_pair *p, X509 *leaf, X509 *extra, EVP_PKEY *key)
{
	BIO *c = BIO_new(BIO_s_mem()), *k = BIO_new(BIO_s_mem());

	memset(p, 0, sizeof(*p));
	PEM_write_bio_X509(c, leaf);
	if (extra != NULL)
		PEM_write_bio_X509(c, extra);
	PEM_write_bio_PrivateKey(k, key, NULL, NULL, 0, NULL, NULL);
	p->cert_pem = bio_bytes(c, &p->cert_len);
	p->key_pem = bio_bytes(k, &p->key_len);
	cert_fingerprint(leaf, p->fingerprint);
	BIO_free(c);
	BIO_free(k);
}

static void
path_in(char *out, const char *base, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", base, name);
}

/* Reads at most size bytes of base/name into buf: how many, or -1. */
static long
file_read(const char *base, const char *name, char *buf, size_t size)
{
	char p[PATH_MAX];
	size_t got;
	FILE *f;

	path_in(p, base, name);
	if ((f = fopen(p, "r")) == NULL)
		return -1;
	got = fread(buf, 1, size, f);
	fclose(f);
	return (long)got;
}

static inline bool
file_is(const char *base, const char *name, const unsigned char *want, size_t len)
{
	char buf[8192];
	long got = file_read(base, name, buf, sizeof(buf));

	return got == (long)len && memcmp(buf, want, len) == 0;
}

static int
mode_of(const char *base, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	path_in(p, base, name);
	if (lstat(p, &st) != 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static inline bool
exists_in(const char *base, const char *name)
{
	return mode_of(base, name) >= 0;
}

/* rm -rf path, then mkdir it again unless only removing. */
static void
wipe(const char *path, bool recreate)
{
	char cmd[PATH_MAX * 2 + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'%s%s", path,
	    recreate ? " && mkdir " : "", recreate ? path : "");
	CHECK_INT(system(cmd), 0);
}

/* A fresh CERTS_DIR serving A, with A as the last-known-good copy. */
static inline void
fresh_with_a(void)
{
	char err[256] = "";

	wipe(certs, true);
	CHECK_INT(install_commit(&ctx, &A, err, sizeof(err)), 0);
	CHECK_INT(store_save_current(&ctx, &A, err, sizeof(err)), 0);
	if (err[0] != '\0')
		fprintf(stderr, "  setup: %s\n", err);
}

/* suite names the temp dir: /tmp/mca-test-<suite>-XXXXXX. */
static void
fixture_setup(const char *suite)
{
	snprintf(dir, sizeof(dir), "/tmp/mca-test-%s-XXXXXX", suite);
	CHECK(mkdtemp(dir) != NULL);
	path_in(certs, dir, "certs");
	path_in(state, certs, ".mailu-cert-agent");
	ctx.certs_dir = certs;
	ctx.cert_name = "cert.pem";
	ctx.key_name = "key.pem";
	ctx.state_dir = state;
	ctx.backups_kept = 5;
	ctx.owner = (uid_t)-1;
	ctx.group = (gid_t)-1;
	log_init(stderr, LOG_LEVEL_WARN);
	umask(0);
	ka = EVP_EC_gen("P-256");
	kb = EVP_RSA_gen(2048);
	ca = make_cert(ka, "a.example.com");
	cb = make_cert(kb, "b.example.com");
	make_pair(&A, ca, NULL, ka);
	make_pair(&B, cb, ca, kb);	/* B carries a chain */
}

static void
fixture_teardown(void)
{
	install_pair_free(&A);
	install_pair_free(&B);
	X509_free(ca);
	X509_free(cb);
	EVP_PKEY_free(ka);
	EVP_PKEY_free(kb);
	wipe(dir, false);
}

#endif
