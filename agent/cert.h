/*
 * cert: loading and checking certificate chains and private keys with
 * OpenSSL. Key bytes live only in OpenSSL objects and are wiped from
 * every buffer they passed through.
 */
#ifndef MCA_CERT_H
#define MCA_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* Reason codes of cert.rejected: the contract in docs/design.md. */
enum cert_reason {
	CERT_OK,
	CERT_UNREADABLE,
	CERT_TOO_LARGE,
	CERT_NOT_PEM,
	CERT_NO_CERTIFICATE,
	CERT_NO_KEY,
	CERT_KEY_MISMATCH,
	CERT_EXPIRED,
	CERT_NOT_YET_VALID,
	CERT_HOSTNAME_MISMATCH,
	CERT_UNTRUSTED_CHAIN,
	CERT_WEAK_KEY,
	CERT_ENCRYPTED_KEY,
	CERT_NOT_NEWER,
	CERT_INCOMPLETE_WRITE,
	CERT_BAD_ACME_JSON,
	CERT_SYMLINK_ESCAPE,
	CERT_DANE_MISMATCH,		/* AGENT_DANE=enforce: TLSA records, none matches */
	CERT__MAX
};

extern const char *const cert_reason_names[CERT__MAX];

/*
 * The key type of a leaf, as a TLS client can ask for it (its signature
 * algorithms): Mailu's letsencrypt flavor serves an RSA and an ECDSA
 * certificate side by side, and the client's offer picks one.
 */
enum cert_key_type {
	CERT_KEY_ANY,			/* no preference / neither */
	CERT_KEY_RSA,
	CERT_KEY_ECDSA,
	CERT_KEY__MAX
};

extern const char *const cert_key_type_names[CERT_KEY__MAX];

/* RSA (and RSA-PSS) keys are CERT_KEY_RSA, EC keys CERT_KEY_ECDSA. */
enum cert_key_type cert_key_type_of(X509 *leaf);

/* Certificates and keys are small; anything bigger is hostile. */
#define CERT_FILE_MAX (1024 * 1024)
#define CERT_FP_HEX 64

/* A served certificate chain, and its key when loaded. */
struct cert_pair {
	X509 *leaf;			/* first certificate of the file */
	STACK_OF(X509) *chain;		/* the ones after it, may be empty */
	EVP_PKEY *key;			/* NULL until cert_pair_load_key */
	char fingerprint[CERT_FP_HEX + 1];	/* SHA-256 of the leaf DER */
	time_t not_before;
	time_t not_after;
	bool key_in_file;		/* the chain's file also held a private key */
};

/*
 * Reads a whole file of at most max bytes. The path must resolve (after
 * symlinks) inside allowed_dir, else CERT_SYMLINK_ESCAPE. On success
 * *buf is malloc'd with a NUL after *len bytes; free it with
 * cert_buf_free, which wipes it.
 */
int cert_read_file(const char *path, const char *allowed_dir, size_t max,
    unsigned char **buf, size_t *len, enum cert_reason *why);
/*
 * The same checks, then the file left open: *fd (O_CLOEXEC, the caller
 * closes it) and its size at open time, for a reader that streams it.
 */
int cert_open_file(const char *path, const char *allowed_dir, size_t max, int *fd,
    size_t *size, enum cert_reason *why);
/*
 * Reads the plain name in directory dirfd the same way, but never through
 * a symlink (O_NOFOLLOW: a link is CERT_SYMLINK_ESCAPE) and only a
 * regular file: for files the agent wrote itself (state dir, temps).
 */
int cert_read_at(int dirfd, const char *name, size_t max, unsigned char **buf,
    size_t *len, enum cert_reason *why);
void cert_buf_free(unsigned char **buf, size_t len);

/* Parses a PEM certificate chain into p (leaf first). */
int cert_parse_chain(const unsigned char *pem, size_t len, struct cert_pair *p,
    enum cert_reason *why);

/*
 * The PEM of p's leaf and chain, certificates only: what the agent writes
 * as a cert file, so a key block that shared the file it was parsed from
 * (a combined PEM) never lands where others may read it. *out is
 * malloc'd with a NUL after *len bytes; free it with cert_buf_free.
 */
int cert_chain_pem(const struct cert_pair *p, unsigned char **out, size_t *len);

/* Parses a PEM private key (PKCS#8, RSA or EC) into p->key. */
int cert_parse_key(const unsigned char *pem, size_t len, struct cert_pair *p,
    enum cert_reason *why);

/* Loads the private key dir/key_name into p->key. */
int cert_pair_load_key(const char *dir, const char *key_name,
    struct cert_pair *p, enum cert_reason *why);

/* Loads dir/cert_name (and dir/key_name unless NULL) into p. */
int cert_pair_load(const char *dir, const char *cert_name, const char *key_name,
    struct cert_pair *p, enum cert_reason *why);

/* True when p->key is the private half of the leaf's public key. */
bool cert_key_matches(const struct cert_pair *p);

void cert_pair_free(struct cert_pair *p);

/* Lowercase hex SHA-256 of the DER encoding. */
int cert_fingerprint(X509 *x, char out[CERT_FP_HEX + 1]);

/* notBefore/notAfter as time_t. */
int cert_validity(X509 *x, time_t *not_before, time_t *not_after);
/* An ASN1 time (UTCTime or GeneralizedTime) as time_t; -1 when NULL or bad. */
int cert_asn1_time(const ASN1_TIME *a, time_t *out);

/* DNS names of the leaf (SANs), as a JSON array. */
json_t *cert_names_json(X509 *x);

/* RFC 3339 UTC, e.g. 2027-01-01T00:00:00Z. */
void cert_format_time(time_t t, char out[32]);

/* Appends OpenSSL's queued errors to buf, then clears the queue. */
void cert_drain_errors(char *buf, size_t len);

/* What an incoming pair must satisfy before anything is touched. */
struct cert_policy {
	char *const *hostnames;		/* HOSTNAMES: each must be covered */
	size_t n_hostnames;
	const char *ca_file;		/* AGENT_CA_FILE, NULL: chain not checked */
	time_t now;
	time_t installed_not_before;	/* the installed leaf's dates; */
	time_t installed_not_after;	/* 0: nothing installed to compare with */
	bool force;			/* --force: allow one issued earlier */
};

/*
 * Checks a loaded pair (leaf, chain and key) in a fixed order: key match,
 * validity dates, key strength, host names, chain, newer than the
 * installed one (cert_is_newer). Returns 0, or -1 with *why and a short
 * detail.
 */
int cert_validate(const struct cert_pair *p, const struct cert_policy *pol,
    enum cert_reason *why, char *detail, size_t dlen);

/*
 * "Newer" means issued later: a leaf whose notBefore is later than the
 * installed one's, or the same with an expiry no earlier. A renewal with
 * a shorter lifetime (a CA switch, a 45-day or short-lived ACME profile)
 * is newer; a pair issued before the installed one (a replay of an old
 * bundle) is not.
 */
bool cert_is_newer(time_t not_before, time_t not_after, time_t installed_not_before,
    time_t installed_not_after);

/*
 * Invariant 4 keeps a rejected bundle out until its files change. Two
 * reasons depend on the wall clock alone, not on the files: a bundle
 * rejected as not_yet_valid or expired is due again as soon as now lies
 * inside [not_before, not_after) (the clock passed notBefore, or a clock
 * that ran ahead was set back). Every other reason: never by itself.
 */
bool cert_retry_due(enum cert_reason why, time_t not_before, time_t not_after,
    time_t now);

#endif
