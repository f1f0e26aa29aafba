/*
 * cert: the only module that touches certificate and key bytes. PEM is
 * walked block by block so every failure gets a precise reason code.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert.h"

/* openat2(2): the same number on every architecture Linux numbers anew. */
#ifdef SYS_openat2
#define MCA_SYS_openat2 SYS_openat2
#else
#define MCA_SYS_openat2 437
#endif

const char *const cert_reason_names[CERT__MAX] = {
	"ok", "unreadable", "too_large", "not_pem", "no_certificate", "no_key",
	"key_mismatch", "expired", "not_yet_valid", "hostname_mismatch",
	"untrusted_chain", "weak_key", "encrypted_key", "not_newer",
	"incomplete_write", "bad_acme_json", "symlink_escape", "dane_mismatch",
};

const char *const cert_key_type_names[CERT_KEY__MAX] = { "any", "rsa", "ecdsa" };

enum cert_key_type
cert_key_type_of(X509 *leaf)
{
	EVP_PKEY *pub = leaf != NULL ? X509_get0_pubkey(leaf) : NULL;

	switch (pub != NULL ? EVP_PKEY_get_base_id(pub) : EVP_PKEY_NONE) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		return CERT_KEY_RSA;
	case EVP_PKEY_EC:
		return CERT_KEY_ECDSA;
	default:
		return CERT_KEY_ANY;
	}
}

static int
reason(enum cert_reason *why, enum cert_reason r)
{
	*why = r;
	return -1;
}

/* True when path is dir itself or below it (both already resolved). */
static bool
inside(const char *path, const char *dir)
{
	size_t dlen = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, dlen) == 0 &&
	    (path[dlen] == '/' || path[dlen] == '\0');
}

/*
 * Checks fd is a regular file of at most max bytes and gives its size;
 * closes fd on failure.
 */
static int
check_fd(int fd, size_t max, size_t *size, enum cert_reason *why)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return reason(why, CERT_UNREADABLE);
	}
	if (st.st_size > (off_t)max) {
		close(fd);
		return reason(why, CERT_TOO_LARGE);
	}
	*size = (size_t)st.st_size;
	*why = CERT_OK;
	return 0;
}

/*
 * Reads fd whole, size bytes as fstat saw them, and one byte past them
 * so a file that grows under us is noticed. Closes fd.
 */
static int
read_fd(int fd, size_t size, unsigned char **buf, size_t *len,
    enum cert_reason *why)
{
	unsigned char *data = NULL;
	size_t used = 0, cap;
	ssize_t got;

	/* Sized from fstat (a 64 MiB bound need not mean 64 MiB allocated). */
	cap = size + 1;
	if ((data = malloc(cap + 1)) == NULL) {
		close(fd);
		return reason(why, CERT_UNREADABLE);
	}
	while (used < cap && (got = read(fd, data + used, cap - used)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			cert_buf_free(&data, cap + 1);
			return reason(why, CERT_UNREADABLE);
		}
		used += (size_t)got;
	}
	close(fd);
	if (used >= cap) {	/* grew while we read: a writer is at work */
		cert_buf_free(&data, cap + 1);
		return reason(why, CERT_UNREADABLE);
	}
	data[used] = '\0';
	*buf = data;
	*len = used;
	*why = CERT_OK;
	return 0;
}

/*
 * Opens rel below dirfd with no symlink anywhere on the way
 * (openat2 RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH, Linux 5.6). -2 when the
 * kernel or a seccomp profile does not offer openat2.
 */
static int
open_beneath(int dirfd, const char *rel)
{
	struct {
		uint64_t flags, mode, resolve;
	} how = { O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0,
	    0x04 /* RESOLVE_NO_SYMLINKS */ | 0x08 /* RESOLVE_BENEATH */ };
	long fd = syscall(MCA_SYS_openat2, dirfd, rel, &how, sizeof(how));

	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		return -2;
	return (int)fd;
}

int
cert_open_file(const char *path, const char *allowed_dir, size_t max, int *fdp,
    size_t *size, enum cert_reason *why)
{
	char real[PATH_MAX], realdir[PATH_MAX];
	size_t dlen;
	int fd, dfd;

	*fdp = -1;
	*size = 0;
	/*
	 * realpath only reads links and stats; a link leading out is refused
	 * here, before anything outside allowed_dir is ever opened.
	 */
	if (realpath(allowed_dir, realdir) == NULL)
		return reason(why, CERT_UNREADABLE);
	if (realpath(path, real) == NULL)
		return reason(why, CERT_UNREADABLE);
	if (!inside(real, realdir))
		return reason(why, CERT_SYMLINK_ESCAPE);
	/*
	 * The resolved path has no links left. Open it again from the
	 * directory with no link allowed on the way, so a link swapped into
	 * any component since realpath can't lead out either. Without
	 * openat2, at least the last component must not be a link.
	 */
	dlen = strcmp(realdir, "/") == 0 ? 0 : strlen(realdir);
	fd = -2;
	if (real[dlen] == '/' && real[dlen + 1] != '\0' &&
	    (dfd = open(realdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fd = open_beneath(dfd, real + dlen + 1);
		close(dfd);
	}
	if (fd == -2)
		fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return reason(why, CERT_UNREADABLE);
	if (check_fd(fd, max, size, why) != 0)
		return -1;
	*fdp = fd;
	return 0;
}

int
cert_read_file(const char *path, const char *allowed_dir, size_t max,
    unsigned char **buf, size_t *len, enum cert_reason *why)
{
	size_t size;
	int fd;

	*buf = NULL;
	*len = 0;
	if (cert_open_file(path, allowed_dir, max, &fd, &size, why) != 0)
		return -1;
	return read_fd(fd, size, buf, len, why);
}

int
cert_read_at(int dirfd, const char *name, size_t max, unsigned char **buf,
    size_t *len, enum cert_reason *why)
{
	size_t size;
	int fd;

	*buf = NULL;
	*len = 0;
	if (strchr(name, '/') != NULL)
		return reason(why, CERT_UNREADABLE);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return reason(why, errno == ELOOP ? CERT_SYMLINK_ESCAPE :
		    CERT_UNREADABLE);
	if (check_fd(fd, max, &size, why) != 0)
		return -1;
	return read_fd(fd, size, buf, len, why);
}

void
cert_buf_free(unsigned char **buf, size_t len)
{
	if (*buf == NULL)
		return;
	OPENSSL_cleanse(*buf, len);
	free(*buf);
	*buf = NULL;
}

static bool
has_pem_marker(const unsigned char *pem, size_t len)
{
	static const char marker[] = "-----BEGIN ";

	for (size_t i = 0; i + sizeof(marker) - 1 <= len; i++)
		if (memcmp(pem + i, marker, sizeof(marker) - 1) == 0)
			return true;
	return false;
}

int
cert_fingerprint(X509 *x, char out[CERT_FP_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int
cert_asn1_time(const ASN1_TIME *a, time_t *out)
{
	struct tm tm;

	if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

int
cert_validity(X509 *x, time_t *not_before, time_t *not_after)
{
	if (cert_asn1_time(X509_get0_notBefore(x), not_before) != 0 ||
	    cert_asn1_time(X509_get0_notAfter(x), not_after) != 0)
		return -1;
	return 0;
}

int
cert_parse_chain(const unsigned char *pem, size_t len, struct cert_pair *p,
    enum cert_reason *why)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	BIO *bio;
	int rc = -1;

	if (!has_pem_marker(pem, len))
		return reason(why, CERT_NOT_PEM);
	if (len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return reason(why, CERT_UNREADABLE);
	if ((p->chain = sk_X509_new_null()) == NULL) {
		BIO_free(bio);
		return reason(why, CERT_UNREADABLE);
	}
	/*
	 * Walk every block; keys may share the file (combined PEM). Any trace
	 * of one, even a block that does not parse, is noted: such a file is
	 * never copied as it is (cert_chain_pem).
	 */
	p->key_in_file = memmem(pem, len, "PRIVATE KEY", 11) != NULL;
	while (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		if (strcmp(name, "CERTIFICATE") == 0 ||
		    strcmp(name, "TRUSTED CERTIFICATE") == 0) {
			const unsigned char *q = data;
			X509 *x = d2i_X509(NULL, &q, dlen);

			if (x == NULL || q != data + dlen) {
				X509_free(x);
				*why = CERT_NOT_PEM;
				goto out;
			}
			if (p->leaf == NULL)
				p->leaf = x;
			else if (!sk_X509_push(p->chain, x)) {
				X509_free(x);
				*why = CERT_UNREADABLE;
				goto out;
			}
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(data, (size_t)dlen);
		name = header = NULL;
		data = NULL;
	}
	ERR_clear_error();
	if (p->leaf == NULL) {
		*why = CERT_NO_CERTIFICATE;
		goto out;
	}
	if (cert_fingerprint(p->leaf, p->fingerprint) != 0 ||
	    cert_validity(p->leaf, &p->not_before, &p->not_after) != 0) {
		*why = CERT_NOT_PEM;
		goto out;
	}
	*why = CERT_OK;
	rc = 0;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_clear_free(data, (size_t)dlen);
	BIO_free(bio);
	return rc;
}

int
cert_chain_pem(const struct cert_pair *p, unsigned char **out, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	int rc = -1;

	*out = NULL;
	*len = 0;
	if (bio == NULL || p->leaf == NULL || PEM_write_bio_X509(bio, p->leaf) != 1)
		goto out;
	for (int i = 0; i < sk_X509_num(p->chain); i++)
		if (PEM_write_bio_X509(bio, sk_X509_value(p->chain, i)) != 1)
			goto out;
	BIO_get_mem_ptr(bio, &mem);
	if (mem == NULL || (*out = malloc(mem->length + 1)) == NULL)
		goto out;
	memcpy(*out, mem->data, mem->length);
	(*out)[mem->length] = '\0';
	*len = mem->length;
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	return rc;
}

static bool
is_key_block(const char *name)
{
	return strcmp(name, "PRIVATE KEY") == 0 ||
	    strcmp(name, "RSA PRIVATE KEY") == 0 ||
	    strcmp(name, "EC PRIVATE KEY") == 0;
}

int
cert_parse_key(const unsigned char *pem, size_t len, struct cert_pair *p,
    enum cert_reason *why)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	bool encrypted = false;
	long dlen = 0;
	BIO *bio;
	int rc = -1;

	if (!has_pem_marker(pem, len))
		return reason(why, CERT_NOT_PEM);
	if (len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return reason(why, CERT_UNREADABLE);
	while (p->key == NULL &&
	    PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0 ||
		    (is_key_block(name) && strstr(header, "ENCRYPTED") != NULL)) {
			encrypted = true;
		} else if (is_key_block(name)) {
			const unsigned char *q = data;

			/* PKCS#8 or traditional RSA/EC, told apart by content */
			p->key = d2i_AutoPrivateKey(NULL, &q, dlen);
			if (p->key == NULL) {
				*why = CERT_NOT_PEM;
				goto out;
			}
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(data, (size_t)dlen);
		name = header = NULL;
		data = NULL;
	}
	ERR_clear_error();
	if (p->key == NULL) {
		*why = encrypted ? CERT_ENCRYPTED_KEY : CERT_NO_KEY;
		goto out;
	}
	*why = CERT_OK;
	rc = 0;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_clear_free(data, (size_t)dlen);
	BIO_free(bio);
	return rc;
}

/* Reads dir/name, bounded and confined to dir. */
static int
read_in_dir(const char *dir, const char *name, unsigned char **buf,
    size_t *len, enum cert_reason *why)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return reason(why, CERT_UNREADABLE);
	return cert_read_file(path, dir, CERT_FILE_MAX, buf, len, why);
}

int
cert_pair_load_key(const char *dir, const char *key_name, struct cert_pair *p,
    enum cert_reason *why)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	if (read_in_dir(dir, key_name, &buf, &len, why) != 0)
		return -1;
	rc = cert_parse_key(buf, len, p, why);
	cert_buf_free(&buf, len);
	return rc;
}

int
cert_pair_load(const char *dir, const char *cert_name, const char *key_name,
    struct cert_pair *p, enum cert_reason *why)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	if (read_in_dir(dir, cert_name, &buf, &len, why) != 0)
		return -1;
	rc = cert_parse_chain(buf, len, p, why);
	cert_buf_free(&buf, len);
	if (rc != 0 || key_name == NULL)
		return rc;
	return cert_pair_load_key(dir, key_name, p, why);
}

bool
cert_key_matches(const struct cert_pair *p)
{
	EVP_PKEY *pub;

	if (p->leaf == NULL || p->key == NULL)
		return false;
	pub = X509_get0_pubkey(p->leaf);
	return pub != NULL && EVP_PKEY_eq(pub, p->key) == 1;
}

void
cert_pair_free(struct cert_pair *p)
{
	X509_free(p->leaf);
	sk_X509_pop_free(p->chain, X509_free);
	EVP_PKEY_free(p->key);
	memset(p, 0, sizeof(*p));
}

json_t *
cert_names_json(X509 *x)
{
	GENERAL_NAMES *gens;
	json_t *arr = json_array();

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *s;
		int len;

		if (g->type != GEN_DNS)
			continue;
		s = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		/* names are IA5 strings; keep only what is printable */
		if (len <= 0 || len > 255 || memchr(s, '\0', (size_t)len) != NULL)
			continue;
		json_array_append_new(arr, json_stringn((const char *)s, (size_t)len));
	}
	GENERAL_NAMES_free(gens);
	return arr;
}

void
cert_format_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
cert_drain_errors(char *buf, size_t len)
{
	unsigned long e;
	size_t used = strlen(buf);

	while ((e = ERR_get_error()) != 0) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		if (used + strlen(one) + 2 < len) {
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
			    used > 0 ? "; " : "", one);
		}
	}
}

/* RSA below 2048 bits and curves other than P-256/P-384 are refused. */
static bool
key_is_weak(EVP_PKEY *pub, char *detail, size_t dlen)
{
	char group[64] = "";
	size_t glen = 0;

	switch (EVP_PKEY_get_base_id(pub)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(pub) >= 2048)
			return false;
		snprintf(detail, dlen, "RSA key of %d bits (need 2048)",
		    EVP_PKEY_get_bits(pub));
		return true;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pub, group, sizeof(group), &glen) == 1 &&
		    (strcmp(group, "prime256v1") == 0 ||
		    strcmp(group, "secp384r1") == 0))
			return false;
		snprintf(detail, dlen, "EC curve %s (need P-256 or P-384)",
		    group[0] != '\0' ? group : "unknown");
		return true;
	default:
		snprintf(detail, dlen, "key type %s is not served by Mailu",
		    EVP_PKEY_get0_type_name(pub) != NULL ?
		    EVP_PKEY_get0_type_name(pub) : "unknown");
		return true;
	}
}

static int
chain_verifies(const struct cert_pair *p, const char *ca_file, char *detail,
    size_t dlen)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;

	if (store == NULL || ctx == NULL)
		goto out;
	if (X509_STORE_load_file(store, ca_file) != 1) {
		snprintf(detail, dlen, "cannot load AGENT_CA_FILE");
		goto out;
	}
	if (X509_STORE_CTX_init(ctx, store, p->leaf, p->chain) != 1)
		goto out;
	/* dates are checked on their own, with their own reason codes */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	if (X509_verify_cert(ctx) == 1)
		rc = 0;
	else
		snprintf(detail, dlen, "%s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

int
cert_validate(const struct cert_pair *p, const struct cert_policy *pol,
    enum cert_reason *why, char *detail, size_t dlen)
{
	char when[32];

	detail[0] = '\0';
	if (!cert_key_matches(p)) {
		snprintf(detail, dlen, "private key does not belong to the certificate");
		return reason(why, CERT_KEY_MISMATCH);
	}
	if (p->not_after <= pol->now) {
		cert_format_time(p->not_after, when);
		snprintf(detail, dlen, "expired at %s", when);
		return reason(why, CERT_EXPIRED);
	}
	if (p->not_before > pol->now) {
		cert_format_time(p->not_before, when);
		snprintf(detail, dlen, "valid only from %s", when);
		return reason(why, CERT_NOT_YET_VALID);
	}
	if (key_is_weak(X509_get0_pubkey(p->leaf), detail, dlen))
		return reason(why, CERT_WEAK_KEY);
	for (size_t i = 0; i < pol->n_hostnames; i++) {
		/* RFC 6125: a wildcard covers exactly one leftmost label */
		if (X509_check_host(p->leaf, pol->hostnames[i], 0,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1) {
			snprintf(detail, dlen, "%s is not covered", pol->hostnames[i]);
			ERR_clear_error();
			return reason(why, CERT_HOSTNAME_MISMATCH);
		}
	}
	if (pol->ca_file != NULL && chain_verifies(p, pol->ca_file, detail, dlen) != 0)
		return reason(why, CERT_UNTRUSTED_CHAIN);
	if (!pol->force && pol->installed_not_after != 0 &&
	    !cert_is_newer(p->not_before, p->not_after, pol->installed_not_before,
	    pol->installed_not_after)) {
		cert_format_time(pol->installed_not_before, when);
		snprintf(detail, dlen, "issued before the installed one (%s)", when);
		return reason(why, CERT_NOT_NEWER);
	}
	*why = CERT_OK;
	return 0;
}

bool
cert_is_newer(time_t not_before, time_t not_after, time_t installed_not_before,
    time_t installed_not_after)
{
	if (not_before != installed_not_before)
		return not_before > installed_not_before;
	return not_after >= installed_not_after;
}

bool
cert_retry_due(enum cert_reason why, time_t not_before, time_t not_after,
    time_t now)
{
	if (why != CERT_NOT_YET_VALID && why != CERT_EXPIRED)
		return false;
	return now >= not_before && now < not_after;
}
